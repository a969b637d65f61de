"""The shape every button listener shares: acknowledge, apply once, confirm ephemerally."""

from __future__ import annotations

from collections.abc import Callable

from bot.services import Services
from escalation import cases
from escalation.errors import DomainError
from escalation.store import first_time
from escalation.workflow import Action
from handlers.payloads import Click


def apply_click(
    body: dict,
    services: Services,
    respond,
    change: Callable,
    confirmation: str | Callable[[object], str] | None,
) -> None:
    """Run `change(db, click, actor)` once per click, then tell the clicker (`confirmation`
    may be drawn from what `change` returned)."""
    click = Click.of(body)
    with services.unit() as db:
        if not first_time(db, key=click.key, now=services.now()):
            return  # a retry or a double delivery: already applied
        result = change(db, click, services.actor(click.user))
        if callable(confirmation):
            confirmation = confirmation(result)
    if confirmation and body.get("response_url"):  # a Home tab's button has none
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


def may(services: Services, click: Click, action: Action, case_id: int, escalation_id=None):
    """The case, if the clicker may do `action` to it; NotAllowed (said to them) if not."""
    with services.read() as db:
        case = cases.check_allowed(
            db=db,
            case_id=case_id,
            action=action,
            escalation_id=escalation_id,
            actor=services.actor(click.user),
            org=services.org,
        )
        return case, case.escalation.department if case.escalation else None
