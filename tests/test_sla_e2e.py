"""The reminder ladder end to end, with deadlines of seconds: each step in the right place at
the right time, once; resolving stops it; snoozing works."""

from __future__ import annotations

import time

import pytest

from bot.fakeslack import SlackDriver
from tests.support import (
    ORG,
    SIGNING_SECRET,
    direct_messages,
    fast_org,
    mention_record,
    post_ingest,
    wait_until,
)
from tests.test_workflow import PEOPLE

AMIRA, PRIYA, SAM = PEOPLE["amira"], PEOPLE["priya"], PEOPLE["sam"]
TRIAGE = "social-triage"
ON_TIME = 2.0  # seconds: how late a step may arrive


@pytest.fixture
def ladder(start_replica, fake_slack):
    replica = start_replica(org=fast_org(ORG))
    return replica, SlackDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)


def arrived(fake, channel_messages, needle: str) -> float | None:
    """When (monotonic) the first message containing `needle` was accepted by the fake."""
    for call in fake.calls("chat.postMessage"):
        if call.ok and needle in (call.params.get("text") or ""):
            if any(m["ts"] == call.response.get("ts") for m in channel_messages()):
                return call.at
    return None


def thread_texts(fake, ts: str) -> list[str]:
    return [m["text"] for m in fake.replies(TRIAGE, ts) if m["ts"] != ts]


def test_each_step_arrives_in_its_place_on_time_once(ladder, fake_slack):
    replica, driver = ladder
    started = time.monotonic()
    assert post_ingest(replica.url, mention_record(1)).status == 202
    ts = wait_until(lambda: fake_slack.messages(TRIAGE))[0]["ts"]
    thread = lambda: fake_slack.replies(TRIAGE, ts)  # noqa: E731
    unclaimed = wait_until(lambda: arrived(fake_slack, thread, "Still unclaimed"), timeout=5)
    assert abs(unclaimed - (started + 1)) <= ON_TIME
    driver.click(AMIRA, TRIAGE, ts, "case-claim")

    to_amira = lambda: direct_messages(fake_slack, AMIRA)  # noqa: E731
    half = wait_until(lambda: arrived(fake_slack, to_amira, "half the time is gone"), timeout=8)
    assert abs(half - (started + 4)) <= ON_TIME
    at_risk = wait_until(lambda: arrived(fake_slack, thread, "at risk"), timeout=8)
    assert abs(at_risk - (started + 6.4)) <= ON_TIME
    risk_line = next(t for t in thread_texts(fake_slack, ts) if "at risk" in t)
    assert f"<@{AMIRA}>" in risk_line and f"<@{PRIYA}>" in risk_line  # the owner and the lead
    wait_until(lambda: "*at risk*" in str(fake_slack.messages(TRIAGE)[0]["blocks"]), timeout=4)

    to_priya = lambda: direct_messages(fake_slack, PRIYA)  # noqa: E731
    breach = wait_until(lambda: arrived(fake_slack, to_priya, "overdue"), timeout=8)
    assert abs(breach - (started + 8)) <= ON_TIME
    assert wait_until(lambda: direct_messages(fake_slack, SAM), timeout=4)  # the manager too
    wait_until(lambda: "*breached*" in str(fake_slack.messages(TRIAGE)[0]["blocks"]), timeout=4)
    wait_until(lambda: len(direct_messages(fake_slack, PRIYA)) == 2, timeout=6)  # one repeat
    time.sleep(3)  # the cap is one repeat: nothing more comes
    assert len(direct_messages(fake_slack, PRIYA)) == 2
    assert len(direct_messages(fake_slack, SAM)) == 2
    assert len(direct_messages(fake_slack, AMIRA)) == 1
    assert sum("Still unclaimed" in t for t in thread_texts(fake_slack, ts)) == 1


def test_resolving_stops_the_ladder(ladder, fake_slack):
    replica, driver = ladder
    assert post_ingest(replica.url, mention_record(2)).status == 202
    ts = wait_until(lambda: fake_slack.messages(TRIAGE))[0]["ts"]
    driver.click(AMIRA, TRIAGE, ts, "case-claim")
    driver.click(AMIRA, TRIAGE, ts, "case-resolve")
    wait_until(lambda: fake_slack.views(AMIRA))
    driver.submit(AMIRA, values={"outcome": "no_reply_needed"})
    wait_until(lambda: "Resolved" in str(fake_slack.messages(TRIAGE)[0]["blocks"]))
    time.sleep(9)  # past the breach and its repeat
    assert direct_messages(fake_slack, AMIRA) == []
    assert direct_messages(fake_slack, PRIYA) == []
    assert not any("at risk" in t or "unclaimed" in t for t in thread_texts(fake_slack, ts))


def test_snooze_reminds_again_once(ladder, fake_slack):
    replica, driver = ladder
    assert post_ingest(replica.url, mention_record(3)).status == 202
    ts = wait_until(lambda: fake_slack.messages(TRIAGE))[0]["ts"]
    driver.click(AMIRA, TRIAGE, ts, "case-claim")
    reminder = wait_until(lambda: direct_messages(fake_slack, AMIRA), timeout=8)[0]
    channel = next(
        c["id"] for c in fake_slack.channels() if c.get("is_im") and AMIRA in c["members"]
    )
    driver.click(AMIRA, channel, reminder["ts"], "nag-snooze")
    wait_until(lambda: len(direct_messages(fake_slack, AMIRA)) == 2, timeout=6)
    again = direct_messages(fake_slack, AMIRA)[1]
    driver.click(AMIRA, channel, again["ts"], "nag-snooze")  # over the limit of one
    wait_until(
        lambda: any(
            "snoozed 1 times already" in e["text"] for e in fake_slack.ephemerals(user=AMIRA)
        )
    )
