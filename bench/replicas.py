"""Reminder lateness and exactly-once with three replicas on PostgreSQL, one killed with SIGKILL.

Three `python app.py serve` children share one PostgreSQL database and one fake Slack. The
mentions of `--cases` cases arrive through their webhooks in turn, with deadlines of seconds
(tests/support.py's fast ladder: every case gets seven reminder messages, three in its thread
and four by direct message) and every calendar around the clock, so that nothing waits for
office hours. When an eighth of the reminders are decided, Slack answers posts two seconds
late for three seconds, and a second into that replica r1 is killed with SIGKILL, most likely
after Slack took a post of its and before r1 heard back; the other two carry on, and take
over r1's leased message once the lease runs out (looking for it in Slack before sending it
again).

Measured: lateness, decided (nags.sent_at - due_at, the ticker's row-locked decision) and in
Slack (the first accepted post - due_at), p50/p99/max; reminders lost (a job never accepted
by Slack), and duplicates (a job accepted twice), direct messages apart.
The fake's rate limits are the functional tests' (50 posts a second per channel, no tiers) and
its workspace limit is lifted (--workspace-per-minute); the bot's pace is the functional tests'
too. So the figures show the ticker and the failover, not Slack's limits (bench/surge_slack.py
measures those): 300 ladders at once are 2,100 messages in about ten seconds, and at Slack's
several hundred a minute per workspace (300 in the fake) they take seven minutes to deliver.

    python bench/replicas.py [--cases 300] [--tick 1] [--lease 60] [--workspace-per-minute N]
                             [--postgres URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.common import (  # noqa: E402
    POSTGRES_URL,
    add_json_option,
    local_slack,
    percentile,
    replica_env,
    row,
    write_rows,
)
from bench.ingest import postgres_database  # noqa: E402
from bot.db import make_engine, migrate, session_factory  # noqa: E402
from bot.delivery import METADATA_TYPE  # noqa: E402
from bot.fakeslack import FakeSlack, Limits  # noqa: E402
from escalation.models import Nag, NagStatus, Outbox, OutboxKind, OutboxStatus  # noqa: E402
from tests.support import (  # noqa: E402
    ServerProcess,
    example_config_file,
    mention_record,
    post_ingest,
    wait_until,
)

REPLICAS = 3
KILLED = 1
MESSAGES_PER_CASE = 7  # unclaimed, half, at risk (thread); breach and one repeat to two people


def fast_and_always(data: dict) -> None:
    """Deadlines of seconds (as tests/support.py's fast ladder) and no office hours."""
    for priority in ("P1", "P2", "P3", "P4"):
        data["policies"][priority] = {"first_reply": "8s", "acknowledge": "6s"}
    data["ladder"] = {
        "unclaimed_after": "1s",
        "owner_at": 0.5,
        "lead_at": 0.8,
        "repeat_every": "2s",
        "repeat_cap": 1,
        "snooze": "2s",
        "snooze_limit": 1,
    }
    for department in data["departments"].values():
        department["calendar"] = "always"


def accepted_posts(fake: FakeSlack, offset: float) -> dict[int, list[datetime]]:
    """When Slack accepted a post of each outbox job (by the job id each post carries)."""
    found: dict[int, list[datetime]] = {}
    for call in fake.calls("chat.postMessage"):
        metadata = call.params.get("metadata") or {}
        if call.ok and metadata.get("event_type") == METADATA_TYPE:
            job = (metadata.get("event_payload") or {}).get("outbox_id")
            found.setdefault(job, []).append(datetime.fromtimestamp(call.at + offset, UTC))
    return found


def measure(args, url: str, folder: Path) -> dict:
    limits = Limits(
        tiers=False,
        post_per_second_per_channel=50,
        post_burst_per_channel=10,
        workspace_posts_per_minute=args.workspace_per_minute,
    )
    fake = local_slack(limits)
    offset = time.time() - time.monotonic()  # the fake records monotonic times
    migrate(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    config = example_config_file(folder, "fast-always.yaml", fast_and_always)
    env = replica_env(
        fake,
        url,
        config,
        NAG_TICK_SECONDS=str(args.tick),
        DELIVERY_LEASE_SECONDS=str(args.lease),
        DELIVERY_POLL_SECONDS="0.1",
        CHANNEL_RATE_PER_SECOND="40",
        CHANNEL_BURST="5",
        UPDATE_RATE_PER_MINUTE="3000",
        LOG_LEVEL="INFO",
    )
    replicas = [
        ServerProcess(env | {"REPLICA_NAME": f"r{n}"}, folder / f"r{n}.log")
        for n in range(REPLICAS)
    ]
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda n: post_ingest(replicas[n % REPLICAS].url, mention_record(n)).status,
                    range(args.cases),
                )
            )
        assert set(answers) == {202}, Counter(answers)
        planned = args.cases * MESSAGES_PER_CASE

        def decided(status=NagStatus.SENT) -> int:
            with sessions() as db:
                return db.scalar(select(func.count()).select_from(Nag).where(Nag.status == status))

        wait_until(lambda: decided() >= planned // 8, timeout=120, every=0.05)
        # Slack slows down for a moment, so that r1 is most likely killed after Slack took a
        # post of its but before it heard back: a send whose outcome it never records.
        fake.fail("chat.postMessage", status=None, delay=2.0, seconds=3.0)
        time.sleep(1.0)
        killed_at = time.monotonic()
        replicas[KILLED].kill()
        with sessions() as db:
            orphans = db.scalar(
                select(func.count())
                .select_from(Outbox)
                .where(Outbox.in_flight.is_(True), Outbox.lease_owner == f"r{KILLED}")
            )

        def all_sent() -> bool:
            with sessions() as db:
                waiting = db.scalar(
                    select(func.count())
                    .select_from(Outbox)
                    .where(Outbox.kind == OutboxKind.NAG, Outbox.status != OutboxStatus.SENT)
                )
            return decided(NagStatus.PENDING) == 0 and waiting == 0

        deadline = time.monotonic() + args.lease + 300
        while not all_sent() and time.monotonic() < deadline:
            time.sleep(0.5)
        finished = time.monotonic() - killed_at
        time.sleep(1)
        stuck = diagnose(sessions)
        with sessions() as db:
            nags = db.execute(
                select(Nag.id, Nag.due_at, Nag.sent_at).where(Nag.status == NagStatus.SENT)
            ).all()
            jobs = db.execute(
                select(Outbox.id, Outbox.nag_id, Outbox.payload).where(
                    Outbox.kind == OutboxKind.NAG
                )
            ).all()
        posts = accepted_posts(fake, offset)
    finally:
        for replica in replicas:
            replica.stop()
        engine.dispose()
        fake.stop()
    due = {nag_id: due_at for nag_id, due_at, _ in nags}
    dm = {job_id for job_id, _, payload in jobs if (payload or {}).get("to") == "dm"}
    return {
        "cases": args.cases,
        "decided": [(sent - due_at).total_seconds() for _, due_at, sent in nags],
        "in_slack": [(min(posts[j]) - due[n]).total_seconds() for j, n, _ in jobs if j in posts],
        "jobs": len(jobs),
        "planned": planned,
        "lost": sum(1 for job_id, _, _ in jobs if job_id not in posts),
        "twice": sum(len(posts[j]) - 1 for j, _, _ in jobs if len(posts.get(j, [])) > 1),
        "twice_dm": sum(len(posts[j]) - 1 for j in dm if len(posts.get(j, [])) > 1),
        "twice_any": sum(len(times) - 1 for times in posts.values()),
        "orphans": orphans,
        "dms": len(dm),
        "finished": finished,
        "stuck": stuck,
    }


def diagnose(sessions) -> list[str]:
    """What is left undone: reminders not decided, reminder messages not sent (and why)."""
    with sessions() as db:
        nags = db.execute(
            select(Nag.id, Nag.step, Nag.due_at).where(Nag.status == NagStatus.PENDING)
        ).all()
        jobs = db.execute(
            select(
                Outbox.id,
                Outbox.status,
                Outbox.attempts,
                Outbox.in_flight,
                Outbox.lease_owner,
                Outbox.due_at,
                Outbox.last_error,
                Outbox.payload,
            ).where(Outbox.kind == OutboxKind.NAG, Outbox.status != OutboxStatus.SENT)
        ).all()
    found = [f"nag {n.id} {n.step} due {n.due_at:%H:%M:%S} still pending" for n in nags]
    found += [
        f"outbox {j.id} {j.status} attempts {j.attempts} in_flight {j.in_flight} "
        f"lease {j.lease_owner} due {j.due_at:%H:%M:%S} to {j.payload}: {j.last_error}"
        for j in jobs
    ]
    return found


def spread(values: list[float]) -> str:
    return f"{percentile(values, 0.5):.2f} / {percentile(values, 0.99):.2f} / {max(values):.2f} s"


def report(args, figures: dict) -> list[dict]:
    title = (
        f"Reminders: 3 replicas on PostgreSQL, r1 SIGKILLed, {figures['cases']} cases "
        f"(tick {args.tick:g} s, lease {args.lease:g} s, Slack limits relaxed)"
    )
    complete = figures["jobs"] == figures["planned"]
    if figures["stuck"]:
        print(f"\n{len(figures['stuck'])} left undone, for example:")
        print("\n".join(figures["stuck"][:20]))
    lines = [
        ("lateness decided (sent_at - due_at) p50 / p99 / max", spread(figures["decided"]), ""),
        (
            "lateness in Slack (accepted - due_at) p50 / p99 / max",
            spread(figures["in_slack"]),
            f"all sent {figures['finished']:.0f} s after the kill",
        ),
        (
            "reminder messages sent / lost",
            f"{figures['jobs'] - figures['lost']:,} / {figures['lost']}",
            f"{figures['planned']:,} planned" + ("" if complete else " (MISMATCH)"),
        ),
        (
            "left undone after the kill + lease + 300 s",
            str(len(figures["stuck"])),
            "ok" if not figures["stuck"] else "FAILED: " + figures["stuck"][0],
        ),
        (
            "duplicate reminder DMs / reminders / any message",
            f"{figures['twice_dm']} / {figures['twice']} / {figures['twice_any']}",
            f"of {figures['dms']:,} DMs; r1 was killed with {figures['orphans']} send(s) in "
            "flight; " + ("ok" if not figures["twice_any"] else "FAILED"),
        ),
    ]
    print(f"\n{title}\n\n| measure | result | check |\n| --- | --- | --- |")
    for line in lines:
        print("| " + " | ".join(line) + " |")
    return [row(title, *line) for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--tick", type=float, default=1.0, help="NAG_TICK_SECONDS")
    parser.add_argument("--lease", type=float, default=60.0, help="DELIVERY_LEASE_SECONDS")
    parser.add_argument("--workspace-per-minute", type=int, default=100_000)
    parser.add_argument("--postgres", default=POSTGRES_URL)
    add_json_option(parser)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    url, drop = postgres_database(args.postgres, "_replicas")
    try:
        figures = measure(args, url, folder)
    finally:
        drop()
    rows = report(args, figures)
    if figures["lost"] or figures["twice_any"] or figures["stuck"]:
        print(f"replica logs kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
