"""The shape every button listener shares: acknowledge, apply once, confirm ephemerally."""

from __future__ import annotations

from collections.abc import Callable

from bot.services import Services
from escalation.errors import DomainError
from escalation.store import first_time
from handlers.payloads import Click


def apply_click(
    body: dict, services: Services, respond, change: Callable, confirmation: str | None
) -> None:
    """Run `change(db, click, actor)` once per click, then tell the clicker."""
    click = Click.of(body)
    with services.unit() as db:
        if not first_time(db, key=click.key, now=services.now()):
            return  # a retry or a double delivery: already applied
        change(db, click, services.actor(click.user))
    if confirmation:
        respond(text=confirmation, response_type="ephemeral", replace_original=False)


def apply_submission(ack, view: dict, services: Services, change: Callable, field: str) -> None:
    """Run `change(db)` once per submitted view (a retried submission changes nothing), then
    close the modal, or keep it open with the refusal under `field`."""
    try:
        with services.unit() as db:
            if first_time(db, key=f"view:{view['id']}:{view.get('hash', '')}", now=services.now()):
                change(db)
    except DomainError as error:
        ack(response_action="errors", errors={field: str(error)})
        return
    ack()
