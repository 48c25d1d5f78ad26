"""How outgoing mail is protected (PP_SMTP_TLS), and the client each choice opens."""

from __future__ import annotations

import smtplib
import ssl
from typing import Any

import pytest

from app.config import Settings, SmtpSettings, SmtpTls
from app.errors import ConfigurationError
from resolvers import mail


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, SmtpTls.STARTTLS),
        ({"PP_SMTP_STARTTLS": "false"}, SmtpTls.NONE),
        ({"PP_SMTP_PORT": "465"}, SmtpTls.IMPLICIT),
        ({"PP_SMTP_TLS": "implicit", "PP_SMTP_PORT": "2465"}, SmtpTls.IMPLICIT),
        ({"PP_SMTP_TLS": "none", "PP_SMTP_PORT": "465"}, SmtpTls.NONE),
        ({"PP_SMTP_TLS": " StartTLS "}, SmtpTls.STARTTLS),
    ],
)
def test_the_transport_security_comes_from_the_environment(
    environ: dict[str, str], expected: SmtpTls
) -> None:
    # when
    smtp = Settings.from_environ({"PP_SMTP_HOST": "smtp.school.example", **environ}).smtp
    # then
    assert smtp.security is expected


def test_an_unknown_transport_security_is_refused() -> None:
    # when / then
    with pytest.raises(ConfigurationError, match="PP_SMTP_TLS"):
        Settings.from_environ({"PP_SMTP_TLS": "ssl"})


Opened = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Opened:
    """Stands in for smtplib's clients: records how each was opened, connects nowhere."""
    calls: Opened = []

    def recorder(kind: str) -> Any:
        def open_client(host: str, port: int, **options: Any) -> None:
            calls.append((kind, {"host": host, "port": port, **options}))

        return open_client

    monkeypatch.setattr(smtplib, "SMTP_SSL", recorder("SMTP_SSL"))
    monkeypatch.setattr(smtplib, "SMTP", recorder("SMTP"))
    return calls


def test_implicit_tls_opens_a_verifying_tls_client(
    opened: Opened,
) -> None:
    # given
    smtp = SmtpSettings(host="smtp.school.example", port=465, tls=SmtpTls.IMPLICIT)
    # when
    mail.client_for(smtp)
    # then
    [(kind, options)] = opened
    assert kind == "SMTP_SSL"
    assert (options["host"], options["port"]) == ("smtp.school.example", 465)
    context = options["context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True


@pytest.mark.parametrize("tls", [SmtpTls.STARTTLS, SmtpTls.NONE])
def test_starttls_and_none_open_a_plain_connection_first(opened: Opened, tls: SmtpTls) -> None:
    # when
    mail.client_for(SmtpSettings(host="smtp.school.example", tls=tls))
    # then
    assert [kind for kind, _ in opened] == ["SMTP"]


def test_without_a_host_nothing_is_opened(opened: Opened) -> None:
    # when / then
    with pytest.raises(mail.DeliveryError, match="PP_SMTP_HOST"):
        mail.client_for(SmtpSettings())
    assert opened == []
