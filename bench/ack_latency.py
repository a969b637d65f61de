"""Acknowledgement latency: from signed request to HTTP 200, for a click on Claim, the choice of
a department to escalate to (which opens the modal), the escalation modal's submission and the
`/social digest` command, 50 and then 200 at once, against a Bolt app whose listeners only call
ack(), behind the same server, in the same run.

Slack gives a listener 3 seconds to acknowledge; the bot acknowledges first and does the work
after (a modal submission is acknowledged once its change is committed, so that a refusal can
be shown in the modal), so its latency should stay close to the bare Bolt app's. Each batch
meets an idle bot: the work acknowledged before it is finished first.

On PostgreSQL by default (a new database, dropped at the end), or on SQLite with --sqlite.
What the bot logs is counted, not shown: the count of each kind of error is printed at the end.

    python bench/ack_latency.py [--concurrency 50 200] [--samples 500] [--sqlite] [--json FILE]
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt import App  # noqa: E402
from slack_bolt.adapter.wsgi import SlackRequestHandler  # noqa: E402
from slack_sdk import WebClient  # noqa: E402
from waitress.server import create_server  # noqa: E402

from bench.common import (  # noqa: E402
    POSTGRES_URL,
    SIGNING_SECRET,
    TOKEN,
    add_json_option,
    local_slack,
    percentile,
    row,
    settings_for,
    write_rows,
)
from bench.ingest import postgres_database  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.fakeslack import DriverResult, FakeSlack, Limits, SlackDriver  # noqa: E402
from bot.runtime import build_replica  # noqa: E402
from bot.views.ids import ActionId, CallbackId  # noqa: E402
from bot.views.modals import escalate_modal  # noqa: E402
from tests.support import ORG, mention_record, post_ingest, with_agents  # noqa: E402

TRIAGE = ORG.channels.triage
DIRECTORY = ORG.directory()
DEPARTMENT = "billing"
QUESTION = {"question": "Was the customer charged twice in October?"}
ACK_DEADLINE = 3.0  # seconds: Slack shows the person an error after that
TIMEOUT = 10.0  # seconds the driver waits for an answer
COMMAND, COMMAND_TEXT = "/social", "digest"
ACTIONS = (
    "Claim",
    "Escalate: choose a department (opens the modal)",
    "Escalate: submit the modal",
    f"{COMMAND} {COMMAND_TEXT}",
)


@dataclass(frozen=True)
class Card:
    ts: str
    case_id: str


@dataclass
class Timings:
    """Seconds to each HTTP answer, per action; refused or failed requests are counted apart."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: {a: [] for a in ACTIONS})
    failed: dict[str, Counter] = field(default_factory=lambda: {a: Counter() for a in ACTIONS})
    no_modal: int = 0  # the bot never opened the modal (its views.open came too late, say)

    def add(self, action: str, results: list[DriverResult]) -> None:
        for result in results:
            if result.status == 200:
                self.seconds[action].append(result.elapsed)
            else:
                self.failed[action][result.status] += 1


def bare_bolt(fake: FakeSlack) -> tuple[object, str]:
    """The baseline: Bolt behind the same server, with listeners that only acknowledge."""
    app = App(signing_secret=SIGNING_SECRET, client=WebClient(TOKEN, base_url=fake.url))
    app.action(ActionId.CLAIM)(lambda ack: ack())
    app.action(ActionId.ESCALATE)(lambda ack: ack())
    app.view(CallbackId.ESCALATE)(lambda ack: ack())
    app.command(COMMAND)(lambda ack: ack())
    server = create_server(SlackRequestHandler(app), host="127.0.0.1", port=0, threads=16)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


def cards_of(fake: FakeSlack) -> list[Card]:
    """The triage cards, with the case each is about (the value of its Claim button)."""
    cards = []
    for message in fake.messages(TRIAGE):
        for block in message.get("blocks", []):
            for element in block.get("elements", []):
                if element.get("action_id") == ActionId.CLAIM:
                    cards.append(Card(message["ts"], element["value"]))
    return cards


def at_once(pool: ThreadPoolExecutor, request: Callable, items: list) -> list[DriverResult]:
    """Everyone sends their request at the same moment; the answers, in order (status 0: no
    answer within the driver's timeout)."""
    gate = threading.Barrier(len(items))

    def send(item):
        gate.wait()
        try:
            return request(*item) if isinstance(item, tuple) else request(item)
        except OSError as error:  # timeouts included
            return DriverResult(0, type(error).__name__, {}, elapsed=TIMEOUT)

    return list(pool.map(send, items))


def has_modal(fake: FakeSlack, user: str) -> bool:
    with fake.workspace.lock:
        return bool(fake.workspace.modal_stacks.get(user))


def open_modals(fake: FakeSlack, pool: ThreadPoolExecutor, pairs: list[tuple[str, Card]]) -> None:
    """Show each person the escalation modal of their card, as the bot would (for the baseline,
    whose listener opens nothing)."""
    client = WebClient(TOKEN, base_url=fake.url)

    def show(user: str, card: Card) -> None:
        view = escalate_modal(int(card.case_id), DEPARTMENT, DIRECTORY)
        client.views_open(trigger_id=fake.trigger_id(user), view=view)

    list(pool.map(lambda pair: show(*pair), pairs))


def wait_for_modals(fake: FakeSlack, users: list[str], timeout: float = 15.0) -> list[str]:
    """The people who see a modal once the bot has opened them (or `timeout` has passed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(has_modal(fake, user) for user in users):
            break
        time.sleep(0.05)
    return [user for user in users if has_modal(fake, user)]


@dataclass
class Rig:
    """The fake Slack, the bot (a replica in this process) and the bare Bolt app's driver."""

    fake: FakeSlack
    replica: object
    bot: SlackDriver
    bare: SlackDriver

    def settle(self, quiet: float = 1.0, timeout: float = 300.0) -> None:
        """Wait until the bot has finished the work it acknowledged: no database connection
        in use (but the delivery worker's) and no Slack call for `quiet` seconds, so that each
        batch meets an idle bot."""
        pool, deadline = self.replica.engine.pool, time.monotonic() + timeout
        seen, since = len(self.fake.calls()), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            calls = len(self.fake.calls())
            if calls != seen or pool.checkedout() > 1:
                seen, since = calls, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return


def one_round(rig: Rig, pool, users, claim_cards, escalate_cards, into: dict) -> None:
    """Each action, everyone at once, against the bare Bolt app, then against the idle bot."""
    fake, bare, bot = rig.fake, rig.bare, rig.bot
    claims = list(zip(users, claim_cards, strict=True))
    for name, driver in (("bare", bare), ("bot", bot)):
        click = partial(_claim, driver)
        into[name].add(ACTIONS[0], at_once(pool, click, claims))
        rig.settle()
    pairs = list(zip(users, escalate_cards, strict=True))
    into["bare"].add(ACTIONS[1], at_once(pool, partial(_choose, bare), pairs))
    open_modals(fake, pool, pairs)
    into["bare"].add(ACTIONS[2], at_once(pool, lambda u: bare.submit(u, values=QUESTION), users))
    rig.settle()
    into["bot"].add(ACTIONS[1], at_once(pool, partial(_choose, bot), pairs))
    shown = wait_for_modals(fake, users)
    into["bot"].no_modal += len(users) - len(shown)
    rig.settle()
    if shown:
        into["bot"].add(ACTIONS[2], at_once(pool, lambda u: bot.submit(u, values=QUESTION), shown))
        rig.settle()
    for name, driver in (("bare", bare), ("bot", bot)):
        results = at_once(pool, lambda u, d=driver: d.command(u, COMMAND, COMMAND_TEXT), users)
        into[name].add(ACTIONS[3], results)
        rig.settle()


def _claim(driver: SlackDriver, user: str, card: Card) -> DriverResult:
    return driver.click(user, TRIAGE, card.ts, ActionId.CLAIM)


def _choose(driver: SlackDriver, user: str, card: Card) -> DriverResult:
    """Choose a department in the card's "Escalate to…" menu."""
    option = f"{card.case_id}|{DEPARTMENT}"
    return driver.click(user, TRIAGE, card.ts, ActionId.ESCALATE, option=option)


class Tally(logging.Handler):
    """Counts what is logged (by its first line), instead of printing it."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        first = record.getMessage().splitlines()[0]
        self.seen[f"{record.levelname} {record.name}: {re.sub(r'[0-9a-f]{12}', '…', first)}"] += 1


def rounds_for(size: int, samples: int) -> int:
    """Rounds of `size` requests that give at least `samples` of each action (and one more,
    first, to warm up)."""
    return max(1, math.ceil(samples / size))


def measure(url: str, concurrency: list[int], samples: int) -> dict[int, dict[str, Timings]]:
    users = [f"U0BENCH{n:03d}" for n in range(max(concurrency))]
    fake = local_slack(Limits(enabled=False))
    for user in users:
        fake.add_user(user, name=user.lower(), real_name=user)
    migrate(url)
    settings = settings_for(
        fake,
        url,
        channel_rate_per_second=1000,
        channel_burst=100,
        update_rate_per_minute=60_000,
        update_burst=100,
        nag_tick_seconds=86_400,  # no reminders among the clicks
    )
    replica = build_replica(settings, with_agents(ORG, users), run_migrations=False).start()
    total = 2 * sum(size * (rounds_for(size, samples) + 1) for size in concurrency)
    with ThreadPoolExecutor(8) as pool:
        answers = pool.map(lambda n: post_ingest(replica.url, mention_record(n)), range(total))
        assert {a.status for a in answers} == {202}
    while len(fake.messages(TRIAGE)) < total:
        time.sleep(0.2)
    cards = iter(cards_of(fake))
    server, baseline_url = bare_bolt(fake)
    rig = Rig(
        fake,
        replica,
        bot=SlackDriver(fake, bot_url=replica.url, signing_secret=SIGNING_SECRET, timeout=TIMEOUT),
        bare=SlackDriver(
            fake, bot_url=baseline_url, signing_secret=SIGNING_SECRET, timeout=TIMEOUT
        ),
    )
    rig.settle()
    figures = {}
    for size in concurrency:
        measured = {"bare": Timings(), "bot": Timings()}
        with ThreadPoolExecutor(size) as pool:
            for round_ in range(rounds_for(size, samples) + 1):  # round 0 warms both up
                into = measured if round_ else {"bare": Timings(), "bot": Timings()}
                claim = [next(cards) for _ in range(size)]
                escalate = [next(cards) for _ in range(size)]
                one_round(rig, pool, users[:size], claim, escalate, into)
        figures[size] = measured
    rig.settle()
    replica.stop()
    server.close()
    fake.stop()
    return figures


def failures(timings: Timings, action: str) -> str:
    """The requests of `action` that got no acknowledgement in time, by why."""
    said = {
        404: "not acknowledged within Bolt's 3 s (HTTP 404)",
        0: f"no answer within {TIMEOUT:.0f} s",
    }
    parts = [
        f"{n} {said.get(status, f'HTTP {status}')}" for status, n in timings.failed[action].items()
    ]
    if action == ACTIONS[2] and timings.no_modal:
        parts.append(f"{timings.no_modal} modals never opened (so not submitted)")
    return "; ".join(parts)


def report(figures: dict[int, dict[str, Timings]], samples: int, database: str) -> list[dict]:
    print(f"{database}; {samples}+ requests per action and level, after a round of warm-up\n")
    print("| action | at once | bot p50 | bot p99 | bare Bolt p50 | bare Bolt p99 | over 3 s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rows, troubles = [], []
    for size, measured in figures.items():
        bot, bare = measured["bot"], measured["bare"]
        for action in ACTIONS:
            mine, base = bot.seconds[action], bare.seconds[action]
            asked = len(mine) + sum(bot.failed[action].values())
            if not mine or not base:
                troubles.append(
                    f"{action}, {size} at once: nothing answered; {failures(bot, action)}"
                )
                continue
            p50, p99 = percentile(mine, 0.5) * 1000, percentile(mine, 0.99) * 1000
            b50, b99 = percentile(base, 0.5) * 1000, percentile(base, 0.99) * 1000
            late = sum(s > ACK_DEADLINE for s in mine)
            print(
                f"| {action} | {size} | {p50:.0f} ms | {p99:.0f} ms | {b50:.0f} ms | "
                f"{b99:.0f} ms | {late} of {len(mine)} |"
            )
            failed, base_failed = failures(bot, action), failures(bare, action)
            if failed or base_failed:
                troubles.append(f"{action}, {size} at once: bot: {failed or 'none'}; "
                                f"bare Bolt: {base_failed or 'none'}")  # fmt: skip
            result = f"{p50:.0f} / {p99:.0f} ms"
            if failed or late:
                result += f" ({asked - len(mine) + late} of {asked} over 3 s)"
            rows.append(
                row(
                    f"Ack latency ({database})",
                    f"{action}, {size} at once (p50 / p99)",
                    result,
                    f"bare Bolt {b50:.0f} / {b99:.0f} ms; ratio {p50 / b50:.2f} / {p99 / b99:.2f}",
                )
            )
    if troubles:
        print("\nnot acknowledged in time:\n" + "\n".join(troubles))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--samples", type=int, default=500, help="per action and level")
    parser.add_argument("--postgres", default=POSTGRES_URL)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    add_json_option(parser)
    args = parser.parse_args()
    tally = Tally()
    logging.getLogger().addHandler(tally)  # instead of Python's last resort: stderr
    if args.sqlite:
        with tempfile.TemporaryDirectory() as folder:
            figures = measure(f"sqlite:///{folder}/bench.db", args.concurrency, args.samples)
    else:
        url, drop = postgres_database(args.postgres, "_ack")
        try:
            figures = measure(url, args.concurrency, args.samples)
        finally:
            drop()
    rows = report(figures, args.samples, "SQLite" if args.sqlite else "PostgreSQL")
    if tally.seen:
        print("\nlogged meanwhile (count, first line):")
        for line, count in tally.seen.most_common(15):
            print(f"{count:6} {line[:160]}")
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
