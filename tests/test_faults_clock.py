"""The clock jumps: forward by hours (a replica paused, a VM restored) and back (an NTP step).

Every part of a replica reads the time from one clock (`build_replica(clock=...)`), here the
wall clock moved to a Monday morning and running at real speed from there, which the test
jumps. Reminders due in the interval jumped over go out once each; none goes out again when
the clock goes back; and a channel paced on the clock that was ahead does not hold new cards
back until that time comes round again (it did, for the length of the jump).

(APScheduler, which runs the ticker, plans its ticks in wall time: a real clock stepped back
pauses them for the length of the step; bot/ticker.py says so.)
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from escalation.models import Nag, NagStatus, Outbox, OutboxKind, OutboxStatus
from tests.support import (
    ORG,
    ShiftedClock,
    accepted_per_job,
    mention_record,
    post_ingest,
    wait_until,
)

MONDAY_10AM = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # London: GMT, everyone at work
TRIAGE = "social-triage"


def hourly_org():
    """Reply due within an hour, whatever triage decides; the usual ladder (5 min unclaimed,
    half, 80%, the deadline, then every 30 min three times)."""
    data = ORG.model_dump()
    for priority in ("P1", "P2", "P3", "P4"):
        data["policies"][priority] |= {
            "first_reply": timedelta(hours=1),
            "acknowledge": timedelta(minutes=30),
        }
    return type(ORG).model_validate(data)


def nags(sessions) -> list[Nag]:
    with sessions() as db:
        return list(db.scalars(select(Nag).order_by(Nag.id)))


def card_job(sessions, n: int) -> int:
    """The outbox job of the card of `mention_record(n)`."""
    with sessions() as db:
        jobs = db.scalars(select(Outbox).where(Outbox.kind == OutboxKind.TRIAGE_CARD))
        return next(job.id for job in jobs if job.case.mentions[0].author_handle == f"user{n}")


def settled(sessions, clock) -> bool:
    """Every reminder due by now is decided, and every message due by now is sent."""
    now = clock()
    with sessions() as db:
        due = db.scalars(
            select(Nag).where(Nag.status == NagStatus.PENDING, Nag.due_at <= now)
        ).first()
        waiting = db.scalars(
            select(Outbox).where(Outbox.status == OutboxStatus.PENDING, Outbox.due_at <= now)
        ).first()
    return due is None and waiting is None


def check_once(sessions, fake, up_to: datetime) -> None:
    """Reminders due by `up_to` were sent, each job's message once; later ones still wait."""
    for nag in nags(sessions):
        expected = NagStatus.SENT if nag.due_at <= up_to else NagStatus.PENDING
        assert nag.status == expected, (nag.step, nag.due_at, up_to)
    with sessions() as db:
        jobs = db.scalars(select(Outbox).where(Outbox.kind == OutboxKind.NAG)).all()
        assert jobs and all(job.status == OutboxStatus.SENT for job in jobs)
        ids = [job.id for job in jobs]
    counts = accepted_per_job(fake)
    assert {job: counts[job] for job in ids} == dict.fromkeys(ids, 1)


def test_reminders_once_across_a_jump_forward_and_back(start_replica, fake_slack, sessions):
    clock = ShiftedClock(MONDAY_10AM)
    replica = start_replica(org=hourly_org(), clock=clock, delivery_lease_seconds=5)
    for n in range(3):
        assert post_ingest(replica.url, mention_record(n)).status == 202
    wait_until(lambda: len(fake_slack.messages(TRIAGE)) == 3)
    assert {nag.status for nag in nags(sessions)} == {NagStatus.PENDING}

    # Forward to 11:59: the steps due in between go out at once, each once (the next is due a
    # minute later: 12:00, two hours after the mentions came in).
    clock.jump(MONDAY_10AM + timedelta(hours=2, minutes=-1))
    wait_until(lambda: settled(sessions, clock), timeout=30)
    time.sleep(1)  # a few more ticks: nothing is sent again
    check_once(sessions, fake_slack, clock())
    later = [nag for nag in nags(sessions) if nag.status == NagStatus.PENDING]
    assert later, "the last repeats are not due yet"

    # Back to 10:10: nothing is sent again, and a new mention's card is not held back by
    # the channel's pace, set on the clock that was two hours ahead.
    sent_before = accepted_per_job(fake_slack)  # cards and reminders
    clock.jump(MONDAY_10AM + timedelta(minutes=10))
    assert post_ingest(replica.url, mention_record(3)).status == 202
    wait_until(lambda: len(fake_slack.messages(TRIAGE)) == 4, timeout=10)
    time.sleep(1)
    new = Counter([card_job(sessions, 3)])
    assert accepted_per_job(fake_slack) == sent_before + new, "only the new card: nothing due again"
    assert {nag.id for nag in later} <= {n.id for n in nags(sessions) if n.status == "pending"}

    # Forward again past everything: the waiting steps and the new case's go out, once each.
    clock.jump(MONDAY_10AM + timedelta(hours=4))
    wait_until(lambda: settled(sessions, clock), timeout=30)
    time.sleep(1)
    check_once(sessions, fake_slack, clock())
    steps = Counter(nag.step for nag in nags(sessions))
    assert len(steps) >= 5 and set(steps.values()) == {4}, "every step of four ladders"
