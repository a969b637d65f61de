"""Deadline scan and reminder lateness.

1. The time to find the reminders due now among those of 1,000,000 cases (two pending
   reminders each, one in a hundred due), through the index on (status, due_at), against a
   baseline in the same process: fetching 100 reminders by primary key.
2. Reminder lateness under load: a replica with a one-second ticker sends the ladders of 300
   cases opened together while mentions keep arriving; lateness is sent_at - due_at.

    python bench/deadlines.py [--cases 1000000] [--postgres URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from bench.common import (  # noqa: E402
    POSTGRES_URL,
    add_json_option,
    local_slack,
    row,
    settings_for,
    write_rows,
)
from bench.ingest import postgres_database  # noqa: E402
from bot.db import make_engine, migrate, session_factory  # noqa: E402
from bot.fakeslack import Limits  # noqa: E402
from bot.runtime import build_replica  # noqa: E402
from escalation.models import Case, Deadline, Nag  # noqa: E402
from escalation.sla import due_nags  # noqa: E402
from tests.support import ORG, fast_org, mention_record, post_ingest  # noqa: E402

CHUNK = 20_000
NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)


def seed(url: str, cases: int) -> None:
    """Cases with a first-reply deadline and two pending reminders each; 1% due by NOW."""
    engine = make_engine(url)
    with engine.begin() as conn:
        for start in range(0, cases, CHUNK):
            ids = range(start + 1, min(start + CHUNK, cases) + 1)
            conn.execute(
                insert(Case),
                [
                    {
                        "id": i,
                        "status": "claimed",
                        "priority": "P2",
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(Deadline),
                [
                    {
                        "id": i,
                        "case_id": i,
                        "kind": "first_reply",
                        "started_at": NOW,
                        "target_seconds": 3600.0,
                        "around_the_clock": False,
                        "pauses": [],
                        "due_at": NOW,
                        "status": "running",
                        "state": "on_track",
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(Nag),
                [
                    {
                        "deadline_id": i,
                        "step": step,
                        "status": "pending",
                        "snoozes": 0,
                        "due_at": NOW - timedelta(minutes=1)
                        if i % 100 == 0 and step == "half"
                        else NOW + timedelta(minutes=i % 600 + 1),
                    }
                    for i in ids
                    for step in ("half", "breach")
                ],
            )
    engine.dispose()


def timed(action, repeats: int = 50) -> float:
    """Median seconds of `action()` over `repeats` runs."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def scan(url: str) -> tuple[float, float]:
    sessions = session_factory(make_engine(url))

    def find_due():
        with sessions() as db, db.begin():
            assert len(due_nags(db, NOW, limit=100)) == 100
            db.rollback()

    def by_key():
        with sessions() as db:
            assert len(db.scalars(select(Nag).where(Nag.id.in_(range(1, 201, 2)))).all()) == 100

    return timed(find_due), timed(by_key)


def lateness(url: str, cases: int = 300) -> list[float]:
    """Seconds each reminder of `cases` fresh ladders was decided after it fell due."""
    fake = local_slack(Limits(enabled=False))
    settings = settings_for(
        fake,
        url,
        nag_tick_seconds=1.0,
        channel_rate_per_second=1000,
        channel_burst=100,
        update_rate_per_minute=60_000,
    )
    replica = build_replica(settings, fast_org(ORG), run_migrations=False).start()
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda n: post_ingest(replica.url, mention_record(2_000_000 + n)), range(cases)
            )
        )
        time.sleep(11)  # the whole ladder (8 s target, one repeat) while load keeps coming
        list(
            pool.map(
                lambda n: post_ingest(replica.url, mention_record(3_000_000 + n)), range(cases)
            )
        )
    replica.stop()
    fake.stop()
    sessions = session_factory(make_engine(url))
    with sessions() as db:
        sent = db.execute(select(Nag.due_at, Nag.sent_at).where(Nag.sent_at.is_not(None))).all()
    return [(s - d).total_seconds() for d, s in sent]


def percentiles(values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return (
        f"p50 {cuts[49]:.2f} s, p95 {cuts[94]:.2f} s, p99 {cuts[98]:.2f} s, max {max(values):.2f} s"
    )


def run(name: str, scan_url: str, late_url: str, cases: int) -> dict:
    """One database kind: the scan over `cases` seeded cases, then lateness on a fresh one."""
    migrate(scan_url)
    started = time.perf_counter()
    seed(scan_url, cases)
    seeded = time.perf_counter() - started
    due, baseline = scan(scan_url)
    migrate(late_url)
    late = lateness(late_url)
    return {"database": name, "due": due, "baseline": baseline, "seeded": seeded, "late": late}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=POSTGRES_URL)
    add_json_option(parser)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        scan_url, late_url = f"sqlite:///{folder}/scan.db", f"sqlite:///{folder}/late.db"
        results.append(run("SQLite", scan_url, late_url, args.cases))
    scan_url, drop_scan = postgres_database(args.postgres, "scan")
    late_url, drop_late = postgres_database(args.postgres, "late")
    try:
        results.append(run("PostgreSQL", scan_url, late_url, args.cases))
    finally:
        drop_scan()
        drop_late()
    print("| database | cases | find 100 due reminders | 100 by primary key | ratio | seeding |")
    print("| --- | --- | --- | --- | --- | --- |")
    found = []
    for r in results:
        due, baseline, ratio = r["due"] * 1000, r["baseline"] * 1000, r["due"] / r["baseline"]
        print(
            f"| {r['database']} | {args.cases:,} | {due:.2f} ms | {baseline:.2f} ms | "
            f"{ratio:.2f} | {r['seeded']:.0f} s |"
        )
        found.append(
            row(
                "Deadline scan",
                f"{r['database']}: find the 100 due reminders among {2 * args.cases:,} "
                f"pending ({args.cases:,} cases)",
                f"{due:.2f} ms",
                f"100 by primary key {baseline:.2f} ms; ratio {ratio:.2f}; "
                f"seeded in {r['seeded']:.0f} s",
            )
        )
    for r in results:
        print(f"| {r['database']}: reminder lateness under load | {percentiles(r['late'])} |")
        cuts = statistics.quantiles(r["late"], n=100, method="inclusive")
        found.append(
            row(
                "Reminder lateness, one replica (tick 1 s, 300 ladders)",
                f"{r['database']}: decided - due, p50 / p99 / max",
                f"{cuts[49]:.2f} / {cuts[98]:.2f} / {max(r['late']):.2f} s",
                f"{len(r['late'])} reminders, mentions arriving meanwhile",
            )
        )
    write_rows(args.json, found)


if __name__ == "__main__":
    main()
