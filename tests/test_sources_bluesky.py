"""Bluesky through atproto, replayed from hand-written cassettes (tests/cassettes/bluesky_*)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import vcr
from sqlalchemy import select

from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.sources import Batch, RateLimited, SourceAuthError
from bot.sources.bluesky import BlueskySource, make_client
from bot.sources.poller import Poller
from escalation.models import Mention, SourceCursor

REPLAY = vcr.VCR(
    cassette_library_dir=str(Path(__file__).parent / "cassettes"),
    record_mode="none",
    match_on=["method", "path", "query"],
)
HANDLE = "brightwave.co.uk"
PASSWORD = "test-app-password"
FIRST, NEWEST = "2026-11-24T06:51:10.214Z", "2026-11-24T07:59:03.880Z"
BRAND_POST = "at://did:plc:bw4x7tq2hxn3lk5mzr6yvdpa/app.bsky.feed.post/3mlbrizzt3e2z"
NOW = datetime(2026, 11, 24, 8, 4, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("no_internet")


@pytest.fixture
def bluesky() -> BlueskySource:
    return BlueskySource(HANDLE, HANDLE, PASSWORD, make_client())


def test_the_first_poll_signs_in_and_takes_the_newest_page_only(bluesky):
    with REPLAY.use_cassette("bluesky_mentions.yaml") as cassette:
        batch = bluesky.fetch(None)
        assert cassette.play_count == 3  # createSession, listNotifications, getProfiles

    assert [m.author.handle for m in batch.mentions] == ["erin.bsky.social"]
    assert batch.mentions[0].author.followers == 230
    assert batch.cursor == FIRST


def test_a_poll_pages_back_to_the_newest_time_taken_and_looks_up_authors_once(bluesky):
    with REPLAY.use_cassette("bluesky_mentions.yaml") as cassette:
        bluesky.fetch(None)
        batch = bluesky.fetch(FIRST)
        assert cassette.play_count == 6  # one sign-in, two pages, one getProfiles for three

    assert batch.cursor == NEWEST
    reply, quote, mention = batch.mentions
    assert (
        reply.external_id
        == "at://did:plc:fqfjzczbttofjyu7jsjc3ibo/app.bsky.feed.post/3mwtnduqsobp2"
    )
    assert str(reply.url) == "https://bsky.app/profile/felix.dev/post/3mwtnduqsobp2"
    assert reply.author.model_dump() == {
        "handle": "felix.dev",
        "display_name": "Felix Brandt",
        "followers": 52890,
        "verified": True,
    }
    assert (reply.in_reply_to, reply.conversation_id) == (BRAND_POST, BRAND_POST)
    assert reply.created_at == datetime(2026, 11, 24, 7, 59, 3, 511000, tzinfo=UTC)
    assert quote.text == "Third outage this month \U0001f644"
    assert (quote.author.display_name, quote.author.followers) == (None, 12)
    assert quote.in_reply_to is None and quote.conversation_id == quote.external_id
    assert (mention.lang, mention.author.handle) == ("fr", "hugo.bsky.social")


def test_nothing_newer_than_the_cursor_gives_nothing_and_asks_for_no_profiles(bluesky):
    with REPLAY.use_cassette("bluesky_mentions.yaml") as cassette:
        bluesky.fetch(None)
        bluesky.fetch(FIRST)
        assert bluesky.fetch(NEWEST) == Batch([], NEWEST)
        assert cassette.all_played


def test_a_429_raises_rate_limited_with_ratelimit_reset(bluesky, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: pytest.fail(f"slept {seconds}s"))
    with REPLAY.use_cassette("bluesky_rate_limited.yaml"), pytest.raises(RateLimited) as raised:
        bluesky.fetch(FIRST)

    assert raised.value.resume_at == datetime(2026, 11, 24, 8, 15, tzinfo=UTC)


def test_a_refused_app_password_is_an_auth_error_without_the_password(bluesky):
    with REPLAY.use_cassette("bluesky_unauthorized.yaml"), pytest.raises(SourceAuthError) as raised:
        bluesky.fetch(None)

    message = str(raised.value)
    assert "401 AuthenticationRequired" in message and "BLUESKY_APP_PASSWORD" in message
    assert PASSWORD not in message


def test_polls_through_the_poller_store_each_post_once(sessions, bluesky):
    ingestor = Ingestor(sessions, "social-triage", Metrics(), lambda: NOW)
    poller = Poller(sessions, [bluesky], ingestor.take, "replica-a")
    with REPLAY.use_cassette("bluesky_mentions.yaml") as cassette:
        outcomes = [poller.poll_due(NOW + n * timedelta(minutes=1)) for n in range(3)]
        assert cassette.all_played

    assert [o[bluesky.key].new for o in outcomes] == [1, 3, 0]
    with sessions() as db:
        urls = db.scalars(select(Mention.url).where(Mention.source == "bluesky"))
        assert len(set(urls)) == 4
        assert db.get(SourceCursor, bluesky.key).cursor == NEWEST
