"""Slack listeners. Each module adds its own through `register(app)`; this one adds them all,
hands every listener the runtime's `services`, and answers errors in one place."""

from __future__ import annotations

import logging
import uuid

from slack_bolt import App

from bot.services import Services
from escalation.errors import DomainError
from handlers import department, reminders, shortcuts, triage

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.middleware
    def provide_services(context, next_):
        context["services"] = services
        next_()

    app.error(on_error)
    for module in (triage, department, shortcuts, reminders):
        module.register(app)


def on_error(error: Exception, body: dict, respond, logger: logging.Logger) -> None:
    """Refusals reach the person who acted, ephemerally; anything else is logged once with an
    id they can quote."""
    if isinstance(error, DomainError):
        _tell(respond, body, str(error))
        return
    incident = uuid.uuid4().hex[:12]
    kind = body.get("type") or body.get("command") or (body.get("event") or {}).get("type")
    logger.error("listener failed on %s [correlation id %s]", kind, incident, exc_info=error)
    _tell(respond, body, f"Something went wrong on our side (reference {incident}).")


def _tell(respond, body: dict, text: str) -> None:
    if body.get("response_url"):
        respond(text=text, response_type="ephemeral", replace_original=False)
