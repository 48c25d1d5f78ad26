"""Reading set-password links out of the mail the test SMTP server received."""

from __future__ import annotations

import re
from email.message import Message

LINK = re.compile(r"https?://\S+/set-password#token=(?P<token>\S+)")


def body_of(message: Message) -> str:
    """The text as a mail client shows it (long lines travel quoted-printable)."""
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    return body.decode()


def token_in(message: Message) -> str:
    found = LINK.search(body_of(message))
    assert found is not None, "no set-password link in the message"
    return found["token"]


__all__ = ["body_of", "token_in"]
