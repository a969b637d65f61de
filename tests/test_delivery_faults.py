"""Slack failing under the delivery worker: outages, 5xx, 429 with Retry-After, an hour down."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.delivery import DeliveryWorker, Pacing
from bot.fakeslack import Limits
from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.render import Renderer
from bot.runtime import slack_client
from escalation.mentions import NewMention
from escalation.models import Outbox, OutboxStatus
from tests.conftest import replica_settings
from tests.support import ORG, mention_record, post_ingest, wait_until

SLACK_BURST = 5  # Slack: about one message a second per channel, short bursts tolerated


@pytest.fixture
def slack_limits():
    return Limits(tiers=False, post_per_second_per_channel=1.0, post_burst_per_channel=SLACK_BURST)


def handles(fake) -> list[str]:
    return [m["text"].split("@")[1].split(":")[0] for m in fake.messages("social-triage")]


def test_outage_then_rate_limits_every_card_once_within_the_rate(start_replica, fake_slack):
    fake_slack.fail(method="chat.postMessage", status=503, seconds=10)
    replica = start_replica(channel_rate_per_second=1.0, channel_burst=3)
    started = time.monotonic()
    for n in range(12):
        assert post_ingest(replica.url, mention_record(n)).status == 202
    wait_until(lambda: time.monotonic() - started > 10.5, timeout=15)
    fake_slack.fail(method="chat.postMessage", status=429, times=3, retry_after=2)
    wait_until(lambda: len(handles(fake_slack)) >= 12, timeout=60)
    time.sleep(1.5)

    assert sorted(handles(fake_slack)) == sorted(f"user{n}" for n in range(12))
    calls = fake_slack.calls("chat.postMessage")
    outage = [c for c in calls if c.status == 503]
    assert 1 <= len(outage) <= 8, "the worker backs off while Slack is down"
    limited = [c for c in calls if c.status == 429]
    assert len(limited) == 3, "only the injected 429s: the worker never outran the channel limit"
    for refusal in limited:
        later = [c.at for c in calls if c.at > refusal.at]
        assert min(later) - refusal.at >= 2 - 0.05, "Retry-After was honoured"
    accepted = sorted(c.at for c in calls if c.ok)
    busiest = max(sum(1 for t in accepted if s <= t < s + 1) for s in accepted)
    assert busiest <= SLACK_BURST


def three_cards_and_a_worker(database_url, sessions, fake_slack, clock) -> DeliveryWorker:
    """A delivery worker on `clock` (slack-sdk does not retry: the worker does), once three
    mentions have come in and queued their cards."""
    settings = replica_settings(database_url, fake_slack)
    metrics = Metrics()
    ingestor = Ingestor(sessions, "social-triage", metrics, clock)
    worker = DeliveryWorker(
        sessions=sessions,
        client=slack_client(settings, settings.slack_bot_token.get_secret_value(), retries=False),
        renderer=Renderer(ORG.directory()),
        metrics=metrics,
        owner="test",
        pacing=Pacing(rate=1.0, burst=3),
        clock=clock,
    )
    for n in range(3):
        ingestor.take(NewMention.model_validate_json(json.dumps(mention_record(n))))
    return worker


def test_a_message_that_failed_keeps_its_place_in_its_channel(database_url, sessions, fake_slack):
    clock = FakeClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    worker = three_cards_and_a_worker(database_url, sessions, fake_slack, clock)
    fake_slack.fail(method="chat.postMessage", status=503, times=1)
    worker.deliver_one()  # the first card fails: the channel waits a second or two
    for _ in range(6):
        clock.advance(timedelta(seconds=1))
        worker.deliver_one()
    assert handles(fake_slack) == ["user0", "user1", "user2"], "in the order they came"


def test_slack_down_for_an_hour_loses_nothing(database_url, sessions, fake_slack):
    clock = FakeClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    worker = three_cards_and_a_worker(database_url, sessions, fake_slack, clock)
    fake_slack.outage(3600)
    for _ in range(120):  # an hour in 30-second steps
        worker.deliver_one()
        clock.advance(timedelta(seconds=30))
    with sessions() as db:
        jobs = db.scalars(select(Outbox)).all()
        assert all(j.status == OutboxStatus.PENDING for j in jobs)
        assert max(j.due_at for j in jobs) - clock() <= timedelta(minutes=6), "backoff is capped"
    fake_slack.clear_faults()
    clock.advance(timedelta(minutes=6))
    for _ in range(3):
        worker.deliver_one()
        clock.advance(timedelta(seconds=2))
    assert sorted(handles(fake_slack)) == ["user0", "user1", "user2"]
    with sessions() as db:
        assert all(j.status == OutboxStatus.SENT for j in db.scalars(select(Outbox)))


def test_a_message_slack_refuses_for_good_is_kept_and_others_go_on(start_replica, fake_slack):
    fake_slack.fail(
        method="chat.postMessage",
        status=200,
        times=1,
        body={"ok": False, "error": "invalid_blocks"},
    )
    replica = start_replica()
    assert post_ingest(replica.url, mention_record(1)).status == 202
    wait_until(lambda: replica.worker.queue_sizes()["dead"] == 1)
    assert post_ingest(replica.url, mention_record(2)).status == 202
    wait_until(lambda: handles(fake_slack) == ["user2"])
    metrics = replica.metrics.render().decode()
    assert 'outbox_jobs{status="dead"} 1.0' in metrics


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, step: timedelta) -> None:
        self.now += step
