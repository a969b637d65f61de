"""Services on a real database (SQLite or PostgreSQL): storing once, pacing channels."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.db import unit_of_work
from bot.delivery import Pacing, hold_channel, take_slot
from bot.settings import Settings
from escalation.mentions import NewMention, record_mention
from escalation.models import Mention, Outbox, OutboxKind, OutboxStatus

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def new_mention(external_id: str = "1") -> NewMention:
    record = {
        "source": "x",
        "external_id": external_id,
        "author": {"handle": "@phil", "followers": 12},
        "text": "hello",
        "created_at": NOW.isoformat(),
    }
    return NewMention.model_validate_json(json.dumps(record))


def test_a_mention_and_its_card_job_are_stored_together(sessions):
    with unit_of_work(sessions) as db:
        mention_id, created = record_mention(
            db=db, mention=new_mention(), triage_channel="social-triage", now=NOW
        )
    assert created
    with sessions() as db:
        job = db.scalar(select(Outbox))
        mention = db.get(Mention, mention_id)
        assert (job.kind, job.channel, job.case_id) == (
            OutboxKind.TRIAGE_CARD,
            "social-triage",
            mention.case_id,
        )
        assert mention.case.status == "new"
        assert job.status == OutboxStatus.PENDING and job.due_at == NOW
        assert db.get(Mention, mention_id).author_handle == "phil"


def test_a_duplicate_changes_nothing(sessions):
    for _ in range(2):
        with unit_of_work(sessions) as db:
            _, created = record_mention(db=db, mention=new_mention(), triage_channel="t", now=NOW)
    assert not created
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Mention)) == 1
        assert db.scalar(select(func.count()).select_from(Outbox)) == 1


def test_concurrent_duplicates_store_one(sessions):
    def take(_):
        with unit_of_work(sessions) as db:
            return record_mention(db=db, mention=new_mention("7"), triage_channel="t", now=NOW)[1]

    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(take, range(16)))
    assert created.count(True) == 1
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Outbox)) == 1


def test_pacing_allows_a_burst_then_one_per_interval(sessions):
    pacing = Pacing(rate=1.0, burst=3)
    with unit_of_work(sessions) as db:
        grants = [take_slot(db, channel="c", now=NOW, pacing=pacing) for _ in range(4)]
    assert grants[:3] == [None, None, None]
    assert grants[3] == 1.0
    with unit_of_work(sessions) as db:
        assert take_slot(db, channel="c", now=NOW + timedelta(seconds=1), pacing=pacing) is None
        assert take_slot(db, channel="other", now=NOW, pacing=pacing) is None


def test_a_hold_blocks_the_channel_until_slack_says(sessions):
    pacing = Pacing(rate=1.0, burst=3)
    with unit_of_work(sessions) as db:
        hold_channel(db, channel="c", until=NOW + timedelta(seconds=30), pacing=pacing)
    with unit_of_work(sessions) as db:
        assert take_slot(db, channel="c", now=NOW + timedelta(seconds=29), pacing=pacing) == 1.0
        assert take_slot(db, channel="c", now=NOW + timedelta(seconds=30), pacing=pacing) is None
        assert take_slot(db, channel="c", now=NOW + timedelta(seconds=30), pacing=pacing) == 1.0


def test_the_default_update_pace_stays_inside_slacks_fifty_a_minute(sessions):
    """chat.update is tier 3 (50 a minute, per workspace): a burst plus the steady rate that
    follows it must not put a 51st update in any sixty seconds."""
    settings = Settings()
    pacing = Pacing(settings.update_rate_per_minute / 60, settings.update_burst)
    granted, now, end = [], NOW, NOW + timedelta(minutes=4)
    with unit_of_work(sessions) as db:
        while now < end:  # a worker that always has an update waiting
            wait = take_slot(db, channel="api:chat.update", now=now, pacing=pacing)
            if wait is None:
                granted.append(now)
            else:
                now += timedelta(seconds=wait)
    busiest = max(sum(1 for t in granted if s <= t < s + timedelta(minutes=1)) for s in granted)
    assert busiest <= 50
    assert len(granted) >= 4 * 40  # and it does not go much slower than it may
