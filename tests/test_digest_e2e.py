"""The managers' digest and the App Home end to end, in the fake Slack (which refuses what
Slack would: more than 50 blocks a message or 100 a Home tab, over-long texts).

Time: the replicas run on a clock moved to a chosen morning, running at real speed from there,
so that a manager's 08:00 comes a few seconds after the replicas start.
"""

from __future__ import annotations

import itertools
import logging
import time as walltime
from datetime import UTC, datetime, time, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.digest import DigestDesk
from bot.fakellm import FakeLlm
from bot.fakeslack import SlackDriver
from bot.llm import LlmClient, LlmSettings
from escalation.models import Case, Deadline, Escalation, Mention, Outbox, OutboxKind
from tests.support import (
    EXAMPLE_ORG,
    SIGNING_SECRET,
    ShiftedClock,
    direct_messages,
    mention_record,
    post_ingest,
    wait_until,
)

SAM, NINA, AMIRA, BEN = "U0SAM0001", "U0NINA001", "U0AMIRA01", "U0BEN0001"
PNG = b"\x89PNG\r\n\x1a\n"
serial = itertools.count()


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def org_with_nina():
    """The example organisation (Sam's digest at 08:00 London) and Nina, a manager of Billing
    in New York whose digest is at 08:00 there."""
    data = EXAMPLE_ORG.model_dump()
    data["people"]["nina"] = {
        "slack_id": NINA,
        "name": "Nina Ruiz",
        "roles": ["manager"],
        "departments": ["billing"],
        "digest": {"at": time(8), "timezone": "America/New_York"},
    }
    return type(EXAMPLE_ORG).model_validate(data)


def seed_cases(sessions, count: int, *, at: datetime, owner=None, escalate_to=None) -> None:
    """`count` open Billing cases opened at `at`, each owing a first reply an hour later."""
    with sessions() as db, db.begin():
        for n in range(count):
            case = Case(
                status="claimed" if owner else "new",
                priority="P2",
                owner_id=owner,
                created_at=at,
                updated_at=at,
            )
            case.mentions.append(
                Mention(
                    source="x",
                    external_id=f"seed-{next(serial)}",
                    author_handle=f"customer{n}",
                    text=f"@BrightwaveHelp charged twice for my bill again <!channel> #{n}",
                    posted_at=at,
                    received_at=at,
                    sentiment="negative",
                    department="billing",
                    priority="P2",
                )
            )
            case.deadlines.append(
                Deadline(
                    kind="first_reply",
                    started_at=at,
                    target_seconds=3600,
                    due_at=at + timedelta(hours=1),
                    status="running",
                    pauses=[],
                )
            )
            if escalate_to:
                case.escalations.append(
                    Escalation(
                        department=escalate_to,
                        question="Can you check this account?",
                        requested_by=AMIRA,
                        requested_at=at,
                    )
                )
            db.add(case)


def digests_to(fake, user: str) -> list[dict]:
    return [m for m in direct_messages(fake, user) if "digest" in m.get("text", "").lower()]


def charts_to(fake, user: str) -> list[dict]:
    return [m for m in direct_messages(fake, user) if m.get("files")]


def digest_jobs(sessions) -> list[Outbox]:
    with sessions() as db:
        return list(db.scalars(select(Outbox).where(Outbox.kind == OutboxKind.DIGEST)))


def test_three_replicas_send_each_digest_once_at_each_managers_own_8am(
    start_replica, fake_slack, sessions
):
    fake_slack.add_user(NINA, "nina", "Nina Ruiz", tz="America/New_York")
    seed_cases(sessions, 500, at=utc(2026, 11, 24, 14))  # in both managers' windows
    clock = ShiftedClock(utc(2026, 11, 25, 7, 59, 57))  # London: GMT; New York: 02:59:57
    org = org_with_nina()
    for _ in range(3):
        start_replica(org=org, clock=clock)

    sam = wait_until(lambda: digests_to(fake_slack, SAM), timeout=20)
    walltime.sleep(2)  # every replica has ticked many times since
    assert len(digests_to(fake_slack, SAM)) == 1
    assert digests_to(fake_slack, NINA) == []  # 03:00 in New York
    [job] = digest_jobs(sessions)
    assert job.dedupe_key == "digest:U0SAM0001:2026-11-25"
    assert job.created_at >= utc(2026, 11, 25, 8)  # not before Sam's 08:00
    blocks = str(sam[0]["blocks"])
    assert "*Volume:* 500 cases" in blocks
    assert "and 492 more deadlines at risk" in blocks  # eight cases shown, with Claim
    assert "&lt;!channel&gt;" not in blocks and "<!channel>" not in blocks  # no post quoted
    [chart] = charts_to(fake_slack, SAM)
    assert float(chart["ts"]) < float(sam[0]["ts"])  # the chart, then the digest below it
    assert "chart of the last 7 days is just above" in blocks
    assert [f["content"][:8] for f in fake_slack.files()] == [PNG]

    clock.jump(utc(2026, 11, 25, 12, 59, 57))  # New York: 07:59:57
    nina = wait_until(lambda: digests_to(fake_slack, NINA), timeout=20)
    walltime.sleep(2)
    assert len(digests_to(fake_slack, NINA)) == 1
    assert len(digests_to(fake_slack, SAM)) == 1
    jobs = {j.dedupe_key: j for j in digest_jobs(sessions)}
    assert set(jobs) == {"digest:U0SAM0001:2026-11-25", "digest:U0NINA001:2026-11-25"}
    assert jobs["digest:U0NINA001:2026-11-25"].created_at >= utc(2026, 11, 25, 13)
    assert "*Volume:* 500 cases" in str(nina[0]["blocks"])
    assert "Billing &amp; Payments" in str(nina[0]["blocks"])
    assert len(charts_to(fake_slack, NINA)) == 1
    assert all(job.status == "sent" for job in jobs.values())


def test_the_digest_goes_without_its_chart_when_the_upload_fails(
    start_replica, fake_slack, sessions, caplog
):
    caplog.set_level(logging.WARNING, logger="bot.digest")
    fake_slack.fail("files.getUploadURLExternal", status=500)
    seed_cases(sessions, 3, at=utc(2026, 11, 24, 14))
    start_replica(org=EXAMPLE_ORG, clock=ShiftedClock(utc(2026, 11, 25, 8, 0, 1)))

    [digest] = wait_until(lambda: digests_to(fake_slack, SAM), timeout=20)
    assert "*Volume:* 3 cases" in str(digest["blocks"])
    assert "chart" not in str(digest["blocks"])  # nothing said to the manager
    assert charts_to(fake_slack, SAM) == [] and fake_slack.files() == []
    assert any(
        "chart not uploaded" in r.getMessage() and "goes without it" in r.getMessage()
        for r in caplog.records
    )


@pytest.fixture
def driver(start_replica, fake_slack):
    replica = start_replica()
    return SlackDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)


def test_social_digest_shows_the_digest_to_whoever_asks(driver, fake_slack, sessions):
    seed_cases(sessions, 4, at=datetime.now(UTC) - timedelta(hours=2))
    assert driver.command(SAM, "/social", "digest").ok
    shown = wait_until(lambda: fake_slack.ephemerals(user=SAM))
    assert "Digest, the last 24 hours" in str(shown[-1]["blocks"])
    assert "*Volume:* 4 cases" in str(shown[-1]["blocks"])

    for period, title in (("today", "today so far"), ("yesterday", "yesterday"), ("7d", "7 days")):
        before = len(fake_slack.ephemerals(user=AMIRA))
        assert driver.command(AMIRA, "/social", f"digest {period}").ok
        wait_until(lambda: len(fake_slack.ephemerals(user=AMIRA)) > before)  # noqa: B023
        assert title in str(fake_slack.ephemerals(user=AMIRA)[-1]["blocks"])

    assert driver.command(AMIRA, "/social", "digest tomorrow").ok
    wait_until(lambda: "did not understand" in str(fake_slack.ephemerals(user=AMIRA)[-1]))
    assert "/social digest yesterday" in str(fake_slack.ephemerals(user=AMIRA)[-1])

    fake_slack.add_user(NINA, "nina", "Nina Ruiz")  # in Slack, not in the organisation file
    assert driver.command(NINA, "/social", "digest").ok
    refusal = "You are not in the bot's organisation file yet; ask <@U0SAM0001> to add you."
    wait_until(lambda: [e["text"] for e in fake_slack.ephemerals(user=NINA)] == [refusal])


def test_the_home_tab_with_500_open_cases(driver, fake_slack, sessions):
    opened = datetime.now(UTC) - timedelta(minutes=30)
    seed_cases(sessions, 500, at=opened)
    seed_cases(sessions, 20, at=opened, owner=AMIRA)
    seed_cases(sessions, 30, at=opened, owner=BEN, escalate_to="care")
    assert driver.open_home(AMIRA).ok
    home = wait_until(lambda: fake_slack.home(AMIRA))
    assert len(home["blocks"]) <= 100  # the fake refuses an invalid view: it was published
    text = str(home["blocks"])
    assert "*My cases* (20)" in text and "reply due in" in text
    assert "*Unclaimed* (500)" in text and "and 490 more" in text
    assert "*My departments' escalations* (30)" in text
    assert "Amira Khan: 20 open" in text and "Ben Carter: 30 open" in text
    assert "Unclaimed: 500 open" in text

    driver.click_in_view(AMIRA, "case-claim")  # the first unclaimed case's button
    wait_until(lambda: "*My cases* (21)" in str(fake_slack.home(AMIRA)["blocks"]))
    assert "*Unclaimed* (499)" in str(fake_slack.home(AMIRA)["blocks"])


def test_a_take_over_redraws_the_previous_owners_home(driver, start_replica, fake_slack):
    replica = start_replica()
    assert post_ingest(replica.url, mention_record(1)).status == 202
    ts = wait_until(lambda: fake_slack.messages("social-triage"))[0]["ts"]
    driver.click(AMIRA, "social-triage", ts, "case-claim")
    owned = "You own this case now."
    wait_until(lambda: any(e["text"] == owned for e in fake_slack.ephemerals(user=AMIRA)))
    driver.open_home(AMIRA)
    wait_until(lambda: "*My cases* (1)" in str((fake_slack.home(AMIRA) or {}).get("blocks")))
    driver.click(BEN, "social-triage", ts, "case-take-over")
    wait_until(lambda: "*My cases* (0)" in str(fake_slack.home(AMIRA)["blocks"]))
    assert fake_slack.home(BEN) is None  # clicked on the card, not in a Home tab


@pytest.mark.parametrize("mode", ["obedient", "error"])
def test_the_themes_are_the_llms_summary_when_it_answers(sessions, mode, caplog):
    at = utc(2026, 11, 24, 14)
    seed_cases(sessions, 5, at=at)
    with FakeLlm(mode) as server:
        settings = LlmSettings(
            openai_base_url=server.url, openai_api_key="sk-test-0123456789", llm_max_retries=0
        )
        desk = DigestDesk(
            EXAMPLE_ORG,
            sessions=sessions,
            client=WebClient(),
            clock=lambda: at,
            llm=LlmClient(settings),
        )
        summary = desk.themes(at - timedelta(hours=1), at + timedelta(hours=1), ("billing",))
        prompt = server.completions()[0].content("user")
    assert "<!channel>" not in prompt  # the posts go in as data, their brackets escaped
    if mode == "obedient":
        assert summary == "Customers mostly wrote about bill, channel, charged (5 posts read)."
    else:  # the frequent terms instead, and a log line
        assert summary is None
        assert any("no LLM summary" in r.getMessage() for r in caplog.records)
