"""A surge at Slack's own rate limits: 2,000 mentions in two minutes reach triage as one roll-up
card whose thread holds every mention, without Slack ever answering 429."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.fakeslack import Limits
from escalation.cases import ADDED_PER_MESSAGE
from escalation.models import Mention
from escalation.surge import SurgeAlert
from tests.support import wait_until
from tests.test_surge_e2e import TRIAGE, everything_said, handles, records, send


@pytest.fixture
def slack_limits():
    """Slack's own numbers: one post a second per channel, tiers on."""
    return Limits()


def test_two_thousand_mentions_in_two_minutes_roll_up_within_the_rate(
    start_replica, fake_slack, sessions
):
    replica = start_replica(channel_rate_per_second=1, channel_burst=3)  # the product's pace
    texts = [
        f"@BrightwaveHelp Leeds is down again, LS6 has no broadband ({n})" for n in range(2000)
    ]
    send(replica, records(texts, first=1, span=timedelta(minutes=2)))
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Mention)) == 2000

    everyone = set(range(1, 2001))
    wait_until(lambda: handles(everything_said(fake_slack, TRIAGE)) == everyone, 120, every=1.0)
    with sessions() as db:
        surge = db.scalar(select(SurgeAlert))
        where = Mention.case_id == surge.case_id
        rolled = db.scalar(select(func.count()).select_from(Mention).where(where))
    assert rolled > 1900
    # The roll-up card's count is redrawn in place until it counts them all.
    wait_until(lambda: f"{rolled:,} mentions, all in the thread" in everything_said(
        fake_slack, TRIAGE))  # fmt: skip
    posts = fake_slack.calls("chat.postMessage")
    updates = fake_slack.calls("chat.update")
    assert [c for c in posts + updates if c.error == "ratelimited"] == []
    top_level = fake_slack.messages(TRIAGE)
    assert len(top_level) <= 20, "one roll-up card, not a card per mention"
    # The thread takes the mentions many at a time: up to ADDED_PER_MESSAGE, and at least 20 on
    # average (a message being drawn when more arrive leaves them to the next one).
    in_thread = [c for c in posts if c.params.get("thread_ts")]
    assert 2000 / ADDED_PER_MESSAGE <= len(in_thread) + 1 <= 2000 / 20
