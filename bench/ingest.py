"""Ingest throughput: signed webhook to committed row, against plain SQLAlchemy inserts.

Both runs store the same rows (a case, its mention, its card job, its first-reply deadline
and the deadline's seven reminders, one transaction each) in the same process and database,
so the ratio shows what HTTP, signing, validation, triage and deduplication cost.

    python bench/ingest.py [--count 2000] [--clients 8] [--postgres URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.common import (  # noqa: E402
    POSTGRES_URL,
    add_json_option,
    local_slack,
    row,
    settings_for,
    write_rows,
)
from bot.config import load_org_config  # noqa: E402
from bot.db import make_engine, migrate, session_factory, unit_of_work  # noqa: E402
from bot.ingest import sign  # noqa: E402
from bot.runtime import build_replica  # noqa: E402
from escalation.models import Base, Case, Deadline, Mention, Nag, Outbox, OutboxKind  # noqa: E402
from tests.support import INGEST_SECRET, mention_record  # noqa: E402

ORG = load_org_config(ROOT / "config.example.yaml")


def signed_requests(offset: int, count: int) -> list[tuple[bytes, dict]]:
    requests = []
    for n in range(count):
        body = json.dumps(mention_record(offset + n)).encode()
        stamp = str(int(time.time()))
        headers = {
            "X-Ingest-Timestamp": stamp,
            "X-Ingest-Signature": sign(INGEST_SECRET, stamp, body),
        }
        requests.append((body, headers))
    return requests


def send_all(port: int, requests: list[tuple[bytes, dict]], clients: int, done) -> None:
    """In a separate process, as webhook senders are: `clients` keep-alive connections."""
    local = threading.local()

    def post(request: tuple[bytes, dict]) -> int:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local.connection.request("POST", "/ingest", *request)
        response = local.connection.getresponse()
        response.read()
        return response.status

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(post, requests))
    done.send((time.perf_counter() - started, statuses.count(202)))


def webhook_rate(port: int, count: int, clients: int, offset: int) -> float:
    requests = signed_requests(offset, count)
    spawn = multiprocessing.get_context("spawn")  # no fork of a process full of threads
    receive, send = spawn.Pipe(duplex=False)
    sender = spawn.Process(target=send_all, args=(port, requests, clients, send))
    sender.start()
    elapsed, accepted = receive.recv()
    sender.join()
    assert accepted == count, f"only {accepted} of {count} accepted"
    return count / elapsed


def add_deadline(db, case: Case, now: datetime) -> None:
    """The first-reply deadline and its seven planned reminders, as a new case has them."""
    deadline = Deadline(
        case_id=case.id,
        kind="first_reply",
        started_at=now,
        target_seconds=3600.0,
        around_the_clock=False,
        pauses=[],
        due_at=now,
        status="running",
        state="on_track",
    )
    db.add(deadline)
    db.flush()
    steps = ("unclaimed", "half", "at_risk", "breach", "repeat-1", "repeat-2", "repeat-3")
    db.add_all(
        Nag(deadline_id=deadline.id, step=step, due_at=now, status="pending", snoozes=0)
        for step in steps
    )


def baseline_rate(database_url: str, count: int, clients: int, offset: int) -> float:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)

    def insert(n: int) -> None:
        record = mention_record(offset + n)
        with unit_of_work(sessions) as db:
            case = Case(status="new", created_at=now, updated_at=now)
            mention = Mention(
                case=case,
                source="x",
                external_id=record["external_id"],
                url=record["url"],
                author_handle=record["author"]["handle"],
                author_followers=100,
                text=record["text"],
                posted_at=now,
                received_at=now,
            )
            db.add(mention)
            db.flush()
            db.add(
                Outbox(
                    dedupe_key=f"bench:{mention.id}",
                    kind=OutboxKind.TRIAGE_CARD,
                    channel="social-triage",
                    case_id=case.id,
                    due_at=now,
                    created_at=now,
                )
            )
            add_deadline(db, case, now)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(insert, range(count)))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return count / elapsed


def measure(name: str, database_url: str, count: int, clients: int) -> dict:
    migrate(database_url)
    fake = local_slack()
    settings = settings_for(
        fake,
        database_url,
    )
    replica = build_replica(settings, ORG, run_migrations=False).start()
    try:
        port = replica.server.effective_port
        webhook_rate(port, 100, clients, offset=10_000_000)  # warm-up
        webhook = webhook_rate(port, count, clients, offset=0)
        baseline = baseline_rate(database_url, count, clients, offset=1_000_000)
    finally:
        replica.stop()
        fake.stop()
    return {"database": name, "webhook": webhook, "baseline": baseline}


def postgres_database(admin_url: str, suffix: str = ""):
    """A new database on the server, and a function that drops it."""
    name = f"sebot_bench_{int(time.time())}{suffix}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    return url, lambda: _drop(admin, name)


def _drop(admin, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--postgres", default=POSTGRES_URL)
    add_json_option(parser)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        rows.append(measure("SQLite", f"sqlite:///{folder}/bench.db", args.count, args.clients))
    url, drop = postgres_database(args.postgres)
    try:
        rows.append(measure("PostgreSQL", url, args.count, args.clients))
    finally:
        drop()
    print(f"{args.count} mentions, {args.clients} concurrent clients\n")
    print("| database | webhook to committed | plain SQLAlchemy inserts | ratio |")
    print("| --- | --- | --- | --- |")
    results = []
    for figures in rows:
        ratio = figures["webhook"] / figures["baseline"]
        print(
            f"| {figures['database']} | {figures['webhook']:,.0f}/s | "
            f"{figures['baseline']:,.0f}/s | {ratio:.2f} |"
        )
        results.append(
            row(
                "Ingest",
                f"{figures['database']}: signed webhook to committed ({args.count:,} mentions, "
                f"{args.clients} clients)",
                f"{figures['webhook']:,.0f}/s",
                f"plain SQLAlchemy inserts {figures['baseline']:,.0f}/s; ratio {ratio:.2f}",
            )
        )
    write_rows(args.json, results)
    assert Base  # the models are imported for their tables


if __name__ == "__main__":
    main()
