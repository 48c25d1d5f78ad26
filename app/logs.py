"""Logging that keeps secrets out: no query strings in access logs (WS-08, TLS-06, AUDIT-05)."""

from __future__ import annotations

import logging


class DropQueryStrings(logging.Filter):
    """uvicorn logs the request path with its query string; a token there must not be kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2]
            if "?" in path:
                record.args = (*args[:2], path.split("?", 1)[0] + "?[redacted]", *args[3:])
        return True


def install_log_filters() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
        logger.addFilter(DropQueryStrings())


__all__ = ["DropQueryStrings", "install_log_filters"]
