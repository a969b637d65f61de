"""Secrets never reach the logs, whatever a library decides to print."""

from __future__ import annotations

import logging

from bot.logs import RedactingFormatter


def test_the_formatter_replaces_every_secret():
    formatter = RedactingFormatter(["xoxb-1234-secret", "ingest-secret-value"])
    record = logging.LogRecord(
        "t",
        logging.ERROR,
        __file__,
        1,
        "token=%s secret=%s",
        ("xoxb-1234-secret", "ingest-secret-value"),
        None,
    )
    line = formatter.format(record)
    assert "xoxb-1234-secret" not in line and "ingest-secret-value" not in line
    assert line.endswith("token=*** secret=***")
