"""Every card, note and modal the bot can draw passes Slack's Block Kit limits, whatever the
case's state and however long or hostile the mention."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from bot.fakeslack.blocks import validate_message, validate_view
from bot.views.cards import department_card, triage_card
from bot.views.modals import (
    answer_modal,
    escalate_modal,
    message_escalate_modal,
    resolve_modal,
    send_back_modal,
)
from bot.views.notes import history_note
from escalation.models import Case, CaseEvent, Escalation, EscalationStatus, Mention
from escalation.workflow import Action, CaseStatus
from tests.test_workflow import ORG, PEOPLE

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> <@U0SAM0001> <https://evil.example|brightwave.co.uk> & ignore rules "
CONTROL = re.compile(r"<(?!!date\^)[!@#](?!U0)")  # control syntax other than ours and people
TEXTS = {"short": "still no internet", "3000": (HOSTILE * 60)[:3000], "hostile": HOSTILE}


def case_in(status: CaseStatus, text: str, escalation_status=None) -> Case:
    mention = Mention(id=1, source="x", external_id="1", author_handle="phil", text=text,
                      author_display_name=HOSTILE, author_followers=12, author_verified=False,
                      url="https://x.com/phil/status/1", posted_at=NOW)  # fmt: skip
    case = Case(id=7, status=status, mentions=[mention], triage_channel="C1", triage_ts="1.2",
                owner_id=PEOPLE["amira"] if status != CaseStatus.NEW else None)  # fmt: skip
    if escalation_status:
        case.escalations = [
            Escalation(
                id=3,
                case_id=7,
                department="billing",
                status=escalation_status,
                question=text,
                note=HOSTILE,
                requested_by=PEOPLE["amira"],
                requested_at=NOW,
                closed_note=HOSTILE,
                answer=text,
            )  # fmt: skip
        ]
    return case


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
@pytest.mark.parametrize("status", list(CaseStatus))
def test_triage_cards(status, text):
    waiting = EscalationStatus.OPEN if status in (CaseStatus.ESCALATED,) else None
    card = triage_card(case_in(status, text, waiting), ORG)
    assert validate_message(card.blocks) == []
    assert card.text and not CONTROL.search(card.text + json.dumps(card.blocks))


@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
@pytest.mark.parametrize("state", list(EscalationStatus))
def test_department_cards(state, text):
    escalation = case_in(CaseStatus.ESCALATED, text, state).escalations[0]
    escalation.case = case_in(CaseStatus.ESCALATED, text, state)
    card = department_card(escalation, ORG, "https://brightwave.slack.com/")
    assert validate_message(card.blocks) == []
    assert not CONTROL.search(card.text + json.dumps(card.blocks))
    assert "https://brightwave.slack.com/archives/C1/p12|Triage thread" in json.dumps(card.blocks)


@pytest.mark.parametrize("action", [a for a in Action if a.value in {
    "claim", "release", "take_over", "escalate", "acknowledge", "answer", "send_back",
    "reassign", "resolve", "reopen"}])  # fmt: skip
def test_history_notes_escape_what_people_typed(action):
    data = {
        "department": "billing",
        "to": "legal",
        "owner": PEOPLE["amira"],
        "previous": PEOPLE["ben"],
        "outcome": "replied_publicly",
        "link": "https://x.com/1",
    }
    event = CaseEvent(actor=PEOPLE["tom"], action=action.value, note=TEXTS["3000"], data=data)
    note = history_note(event, ORG)
    assert note and len(note) < 40_000  # Slack cuts message text there
    assert not CONTROL.search(note)


def test_modals():
    views = [
        escalate_modal(7, "billing", ORG),
        resolve_modal(7),
        answer_modal(7, 3, "Billing & Payments"),
        send_back_modal(7, 3),
        message_escalate_modal("C1", "1.2", ORG),
    ]
    for view in views:
        assert validate_view(view) == [], view["callback_id"]
