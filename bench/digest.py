"""Digest computation time over 1,000,000 cases, on SQLite and on PostgreSQL.

Seeds the cases of 200 days (5,000 a day) by bulk inserts (executemany on a plain SQLite
connection, COPY on PostgreSQL) into a fresh SQLite file and a fresh PostgreSQL database: each
case with its mention (one in five with a second), its first-reply deadline, and one in five
with an escalation and its acknowledgement deadline. Then times `compute_kpis` for the last
day and the last 7 days (median of 5 runs, and the first run), without the index on
cases.created_at, then with it (migration 0009 added it after these figures).

    python bench/digest.py [--cases 1000000] [--per-day 5000] [--postgres URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import make_url, text  # noqa: E402

from bench.common import POSTGRES_URL, add_json_option, write_rows  # noqa: E402
from bench.common import row as result_row  # noqa: E402
from bench.ingest import postgres_database  # noqa: E402
from bot.db import make_engine, migrate, session_factory  # noqa: E402
from bot.report import kpi_options  # noqa: E402
from escalation.kpis import compute_kpis  # noqa: E402
from tests.support import ORG  # noqa: E402

END = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday, midnight in London
CHUNK = 50_000
RUNS = 5
SOURCES = ("x", "x", "mastodon", "bluesky")
DEPARTMENTS = ("care", "billing", "sales", "field", "network", "comms", "legal", "product")
MOODS = ("negative", "neutral", "negative", "positive", "neutral")
AGENTS = tuple(f"U0AGENT{n:02d}" for n in range(10))
OPENINGS = ("Why is my", "Still waiting on my", "Loving the new", "Help, my", "Any news on the")
TOPICS = (
    "broadband connection",
    "monthly bill",
    "engineer visit",
    "router firmware",
    "TV box recording",
    "fibre upgrade",
    "mobile signal",
    "refund request",
    "price rise letter",
    "installation date",
    "Wi-Fi speed",
    "direct debit",
    "contract renewal",
)
ENDINGS = ("today?", "again!!", "since Monday", "this week, thanks", "- please DM me", "")
TABLES = {
    "cases": "id status priority owner_id created_at updated_at first_reply_at resolved_at",
    "mentions": "id case_id source external_id author_handle author_followers author_verified "
    "text posted_at received_at sentiment department priority",
    "escalations": "id case_id department status question requested_by requested_at "
    "acknowledged_at answered_at",
    "deadlines": "id case_id escalation_id kind department started_at target_seconds "
    "around_the_clock pauses due_at status state met_at breached_at",
}


def rows(table: str, cases: int, per_day: int, when: Callable) -> Iterator[tuple]:
    """The rows of `table` for `cases` cases opened `per_day` a day until END."""
    spacing = 86400 / per_day
    first = END - timedelta(seconds=cases * spacing)
    make = {
        "cases": _case,
        "mentions": _mentions,
        "escalations": _escalation,
        "deadlines": _deadlines,
    }[table]
    for n in range(1, cases + 1):
        yield from make(n, first + timedelta(seconds=(n - 1) * spacing), cases, when)


def _reply_after(n: int) -> timedelta | None:
    """Most cases get a reply within 4 hours; one in twelve never does."""
    return None if n % 12 == 0 else timedelta(seconds=n * 7919 % 14400)


def _priority(n: int) -> str:
    return "P1" if n % 50 == 0 else ("P2", "P3", "P3", "P4")[n % 4]


def _case(n: int, created: datetime, _cases: int, when: Callable) -> Iterator[tuple]:
    """Cases older than two days are resolved: two hours after the reply, or with none."""
    reply = _reply_after(n)
    replied = created + reply if reply is not None else None
    resolved = (replied or created) + timedelta(hours=2) if _closed(created) else None
    status = "resolved" if resolved else ("claimed" if n % 3 else "new")
    owner = AGENTS[n % 10] if status != "new" else None
    yield (
        n, status, _priority(n), owner, when(created), when(created),
        when(replied), when(resolved),
    )  # fmt: skip


def _closed(created: datetime) -> bool:
    return created < END - timedelta(days=2)


def _mentions(n: int, created: datetime, cases: int, when: Callable) -> Iterator[tuple]:
    topic = TOPICS[n % len(TOPICS)]
    words = f"@BrightwaveHelp {OPENINGS[n % 5]} {topic} {ENDINGS[n % 6]}"
    dept, mood = DEPARTMENTS[n * 7 % 8], MOODS[n % 5]
    yield (
        n, n, SOURCES[n % 4], f"m{n}", f"user{n % 50000}", n % 5000, False, words,
        when(created), when(created), mood, dept, _priority(n),
    )  # fmt: skip
    if n % 5 == 0:
        later = created + timedelta(minutes=20)
        yield (
            cases + n, n, SOURCES[n % 4], f"m{n}b", f"user{n % 50000}", n % 5000, False,
            "Any update?", when(later), when(later), "negative", dept, _priority(n),
        )  # fmt: skip


def _escalation(n: int, created: datetime, _cases: int, when: Callable) -> Iterator[tuple]:
    if n % 5:
        return
    asked = created + timedelta(minutes=10)
    acked = asked + timedelta(seconds=n * 31 % 7200)
    done = acked + timedelta(minutes=30) if acked + timedelta(minutes=30) < END else None
    yield (
        n // 5, n, DEPARTMENTS[n * 3 % 8], "answered" if done else "acknowledged",
        "Can you help?", AGENTS[n % 10], when(asked), when(acked), when(done),
    )  # fmt: skip


def _deadlines(n: int, created: datetime, cases: int, when: Callable) -> Iterator[tuple]:
    target = timedelta(hours=1)
    reply = _reply_after(n)
    met = created + reply if reply is not None and created + reply < END else None
    first_reply = _deadline(n, n, None, "first_reply", None, created, target, met, when)
    if met is None and _closed(created):  # resolved without a reply: no longer owed
        first_reply = (*first_reply[:10], "cancelled", "on_track", None, None)
    yield first_reply
    if n % 5 == 0:
        asked = created + timedelta(minutes=10)
        acked = asked + timedelta(seconds=n * 31 % 7200)
        dept = DEPARTMENTS[n * 3 % 8]
        yield _deadline(cases + n // 5, n, n // 5, "acknowledge", dept, asked, target, acked, when)


def _deadline(d_id, case_id, esc_id, kind, dept, started, target, met, when) -> tuple:
    due = started + target
    status = "met" if met else "running"
    late = met > due if met else started + target < END
    return (
        d_id, case_id, esc_id, kind, dept, when(started), target.total_seconds(), False, "[]",
        when(due), status, "breached" if late else "on_track", when(met),
        when(due) if late else None,
    )  # fmt: skip


def seed_sqlite(path: str, cases: int, per_day: int) -> None:
    """Plain executemany in one transaction, in SQLAlchemy's own text format for times."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    for table, columns in TABLES.items():
        names = columns.split()
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        batch = []
        for row in rows(table, cases, per_day, _sqlite_time):
            batch.append(row)
            if len(batch) == CHUNK:
                conn.executemany(sql, batch)
                batch.clear()
        conn.executemany(sql, batch)
    conn.execute("COMMIT")
    conn.close()


def _sqlite_time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def seed_postgres(url: str, cases: int, per_day: int) -> None:
    """COPY each table, then move the id sequences on and gather statistics."""
    engine = make_engine(url)
    conn = engine.raw_connection()
    with conn.cursor() as cursor:
        for table, columns in TABLES.items():
            with cursor.copy(f"COPY {table} ({', '.join(columns.split())}) FROM STDIN") as copy:
                for row in rows(table, cases, per_day, lambda moment: moment):
                    copy.write_row(row)
            cursor.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
    conn.commit()
    conn.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as auto:
        auto.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def time_kpis(url: str, per_day: int) -> dict[str, tuple[float, float]]:
    """(first run, median of RUNS) seconds of the KPIs for the last day and the last 7 days."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    options = kpi_options(ORG)
    figures = {}
    for label, days in (("1 day", 1), ("7 days", 7)):
        runs = []
        for _ in range(RUNS):
            started = time.perf_counter()
            with sessions() as db:
                kpis = compute_kpis(
                    db, start=END - timedelta(days=days), end=END, now=END, options=options
                )
            runs.append(time.perf_counter() - started)
        assert kpis.cases == days * per_day, kpis.cases
        figures[label] = (runs[0], statistics.median(runs))
    engine.dispose()
    return figures


def set_index(url: str, *, present: bool) -> None:
    """Drop or (re)create the schema's index on cases.created_at."""
    statement = (
        "CREATE INDEX ix_cases_created_at ON cases (created_at)"
        if present
        else "DROP INDEX ix_cases_created_at"
    )
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement))
        if make_url(url).get_backend_name() == "postgresql":
            conn.execute(text("ANALYZE cases"))
    engine.dispose()


def measure(name: str, url: str, seed: Callable[[], None], per_day: int) -> list[dict]:
    """Seed, time, add the index, time again: one result per window."""
    migrate(url)
    set_index(url, present=False)
    started = time.perf_counter()
    seed()
    seeded = time.perf_counter() - started
    plain = time_kpis(url, per_day)
    set_index(url, present=True)
    indexed = time_kpis(url, per_day)
    return [
        {
            "database": name,
            "window": label,
            "plain": plain[label],
            "indexed": indexed[label],
            "seeded": seeded,
        }
        for label in plain
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--per-day", type=int, default=5_000)
    parser.add_argument("--postgres", default=POSTGRES_URL)
    add_json_option(parser)
    args = parser.parse_args()
    if args.cases < 7 * args.per_day:
        parser.error("--cases must cover at least 7 days of --per-day")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/digest.db"
        seed = partial(seed_sqlite, path, args.cases, args.per_day)
        results += measure("SQLite", f"sqlite:///{path}", seed, args.per_day)
    url, drop = postgres_database(args.postgres, "digest")
    try:
        seed = partial(seed_postgres, url, args.cases, args.per_day)
        results += measure("PostgreSQL", url, seed, args.per_day)
    finally:
        drop()
    print(f"{args.cases:,} cases, {args.per_day:,} a day: the KPIs of the last day and 7 days\n")
    print(
        "| database | window | without the index | with the index on cases.created_at | seeding |"
    )
    print("| --- | --- | --- | --- | --- |")
    found = []
    for r in results:
        (plain_first, plain), (first, median) = r["plain"], r["indexed"]
        print(
            f"| {r['database']} | {r['window']} | {plain:.2f} s ({plain_first:.2f} s first) | "
            f"{median:.2f} s ({first:.2f} s first) | {r['seeded']:.0f} s |"
        )
        found.append(
            result_row(
                "Digest KPIs",
                f"{r['database']}: the last {r['window']} over {args.cases:,} cases "
                "(median of 5; first run)",
                f"{median:.2f} s ({first:.2f} s)",
                f"without the index on cases.created_at {plain:.2f} s; seeded in "
                f"{r['seeded']:.0f} s",
            )
        )
    write_rows(args.json, found)


if __name__ == "__main__":
    main()
