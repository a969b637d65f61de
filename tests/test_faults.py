"""Slack down while work keeps coming: every card, thread message and reminder arrives once
afterwards, and the outage is logged once per message that waited (with a correlation id that
its "sent at last" line repeats), not once per retry.

tests/test_delivery_faults.py covers the delivery worker alone (a 10-second outage then 429s, an
hour down on a simulated clock, a message refused for good); here the whole replica lives
through two real minutes of Slack answering 503 to everything while mentions arrive, people
click and reminders fall due. That test takes about three minutes, so it runs once per CI
run: on PostgreSQL, the production database. The other faults: tests/test_faults_db.py
(PostgreSQL restarting), tests/test_faults_crash.py and tests/test_crash.py (SIGKILL),
tests/test_faults_twice.py (every request delivered twice), tests/test_faults_clock.py
(clock jumps).
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.fakeslack import SlackDriver
from bot.logs import QUIET, SLACK_SDK_CLIENTS, quiet_libraries
from bot.render import REDRAWS
from escalation.models import Case, Nag, NagStatus, Outbox, OutboxStatus
from tests.conftest import BACKEND
from tests.support import (
    ORG,
    SIGNING_SECRET,
    accepted_per_job,
    mention_record,
    post_ingest,
    wait_until,
)
from tests.test_delivery_faults import FakeClock, three_cards_and_a_worker
from tests.test_workflow import PEOPLE

AMIRA, BEN = PEOPLE["amira"], PEOPLE["ben"]
TRIAGE = "social-triage"
OUTAGE_SECONDS = 120
CORRELATION = re.compile(r"\[correlation id ([0-9a-f]{12})\]")
FAILED = re.compile(r"^outbox (\d+): attempt \d+ failed: .* \[correlation id ([0-9a-f]{12})\]$")
SENT_AT_LAST = re.compile(r"^outbox (\d+): sent at attempt \d+ \[correlation id ([0-9a-f]{12})\]$")


@pytest.fixture
def production_logging():
    """The libraries' loggers as `python app.py serve` sets them (bot.logs), then as they were."""
    names = (*QUIET, *SLACK_SDK_CLIENTS)
    saved = {
        name: (logging.getLogger(name).level, logging.getLogger(name).filters[:]) for name in names
    }
    quiet_libraries()
    yield
    for name, (level, filters) in saved.items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).filters[:] = filters


def delivery_story(records) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """The correlation ids of each job's failure warnings, and of its "sent at last" lines."""
    failed, recovered = {}, {}
    for record in records:
        message = record.getMessage()
        if record.levelno == logging.WARNING and (found := FAILED.match(message)):
            failed.setdefault(int(found.group(1)), []).append(found.group(2))
        if found := SENT_AT_LAST.match(message):
            recovered.setdefault(int(found.group(1)), []).append(found.group(2))
    return failed, recovered


def check_logged_once(records, sessions) -> None:
    """Each job that failed was warned about once, and its delivery logged once, under one id."""
    failed, recovered = delivery_story(records)
    assert failed, "the outage was logged"
    assert all(len(ids) == 1 for ids in failed.values()), "one warning per job, not per retry"
    assert recovered == failed, "each is sent at last, under the id of its warning"
    with sessions() as db:
        attempts = {job: db.get_one(Outbox, job).attempts for job in failed}
    assert max(attempts.values()) > 1, "some job was retried: the retries were not logged"


@pytest.mark.usefixtures("production_logging")
def test_slack_down_is_logged_once_per_waiting_message(database_url, sessions, fake_slack, caplog):
    caplog.set_level(logging.DEBUG, logger="bot.delivery")
    clock = FakeClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    worker = three_cards_and_a_worker(database_url, sessions, fake_slack, clock)
    fake_slack.outage(3600)
    for _ in range(40):  # twenty minutes in 30-second steps
        worker.deliver_one()
        clock.advance(timedelta(seconds=30))
    fake_slack.clear_faults()
    clock.advance(timedelta(minutes=6))
    for _ in range(3):
        worker.deliver_one()
        clock.advance(timedelta(seconds=2))

    assert len(fake_slack.messages(TRIAGE)) == 3
    refused = [c for c in fake_slack.calls("chat.postMessage") if c.status == 503]
    failed, _ = delivery_story(caplog.records)
    assert len(refused) > len(failed), "more retries than warnings"
    check_logged_once(caplog.records, sessions)
    retries = [r for r in caplog.records if r.levelno == logging.DEBUG and "failed" in r.message]
    assert len(retries) == len(refused) - len(failed), "the other attempts at DEBUG only"
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == len(failed), "nothing else, slack-sdk's own error lines included"


def minute_org():
    """A reply due within a minute whatever triage decides, and a ladder that runs through the
    outage: unclaimed at 5 s, half, 80%, the deadline, then once more 20 s later."""
    data = ORG.model_dump()
    for priority in ("P1", "P2", "P3", "P4"):
        data["policies"][priority] |= {
            "first_reply": timedelta(seconds=60),
            "acknowledge": timedelta(seconds=40),
        }
    data["ladder"] |= {
        "unclaimed_after": timedelta(seconds=5),
        "repeat_every": timedelta(seconds=20),
        "repeat_cap": 1,
    }
    return type(ORG).model_validate(data)


def card_ts(fake, n: int) -> str | None:
    return next((m["ts"] for m in fake.messages(TRIAGE) if f"@user{n}:" in m["text"]), None)


def waiting(sessions) -> list[str]:
    """The reminders due now and not yet done, and every message not yet sent: those that
    failed during the outage wait for their channel's backoff, due a while after it ended."""
    now = datetime.now(UTC)
    with sessions() as db:
        nags = select(Nag).where(Nag.status == NagStatus.PENDING, Nag.due_at <= now)
        jobs = select(Outbox).where(Outbox.status == OutboxStatus.PENDING)
        return [f"nag {n.id} {n.step}" for n in db.scalars(nags)] + [
            f"outbox {j.id} {j.kind} {j.channel} due {j.due_at:%H:%M:%S} {j.last_error}"
            for j in db.scalars(jobs)
        ]


@pytest.mark.usefixtures("production_logging")
@pytest.mark.skipif(BACKEND != "postgresql", reason="two real minutes: once per CI run")
def test_slack_down_two_minutes_while_work_arrives(start_replica, fake_slack, sessions, caplog):
    caplog.set_level(logging.INFO)
    replica = start_replica(org=minute_org(), delivery_lease_seconds=5, update_rate_per_minute=3000)
    driver = SlackDriver(fake_slack, bot_url=replica.url, signing_secret=SIGNING_SECRET)
    for n in range(2):
        assert post_ingest(replica.url, mention_record(n)).status == 202
    first, second = (wait_until(lambda n=n: card_ts(fake_slack, n)) for n in range(2))

    fake_slack.outage(OUTAGE_SECONDS)
    down_at = time.monotonic()
    for n in range(2, 5):
        assert post_ingest(replica.url, mention_record(n)).status == 202
    assert driver.click(AMIRA, TRIAGE, first, "case-claim").status == 200
    assert driver.click(BEN, TRIAGE, second, "case-claim").status == 200
    wait_until(lambda: time.monotonic() - down_at > OUTAGE_SECONDS, timeout=OUTAGE_SECONDS + 5)
    assert len(fake_slack.messages(TRIAGE)) == 2, "nothing got through while Slack was down"

    # Each channel retries on its own backoff (1 s, 2 s, 4 s ... with jitter), so the last
    # retry of the outage may come up to about 150 s after it ended.
    wait_until(lambda: len(fake_slack.messages(TRIAGE)) == 5, timeout=200, every=1)
    try:
        wait_until(lambda: not waiting(sessions), timeout=200, every=1)
    except AssertionError:
        raise AssertionError(f"still waiting: {waiting(sessions)}") from None
    time.sleep(2)  # anything sent twice would have been sent by now

    with sessions() as db:
        owners = {case.owner_id for case in db.scalars(select(Case))}
        jobs = db.scalars(select(Outbox)).all()
        nags = db.scalars(select(Nag)).all()
    assert {AMIRA, BEN} <= owners, "the clicks during the outage took effect"
    assert {job.status for job in jobs} == {OutboxStatus.SENT}, "none dead, none left"
    assert {nag.status for nag in nags} <= {NagStatus.SENT, NagStatus.CANCELLED}
    assert sum(nag.status == NagStatus.SENT for nag in nags) >= 5 * 3, "reminders were due"
    posted = accepted_per_job(fake_slack)
    posts = [job.id for job in jobs if job.result_ts and job.kind not in REDRAWS]
    assert {job: posted[job] for job in posts} == dict.fromkeys(posts, 1), "each message once"
    assert set(posted) == set(posts)
    wait_until(lambda: "Claimed by Amira Khan" in json.dumps(fake_slack.messages(TRIAGE)))

    check_logged_once(caplog.records, sessions)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert all(CORRELATION.search(r.getMessage()) for r in errors), [r.getMessage() for r in errors]
    assert not [r for r in caplog.records if "cycle failed" in r.getMessage()]
