"""Slack listeners. Each module adds its own through `register(app)`; this one adds them all."""

from __future__ import annotations

import logging
import uuid

from slack_bolt import App

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.error(on_error)


def on_error(error: Exception, body: dict, logger: logging.Logger) -> None:
    """Every listener error lands here once, logged with an id to quote in a bug report."""
    incident = uuid.uuid4().hex[:12]
    kind = body.get("type") or body.get("event", {}).get("type") or body.get("command")
    logger.error("listener failed on %s [correlation id %s]", kind, incident, exc_info=error)
