"""Surge detection cost per mention: 2,000 mentions arriving in two minutes.

A detector warmed up with six hours of ordinary traffic (Brightwave's labelled mentions, one every
30 seconds) then takes 2,000 mentions about an outage in Leeds in two minutes, while the ordinary
traffic goes on at its pace.
Measured per mention: the detector alone (`observe`, pure), then `detect` with its unit of work
on SQLite and on PostgreSQL (the alert, and the surge seen again once a minute, are written).

    python bench/surge.py [--count 2000] [--postgres URL] [--json FILE]
    (--postgres "" skips PostgreSQL)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import cycle
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import POSTGRES_URL, add_json_option, row, write_rows  # noqa: E402
from bench.ingest import postgres_database  # noqa: E402
from bot.db import make_engine, migrate, session_factory, unit_of_work  # noqa: E402
from escalation.surge import Sighting, SurgeDetector, detect  # noqa: E402

START = datetime(2026, 11, 9, 6, tzinfo=UTC)
BURST_AT = START + timedelta(hours=6)
BURST = timedelta(minutes=2)
OUTAGE = [
    ("@BrightwaveHelp broadband down in {place} since 9, anyone else?", "neutral"),
    ("No internet anywhere in {place} @BrightwaveHelp, what is going on", "negative"),
    ("@brightwave whole of {place} offline AGAIN, this is a joke", "negative"),
    ("is there an outage in {place}? router flashing red @BrightwaveHelp", "neutral"),
    (
        "{place} fibre dead, working from home and can't do a thing. Sort it out @brightwave",
        "negative",
    ),
]
PLACES = ["Leeds", "Headingley", "LS6", "leeds", "Kirkstall", "Chapel Allerton", "LS5"]
DATA = [ROOT / "samples" / "brightwave-mentions.jsonl", ROOT / "tests/data/triage-extra.jsonl"]


def ordinary_records() -> list[dict]:
    records = [json.loads(line) for path in DATA for line in path.read_text().splitlines()]
    return [r for r in records if not {"influencer", "journalist"} & set(r["labels"]["tags"])]


def sighting(n: int, record: dict, at: datetime) -> Sighting:
    return Sighting(
        mention_id=n,
        text=record["text"],
        posted_at=at,
        sentiment=record["labels"]["sentiment"],
        followers=record["author"]["followers"],
        source=record["source"],
        handle=record["author"]["handle"],
    )


def streams(count: int) -> tuple[list[Sighting], list[Sighting]]:
    """Six hours of ordinary traffic, then `count` outage reports in two minutes among it."""
    records, every = cycle(ordinary_records()), timedelta(seconds=30)
    ordinary = [sighting(n + 1, next(records), START + n * every) for n in range(7 * 120)]
    warm = [s for s in ordinary if s.posted_at < BURST_AT]
    reports, places = cycle(OUTAGE), cycle(PLACES)
    burst = [s for s in ordinary if BURST_AT <= s.posted_at < BURST_AT + BURST]
    for n in range(count):
        text, mood = next(reports)
        record = {
            "text": text.format(place=next(places)),
            "source": "x",
            "author": {"handle": f"leeds_{n}", "followers": 50 + n % 900},
            "labels": {"sentiment": mood},
        }
        burst.append(sighting(len(ordinary) + n + 1, record, BURST_AT + n * BURST / count))
    return warm, sorted(burst, key=lambda s: s.posted_at)


def warmed(warm: list[Sighting]) -> SurgeDetector:
    detector = SurgeDetector()
    detector.warm_up(warm, now=BURST_AT)
    return detector


def figures(label: str, seconds: list[float], alerts: int) -> dict:
    per = sorted(s * 1e6 for s in seconds)
    p99 = per[int(len(per) * 0.99) - 1]
    mean, p50 = statistics.mean(per), statistics.median(per)
    print(
        f"{label:<34} total {sum(seconds) * 1000:7.1f} ms | per mention (µs): mean {mean:6.1f}"
        f"  p50 {p50:6.1f}  p99 {p99:7.1f}  max {per[-1]:8.1f} | alerts {alerts}"
    )
    return row(
        "Surge detection",
        f"{label}: per mention, mean / p99",
        f"{mean:.0f} / {p99:.0f} µs",
        f"{len(seconds):,} mentions in {sum(seconds) * 1000:.0f} ms; {alerts} alerts",
    )


def measure_pure(warm: list[Sighting], burst: list[Sighting]) -> dict:
    detector, seconds, alerts = warmed(warm), [], 0
    for s in burst:
        began = time.perf_counter()
        alerts += len(detector.observe(s, now=s.posted_at))
        seconds.append(time.perf_counter() - began)
    return figures("observe (pure, offered)", seconds, alerts)


def measure_db(label: str, url: str, warm: list[Sighting], burst: list[Sighting]) -> dict:
    migrate(url)
    engine = make_engine(url)
    sessions, detector, seconds, alerts = session_factory(engine), warmed(warm), [], 0
    for s in burst:
        began = time.perf_counter()
        with unit_of_work(sessions) as db:
            alerts += len(detect(db=db, detector=detector, sighting=s, now=s.posted_at))
        seconds.append(time.perf_counter() - began)
    engine.dispose()
    return figures(f"detect + unit of work ({label})", seconds, alerts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--postgres", default=POSTGRES_URL)
    add_json_option(parser)
    args = parser.parse_args()
    warm, burst = streams(args.count)
    began = time.perf_counter()
    warmed(warm)
    print(f"{len(burst)} mentions in {BURST.seconds} s after {len(warm)} of warm-up")
    print(f"warm-up of {len(warm)} mentions: {(time.perf_counter() - began) * 1000:.1f} ms")
    found = [measure_pure(warm, burst)]
    with tempfile.TemporaryDirectory() as folder:
        found.append(measure_db("SQLite", f"sqlite:///{folder}/bench.db", warm, burst))
    if args.postgres:
        url, drop = postgres_database(args.postgres, "_surge")
        try:
            found.append(measure_db("PostgreSQL", url, warm, burst))
        finally:
            drop()
    write_rows(args.json, found)


if __name__ == "__main__":
    main()
