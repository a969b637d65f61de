"""Buttons and modals of a department's escalation card: acknowledge, answer, send back,
reassign."""

from __future__ import annotations

from slack_bolt import App

from bot.views.ids import ActionId, CallbackId
from bot.views.modals import answer_modal, send_back_modal
from escalation import cases
from escalation.workflow import Action
from handlers.actions import apply_click, apply_submission, may
from handlers.payloads import Click, choice, escalation_ref, field, metadata


def register(app: App) -> None:
    app.action(ActionId.ACKNOWLEDGE)(acknowledge)
    app.action(ActionId.ANSWER)(open_answer)
    app.view(CallbackId.ANSWER)(submit_answer)
    app.action(ActionId.SEND_BACK)(open_send_back)
    app.view(CallbackId.SEND_BACK)(submit_send_back)
    app.action(ActionId.REASSIGN)(reassign)


def acknowledge(ack, body, services, respond):
    ack()

    def change(db, click, actor):
        case_id, escalation_id = escalation_ref(click.value)
        cases.acknowledge(
            db=db,
            case_id=case_id,
            escalation_id=escalation_id,
            actor=actor,
            org=services.org,
            now=services.now(),
        )

    apply_click(body, services, respond, change, "Acknowledged; triage was told you're on it.")


def reassign(ack, body, services, respond):
    ack()

    def change(db, click, actor):
        reference, department = choice(click.value)
        case_id, escalation_id = escalation_ref(reference)
        cases.reassign(
            db=db,
            case_id=case_id,
            escalation_id=escalation_id,
            department=department,
            actor=actor,
            org=services.org,
            now=services.now(),
        )

    apply_click(body, services, respond, change, "Moved; triage was told.")


def _opener(action: Action, build):
    """A listener that checks the person may act, then opens the modal `build` makes."""

    def listener(ack, body, client, services):
        ack()
        click = Click.of(body)
        case_id, escalation_id = escalation_ref(click.value)
        _case, department = may(services, click, action, case_id, escalation_id)
        view = build(case_id, escalation_id, services.org.department(department))
        client.views_open(trigger_id=click.trigger_id, view=view)

    return listener


open_answer = _opener(Action.ANSWER, lambda case, esc, dept: answer_modal(case, esc, dept.name))
open_send_back = _opener(Action.SEND_BACK, lambda case, esc, _dept: send_back_modal(case, esc))


def _submitter(service, block_id: str, argument: str, empty: str):
    """A modal submission listener: one text field handed to `service` as `argument`."""

    def listener(ack, body, view, services):
        meta, text = metadata(view), field(view, block_id)
        if not text:
            ack(response_action="errors", errors={block_id: empty})
            return

        case_id, escalation_id = escalation_ref(f"{meta.get('case')}:{meta.get('escalation')}")

        def change(db):
            service(
                db=db,
                case_id=case_id,
                escalation_id=escalation_id,
                actor=services.actor(body["user"]["id"]),
                org=services.org,
                now=services.now(),
                **{argument: text},
            )

        apply_submission(ack, view, services, change, block_id)

    return listener


submit_answer = _submitter(cases.answer, "answer", "text", "Write the answer for triage.")
submit_send_back = _submitter(cases.send_back, "reason", "reason", "Say why it goes back.")
