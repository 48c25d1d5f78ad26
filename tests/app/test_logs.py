"""Access logs never keep query strings, where a careless client may have put a token."""

from __future__ import annotations

import logging

from app.logs import DropQueryStrings


def test_access_log_drops_the_query_string() -> None:
    # given uvicorn's access-log record for a request with a token in its URL
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/graphql?authToken=pps_secret", "1.1", 403),
        None,
    )
    # when the filter sees it
    kept = DropQueryStrings().filter(record)
    # then the line is kept without the secret
    assert kept
    assert "pps_secret" not in record.getMessage()
    assert "/graphql?[redacted]" in record.getMessage()


def test_paths_without_query_are_untouched() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/graphql", "1.1", 200),
        None,
    )
    DropQueryStrings().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "POST /graphql HTTP/1.1" 200'
