"""Surges end to end: signed webhooks through the real HTTP server, alerts in the rapid-response
channel, and a roll-up card in triage that keeps the channel readable and within Slack's rate."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from escalation.surge import SurgeAlert
from tests.support import mention_record, post_ingest, wait_until

TRIAGE, RAPID = "social-triage", "rapid-response"
ORDINARY = [
    "Loving the new TV app, the picture is so sharp",
    "How do I change the email address on my account?",
    "Is there a student discount on mobile plans?",
    "Thanks for fixing my hub so quickly yesterday",
    "Can I pause my TV subscription while travelling?",
]


def hull(n: int) -> str:
    return f"@BrightwaveHelp no internet in Hull since this morning, whole street down ({n})"


def send(replica, records: list[dict], workers: int = 8) -> None:
    with ThreadPoolExecutor(workers) as pool:
        answers = list(pool.map(lambda r: post_ingest(replica.url, r).status, records))
    assert set(answers) == {202}


def records(texts: list[str], *, first: int, span: timedelta) -> list[dict]:
    """Mentions with these texts, posted evenly over the `span` up to now."""
    now = datetime.now(UTC)
    step = span / max(1, len(texts))
    return [
        mention_record(
            first + i,
            text=text,
            created_at=(now - span + step * i).isoformat().replace("+00:00", "Z"),
        )
        for i, text in enumerate(texts)
    ]


def everything_said(fake, channel: str) -> str:
    """Every message of the channel, threads included, as one text."""
    messages = fake.messages(channel)
    said = [json.dumps(m.get("blocks", []), ensure_ascii=False) + m["text"] for m in messages]
    for message in messages:
        said += [json.dumps(r.get("blocks", []), ensure_ascii=False) for r in fake.replies(
            channel, message["ts"])]  # fmt: skip
    return "\n".join(said)


def handles(text: str) -> set[int]:
    """The numbers n of the authors @user<n> shown."""
    return {int(n) for n in re.findall(r"@user(\d+)\b", text)}


def test_an_outage_in_one_town_raises_one_alert_and_rolls_up(start_replica, fake_slack, sessions):
    replica = start_replica()
    ordinary = ORDINARY * 3
    send(replica, records(ordinary, first=1, span=timedelta(minutes=30)), workers=1)
    send(replica, records([hull(n) for n in range(15)], first=100, span=timedelta(minutes=15)))
    send(replica, records(ORDINARY, first=200, span=timedelta(minutes=1)), workers=1)

    alert = wait_until(lambda: fake_slack.messages(RAPID))[0]
    blocks = json.dumps(alert["blocks"], ensure_ascii=False)
    assert "Surge: Hull" in blocks and "surge-declare" in blocks
    with sessions() as db:
        [surge] = db.scalars(select(SurgeAlert)).all()  # exactly one, the town's
        assert surge.topic == "place:hull" and surge.case_id is not None
    # Once the surge is known, its mentions go in one card's thread, not a card each.
    wait_until(lambda: "mentions, all in the thread" in everything_said(fake_slack, TRIAGE))
    cards = [m for m in fake_slack.messages(TRIAGE) if "Hull" in m["text"]]
    assert len(cards) < 15
    hull_handles = {100 + n for n in range(15)}
    wait_until(lambda: hull_handles <= handles(everything_said(fake_slack, TRIAGE)))
    assert len(fake_slack.messages(RAPID)) == 1


def test_steady_ordinary_traffic_raises_no_alert(start_replica, fake_slack, sessions):
    replica = start_replica()
    texts = [f"{ORDINARY[n % len(ORDINARY)]} #{n}" for n in range(60)]
    send(replica, records(texts, first=1, span=timedelta(hours=2)), workers=1)
    wait_until(lambda: len(fake_slack.messages(TRIAGE)) == 60, timeout=30)
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(SurgeAlert)) == 0
    assert fake_slack.messages(RAPID) == []
