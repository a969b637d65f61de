"""The ladder's decisions on a real database, with a clock the test moves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.db import unit_of_work
from escalation import cases
from escalation.deadlines import DeadlineKind
from escalation.ladder import send_due_nags
from escalation.mentions import NewMention, record_mention
from escalation.models import Case, CaseEvent, Deadline, Nag, Outbox, OutboxKind
from escalation.sla import plan
from escalation.triage import Assessment
from tests.support import mention_record
from tests.test_workflow import ORG, PEOPLE

POLICIES = ORG.policies
FRIDAY_5PM = datetime(2026, 11, 6, 17, tzinfo=UTC)  # London is on UTC in November


def assessed(priority: str) -> Assessment:
    return Assessment(
        sentiment="negative",
        reach="low",
        risks=frozenset(),
        needs_reply=True,
        priority=priority,
        crisis_signal=False,
        department="care",
        department_confidence=0.9,
    )


def open_case(sessions, now, priority="P2") -> int:
    return open_case_with(sessions, now, priority, 1)


def open_case_with(sessions, now, priority: str, n: int) -> int:
    mention = NewMention.model_validate_json(json.dumps(mention_record(n)))
    with unit_of_work(sessions) as db:
        mention_id, _ = record_mention(
            db=db,
            mention=mention,
            triage_channel="social-triage",
            now=now,
            assessment=assessed(priority),
            policies=POLICIES,
        )
        return cases.case_of(db, mention_id)


def tick(sessions, now) -> int:
    with unit_of_work(sessions) as db:
        return send_due_nags(db=db, org=ORG, now=now)


def nag_jobs(sessions) -> list[tuple[str, str, datetime]]:
    with sessions() as db:
        jobs = db.scalars(select(Outbox).where(Outbox.kind == OutboxKind.NAG).order_by(Outbox.id))
        return [(job.nag.step, job.channel, job.due_at) for job in jobs]


def test_targets_follow_priority_and_overrides():
    assert POLICIES.target(DeadlineKind.FIRST_REPLY, "P1") == timedelta(minutes=15)
    assert POLICIES.target(DeadlineKind.ACKNOWLEDGE, "P2", department="billing") == timedelta(
        minutes=30
    )
    assert POLICIES.target(DeadlineKind.ACKNOWLEDGE, "P2", department="legal") == timedelta(hours=1)
    assert POLICIES.target(DeadlineKind.ACKNOWLEDGE, "P4") is None


def test_the_plan_of_a_first_reply_ladder(sessions):
    case_id = open_case(sessions, FRIDAY_5PM)
    with sessions() as db:
        deadline = db.scalar(select(Deadline).where(Deadline.case_id == case_id))
        steps = plan(deadline, POLICIES.hours(None), POLICIES.ladder)
    start = FRIDAY_5PM  # Customer Care works around the clock: 1 h target, reminders on time
    assert steps == {
        "unclaimed": start + timedelta(minutes=5),
        "half": start + timedelta(minutes=30),
        "at_risk": start + timedelta(minutes=48),
        "breach": start + timedelta(hours=1),
        "repeat-1": start + timedelta(hours=1, minutes=30),
        "repeat-2": start + timedelta(hours=2),
        "repeat-3": start + timedelta(hours=2, minutes=30),
    }


def test_an_escalation_clock_counts_the_departments_hours_and_dms_wait_for_them(sessions):
    case_id = open_case(sessions, FRIDAY_5PM)
    amira = ORG.actor(PEOPLE["amira"])
    with unit_of_work(sessions) as db:
        cases.escalate(
            db=db,
            case_id=case_id,
            department="legal",
            question="Threat?",
            note=None,
            actor=amira,
            org=ORG,
            now=FRIDAY_5PM,
        )
    with sessions() as db:
        ack = db.scalar(select(Deadline).where(Deadline.kind == "acknowledge"))
    # Legal (P2: 1 h by the override) works 08:00-18:00 on weekdays: due at Friday's close
    assert ack.due_at == FRIDAY_5PM + timedelta(hours=1)
    tick(sessions, FRIDAY_5PM + timedelta(hours=1, minutes=1))
    breach = {channel: due for step, channel, due in nag_jobs(sessions) if step == "breach"}
    # Leo (Legal's lead) is off at 18:01 on a Friday: his reminder waits for Monday 08:00;
    # Sam (manager, Customer Care's hours: around the clock) gets his at once
    assert breach == {
        f"dm:{PEOPLE['leo']}": datetime(2026, 11, 9, 8, tzinfo=UTC),
        f"dm:{PEOPLE['sam']}": FRIDAY_5PM + timedelta(hours=1, minutes=1),
    }


def test_p1_reminders_do_not_wait_for_working_hours(sessions):
    saturday = datetime(2026, 11, 7, 23, tzinfo=UTC)
    case_id = open_case(sessions, saturday, priority="P1")
    amira = ORG.actor(PEOPLE["amira"])
    with unit_of_work(sessions) as db:
        cases.escalate(
            db=db,
            case_id=case_id,
            department="legal",
            question="Threat?",
            note=None,
            actor=amira,
            org=ORG,
            now=saturday,
        )
    tick(sessions, saturday + timedelta(minutes=11))
    dms = [(s, c, d) for s, c, d in nag_jobs(sessions) if c == f"dm:{PEOPLE['leo']}"]
    assert dms and all(d <= saturday + timedelta(minutes=11) for _, _, d in dms)


def test_each_reminder_is_decided_once_and_resolving_cancels_the_rest(sessions):
    case_id = open_case(sessions, FRIDAY_5PM)
    assert tick(sessions, FRIDAY_5PM + timedelta(minutes=6)) == 1  # unclaimed
    assert tick(sessions, FRIDAY_5PM + timedelta(minutes=6)) == 0
    amira = ORG.actor(PEOPLE["amira"])
    with unit_of_work(sessions) as db:
        cases.resolve(
            db=db,
            case_id=case_id,
            outcome=cases.Outcome.REPLIED_PUBLICLY,
            link=None,
            actor=amira,
            org=ORG,
            now=FRIDAY_5PM + timedelta(minutes=7),
        )
    assert tick(sessions, FRIDAY_5PM + timedelta(hours=5)) == 0
    with sessions() as db:
        states = {n.step: n.status for n in db.scalars(select(Nag))}
        deadline = db.scalar(select(Deadline))
    assert states["unclaimed"] == "sent" and states["breach"] == "cancelled"
    assert deadline.status == "met" and deadline.met_at == FRIDAY_5PM + timedelta(minutes=7)


def test_waiting_on_the_customer_stops_the_clock_except_for_p1(sessions):
    p2, p1 = open_case(sessions, FRIDAY_5PM), open_case_with(sessions, FRIDAY_5PM, "P1", 2)
    amira = ORG.actor(PEOPLE["amira"])
    for case_id in (p2, p1):
        with unit_of_work(sessions) as db:
            cases.claim(db=db, case_id=case_id, actor=amira, org=ORG, now=FRIDAY_5PM)
            cases.wait_for_customer(
                db=db, case_id=case_id, actor=amira, org=ORG, now=FRIDAY_5PM + timedelta(minutes=10)
            )
    # only P1 reminds (half, at risk, breach); the paused P2 clock reminds of nothing
    assert tick(sessions, FRIDAY_5PM + timedelta(minutes=35)) == 3
    for case_id in (p2, p1):
        with unit_of_work(sessions) as db:
            cases.customer_replied(
                db=db, case_id=case_id, actor=amira, org=ORG, now=FRIDAY_5PM + timedelta(minutes=40)
            )
    with sessions() as db:
        due = {d.case_id: d.due_at for d in db.scalars(select(Deadline))}
        half = db.scalar(
            select(Nag).join(Deadline).where(Deadline.case_id == p2, Nag.step == "half")
        )
    assert due[p2] == FRIDAY_5PM + timedelta(hours=1, minutes=30)  # 30 min on hold added
    assert due[p1] == FRIDAY_5PM + timedelta(minutes=15)  # P1 never pauses
    assert half.status == "pending" and half.due_at == FRIDAY_5PM + timedelta(minutes=60)


def test_the_customer_writing_again_takes_the_case_off_hold(sessions):
    def arrive(n: int, now: datetime) -> int:
        record = mention_record(n, conversation_id="conv-1", author={"handle": "lou"})
        mention = NewMention.model_validate_json(json.dumps(record))
        with unit_of_work(sessions) as db:
            mention_id, _ = record_mention(
                db=db,
                mention=mention,
                triage_channel="social-triage",
                now=now,
                assessment=assessed("P2"),
                policies=POLICIES,
                org=ORG,
                grouping_window=timedelta(hours=2),
            )
            return cases.case_of(db, mention_id)

    case_id = arrive(1, FRIDAY_5PM)
    amira = ORG.actor(PEOPLE["amira"])
    with unit_of_work(sessions) as db:
        cases.claim(db=db, case_id=case_id, actor=amira, org=ORG, now=FRIDAY_5PM)
        cases.wait_for_customer(
            db=db, case_id=case_id, actor=amira, org=ORG, now=FRIDAY_5PM + timedelta(minutes=10)
        )
    assert arrive(2, FRIDAY_5PM + timedelta(minutes=25)) == case_id
    with sessions() as db:
        case = db.get(Case, case_id)
        last = db.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        ).all()[-1]
        deadline = case.deadline("first_reply")
    assert case.status == "claimed"
    assert (last.action, last.actor) == ("customer_replied", None)
    assert deadline.status == "running"
    assert deadline.due_at == FRIDAY_5PM + timedelta(hours=1, minutes=15)  # 15 min on hold
