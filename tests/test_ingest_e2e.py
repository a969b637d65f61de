"""A signed webhook becomes a triage card, through the real HTTP server and the fake Slack."""

from __future__ import annotations

import json
import time

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from escalation.models import Case, Mention, Outbox
from tests.support import (
    SIGNING_SECRET,
    mention_record,
    post_ingest,
    request,
    wait_until,
)


def count(sessions, model) -> int:
    with sessions() as db:
        return db.scalar(select(func.count()).select_from(model))


def cards(fake) -> list[dict]:
    return fake.messages("social-triage")


def test_twenty_webhooks_give_twenty_cards_each_once(start_replica, fake_slack, sessions):
    replica = start_replica()
    for n in range(20):
        result = post_ingest(replica.url, mention_record(n))
        assert result.status == 202, result.body
        assert result.body["status"] == "accepted" and isinstance(result.body["id"], int)
    wait_until(lambda: len(cards(fake_slack)) >= 20)
    time.sleep(0.3)  # anything posted twice would show up now
    texts = [m["text"] for m in cards(fake_slack)]
    for n in range(20):
        assert sum(f"@user{n}:" in t for t in texts) == 1, n
    assert len(texts) == 20
    with sessions() as db:
        assert all(case.triage_ts for case in db.scalars(select(Case)))
    assert all(call.ok for call in fake_slack.calls("chat.postMessage"))  # paced: no 429


def test_a_repeated_delivery_gives_no_second_card(start_replica, fake_slack, sessions):
    replica = start_replica()
    first = post_ingest(replica.url, mention_record(1))
    wait_until(lambda: len(cards(fake_slack)) == 1)
    again = post_ingest(replica.url, mention_record(1))
    assert (first.status, again.status) == (202, 200)
    assert again.body == {"id": first.body["id"], "status": "duplicate"}
    time.sleep(0.5)
    assert len(cards(fake_slack)) == 1
    assert count(sessions, Mention) == 1 and count(sessions, Outbox) == 1


@pytest.mark.parametrize(
    "how", ["forged", "stale", "unsigned", "no-timestamp", "future", "altered"]
)
def test_bad_signatures_get_401_and_store_nothing(start_replica, sessions, how):
    replica = start_replica()
    record = mention_record(1)
    now = int(time.time())
    attempts = {
        "forged": lambda: post_ingest(replica.url, record, secret="not-the-secret"),
        "stale": lambda: post_ingest(replica.url, record, stamp=str(now - 301)),
        "unsigned": lambda: post_ingest(replica.url, record, secret=None),
        "no-timestamp": lambda: request(
            f"{replica.url}/ingest", json.dumps(record).encode(), {"X-Ingest-Signature": "v1=00"}
        ),
        "future": lambda: post_ingest(replica.url, record, stamp=str(now + 400)),
        "altered": lambda: post_ingest(
            replica.url, record, **{"X-Ingest-Signature": "v1=" + "0" * 64}
        ),
    }
    result = attempts[how]()
    assert result.status == 401, result.body
    assert result.body["error"]
    assert count(sessions, Mention) == 0 and count(sessions, Outbox) == 0


def with_author(**fields):
    return mention_record(1, author=mention_record(1)["author"] | fields)


def without(key):
    record = mention_record(1)
    record.pop(key)
    return record


MALFORMED = [
    (b"not json", None),
    (b"", None),
    (b"[]", None),
    (b'"a string"', None),
    (b'\xff\xfe{"source": "x"}', None),
    (b'{"source": "x", ', None),
    (without("source"), "source"),
    (mention_record(1, source="myspace"), "source"),
    (mention_record(1, source=42), "source"),
    (without("external_id"), "external_id"),
    (mention_record(1, external_id=""), "external_id"),
    (mention_record(1, external_id="has spaces"), "external_id"),
    (mention_record(1, external_id="9" * 129), "external_id"),
    (mention_record(1, external_id=123), "external_id"),
    (mention_record(1, url="not a url"), "url"),
    (mention_record(1, url="ftp://files.example/x"), "url"),
    (without("author"), "author"),
    (mention_record(1, author="bob"), "author"),
    (mention_record(1, author={"followers": 3}), "author.handle"),
    (with_author(handle=""), "author.handle"),
    (with_author(followers=-1), "author.followers"),
    (with_author(followers="12"), "author.followers"),
    (with_author(followers=1.5), "author.followers"),
    (with_author(verified="yes"), "author.verified"),
    (with_author(email="a@b.example"), "author.email"),
    (with_author(display_name="x" * 300), "author.display_name"),
    (without("text"), "text"),
    (mention_record(1, text=""), "text"),
    (mention_record(1, text="   \n "), "text"),
    (mention_record(1, text="x" * 10_001), "text"),
    (mention_record(1, text="nul \x00 inside"), "text"),
    (without("created_at"), "created_at"),
    (mention_record(1, created_at="yesterday"), "created_at"),
    (mention_record(1, created_at="2026-11-02T08:00:00"), "created_at"),
    (mention_record(1, lang="english!"), "lang"),
    (mention_record(1, conversation_id=5), "conversation_id"),
    (mention_record(1, priority="P1"), "priority"),
]


def test_thirty_kinds_of_malformed_body_get_400_naming_the_field(start_replica, sessions):
    replica = start_replica()
    assert len(MALFORMED) >= 30
    for body, field in MALFORMED:
        result = post_ingest(replica.url, body)
        assert result.status == 400, (body, result.body)
        if field is None:
            assert "JSON" in result.body["error"]
        else:
            assert result.body["field"] == field, (body, result.body)
            assert result.body["error"].startswith(field)
    assert count(sessions, Mention) == 0 and count(sessions, Outbox) == 0


def test_a_body_over_64_kib_gets_413(start_replica, sessions):
    replica = start_replica()
    result = post_ingest(replica.url, mention_record(1, text="x" * 70_000))
    assert result.status == 413
    assert count(sessions, Mention) == 0


def test_slack_control_syntax_in_a_mention_notifies_nobody(start_replica, fake_slack):
    replica = start_replica()
    hostile = mention_record(
        1,
        text="<!channel> <!here> <!everyone> <@U0AMIRA01> <!subteam^S0LEGAL> "
        "verify at <https://evil.example/login|brightwave.co.uk>",
        author={"handle": "<!channel>", "display_name": "<@U0SAM0001>", "followers": 9},
    )
    assert post_ingest(replica.url, hostile).status == 202
    card = wait_until(lambda: cards(fake_slack))[0]
    assert fake_slack.notifications() == []
    assert "&lt;!channel&gt;" in card["text"]
    assert "https://evil.example" not in json.dumps(card["blocks"]).split("|Open on")[0][-200:]


def test_slack_events_need_slack_signatures(start_replica):
    replica = start_replica()
    body = json.dumps({"type": "url_verification", "challenge": "abc123"})
    stamp = str(int(time.time()))
    good = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
    headers = {"X-Slack-Request-Timestamp": stamp, "Content-Type": "application/json"}
    ok = request(
        f"{replica.url}/slack/events", body.encode(), headers | {"X-Slack-Signature": good}
    )
    assert ok.status == 200 and ok.body == {"challenge": "abc123"}
    forged = request(
        f"{replica.url}/slack/events", body.encode(), headers | {"X-Slack-Signature": "v0=00"}
    )
    assert forged.status == 401


def test_health_and_metrics(start_replica, fake_slack):
    replica = start_replica()
    assert post_ingest(replica.url, mention_record(1)).status == 202
    wait_until(lambda: cards(fake_slack))
    health = request(f"{replica.url}/healthz")
    assert health.status == 200
    assert health.body["database"] == "ok" and health.body["delivery"] == "running"
    metrics = request(f"{replica.url}/metrics").body
    assert 'mentions_ingested_total{result="new",source="x"} 1.0' in metrics
    assert 'slack_deliveries_total{result="sent"} 1.0' in metrics
    assert 'outbox_jobs{status="pending"} 0.0' in metrics
    assert request(f"{replica.url}/ingest").status == 405
    assert request(f"{replica.url}/nowhere").status == 404


def test_three_replicas_share_the_queue_and_post_each_card_once(start_replica, fake_slack):
    replicas = [start_replica(replica_name=f"replica-{n}") for n in range(3)]
    for n in range(60):
        assert post_ingest(replicas[n % 3].url, mention_record(n)).status == 202
    wait_until(lambda: len(cards(fake_slack)) >= 60, timeout=30)
    time.sleep(0.5)
    texts = [m["text"] for m in cards(fake_slack)]
    assert len(texts) == 60
    assert sorted(t.split(":")[0] for t in texts) == sorted(
        f"New X mention from @user{n}" for n in range(60)
    )
    senders = {r.worker.owner: r.metrics.render().decode() for r in replicas}
    assert sum('slack_deliveries_total{result="sent"}' in page for page in senders.values()) >= 2
