"""Slack listeners. Each module adds its own through `register(app)`; this one adds them all,
hands every listener the runtime's `services`, and answers errors in one place."""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Callable

from slack_bolt import App

from bot.services import Services
from escalation.errors import DomainError
from handlers import department, home, rapid, reminders, replies, shortcuts, social, triage

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.middleware
    def provide_services(context, next_):
        context["services"] = services
        next_()

    app.error(on_error)
    for module in (triage, department, shortcuts, reminders, replies, home, social):
        module.register(Guarded(app))
    if services.rapid is not None:  # its command is named in the organisation file
        rapid.register(Guarded(app), services.rapid.command)


class Guarded:
    """The app as the handler modules see it: every listener they add answers its own errors.

    Bolt (1.30) loses the acknowledgement of a listener that raises just after calling ack(),
    and then answers Slack 404, which Slack shows as a failure; so listeners never raise.
    """

    def __init__(self, app: App) -> None:
        self.app = app

    def action(self, constraints) -> Callable:
        return lambda listener: self.app.action(constraints)(guarded(listener))

    def view(self, constraints) -> Callable:
        return lambda listener: self.app.view(constraints)(guarded(listener))

    def shortcut(self, constraints) -> Callable:
        return lambda listener: self.app.shortcut(constraints)(guarded(listener))

    def command(self, name) -> Callable:
        return lambda listener: self.app.command(name)(guarded(listener))

    def event(self, name) -> Callable:
        return lambda listener: self.app.event(name)(guarded(listener))


def guarded(listener: Callable) -> Callable:
    """`listener` with the arguments it names, its errors told to the person (and acked)."""
    names = inspect.getfullargspec(listener).args

    def run(ack, body, respond, client, context, logger, view=None):
        given = {"ack": ack, "body": body, "respond": respond, "client": client, "view": view}
        given |= {"context": context, "logger": logger, "services": context.get("services")}
        try:
            listener(**{name: given[name] for name in names})
        except Exception as error:
            if ack.response is None:  # failed before acknowledging: Slack still needs it
                ack()
            on_error(error, body, respond, logger)

    run.__name__ = run.__qualname__ = listener.__name__  # as Bolt's logs name it
    return run


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
