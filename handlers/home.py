"""The App Home tab: drawn when a person opens it, so it is current whenever they look; while
it is on screen, redrawn after they claim or release from it, and when someone else takes over
one of their cases (handlers/triage.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.services import Services
from bot.views.home import home_view, stranger_home
from escalation.permissions import stranger_refusal
from escalation.queues import queue_for

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.event("app_home_opened")(home_opened)


def home_opened(body, client, services):
    event = body.get("event") or {}
    if event.get("tab", "home") == "home" and event.get("user"):
        publish_home(client, services, event["user"])


def publish_home(client, services: Services, user: str) -> None:
    """Draw the person's queue as it is now and publish it as their Home tab."""
    actor = services.actor(user)
    if not actor.known:  # anyone in the workspace may open the tab; the queue is the staff's
        client.views_publish(user_id=user, view=stranger_home(stranger_refusal(services.org)))
        return
    with services.read() as db:
        queue = queue_for(db, slack_id=user, departments=actor.departments)
        view = home_view(queue, services.org, services.now())
    client.views_publish(user_id=user, view=view)


def refresh_homes(client, services: Services, users: Iterable[str | None]) -> None:
    """Publish these people's Home tabs again; a failure is logged (the click itself worked)."""
    for user in {u for u in users if u}:
        try:
            publish_home(client, services, user)
        except SlackApiError as error:
            log.warning("home of %s not refreshed: %s", user, error.response.get("error"))
