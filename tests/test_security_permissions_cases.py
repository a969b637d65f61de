"""Who may act on a case: every button and modal of the triage card, the department's card and
the reminder, for every role (tests/security_matrix.py runs the cells).

The matrix below is the policy, written out: a change in who may do what shows as a changed
row here. "ok": done (and confirmed to them); "no": refused privately, naming someone who can,
and nothing changed; "self": refused because it is already theirs. The owner is Ben, an agent
of Customer Care; the cases are escalated to Billing, whose lead is Tom.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.views.modals import answer_modal, escalate_modal, resolve_modal, send_back_modal
from escalation.models import Case, Deadline, Nag
from tests.security_matrix import (
    Scenario,
    fast_limits,
    mismatches,
    opened,
    parse,
    run,
    start_world,
    submit,
)
from tests.security_targets import (
    BILLING,
    TRIAGE,
    World,
    case_in,
    escalation,
    reminder,
)

EXPECTED = parse("""
case-claim                    ok    ok    ok    ok    ok    no    no
case-release                  ok    no    no    no    ok    no    no
case-take-over                self  ok    ok    ok    ok    no    no
case-escalate                 ok    ok    ok    ok    ok    no    no
case-escalate-suggested       ok    ok    ok    ok    ok    no    no
case-escalate-modal           ok    ok    ok    ok    ok    no    no
case-resolve                  ok    no    ok    ok    ok    no    no
case-resolve-modal            ok    no    ok    ok    ok    no    no
case-reopen                   ok    ok    ok    ok    ok    no    no
case-wait-customer            ok    no    ok    ok    ok    no    no
case-customer-replied         ok    ok    ok    ok    ok    no    no
escalation-acknowledge        no    no    ok    no    ok    no    no
escalation-answer             no    no    ok    no    ok    no    no
escalation-answer-modal       no    no    ok    no    ok    no    no
escalation-send-back          no    no    ok    no    ok    no    no
escalation-send-back-modal    no    no    ok    no    ok    no    no
escalation-reassign           no    no    ok    no    ok    no    no
nag-snooze                    ok    no    no    no    no    no    no
""")  # owner agent lead  other manager rapid stranger


@pytest.fixture
def slack_limits():
    return fast_limits()


def click(action_id: str, *, where: str = "card", option=None):
    """Press `action_id` on the target's triage card ("card") or Billing's card ("department")."""

    def act(world: World, user: str, target: dict):
        channel, ts = (TRIAGE, target["ts"]) if where == "card" else (BILLING, target["card"])
        chosen = option(target) if option else None
        return world.driver.click(user, channel, ts, action_id, option=chosen)

    return act


def case_is(test):
    def done(world: World, user: str, target: dict) -> bool:
        with world.sessions() as db:
            case = db.get(Case, target["case"])
            return bool(test(case, case.escalations[-1] if case.escalations else None, user))

    return done


def snoozed(world: World, user: str, target: dict) -> bool:
    with world.sessions() as db:
        query = select(Nag.step).join(Deadline).where(Deadline.case_id == target["case"])
        steps = db.scalars(query).all()
    return any(step.startswith(f"half/snooze-{user}-") for step in steps)


def state(name: str, button: str):
    return lambda world: case_in(world, name, button)


def escalated(button: str):
    return lambda world: escalation(world, button)


def department_of(target: dict) -> str:
    return f"{target['case']}:{target['escalation']}"


SCENARIOS = [
    Scenario(
        "case-claim",
        state("new", "case-claim"),
        click("case-claim"),
        case_is(lambda case, _e, user: case.owner_id == user),
        said="You own this case now",
    ),
    Scenario(
        "case-release",
        state("claimed", "case-release"),
        click("case-release"),
        case_is(lambda case, _e, _u: case.owner_id is None),
        said="Released",
    ),
    Scenario(
        "case-take-over",
        state("claimed", "case-take-over"),
        click("case-take-over"),
        case_is(lambda case, _e, user: case.owner_id == user),
        said="You own this case now",
    ),
    Scenario(
        "case-escalate",
        state("claimed", "case-escalate"),
        click("case-escalate", option=lambda t: f"{t['case']}|billing"),
        opened("case-escalate-modal"),
        fresh=False,
    ),
    Scenario(
        "case-escalate-suggested",
        state("claimed", "case-escalate-suggested"),
        click("case-escalate-suggested"),
        opened("case-escalate-modal"),
        fresh=False,
    ),
    Scenario(
        "case-escalate-modal",
        state("claimed", "case-escalate"),
        submit(
            lambda world, t: escalate_modal(t["case"], "billing", world.org),
            {"question": "Was this customer charged twice?"},
        ),
        case_is(lambda _c, esc, user: esc is not None and esc.requested_by == user),
    ),
    Scenario(
        "case-resolve",
        state("claimed", "case-resolve"),
        click("case-resolve"),
        opened("case-resolve-modal"),
        fresh=False,
    ),
    Scenario(
        "case-resolve-modal",
        state("claimed", "case-resolve"),
        submit(lambda _world, t: resolve_modal(t["case"]), {"outcome": "no_reply_needed"}),
        case_is(lambda case, _e, _u: case.status == "resolved"),
    ),
    Scenario(
        "case-reopen",
        state("resolved", "case-reopen"),
        click("case-reopen"),
        case_is(lambda case, _e, _u: case.status != "resolved"),
        said="Reopened",
    ),
    Scenario(
        "case-wait-customer",
        state("claimed", "case-wait-customer"),
        click("case-wait-customer"),
        case_is(lambda case, _e, _u: case.status == "waiting_customer"),
        said="On hold",
    ),
    Scenario(
        "case-customer-replied",
        state("waiting", "case-customer-replied"),
        click("case-customer-replied"),
        case_is(lambda case, _e, _u: case.status != "waiting_customer"),
        said="Off hold",
    ),
    Scenario(
        "escalation-acknowledge",
        escalated("escalation-acknowledge"),
        click("escalation-acknowledge", where="department"),
        case_is(lambda _c, esc, user: esc.acknowledged_by == user),
        said="Acknowledged",
    ),
    Scenario(
        "escalation-answer",
        escalated("escalation-answer"),
        click("escalation-answer", where="department"),
        opened("escalation-answer-modal"),
        fresh=False,
    ),
    Scenario(
        "escalation-answer-modal",
        escalated("escalation-answer"),
        submit(
            lambda _w, t: answer_modal(t["case"], t["escalation"], "Billing & Payments"),
            {"answer": "Yes, twice; a refund is on its way."},
        ),
        case_is(lambda _c, esc, user: esc.answered_by == user),
    ),
    Scenario(
        "escalation-send-back",
        escalated("escalation-send-back"),
        click("escalation-send-back", where="department"),
        opened("escalation-send-back-modal"),
        fresh=False,
    ),
    Scenario(
        "escalation-send-back-modal",
        escalated("escalation-send-back"),
        submit(
            lambda _w, t: send_back_modal(t["case"], t["escalation"]),
            {"reason": "Not a billing matter."},
        ),
        case_is(lambda case, _e, _u: case.escalations[-1].status == "sent_back"),
    ),
    Scenario(
        "escalation-reassign",
        escalated("escalation-reassign"),
        click(
            "escalation-reassign", where="department", option=lambda t: f"{department_of(t)}|field"
        ),
        case_is(lambda _c, esc, user: esc.department == "field" and esc.requested_by == user),
        said="Moved",
    ),
    Scenario("nag-snooze", reminder, click("nag-snooze"), snoozed, said="remind you again"),
]


def test_who_may_act_on_cases_escalations_and_reminders(start_replica, fake_slack, sessions):
    world = start_world(start_replica, fake_slack, sessions)
    observed, problems = run(world, SCENARIOS, EXPECTED)
    differing = mismatches(observed, EXPECTED)
    assert not differing, "\n".join(differing)
    assert not problems, "\n".join(problems)
