"""The status table and the permission table, as pure functions."""

from __future__ import annotations

import pytest

from bot.config import load_org_config
from escalation.errors import InvalidTransition
from escalation.people import DepartmentInfo
from escalation.permissions import RULES, refusal
from escalation.workflow import SOURCES, Action, CaseStatus, next_status
from tests.support import ROOT

S, A = CaseStatus, Action
ORG = load_org_config(ROOT / "config.example.yaml").directory()
PEOPLE = {
    name: p.slack_id for name, p in load_org_config(ROOT / "config.example.yaml").people.items()
}


@pytest.mark.parametrize(
    ("status", "action", "owner", "expected"),
    [
        (S.NEW, A.CLAIM, None, S.CLAIMED),
        (
            S.ESCALATED,
            A.CLAIM,
            None,
            S.ESCALATED,
        ),  # claiming does not pull it back from the department
        (S.CLAIMED, A.RELEASE, "U1", S.NEW),
        (S.ACKNOWLEDGED, A.TAKE_OVER, "U1", S.ACKNOWLEDGED),
        (S.CLAIMED, A.ESCALATE, "U1", S.ESCALATED),
        (S.ESCALATED, A.ACKNOWLEDGE, "U1", S.ACKNOWLEDGED),
        (S.ESCALATED, A.ANSWER, "U1", S.ANSWERED),
        (S.ACKNOWLEDGED, A.SEND_BACK, "U1", S.CLAIMED),
        (S.ACKNOWLEDGED, A.SEND_BACK, None, S.NEW),
        (S.ACKNOWLEDGED, A.REASSIGN, "U1", S.ESCALATED),
        (S.ANSWERED, A.MARK_REPLIED, "U1", S.REPLIED),
        (S.REPLIED, A.WAIT_CUSTOMER, "U1", S.WAITING_CUSTOMER),
        (S.WAITING_CUSTOMER, A.CUSTOMER_REPLIED, "U1", S.CLAIMED),
        (S.ESCALATED, A.RESOLVE, "U1", S.RESOLVED),
        (S.RESOLVED, A.REOPEN, "U1", S.CLAIMED),
        (S.RESOLVED, A.REOPEN, None, S.NEW),
    ],
)
def test_transitions(status, action, owner, expected):
    assert next_status(status, action, owner=owner) == expected


def test_waking_returns_to_the_status_before_the_snooze():
    assert next_status(S.CLAIMED, A.SNOOZE, owner="U1") == S.SNOOZED
    assert next_status(S.SNOOZED, A.WAKE, owner="U1", before_snooze="answered") == S.ANSWERED


@pytest.mark.parametrize("action", [a for a in Action if a != A.REOPEN])
def test_a_resolved_case_refuses_everything_but_reopen(action):
    with pytest.raises(InvalidTransition, match="resolved; reopen it first"):
        next_status(S.RESOLVED, action, owner="U1")


def test_every_pair_outside_the_table_is_refused_with_a_sentence():
    for action, sources in SOURCES.items():
        for status in set(CaseStatus) - sources:
            with pytest.raises(InvalidTransition) as refused:
                next_status(status, action, owner="U1")
            assert str(refused.value).endswith(".")


# Who may act on a case owned by Amira (Customer Care) that waits on Billing & Payments.
# amira: agent (owner) · ben: agent · priya: Care lead · tom: Billing lead · owen: Network lead
# sam: manager · stranger: not in the organisation file
STAFF = {"amira", "ben", "priya", "tom", "owen", "sam"}
OWNER_OR_LEADS = {"amira", "priya", "tom", "owen", "sam"}
BILLING = {"tom", "sam"}
MATRIX = {
    A.CLAIM: STAFF,
    A.RELEASE: {"amira", "sam"},
    A.TAKE_OVER: STAFF,
    A.ESCALATE: STAFF,
    A.ACKNOWLEDGE: BILLING,
    A.ANSWER: BILLING,
    A.SEND_BACK: BILLING,
    A.REASSIGN: BILLING,
    A.MARK_REPLIED: OWNER_OR_LEADS,
    A.WAIT_CUSTOMER: OWNER_OR_LEADS,
    A.CUSTOMER_REPLIED: STAFF,
    A.SNOOZE: OWNER_OR_LEADS,
    A.WAKE: STAFF,
    A.RESOLVE: OWNER_OR_LEADS,
    A.REOPEN: STAFF,
}


def test_the_matrix_covers_every_action():
    assert set(MATRIX) == set(Action) == set(RULES)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("who", sorted(STAFF | {"stranger"}))
def test_permission_matrix(action, who):
    actor = ORG.actor(PEOPLE.get(who, "U0STRANGER"))
    billing: DepartmentInfo = ORG.department("billing")
    reason = refusal(action, actor, owner=PEOPLE["amira"], department=billing, directory=ORG)
    if who in MATRIX[action]:
        assert reason is None
    else:
        assert reason and reason.endswith(".") and "<@" in reason  # says why, and who can


def test_refusals_say_why_and_who_can():
    billing = ORG.department("billing")
    amira, ben, stranger = (ORG.actor(PEOPLE[n]) for n in ("amira", "ben")), None, None
    amira, ben = ORG.actor(PEOPLE["amira"]), ORG.actor(PEOPLE["ben"])
    stranger = ORG.actor("U0STRANGER")
    owner = PEOPLE["amira"]
    assert refusal(A.ACKNOWLEDGE, amira, owner=owner, department=billing, directory=ORG) == (
        "Only members of Billing & Payments can acknowledge this escalation; ask <@U0TOM0001>."
    )
    assert refusal(A.RELEASE, ben, owner=owner, department=None, directory=ORG) == (
        "Only the owner (<@U0AMIRA01>) or a manager can release this case."
    )
    assert refusal(A.CLAIM, stranger, owner=None, department=None, directory=ORG) == (
        "You are not in the bot's organisation file yet; ask <@U0SAM0001> to add you."
    )
