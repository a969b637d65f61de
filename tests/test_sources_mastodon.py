"""Mastodon through Mastodon.py, replayed from hand-written cassettes (cassettes/mastodon_*)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import vcr
from sqlalchemy import select

from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.sources import Batch, RateLimited, SourceAuthError
from bot.sources.mapping import html_to_text
from bot.sources.mastodon import MastodonSource, make_client
from bot.sources.poller import Poller
from escalation.models import Mention, SourceCursor

REPLAY = vcr.VCR(
    cassette_library_dir=str(Path(__file__).parent / "cassettes"),
    record_mode="none",
    match_on=["method", "path", "query"],
)
ACCOUNT = "brightwave@mastodon.social"
TOKEN = "test-access-token"
NOW = datetime(2026, 11, 24, 8, 4, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("no_internet")


@pytest.fixture
def mastodon() -> MastodonSource:
    return MastodonSource(ACCOUNT, make_client("https://mastodon.social", TOKEN))


def test_the_first_poll_takes_the_newest_page_only(mastodon):
    with REPLAY.use_cassette("mastodon_mentions.yaml") as cassette:
        batch = mastodon.fetch(None)
        assert cassette.play_count == 1  # its Link "next" is not followed

    assert [m.external_id for m in batch.mentions] == ["117669935775748321"]
    assert batch.cursor == "61507000"


def test_a_poll_pages_back_through_link_headers_until_the_cursor(mastodon):
    with REPLAY.use_cassette("mastodon_mentions.yaml") as cassette:
        mastodon.fetch(None)
        batch = mastodon.fetch("61507000")
        assert cassette.play_count == 3  # the second page reached the cursor: no third

    assert [m.external_id for m in batch.mentions] == [
        "117670367395844321",
        "117670298910724321",
        "117670170329092321",
    ]
    assert batch.cursor == "61507310"
    local, remote, german = batch.mentions
    assert local.author.model_dump() == {
        "handle": "dana@mastodon.social",  # a local account gets its instance
        "display_name": "Dana \U0001f33b",
        "followers": 41,
        "verified": False,
    }
    assert local.text == (
        '@brightwave router says "no internet" again & the app won\'t load.\n'
        "Postcode SW9 8AB.\n\nAnyone else?"
    )
    assert str(local.url) == "https://mastodon.social/@dana/117670367395844321"
    assert local.in_reply_to == "117670005964804321"
    assert local.created_at == datetime(2026, 11, 24, 8, 1, 55, tzinfo=UTC)
    assert remote.author.handle == "alice@fosstodon.org"
    assert remote.text.startswith("CW: billing rant\n\n@brightwave charged twice")
    assert remote.text.endswith(
        "https://files.fosstodon.org/media_attachments/files/117/670/bill.png"
    )
    assert (german.lang, german.author.display_name) == ("de", None)


def test_nothing_new_keeps_the_cursor(mastodon):
    with REPLAY.use_cassette("mastodon_mentions.yaml") as cassette:
        mastodon.fetch(None)
        mastodon.fetch("61507000")
        assert mastodon.fetch("61507310") == Batch([], "61507310")
        assert cassette.all_played


def test_a_429_raises_rate_limited_at_the_reset_time_and_never_sleeps(mastodon, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: pytest.fail(f"slept {seconds}s"))
    with REPLAY.use_cassette("mastodon_rate_limited.yaml"), pytest.raises(RateLimited) as raised:
        mastodon.fetch("61507310")

    # X-RateLimit-Reset is a minute after the server's Date; Mastodon.py moves it to our clock.
    wait = raised.value.resume_at.timestamp() - time.time()
    assert 50 < wait <= 61


def test_a_401_is_an_auth_error_that_names_the_setting_not_the_token(mastodon):
    with (
        REPLAY.use_cassette("mastodon_unauthorized.yaml"),
        pytest.raises(SourceAuthError) as raised,
    ):
        mastodon.fetch("61507310")

    assert "401" in str(raised.value) and "MASTODON_ACCESS_TOKEN" in str(raised.value)
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>one<br>two<br/>three</p><p>four</p>", "one\ntwo\nthree\n\nfour"),
        (
            "<p>a &amp; b &lt;c&gt; &#39;d&#39; &quot;e&quot; &nbsp;f</p>",
            "a & b <c> 'd' \"e\" \xa0f",
        ),
        (
            '<p>see <a href="https://x.org/a"><span class="invisible">https://</span>'
            '<span class="ellipsis">x.org/</span><span class="invisible">a</span></a></p>',
            "see https://x.org/a",
        ),
        ("<p>line\nwrapped   in source</p>", "line wrapped in source"),
        ("", ""),
    ],
)
def test_html_becomes_the_text_a_person_reads(html, text):
    assert html_to_text(html) == text


def test_two_polls_through_the_poller_store_each_mention_once(sessions, mastodon):
    ingestor = Ingestor(sessions, "social-triage", Metrics(), lambda: NOW)
    poller = Poller(sessions, [mastodon], ingestor.take, "replica-a")
    with REPLAY.use_cassette("mastodon_mentions.yaml") as cassette:
        outcomes = [poller.poll_due(NOW + n * timedelta(minutes=1)) for n in range(3)]
        assert cassette.all_played

    assert [o[mastodon.key].new for o in outcomes] == [1, 3, 0]
    with sessions() as db:
        handles = db.scalars(select(Mention.author_handle).where(Mention.source == "mastodon"))
        assert sorted(handles) == [
            "alice@fosstodon.org",
            "bob@mastodon.online",
            "dana@mastodon.social",
            "kai@social.example.de",
        ]
        assert db.get(SourceCursor, mastodon.key).cursor == "61507310"
