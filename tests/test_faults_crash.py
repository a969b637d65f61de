"""A replica killed with SIGKILL in the middle of posting a reply in a case's thread.

tests/test_crash.py kills a replica while it posts cards (top-level messages) and
tests/test_replicas.py kills one of three while reminders go out; neither makes sure that the
kill lands while a thread message is on its way. Here Slack takes the message and then takes its
time to answer, and the replica dies in between: the next replica must find that message in
its thread (a thread's replies are not in the channel's history) and not post it again.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from escalation.models import Outbox, OutboxStatus
from tests.support import (
    ServerProcess,
    accepted_per_job,
    fast_config_file,
    mention_record,
    outbox_id,
    post_ingest,
    replica_env,
    request,
    wait_until,
)
from tests.test_crash import metric

SLOW_ANSWER = 8.0  # Slack posts the message at once and answers this much later


@pytest.fixture
def serve_env(database_url, engine, fake_slack, tmp_path):
    assert engine is not None  # requested for its side effect: the tables start empty
    return replica_env(
        database_url,
        fake_slack,
        fast_config_file(tmp_path),
        NAG_TICK_SECONDS="0.2",
        UPDATE_RATE_PER_MINUTE="3000",
    )


def thread_posts(fake) -> list:
    return [c for c in fake.calls("chat.postMessage") if c.params.get("thread_ts")]


def test_sigkill_while_posting_in_a_thread_posts_it_once(serve_env, fake_slack, sessions, tmp_path):
    first = ServerProcess(serve_env, tmp_path / "first.log")
    try:
        for n in range(3):
            assert post_ingest(first.url, mention_record(n)).status == 202
        wait_until(lambda: len(fake_slack.messages("social-triage")) == 3)
        before = len(thread_posts(fake_slack))
        fake_slack.fail(method="chat.postMessage", status=None, delay=SLOW_ANSWER)
        caught = wait_until(lambda: thread_posts(fake_slack)[before:], timeout=30)[0]
        first.kill()  # Slack has the message; the replica never hears back
    finally:
        first.stop()
    fake_slack.clear_faults()
    killed = outbox_id(caught)
    assert caught.ok and killed is not None
    with sessions() as db:
        job = db.get_one(Outbox, killed)
        assert (job.status, job.in_flight) == (OutboxStatus.PENDING, True), "killed mid-send"

    second = ServerProcess(serve_env | {"REPLICA_NAME": "second"}, tmp_path / "second.log")
    try:
        wait_until(lambda: job_status(sessions, killed) == OutboxStatus.SENT, timeout=30)
        wait_until(lambda: nothing_due(sessions), timeout=30)
        time.sleep(1)  # anything posted twice would have been posted by now
        assert metric(second.url, "slack_deliveries_uncertain_total") >= 1
        assert request(f"{second.url}/healthz").status == 200
    finally:
        second.stop()
    twice = {job: count for job, count in accepted_per_job(fake_slack).items() if count > 1}
    assert twice == {}, "no message posted twice"
    with sessions() as db:
        job = db.get_one(Outbox, killed)
        assert job.result_ts == caught.response["ts"], "the message found in its thread"
    assert "was posted before an interruption" in (tmp_path / "second.log").read_text()


def job_status(sessions, job_id: int) -> str:
    with sessions() as db:
        return db.get_one(Outbox, job_id).status


def nothing_due(sessions) -> bool:
    """No job is waiting that is due now (reminders to people off work may wait for later)."""
    with sessions() as db:
        jobs = db.scalars(select(Outbox).where(Outbox.status == OutboxStatus.PENDING)).all()
    now = time.time()
    return all(job.due_at.timestamp() > now + 1 for job in jobs)
