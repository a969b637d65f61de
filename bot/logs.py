"""Logging set-up: one line a record, secrets replaced by *** wherever they would appear."""

from __future__ import annotations

import logging
import sys


class RedactingFormatter(logging.Formatter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def configure_logging(level: str, secrets: list[str]) -> None:
    """Log to stderr through the redacting formatter; safe to call more than once."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet = (
        "waitress.queue",
        "slack_sdk.web.base_client",
        "alembic.runtime.plugins",
        "apscheduler.executors.default",
        "apscheduler.scheduler",
    )
    for noisy in quiet:
        logging.getLogger(noisy).setLevel(logging.WARNING)
