"""Case services on a real database: atomic claims, escalations, audit, queued Slack work."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.db import unit_of_work
from escalation import cases
from escalation.errors import AlreadyClaimed, InvalidTransition, NotAllowed
from escalation.mentions import NewMention, record_mention
from escalation.models import Case, CaseEvent, Escalation, Outbox, OutboxKind, OutboxStatus
from escalation.store import first_time
from tests.support import mention_record
from tests.test_workflow import ORG, PEOPLE

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
AMIRA, BEN, TOM, SAM = (ORG.actor(PEOPLE[n]) for n in ("amira", "ben", "tom", "sam"))


@pytest.fixture
def case_id(sessions) -> int:
    mention = NewMention.model_validate_json(json.dumps(mention_record(1)))
    with unit_of_work(sessions) as db:
        mention_id, _ = record_mention(
            db=db, mention=mention, triage_channel="social-triage", now=NOW
        )
        return cases.case_of(db, mention_id)


def act(sessions, service, **kwargs):
    with unit_of_work(sessions) as db:
        return service(db=db, org=ORG, now=kwargs.pop("now", NOW), **kwargs)


def jobs(sessions, kind: OutboxKind) -> list[Outbox]:
    with sessions() as db:
        return list(db.scalars(select(Outbox).where(Outbox.kind == kind).order_by(Outbox.id)))


def test_a_second_claim_names_the_owner_and_when(sessions, case_id):
    act(sessions, cases.claim, case_id=case_id, actor=AMIRA)
    later = NOW + timedelta(minutes=2)
    with pytest.raises(AlreadyClaimed, match=r"^Claimed by <@U0AMIRA01> 2 min ago\.$"):
        act(sessions, cases.claim, case_id=case_id, actor=BEN, now=later)
    with pytest.raises(AlreadyClaimed, match="You already own this case"):
        act(sessions, cases.claim, case_id=case_id, actor=AMIRA)


def test_twenty_simultaneous_claims_make_one_owner(sessions, case_id):
    staff = [ORG.actor(p) for p in PEOPLE.values()]
    claimants = (staff * 3)[:20]

    def claim(actor):
        try:
            act(sessions, cases.claim, case_id=case_id, actor=actor)
            return actor.id
        except AlreadyClaimed:
            return None

    with ThreadPoolExecutor(10) as pool:
        winners = [w for w in pool.map(claim, claimants) if w]
    assert len(winners) == 1
    with sessions() as db:
        assert db.get(Case, case_id).owner_id == winners[0]
        claims = db.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.action == "claim")
        )
        assert claims == 1


def test_escalation_round_trip_audits_and_queues_slack_work(sessions, case_id):
    act(sessions, cases.claim, case_id=case_id, actor=AMIRA)
    escalation = act(
        sessions,
        cases.escalate,
        case_id=case_id,
        department="billing",
        question="Was he charged twice?",
        note=None,
        actor=AMIRA,
    )
    [card] = jobs(sessions, OutboxKind.DEPARTMENT_CARD)
    assert (card.channel, card.escalation_id) == ("esc-billing", escalation.id)
    with pytest.raises(NotAllowed, match="Only members of Billing & Payments"):
        act(sessions, cases.acknowledge, case_id=case_id, escalation_id=escalation.id, actor=BEN)
    act(sessions, cases.acknowledge, case_id=case_id, escalation_id=escalation.id, actor=TOM)
    act(
        sessions,
        cases.answer,
        case_id=case_id,
        escalation_id=escalation.id,
        text="Yes: refund raised.",
        actor=TOM,
    )
    with sessions() as db:
        case, row = db.get(Case, case_id), db.get(Escalation, escalation.id)
        assert (case.status, row.status, row.answer) == (
            "answered",
            "answered",
            "Yes: refund raised.",
        )
        assert (row.acknowledged_by, row.answered_by) == (TOM.id, TOM.id)
        trail = [
            (e.actor, e.action, e.from_status, e.to_status)
            for e in db.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
        ]
    assert trail == [
        (AMIRA.id, "claim", "new", "claimed"),
        (AMIRA.id, "escalate", "claimed", "escalated"),
        (TOM.id, "acknowledge", "escalated", "acknowledged"),
        (TOM.id, "answer", "acknowledged", "answered"),
    ]
    assert len(jobs(sessions, OutboxKind.THREAD_NOTE)) == 4  # one line of history per change
    assert len(jobs(sessions, OutboxKind.TRIAGE_UPDATE)) == 1  # redraws coalesce while pending


def test_send_back_and_reassign(sessions, case_id):
    escalation = act(
        sessions,
        cases.escalate,
        case_id=case_id,
        department="billing",
        question="Refund?",
        note=None,
        actor=AMIRA,
    )
    moved = act(
        sessions,
        cases.reassign,
        case_id=case_id,
        escalation_id=escalation.id,
        department="legal",
        actor=TOM,
    )
    assert moved.department == "legal" and moved.question == "Refund?"
    with pytest.raises(InvalidTransition, match="closed or was moved"):
        act(sessions, cases.acknowledge, case_id=case_id, escalation_id=escalation.id, actor=TOM)
    act(
        sessions,
        cases.send_back,
        case_id=case_id,
        escalation_id=moved.id,
        reason="Not legal.",
        actor=ORG.actor(PEOPLE["leo"]),
    )
    with sessions() as db:
        assert db.get(Case, case_id).status == "new"  # nobody had claimed it
        states = [e.status for e in db.scalars(select(Escalation).order_by(Escalation.id))]
    assert states == ["reassigned", "sent_back"]
    assert [j.channel for j in jobs(sessions, OutboxKind.DEPARTMENT_CARD)] == [
        "esc-billing",
        "esc-legal",
    ]


def test_resolving_withdraws_the_open_escalation_and_reopen_restores(sessions, case_id):
    act(sessions, cases.claim, case_id=case_id, actor=AMIRA)
    escalation = act(
        sessions,
        cases.escalate,
        case_id=case_id,
        department="field",
        question="When is the visit?",
        note="Angry",
        actor=AMIRA,
    )
    act(
        sessions,
        cases.resolve,
        case_id=case_id,
        outcome=cases.Outcome.MOVED_TO_DM,
        link=None,
        actor=AMIRA,
    )
    with sessions() as db:
        assert db.get(Escalation, escalation.id).status == "withdrawn"
        assert db.get(Case, case_id).resolution == "moved_to_dm"
    with pytest.raises(InvalidTransition, match="resolved; reopen it first"):
        act(sessions, cases.claim, case_id=case_id, actor=BEN)
    act(sessions, cases.reopen, case_id=case_id, actor=BEN)
    with sessions() as db:
        case = db.get(Case, case_id)
        assert (case.status, case.owner_id, case.resolution) == ("claimed", AMIRA.id, None)


def test_a_request_key_is_applied_once(sessions):
    with unit_of_work(sessions) as db:
        assert first_time(db, key="click:1.2:case-claim:3.4", now=NOW)
        assert not first_time(db, key="click:1.2:case-claim:3.4", now=NOW)
    with unit_of_work(sessions) as db:
        assert not first_time(db, key="click:1.2:case-claim:3.4", now=NOW)
    with sessions() as db:
        assert (
            db.scalar(
                select(func.count()).select_from(Outbox).where(Outbox.status == OutboxStatus.DEAD)
            )
            == 0
        )
