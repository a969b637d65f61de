"""X through tweepy, replayed from hand-written cassettes of the API v2 (tests/cassettes/x_*)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import vcr
from sqlalchemy import select

from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.sources import Batch, RateLimited, SourceAuthError
from bot.sources.poller import Poller
from bot.sources.x import XSource, make_client, to_mention
from escalation.models import Mention, SourceCursor

REPLAY = vcr.VCR(
    cassette_library_dir=str(Path(__file__).parent / "cassettes"),
    record_mode="none",
    match_on=["method", "path", "query"],
)
USER_ID = "1417049853401378816"
TOKEN = "test-bearer-token"
FIRST, NEWEST = "2125117208788561920", "2125138176112328704"
NOW = datetime(2026, 11, 24, 8, 4, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("no_internet")


@pytest.fixture
def x() -> XSource:
    return XSource(USER_ID, make_client(TOKEN))


def test_the_first_poll_takes_the_newest_page_only(x):
    with REPLAY.use_cassette("x_mentions.yaml") as cassette:
        batch = x.fetch(None)
        assert cassette.play_count == 1  # the page's next_token is not followed

    assert [m.external_id for m in batch.mentions] == [FIRST, "2124975030271918080"]
    assert batch.cursor == FIRST


def test_a_poll_follows_next_token_and_maps_each_tweet(x):
    with REPLAY.use_cassette("x_mentions.yaml") as cassette:
        x.fetch(None)
        batch = x.fetch(FIRST)
        assert cassette.play_count == 3

    ids = [m.external_id for m in batch.mentions]
    assert ids == [
        "2125137257559572480",
        "2125136888460615680",
        "2125129812672675840",
        "2125127275115929600",
    ]  # the account's own tweet is left out
    assert batch.cursor == NEWEST  # the newest id seen, the account's own tweet included
    reply = batch.mentions[0]
    assert str(reply.url) == "https://x.com/carolwrites/status/2125137257559572480"
    assert reply.author.model_dump() == {
        "handle": "carolwrites",
        "display_name": "Carol Ndlovu \u270d\ufe0f",
        "followers": 48210,
        "verified": True,
    }
    assert reply.text == "@brightwave Order ref BW-4471. Speed < 2 Mbps & nobody answers the phone."
    assert reply.created_at == datetime(2026, 11, 24, 7, 59, 40, tzinfo=UTC)
    assert (reply.conversation_id, reply.in_reply_to) == ("2125136888460615680",) * 2
    assert reply.lang == "en"
    quote, undetermined = batch.mentions[3], batch.mentions[2]
    assert quote.in_reply_to is None  # a quote is not a reply
    assert undetermined.lang is None  # X's "und"


def test_nothing_new_keeps_the_cursor(x):
    with REPLAY.use_cassette("x_mentions.yaml") as cassette:
        x.fetch(None)
        x.fetch(FIRST)
        assert x.fetch(NEWEST) == Batch([], NEWEST)
        assert cassette.all_played


def test_a_429_raises_rate_limited_with_the_reset_header_and_never_sleeps(x, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: pytest.fail(f"slept {seconds}s"))
    with REPLAY.use_cassette("x_rate_limited.yaml"), pytest.raises(RateLimited) as raised:
        x.fetch(FIRST)

    assert raised.value.resume_at == datetime(2026, 11, 24, 8, 15, tzinfo=UTC)


def test_a_401_is_an_auth_error_that_names_the_setting_not_the_token(x):
    with REPLAY.use_cassette("x_unauthorized.yaml"), pytest.raises(SourceAuthError) as raised:
        x.fetch(FIRST)

    assert "401" in str(raised.value) and "X_BEARER_TOKEN" in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_a_tweet_without_its_author_in_includes_still_maps():
    tweet = {
        "id": "5",
        "author_id": "77",
        "text": "@brightwave hi",
        "created_at": "2026-11-24T08:00:00Z",
    }
    mention = to_mention("x:1", tweet, {})
    assert mention.author.handle == "77"
    assert str(mention.url) == "https://x.com/i/web/status/5"


def polled(sessions, x: XSource, *others) -> tuple[Poller, Ingestor]:
    ingestor = Ingestor(sessions, "social-triage", Metrics(), lambda: NOW)
    return Poller(sessions, [x, *others], ingestor.take, "replica-a"), ingestor


def stored_ids(sessions) -> list[str]:
    with sessions() as db:
        return sorted(db.scalars(select(Mention.external_id).where(Mention.source == "x")))


def test_three_polls_through_the_poller_store_every_mention_once(sessions, x):
    poller, _ = polled(sessions, x)
    with REPLAY.use_cassette("x_mentions.yaml") as cassette:
        first = poller.poll_due(NOW - timedelta(hours=1))
        second = poller.poll_due(NOW)
        third = poller.poll_due(NOW + timedelta(minutes=1))
        assert cassette.all_played

    assert [o[x.key].new for o in (first, second, third)] == [2, 4, 0]
    assert len(stored_ids(sessions)) == 6
    with sessions() as db:
        assert db.get(SourceCursor, "x:" + USER_ID).cursor == NEWEST


def test_a_rate_limited_x_is_parked_and_stores_nothing_of_the_half_read_batch(sessions, x):
    other = StaticSource()
    poller, _ = polled(sessions, x, other)
    with sessions.begin() as db:
        db.add(SourceCursor(key=x.key, cursor=FIRST))
    with REPLAY.use_cassette("x_rate_limited.yaml"):
        outcomes = poller.poll_due(NOW)

    assert outcomes[x.key].status == "rate_limited"
    assert outcomes[x.key].resume_at == datetime(2026, 11, 24, 8, 15, tzinfo=UTC)
    assert outcomes[other.key].status == "polled"
    assert stored_ids(sessions) == []
    with sessions() as db:
        row = db.get(SourceCursor, x.key)
        assert (row.cursor, row.resume_at) == (FIRST, datetime(2026, 11, 24, 8, 15, tzinfo=UTC))
    assert poller.poll_due(NOW + timedelta(minutes=5))[x.key].status == "parked"


class StaticSource:
    key = "static:1"

    def fetch(self, cursor: str | None) -> Batch:
        return Batch([], cursor)
