"""The managers' digest without Slack: when each digest is due and what it covers, queueing
it once under concurrency, and the message within Block Kit's limits on a very bad day."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta

from bot.fakeslack.blocks import MAX_MESSAGE_BLOCKS_TEXT, blocks_text_length, validate_message
from bot.views.digest import digest_message
from escalation.digests import DigestSchedule, period_window, queue_digest
from escalation.kpis import (
    DeadlineCounts,
    DeadlineRef,
    EscalationTimes,
    Kpis,
    Outcome,
    ReplyTimes,
    SentimentDay,
)
from escalation.models import Outbox
from tests.support import ORG

LONDON = DigestSchedule("U0SAM0001", time(8, 0), "Europe/London")
NEW_YORK = DigestSchedule("U0NINA001", time(8, 0), "America/New_York")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_each_manager_is_due_at_their_own_local_time():
    # 25 November 2026: London is on GMT (UTC+0), New York on EST (UTC-5).
    assert LONDON.due_day(utc(2026, 11, 25, 7, 59, 59)) is None
    assert LONDON.due_day(utc(2026, 11, 25, 8, 0)) == date(2026, 11, 25)
    assert NEW_YORK.due_day(utc(2026, 11, 25, 8, 0)) is None
    assert NEW_YORK.due_day(utc(2026, 11, 25, 12, 59, 59)) is None
    assert NEW_YORK.due_day(utc(2026, 11, 25, 13, 0)) == date(2026, 11, 25)
    # Still due (late) later that day, for the same date: its key makes it once.
    assert LONDON.due_day(utc(2026, 11, 25, 23, 0)) == date(2026, 11, 25)
    assert LONDON.key(date(2026, 11, 25)) == "digest:U0SAM0001:2026-11-25"


def test_the_window_is_the_24_hours_before_the_digest_time_25_when_summer_time_ends():
    assert LONDON.window(date(2026, 11, 25)) == (utc(2026, 11, 24, 8), utc(2026, 11, 25, 8))
    # British Summer Time ended at 01:00 UTC on Sunday 25 October 2026.
    start, end = LONDON.window(date(2026, 10, 25))
    assert (start, end) == (utc(2026, 10, 24, 7), utc(2026, 10, 25, 8))
    assert end - start == timedelta(hours=25)


def test_periods_of_the_command():
    now = utc(2026, 11, 25, 15, 30)
    zone = "America/New_York"
    assert period_window("today", zone, now) == (utc(2026, 11, 25, 5), now)
    assert period_window("yesterday", zone, now) == (utc(2026, 11, 24, 5), utc(2026, 11, 25, 5))
    assert period_window("7d", zone, now) == (now - timedelta(days=7), now)
    assert period_window("", zone, now) == (now - timedelta(days=1), now)


def test_three_replicas_queueing_at_once_queue_one_digest(sessions):
    day, now = date(2026, 11, 25), utc(2026, 11, 25, 8, 0, 1)
    won, start = [], threading.Barrier(3)

    def replica():
        start.wait()
        with sessions() as db, db.begin():
            job = queue_digest(
                db=db, schedule=LONDON, day=day, now=now, payload={}, hold=timedelta(0)
            )
        won.append(job)

    threads = [threading.Thread(target=replica) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won, key=lambda j: j is None)[1:] == [None, None]
    with sessions() as db:
        jobs = db.query(Outbox).all()
    assert [(j.kind, j.channel, j.dedupe_key) for j in jobs] == [
        ("digest", "dm:U0SAM0001", "digest:U0SAM0001:2026-11-25")
    ]


def bad_day() -> Kpis:
    """A day with everything going wrong, and long names everywhere."""
    now = utc(2026, 11, 25, 8)
    refs = tuple(
        DeadlineRef(n, n, "P1", "first_reply", "billing", None, now, Outcome.OVERDUE)
        for n in range(100)
    )
    departments = {f"department-{n:02d}-" + "x" * 40: 40 for n in range(30)}
    return Kpis(
        start=now - timedelta(days=7),
        end=now,
        now=now,
        departments=None,
        cases=5000,
        by_source={f"source{n}": 100 for n in range(11)},
        by_priority={"P1": 1000, "P2": 4000},
        by_department=departments,
        first_reply=ReplyTimes(4000, 1000, 600, 7200, 300, 3600),
        deadlines=DeadlineCounts(met=10, late=2000, overdue=3000),
        deadlines_by_department={key: DeadlineCounts(met=1, overdue=5) for key in departments},
        escalations=tuple(
            EscalationTimes(key, 40, 3, 2, 1800.0, 7200.0) for key in list(departments)[:25]
        ),
        breaches=refs,
        at_risk=refs,
        at_risk_total=537,
        sentiment=tuple(SentimentDay(date(2026, 11, d), 10, 20, 30) for d in range(17, 26)),
        themes=tuple((f"term{n}" + "y" * 30, 100 - n) for n in range(10)),
    )


def test_a_very_bad_day_stays_within_block_kit_limits():
    message = digest_message(
        bad_day(), ORG.directory(), title="📊 Daily digest, Wed 25 Nov", themes_summary="z" * 5000
    )
    assert validate_message(message.blocks) == []
    assert blocks_text_length(message.blocks) <= MAX_MESSAGE_BLOCKS_TEXT
    text = str(message.blocks)
    assert "and 5000 more" not in text
    assert "and 4990 more" in text  # breaches: the first ten, then how many more
    assert "and 529 more deadlines at risk" in text  # eight cases with a Claim button each
    claim = [b["accessory"] for b in message.blocks if "accessory" in b]
    assert len(claim) == 8 and claim[0]["action_id"] == "case-claim" and claim[0]["value"] == "0"
