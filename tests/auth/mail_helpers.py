"""A real SMTP server (aiosmtpd) on the test's event loop, and reading links out of its mail."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

from aiosmtpd.smtp import SMTP, Envelope, Session

from app.config import SmtpSettings, SmtpTls
from resolvers.context import Services
from tests import waiting

LINK = re.compile(r"https?://\S+/set-password#token=(?P<token>\S+)")


@dataclass
class Inbox:
    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    port: int = 0

    # aiosmtpd calls the handler's ``handle_DATA`` by that name.
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(content)))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for rcpts, m in self.messages if address in rcpts]

    async def wait_for(self, address: str) -> Message:
        """The first message to ``address``, which may still be on its way (sent in background)."""
        await waiting.wait_until(lambda: bool(self.to(address)))
        return self.to(address)[0]


def body_of(message: Message) -> str:
    """The text as a mail client shows it (long lines travel quoted-printable)."""
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    return body.decode()


def token_in(message: Message) -> str:
    found = LINK.search(body_of(message))
    assert found is not None, "no set-password link in the message"
    return found["token"]


@contextlib.asynccontextmanager
async def smtp_server(services: Services) -> AsyncIterator[Inbox]:
    """An aiosmtpd server on an ephemeral port; the services send their mail to it."""
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(inbox, hostname="localhost", loop=loop), "127.0.0.1", 0
    )
    inbox.port = server.sockets[0].getsockname()[1]
    before = services.settings
    smtp = SmtpSettings(host="127.0.0.1", port=inbox.port, tls=SmtpTls.NONE, timeout_seconds=5)
    services.settings = dataclasses.replace(before, smtp=smtp)
    try:
        yield inbox
    finally:
        services.settings = before
        server.close()
        await server.wait_closed()


__all__ = ["Inbox", "body_of", "smtp_server", "token_in"]
