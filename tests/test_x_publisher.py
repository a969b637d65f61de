"""Replies on X through tweepy, replayed from hand-written cassettes of the API v2 Create Post:
what counts as posted, as refused (nothing out) and as uncertain (maybe out)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import vcr

from bot.sources.x import PostRefused, PostUncertain, XPublisher
from tests.support import free_port

KEYS = ("test-api-key", "test-api-secret", "test-access-token", "test-access-token-secret")
REPLAY = vcr.VCR(
    cassette_library_dir=str(Path(__file__).parent / "cassettes"),
    record_mode="none",
    match_on=["method", "host", "path", "json_body"],
)


def json_body(sent, recorded) -> None:
    """X receives exactly the recorded post: this text, in reply to this tweet."""
    assert json.loads(sent.body) == json.loads(recorded.body)


REPLAY.register_matcher("json_body", json_body)


pytestmark = pytest.mark.usefixtures("no_internet")
THANKS = "Thanks for the kind words, we'll pass them on to the team. ^AK"
HOLDING_LINE = (
    "Thanks for raising this with us. We've passed it to the right team, who will contact you "
    "directly. Please send us a DM so they can reach you. ^AK"
)


def test_a_reply_is_posted_in_reply_to_the_mention_with_user_context():
    with REPLAY.use_cassette("x_reply.yaml") as cassette:
        posted = XPublisher.with_user_context(KEYS).reply(HOLDING_LINE, "18000001")
        assert cassette.play_count == 1
        assert cassette.requests[0].headers["Authorization"].startswith("OAuth ")
    assert posted == ("2125200000000000001", "https://x.com/i/web/status/2125200000000000001")


def test_a_duplicate_is_refused_and_nothing_is_out():
    text = (
        "Sorry about the double charge, that's not what we want for you. Send us a DM and "
        "Billing will look into it. ^AK"
    )
    with REPLAY.use_cassette("x_reply_duplicate.yaml"), pytest.raises(PostRefused) as refused:
        XPublisher.with_user_context(KEYS).reply(text, "18000002")
    assert str(refused.value) == (
        "X: 403: You are not allowed to create a Tweet with duplicate content."
    )


def test_a_server_error_is_uncertain_and_never_retried():
    with REPLAY.use_cassette("x_reply_unavailable.yaml") as cassette:
        with pytest.raises(PostUncertain, match="503"):
            XPublisher.with_user_context(KEYS).reply(THANKS, "18000003")
        assert cassette.play_count == 1  # cassettes refuse a second play: no retry happened


def test_no_connection_means_nothing_was_posted():
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(PostRefused, match="could not connect"):
        XPublisher.with_user_context(KEYS, api_url=closed).reply(THANKS, "18000003")
