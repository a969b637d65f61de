"""A surge end to end: 10,000 mentions in 10 minutes through the signed webhook of a replica
(`python app.py serve`, a child process, at the product's own pace), into a fake Slack that
enforces Slack's real limits (`Limits()`: one post a second per channel with bursts of 5, 300 a
minute per workspace, the method tiers).

Most mentions report an outage in Leeds (bench/surge.py's texts); one in 50 is ordinary traffic
(the labelled sample mentions). Checked afterwards, from the database and from every call the
fake recorded:
- none lost: every mention stored, and each shown in #social-triage, on a card or in a roll-up
  card's thread; no outbox job dead;
- none posted twice: no mention shown in two messages, no outbox job accepted twice by Slack;
- no channel above its rate: the most posts Slack accepted in one channel in any 60 seconds,
  against SLACK.md's one a second plus the burst; and how often Slack answered 429;
- the time from the last mention accepted until the outbox backlog is drained and every
  mention is in Slack; the replica's resident memory (VmRSS) at rest and after the surge.

    python bench/surge_slack.py [--count 10000] [--minutes 10] [--postgres URL | --sqlite]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import cycle
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, or_, select  # noqa: E402

from bench.common import (  # noqa: E402
    POSTGRES_URL,
    add_json_option,
    local_slack,
    memory_kib,
    mib,
    percentile,
    replica_env,
    row,
    write_rows,
)
from bench.ingest import postgres_database  # noqa: E402
from bench.surge import OUTAGE, PLACES, ordinary_records  # noqa: E402
from bot.db import make_engine, migrate, session_factory  # noqa: E402
from bot.delivery import METADATA_TYPE  # noqa: E402
from bot.fakeslack import FakeSlack, Limits  # noqa: E402
from escalation.models import Mention, Outbox, OutboxKind, OutboxStatus  # noqa: E402
from tests.support import (  # noqa: E402
    ORG,
    ServerProcess,
    example_config_file,
    mention_record,
    post_ingest,
)

TRIAGE = ORG.channels.triage
HANDLE = re.compile(r"@user(\d+)\b")
WINDOW = 60.0  # seconds: "per minute"


@dataclass
class Run:
    """What happened, as the bench saw it."""

    count: int
    statuses: Counter = field(default_factory=Counter)
    webhook_seconds: list[float] = field(default_factory=list)
    sent_from: float = 0.0
    sent_until: float = 0.0
    drained_at: float | None = None
    peak_backlog: int = 0
    backlog_at_end: int = 0
    memory_at_rest: dict = field(default_factory=dict)
    memory_after: dict = field(default_factory=dict)


def texts(count: int, ordinary_every: int) -> list[str]:
    """The surge: outage reports from around Leeds, with ordinary traffic among them."""
    ordinary = cycle(r["text"] for r in ordinary_records())
    reports, places = cycle(OUTAGE), cycle(PLACES)
    return [
        next(ordinary) if n % ordinary_every == 0 else next(reports)[0].format(place=next(places))
        for n in range(1, count + 1)
    ]


def send(replica: ServerProcess, said: list[str], seconds: float, senders: int, run: Run) -> None:
    """Each mention at its moment, evenly over `seconds`, through the signed webhook."""
    lock, step = threading.Lock(), seconds / len(said)
    run.sent_from = start = time.monotonic()

    def post(n: int) -> None:
        time.sleep(max(0.0, start + n * step - time.monotonic()))
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        began = time.monotonic()
        try:
            status = post_ingest(replica.url, mention_record(n + 1, text=said[n], created_at=stamp))
            answer = status.status
        except OSError as error:
            answer = type(error).__name__
        with lock:
            run.statuses[answer] += 1
            run.webhook_seconds.append(time.monotonic() - began)

    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(post, range(len(said))))
    run.sent_until = time.monotonic()


def backlog(sessions) -> int:
    """Outbox jobs waiting to be sent: every pending one, but reminders scheduled for later."""
    now = datetime.now(UTC)
    with sessions() as db:
        return db.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(
                Outbox.status == OutboxStatus.PENDING,
                or_(Outbox.kind != OutboxKind.NAG, Outbox.due_at <= now),
            )
        )


def watch(sessions, run: Run, stop: threading.Event) -> None:
    """Once a second: the backlog's size, and the moment it is gone after the last mention."""
    while not stop.wait(1.0):
        size = backlog(sessions)
        run.peak_backlog = max(run.peak_backlog, size)
        run.backlog_at_end = size
        if run.sent_until and size == 0 and run.drained_at is None:
            run.drained_at = time.monotonic()


def shown(fake: FakeSlack) -> tuple[Counter, int, int]:
    """In how many triage messages (cards, thread messages) each mention's author appears;
    how many cards and thread messages there are."""
    seen, cards, threads = Counter(), 0, 0
    for message in fake.messages(TRIAGE):
        cards += 1
        seen.update(_handles(message))
        for reply in fake.replies(TRIAGE, message["ts"]):
            threads += 1
            seen.update(_handles(reply))
    return seen, cards, threads


def _handles(message: dict) -> set[int]:
    said = json.dumps(message.get("blocks", []), ensure_ascii=False) + message.get("text", "")
    return {int(n) for n in HANDLE.findall(said)}


def drain(fake: FakeSlack, sessions, run: Run, timeout: float) -> None:
    """Wait until the backlog is gone and every mention is in Slack (or `timeout`)."""
    deadline = time.monotonic() + timeout
    everyone = set(range(1, run.count + 1))
    while time.monotonic() < deadline:
        if run.drained_at is not None and backlog(sessions) == 0:
            if everyone <= set(shown(fake)[0]):
                return
            run.drained_at = None  # something is still on its way
        time.sleep(2.0)


def busiest(times: list[float]) -> int:
    """The most of `times` (seconds) within any WINDOW."""
    times, most, first = sorted(times), 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= WINDOW:
            first += 1
        most = max(most, last - first + 1)
    return most


def rates(fake: FakeSlack) -> dict:
    """From the fake's log: accepted posts per channel and per workspace in any minute, updates
    in any minute, and every 429."""
    posts, per_channel = fake.calls("chat.postMessage"), defaultdict(list)
    for call in posts:
        if call.ok:
            per_channel[call.channel].append(call.at)
    top = max(per_channel, key=lambda c: busiest(per_channel[c]))
    updates = [c.at for c in fake.calls("chat.update") if c.ok]
    limited = Counter(c.method for c in fake.calls() if c.error == "ratelimited")
    return {
        "channel": fake.channel_name(top) if top else "",
        "channel_most": busiest(per_channel[top]),
        "triage_most": busiest(per_channel[fake.channel_id(TRIAGE)]),
        "workspace_most": busiest([c.at for c in posts if c.ok]),
        "updates_most": busiest(updates),
        "ratelimited": limited,
    }


def posted_twice(fake: FakeSlack) -> int:
    """Outbox jobs Slack accepted more than once (each post carries its job's id)."""
    accepted = Counter()
    for call in fake.calls("chat.postMessage"):
        metadata = call.params.get("metadata") or {}
        if call.ok and metadata.get("event_type") == METADATA_TYPE:
            accepted[(metadata.get("event_payload") or {}).get("outbox_id")] += 1
    return sum(n - 1 for n in accepted.values() if n > 1)


def stored(sessions) -> tuple[int, int, Counter]:
    with sessions() as db:
        mentions = db.scalar(select(func.count()).select_from(Mention))
        dead = db.scalar(
            select(func.count()).select_from(Outbox).where(Outbox.status == OutboxStatus.DEAD)
        )
        by_kind = select(Outbox.kind, func.count()).group_by(Outbox.kind)
        kinds = Counter({str(kind): n for kind, n in db.execute(by_kind).all()})
    return mentions, dead, kinds


def measure(args, url: str, folder: Path) -> tuple[Run, dict]:
    limits = Limits()
    fake = local_slack(limits)
    migrate(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    env = replica_env(fake, url, example_config_file(folder), REPLICA_NAME="surge")
    replica = ServerProcess(env, folder / "replica.log")
    run, stop = Run(args.count), threading.Event()
    try:
        time.sleep(args.rest)  # started, migrated, warmed up, idle
        run.memory_at_rest = memory_kib(replica.process.pid)
        watcher = threading.Thread(target=watch, args=(sessions, run, stop), daemon=True)
        watcher.start()
        said = texts(args.count, args.ordinary_every)
        send(replica, said, args.minutes * 60, args.senders, run)
        print(f"sent {args.count} in {run.sent_until - run.sent_from:.0f} s: {run.statuses}")
        drain(fake, sessions, run, args.drain_timeout)
        run.memory_after = memory_kib(replica.process.pid)
        stop.set()
        watcher.join()
        mentions, dead, kinds = stored(sessions)
        seen, cards, threads = shown(fake)
        facts = rates(fake) | {
            "mentions": mentions,
            "dead": dead,
            "kinds": kinds,
            "missing": sorted(set(range(1, args.count + 1)) - set(seen)),
            "twice": sorted(n for n, times in seen.items() if times > 1),
            "posted_twice": posted_twice(fake),
            "cards": cards,
            "threads": threads,
            "alerts": len(fake.messages(ORG.channels.rapid_response)),
            "limit": round(limits.post_per_second_per_channel * WINDOW)
            + limits.post_burst_per_channel,
            "workspace_limit": limits.workspace_posts_per_minute,
            "update_limit": limits.tier_per_minute["chat.update"],
        }
    finally:
        stop.set()
        replica.stop()
        engine.dispose()
        fake.stop()
    return run, facts


def report(args, run: Run, facts: dict, database: str) -> list[dict]:
    count, accepted = args.count, run.statuses.get(202, 0)
    drained = (
        f"{run.drained_at - run.sent_until:.0f} s after the last mention"
        if run.drained_at
        else f"NOT drained within {args.drain_timeout:.0f} s ({run.backlog_at_end} left)"
    )
    limited = ", ".join(f"{n} {m}" for m, n in facts["ratelimited"].items()) or "none"
    missing, twice = facts["missing"], facts["twice"]
    lines = {
        "accepted by the webhook (202)": f"{accepted:,} of {count:,} ({dict(run.statuses)})",
        "webhook latency p50 / p99": f"{percentile(run.webhook_seconds, 0.5) * 1000:.0f} / "
        f"{percentile(run.webhook_seconds, 0.99) * 1000:.0f} ms",
        "stored": f"{facts['mentions']:,}",
        "in Slack (a card or a roll-up thread)": f"{count - len(missing):,}"
        + (f"; missing {_some(missing)}" if missing else ""),
        "shown twice": f"{len(twice)}" + (f": {_some(twice)}" if twice else ""),
        "outbox jobs posted twice / dead": f"{facts['posted_twice']} / {facts['dead']}",
        "triage cards / thread messages / surge alerts": f"{facts['cards']} / "
        f"{facts['threads']} / {facts['alerts']}",
        "most posts in one channel in any 60 s": f"{facts['channel_most']} in "
        f"#{facts['channel']} (limit {facts['limit']}); #{TRIAGE}: {facts['triage_most']}",
        "most posts in the workspace in any 60 s": f"{facts['workspace_most']} "
        f"(limit {facts['workspace_limit']})",
        "most chat.update in any 60 s": f"{facts['updates_most']} (limit {facts['update_limit']})",
        "answered 429 (ratelimited)": limited,
        "peak outbox backlog": f"{run.peak_backlog:,} jobs",
        "backlog drained": drained,
        "replica VmRSS at rest / after the surge / peak": f"{mib(run.memory_at_rest['VmRSS'])} / "
        f"{mib(run.memory_after['VmRSS'])} / {mib(run.memory_after['VmHWM'])}",
    }
    title = f"{count:,} mentions in {args.minutes:g} min, {database}"
    print(f"\n{title}, one replica at the product's pace, the fake at Slack's limits\n")
    print("| measure | result |\n| --- | --- |")
    for name, value in lines.items():
        print(f"| {name} | {value} |")
    print(f"\noutbox jobs by kind: {dict(facts['kinds'])}")
    bench = f"Surge: {title}"
    ok_lost = accepted == count == facts["mentions"] and not missing and not facts["dead"]
    ok_twice = not twice and not facts["posted_twice"]
    ok_rate = facts["channel_most"] <= facts["limit"]
    channel_line = lines["most posts in one channel in any 60 s"]
    figures = [
        ("none lost: stored / in Slack", f"{facts['mentions']:,} / {count - len(missing):,} of "
         f"{count:,}", _verdict(ok_lost)),
        ("none posted twice: mentions shown twice / jobs posted twice",
         f"{len(twice)} / {facts['posted_twice']}", _verdict(ok_twice)),
        ("most posts in one channel in any 60 s", channel_line, _verdict(ok_rate)),
        ("429s answered; busiest 60 s of workspace posts, of chat.update", limited,
         f"{facts['workspace_most']} of {facts['workspace_limit']}, "
         f"{facts['updates_most']} of {facts['update_limit']}"),
        ("outbox backlog drained", drained, ("" if run.drained_at else "FAILED; ")
         + f"peak {run.peak_backlog:,} jobs; {facts['cards']} cards, {facts['threads']} "
         "thread messages"),
        ("webhook latency during the surge (p50 / p99)", lines["webhook latency p50 / p99"], ""),
    ]  # fmt: skip
    memory = (
        f"{mib(run.memory_at_rest['VmRSS'])} / {mib(run.memory_after['VmRSS'])}",
        f"peak (VmHWM) {mib(run.memory_after['VmHWM'])}",
    )
    return [row(bench, *figure) for figure in figures] + [
        row("Memory", "replica VmRSS at rest / after the surge", *memory)
    ]


def _some(numbers: list[int]) -> str:
    shown_ = ", ".join(f"@user{n}" for n in numbers[:10])
    return shown_ + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def _verdict(ok: bool) -> str:
    return "ok" if ok else "FAILED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--ordinary-every", type=int, default=50)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--rest", type=float, default=5.0, help="seconds idle before sending")
    parser.add_argument("--drain-timeout", type=float, default=1800.0)
    parser.add_argument("--postgres", default=POSTGRES_URL)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    add_json_option(parser)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-surge-"))
    if args.sqlite:
        run, facts = measure(args, f"sqlite:///{folder}/surge.db", folder)
    else:
        url, drop = postgres_database(args.postgres, "_surge_slack")
        try:
            run, facts = measure(args, url, folder)
        finally:
            drop()
    rows = report(args, run, facts, "SQLite" if args.sqlite else "PostgreSQL")
    if any("FAILED" in r["reference"] for r in rows):
        print(f"replica log kept: {folder / 'replica.log'}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
