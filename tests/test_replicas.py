"""Three replicas share one database: every reminder goes out exactly once, even when one of
them is killed with SIGKILL in the middle."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from escalation.models import Nag, NagStatus, Outbox, OutboxKind, OutboxStatus
from tests.support import (
    ServerProcess,
    accepted_per_job,
    fast_config_file,
    mention_record,
    post_ingest,
    replica_env,
    wait_until,
)

CASES = 10
MESSAGES_PER_CASE = (
    7  # unclaimed, half, at risk (thread); breach and one repeat to a lead and a manager
)


@pytest.fixture
def replicas(database_url, engine, fake_slack, tmp_path):
    assert engine is not None  # requested for its side effect: the tables start empty
    env = replica_env(
        database_url,
        fake_slack,
        fast_config_file(tmp_path),
        NAG_TICK_SECONDS="0.2",
        UPDATE_RATE_PER_MINUTE="3000",
    )
    started = [
        ServerProcess(env | {"REPLICA_NAME": f"r{n}"}, tmp_path / f"r{n}.log") for n in range(3)
    ]
    yield started
    for replica in started:
        replica.stop()


def test_each_reminder_once_with_three_replicas_and_one_killed(replicas, fake_slack, sessions):
    for n in range(CASES):
        assert post_ingest(replicas[n % 3].url, mention_record(n)).status == 202
    time.sleep(3)  # the first steps are under way
    replicas[1].kill()

    def all_sent():
        with sessions() as db:
            pending_nags = db.scalar(
                select(func.count()).select_from(Nag).where(Nag.status == NagStatus.PENDING)
            )
            pending_jobs = db.scalar(
                select(func.count())
                .select_from(Outbox)
                .where(Outbox.kind == OutboxKind.NAG, Outbox.status != OutboxStatus.SENT)
            )
        return pending_nags == 0 and pending_jobs == 0

    wait_until(all_sent, timeout=40, every=0.5)
    time.sleep(1)
    with sessions() as db:
        jobs = [job.id for job in db.scalars(select(Outbox).where(Outbox.kind == OutboxKind.NAG))]
    assert len(jobs) == CASES * MESSAGES_PER_CASE
    sent = accepted_per_job(fake_slack)
    assert {job: sent[job] for job in jobs} == dict.fromkeys(jobs, 1)
