"""Buttons and modals of the triage card: claim, release, take over, escalate, resolve, reopen."""

from __future__ import annotations

from slack_bolt import App

from bot.views.ids import ActionId, CallbackId
from bot.views.modals import escalate_modal, resolve_modal
from escalation import cases
from escalation.models import Case
from escalation.workflow import Action
from handlers.actions import apply_click, apply_submission, may
from handlers.home import refresh_homes
from handlers.payloads import BadPayload, Click, case_ref, choice, field, metadata


def register(app: App) -> None:
    app.action(ActionId.CLAIM)(claim)
    app.action(ActionId.RELEASE)(release)
    app.action(ActionId.TAKE_OVER)(take_over)
    app.action(ActionId.ESCALATE)(open_escalate)
    app.action(ActionId.ESCALATE_SUGGESTED)(open_escalate)
    app.view(CallbackId.ESCALATE)(submit_escalate)
    app.action(ActionId.RESOLVE)(open_resolve)
    app.view(CallbackId.RESOLVE)(submit_resolve)
    app.action(ActionId.REOPEN)(reopen)
    app.action(ActionId.WAIT_CUSTOMER)(wait_for_customer)
    app.action(ActionId.CUSTOMER_REPLIED)(customer_replied)


def _simple(service, confirmation: str, *, moves_ownership: bool = False):
    """A listener for a button that needs no more input than the click itself. One that moves
    ownership redraws the Home tabs that may be on screen: the clicker's, when they clicked in
    it, and the previous owner's, when someone else took their case."""

    def listener(ack, body, services, respond, client):
        ack()
        clicker = body["user"]["id"]
        homes = [clicker] if (body.get("view") or {}).get("type") == "home" else []

        def change(db, click, actor):
            case_id = case_ref(click.value)
            case = db.get(Case, case_id) if moves_ownership else None  # none: NotFound below
            owner = case.owner_id if case else None
            if owner not in (None, clicker):
                homes.append(owner)
            service(db=db, case_id=case_id, actor=actor, org=services.org, now=services.now())

        try:
            apply_click(body, services, respond, change, confirmation)
        finally:
            if moves_ownership:
                refresh_homes(client, services, homes)

    return listener


claim = _simple(cases.claim, "You own this case now.", moves_ownership=True)
release = _simple(cases.release, "Released: the case is unclaimed again.", moves_ownership=True)
take_over = _simple(
    cases.take_over, "You own this case now; the previous owner was told.", moves_ownership=True
)
reopen = _simple(cases.reopen, "Reopened.")
wait_for_customer = _simple(cases.wait_for_customer, "On hold for the customer: clocks stopped.")
customer_replied = _simple(cases.customer_replied, "Off hold: the clocks run again.")


def open_escalate(ack, body, client, services):
    ack()
    click = Click.of(body)
    reference, department = choice(click.value)
    case_id = case_ref(reference)
    may(services, click, Action.ESCALATE, case_id)
    if department not in services.org.departments:
        raise BadPayload(f"unknown department {department!r}")
    client.views_open(
        trigger_id=click.trigger_id, view=escalate_modal(case_id, department, services.org)
    )


def submit_escalate(ack, body, view, services):
    meta, question = metadata(view), field(view, "question")
    if not question:
        ack(response_action="errors", errors={"question": "Say what triage needs from them."})
        return

    def change(db):
        cases.escalate(
            db=db,
            case_id=case_ref(str(meta.get("case"))),
            department=str(meta.get("department")),
            question=question,
            note=field(view, "note"),
            actor=services.actor(body["user"]["id"]),
            org=services.org,
            now=services.now(),
        )

    apply_submission(ack, view, services, change, "question")


def open_resolve(ack, body, client, services):
    ack()
    click = Click.of(body)
    case_id = case_ref(click.value)
    may(services, click, Action.RESOLVE, case_id)
    client.views_open(trigger_id=click.trigger_id, view=resolve_modal(case_id))


def submit_resolve(ack, body, view, services):
    meta, outcome = metadata(view), field(view, "outcome")
    if outcome not in set(cases.Outcome):
        ack(response_action="errors", errors={"outcome": "Choose how the case ended."})
        return

    def change(db):
        cases.resolve(
            db=db,
            case_id=case_ref(str(meta.get("case"))),
            outcome=cases.Outcome(outcome),
            link=field(view, "link"),
            actor=services.actor(body["user"]["id"]),
            org=services.org,
            now=services.now(),
        )

    apply_submission(ack, view, services, change, "outcome")
