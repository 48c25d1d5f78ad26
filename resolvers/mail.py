"""Sending one plain-text email through the configured SMTP server, off the event loop.

Alert notices, staff invitations and password resets all leave through here, so the choice of
transport security (``PP_SMTP_TLS``) is made in one place.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from app.config import SmtpSettings, SmtpTls

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """One attempt failed; the message says why, without the message's content."""


def plain_message(
    smtp: SmtpSettings, to: str, subject: str, body: str, *, sent_at: datetime
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = smtp.sender
    message["To"] = to
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(domain="pupil-progress.invalid")
    message.set_content(body)
    return message


def client_for(smtp: SmtpSettings) -> smtplib.SMTP:
    """A connected client; implicit TLS negotiates (and verifies the server) before any command."""
    if smtp.host is None:
        raise DeliveryError("no SMTP server is configured (PP_SMTP_HOST)")
    if smtp.security is SmtpTls.IMPLICIT:
        return smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=ssl.create_default_context()
        )
    return smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)


def _send_now(smtp: SmtpSettings, message: EmailMessage) -> None:
    try:
        with client_for(smtp) as client:
            if smtp.security is SmtpTls.STARTTLS:
                client.starttls(context=ssl.create_default_context())
            if smtp.user and smtp.password:
                client.login(smtp.user, smtp.password)
            refused = client.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"SMTP: {type(error).__name__}: {error}"[:400]) from None
    if refused:
        raise DeliveryError(f"SMTP refused {', '.join(sorted(refused))}"[:400])


async def send_email(smtp: SmtpSettings, message: EmailMessage) -> None:
    """Send one message; :class:`DeliveryError` when the server cannot take it."""
    # smtplib blocks: a thread keeps a slow mail server from stalling the event loop.
    await asyncio.to_thread(_send_now, smtp, message)


_pending: set[asyncio.Task[None]] = set()


def send_in_background(smtp: SmtpSettings, message: EmailMessage, what: str) -> None:
    """Send without making the caller wait, e.g. so a response's timing reveals nothing.

    A failure is logged as ``what`` (never the address or the content).
    """

    async def send() -> None:
        try:
            await send_email(smtp, message)
        except DeliveryError as error:
            log.warning("%s: not sent: %s", what, error)

    task = asyncio.create_task(send())
    # Held until done: the event loop keeps only a weak reference to its tasks.
    _pending.add(task)
    task.add_done_callback(_pending.discard)


__all__ = ["DeliveryError", "client_for", "plain_message", "send_email", "send_in_background"]
