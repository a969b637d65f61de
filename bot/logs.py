"""Logging set-up: one line a record, secrets replaced by *** wherever they would appear."""

from __future__ import annotations

import logging
import sys
import threading
import uuid


class RedactingFormatter(logging.Formatter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


QUIET = (
    "waitress.queue",
    "slack_sdk.web.base_client",
    "alembic.runtime.plugins",
    "apscheduler.executors.default",  # a line per tick otherwise
    "apscheduler.scheduler",
)
SLACK_SDK_CLIENTS = ("slack_sdk.web.base_client", "slack_sdk.webhook.client")


def configure_logging(level: str, secrets: list[str]) -> None:
    """Log to stderr through the redacting formatter; safe to call more than once."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries()


def quiet_libraries() -> None:
    """Libraries say less: their chatter at WARNING at least, and slack-sdk's duplicate errors
    not at all. Safe to call more than once."""
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in SLACK_SDK_CLIENTS:
        client = logging.getLogger(name)
        if not any(isinstance(f, RaisedAnyway) for f in client.filters):
            client.addFilter(RaisedAnyway())


class RaisedAnyway(logging.Filter):
    """slack-sdk logs a failed call at ERROR and then raises it to the caller, which logs it
    itself (the delivery worker once per message, a listener with a correlation id). Its own
    line is a duplicate, once per retry: Slack answering an HTML 503 page for two minutes would
    fill the log with them."""

    SAID_AGAIN = ("Failed to decode Slack API response", "Failed to send a request to Slack API")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.SAID_AGAIN)


def correlation_id() -> str:
    """A short id that ties a log record to what a person or a sender was told."""
    return uuid.uuid4().hex[:12]


class FailureSeries:
    """Logs a loop that keeps failing (the database restarting, Slack down) once per series:
    the first failure with its traceback and a correlation id, the repeats at DEBUG only, and
    the recovery with how many attempts failed. A retry storm is one story, not a page of them."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger, self.what = logger, what
        self.incident: str | None = None
        self.failures = 0
        self._lock = threading.Lock()

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            first, self.incident = self.incident is None, self.incident or correlation_id()
        if first:
            self.logger.error(
                "%s failed; retrying [correlation id %s]", self.what, self.incident, exc_info=error
            )
        else:
            self.logger.debug(
                "%s failed again [correlation id %s]: %r", self.what, self.incident, error
            )

    def succeeded(self) -> None:
        if self.incident is None:  # the usual case: no lock, no log
            return
        with self._lock:
            incident, failures, self.incident, self.failures = self.incident, self.failures, None, 0
        if incident is not None:
            self.logger.warning(
                "%s recovered after %d failed attempts [correlation id %s]",
                self.what,
                failures,
                incident,
            )
