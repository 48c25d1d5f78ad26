"""A real SMTP server (aiosmtpd) on the test's event loop, which the services send their mail to."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

from aiosmtpd.smtp import SMTP, Envelope, Session

from app.config import SmtpSettings, SmtpTls
from resolvers.context import Services
from tests import waiting


@dataclass
class Inbox:
    """What the SMTP server received; ``refuse`` makes it answer 451 that many times first."""

    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    refuse: int = 0
    port: int = 0

    # aiosmtpd calls the handler's ``handle_DATA`` by that name.
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            return "451 Try again later"
        content = envelope.original_content or b""
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(content)))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for rcpts, m in self.messages if address in rcpts]

    async def wait_for(self, address: str) -> Message:
        """The first message to ``address``, which may still be on its way (sent in background)."""
        await waiting.wait_until(lambda: bool(self.to(address)))
        return self.to(address)[0]


@contextlib.asynccontextmanager
async def smtp_server(services: Services) -> AsyncIterator[Inbox]:
    """An aiosmtpd server on an ephemeral port, configured as the services' SMTP server."""
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


__all__ = ["Inbox", "smtp_server"]
