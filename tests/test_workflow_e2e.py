"""The cross-department workflow end to end: signed requests through the real HTTP server, the
fake Slack enforcing its limits, as staff would click in Slack."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from bot.fakeslack import SlackDriver
from escalation.models import Case, CaseEvent
from tests.support import SIGNING_SECRET, mention_record, post_ingest, wait_until
from tests.test_workflow import PEOPLE

AMIRA, BEN, TOM, DEV, SAM = (PEOPLE[n] for n in ("amira", "ben", "tom", "dev", "sam"))
TRIAGE = "social-triage"


@pytest.fixture
def slack(start_replica, fake_slack):
    replica = start_replica()
    return replica, SlackDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)


def new_card(replica, fake, n: int = 1, **overrides) -> str:
    """Send a mention through the webhook; the ts of its card in the triage channel."""
    assert post_ingest(replica.url, mention_record(n, **overrides)).status == 202
    handle = f"@user{n}:"
    return wait_until(
        lambda: next((m["ts"] for m in fake.messages(TRIAGE) if handle in m["text"]), None)
    )


def case_id(fake, ts: str) -> str:
    """The case a triage card stands for, as its buttons carry it."""
    message = next(m for m in fake.messages(TRIAGE) if m["ts"] == ts)
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    return next(e["value"] for e in actions["elements"] if e.get("value"))


def card(fake, channel: str, ts: str) -> str:
    message = next(m for m in fake.messages(channel) if m["ts"] == ts)
    return json.dumps(message["blocks"], ensure_ascii=False)


def thread(fake, ts: str) -> list[str]:
    return [m["text"] for m in fake.replies(TRIAGE, ts) if m["ts"] != ts]


def ephemerals(fake, user: str) -> list[str]:
    return [e["text"] for e in fake.ephemerals(user=user)]


def test_twenty_people_click_claim_at_once(start_replica, fake_slack, sessions):
    clickers = [f"U0CLICK{n:02d}" for n in range(20)]
    for user in clickers:
        fake_slack.add_user(user, name=user.lower(), real_name=f"Agent {user[-2:]}")
    replica = start_replica(extra_agents=clickers)
    driver = SlackDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)
    ts = new_card(replica, fake_slack)
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda u: driver.click(u, TRIAGE, ts, "case-claim"), clickers))
    assert [a.status for a in answers] == [200] * 20
    wait_until(lambda: sum(len(ephemerals(fake_slack, u)) for u in clickers) == 20)
    with sessions() as db:
        owner = db.scalar(select(Case)).owner_id
    assert owner in clickers
    notices = [t for u in clickers if u != owner for t in ephemerals(fake_slack, u)]
    assert len(notices) == 19 and all(t.startswith(f"Claimed by <@{owner}>") for t in notices)
    wait_until(lambda: f"Claimed by Agent {owner[-2:]}" in card(fake_slack, TRIAGE, ts))


def test_escalate_to_billing_and_back(slack, fake_slack):
    replica, driver = slack
    ts = new_card(replica, fake_slack)
    driver.click(AMIRA, TRIAGE, ts, "case-claim")
    driver.click(AMIRA, TRIAGE, ts, "case-escalate", option=f"{case_id(fake_slack, ts)}|billing")
    wait_until(lambda: fake_slack.views(AMIRA))
    driver.submit(AMIRA, values={"question": "Was the customer charged twice in October?"})
    escalation = wait_until(lambda: fake_slack.messages("esc-billing"))[0]
    blocks = card(fake_slack, "esc-billing", escalation["ts"])
    assert "Was the customer charged twice in October?" in blocks
    assert "@user1" in blocks and "101 followers" in blocks and "Open on X" in blocks
    assert (
        f"/archives/{fake_slack.channel_id(TRIAGE)}/p{ts.replace('.', '')}|Triage thread" in blocks
    )
    wait_until(lambda: "Waiting on *Billing &amp; Payments*" in card(fake_slack, TRIAGE, ts))

    driver.click(TOM, "esc-billing", escalation["ts"], "escalation-acknowledge")
    wait_until(
        lambda: "Acknowledged by Tom Evans" in card(fake_slack, "esc-billing", escalation["ts"])
    )
    wait_until(lambda: "is on it" in card(fake_slack, TRIAGE, ts))
    wait_until(
        lambda: any("acknowledged" in t and f"<@{AMIRA}>" in t for t in thread(fake_slack, ts))
    )

    driver.click(TOM, "esc-billing", escalation["ts"], "escalation-answer")
    wait_until(lambda: fake_slack.views(TOM))
    driver.submit(TOM, values={"answer": "Yes, twice; refund raised, 3-5 days."})
    wait_until(
        lambda: any("refund raised" in t and f"<@{AMIRA}>" in t for t in thread(fake_slack, ts))
    )
    wait_until(lambda: "Answered by Tom Evans" in card(fake_slack, "esc-billing", escalation["ts"]))
    wait_until(lambda: "The department answered" in card(fake_slack, TRIAGE, ts))

    driver.click(AMIRA, TRIAGE, ts, "case-escalate", option=f"{case_id(fake_slack, ts)}|field")
    wait_until(lambda: len(fake_slack.views(AMIRA)) == 2)
    driver.submit(AMIRA, values={"question": "Did the engineer visit?"})
    field_card = wait_until(lambda: fake_slack.messages("esc-field"))[0]
    driver.click(DEV, "esc-field", field_card["ts"], "escalation-send-back")
    wait_until(lambda: fake_slack.views(DEV))
    driver.submit(DEV, values={"reason": "No visit was booked: this is Care's."})
    wait_until(lambda: "Sent back to triage" in card(fake_slack, "esc-field", field_card["ts"]))
    wait_until(lambda: "Claimed by Amira Khan" in card(fake_slack, TRIAGE, ts))
    wait_until(lambda: any("sent this back" in t for t in thread(fake_slack, ts)))
    assert len(fake_slack.messages(TRIAGE)) == 1, "state changes never post a new top-level message"
    assert (
        len(thread(fake_slack, ts)) == 6
    )  # one line per change: claim, escalate, ack, answer, escalate, send back


def test_resolve_reopen_and_a_refusal(slack, fake_slack, sessions):
    replica, driver = slack
    ts = new_card(replica, fake_slack)
    driver.click(AMIRA, TRIAGE, ts, "case-claim")
    wait_until(lambda: "You own this case now." in ephemerals(fake_slack, AMIRA))  # acked first
    driver.click(BEN, TRIAGE, ts, "case-resolve")
    wait_until(lambda: ephemerals(fake_slack, BEN))
    assert ephemerals(fake_slack, BEN) == [
        f"Only the owner (<@{AMIRA}>) or a lead or manager can resolve this case."
    ]
    assert fake_slack.views(BEN) == []
    driver.click(AMIRA, TRIAGE, ts, "case-resolve")
    wait_until(lambda: fake_slack.views(AMIRA))
    driver.submit(
        AMIRA, values={"outcome": "replied_publicly", "link": "https://x.com/brightwave/status/9"}
    )
    wait_until(lambda: "Resolved: replied publicly" in card(fake_slack, TRIAGE, ts))
    assert '"case-reopen"' in card(fake_slack, TRIAGE, ts)
    driver.click(BEN, TRIAGE, ts, "case-reopen")
    wait_until(lambda: "Claimed by Amira Khan" in card(fake_slack, TRIAGE, ts))
    with sessions() as db:
        actions = [e.action for e in db.scalars(select(CaseEvent).order_by(CaseEvent.id))]
    assert actions == ["claim", "resolve", "reopen"]


def test_the_same_payload_twice_changes_nothing_the_second_time(slack, fake_slack, sessions):
    replica, driver = slack
    ts = new_card(replica, fake_slack)
    first = driver.click(AMIRA, TRIAGE, ts, "case-claim")
    again = driver.click(AMIRA, TRIAGE, ts, "case-claim", retry=1)
    assert (first.status, again.status) == (200, 200)
    wait_until(lambda: ephemerals(fake_slack, AMIRA))
    with sessions() as db:
        assert [e.action for e in db.scalars(select(CaseEvent))] == ["claim"]
    assert ephemerals(fake_slack, AMIRA) == ["You own this case now."]


def test_a_message_becomes_a_case(slack, fake_slack):
    replica, driver = slack
    ts = fake_slack.add_message("esc-care", BEN, "Customer on the phone: <!channel> billed twice!")
    driver.message_shortcut(BEN, "esc-care", ts, callback_id="message-escalate")
    wait_until(lambda: fake_slack.views(BEN))
    driver.submit(BEN, values={"department": "billing", "question": "Refund status?"})
    escalation = wait_until(lambda: fake_slack.messages("esc-billing"))[0]
    blocks = card(fake_slack, "esc-billing", escalation["ts"])
    assert "Refund status?" in blocks and "&lt;!channel&gt; billed twice!" in blocks
    triage = wait_until(lambda: fake_slack.messages(TRIAGE))[0]
    assert "New Slack mention" in triage["text"]
    assert fake_slack.notifications() == []


def test_everything_sent_passes_block_kit_validation(slack, fake_slack):
    replica, driver = slack
    hostile = ("<!channel> refund me at <https://evil.example|brightwave.co.uk> & " * 60)[:3000]
    ts = new_card(replica, fake_slack, text=hostile)
    driver.click(AMIRA, TRIAGE, ts, "case-claim")
    driver.click(AMIRA, TRIAGE, ts, "case-escalate", option=f"{case_id(fake_slack, ts)}|legal")
    wait_until(lambda: fake_slack.views(AMIRA))
    driver.submit(
        AMIRA, values={"question": "<!here> threat of small claims", "note": hostile[:1900]}
    )
    wait_until(lambda: fake_slack.messages("esc-legal"))
    wait_until(lambda: any("escalated" in t for t in thread(fake_slack, ts)))
    sent = [
        c
        for c in fake_slack.calls()
        if c.method in ("chat.postMessage", "chat.update", "views.open")
    ]
    assert len(sent) >= 5
    assert all(c.ok for c in sent), [(c.method, c.error) for c in sent if not c.ok]
    assert not any(c.warning for c in sent)
    assert fake_slack.notifications() == []
