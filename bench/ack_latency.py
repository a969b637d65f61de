"""Acknowledgement latency: a click on Claim, from signed request to HTTP 200, under 50
concurrent clicks, against a Bolt app whose listener only calls ack(), in the same run.

Slack gives a listener 3 seconds to acknowledge; the bot acknowledges first and does the work
after, so its latency should stay close to the bare Bolt app's.

    python bench/ack_latency.py [--concurrency 50] [--rounds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt import App  # noqa: E402
from slack_bolt.adapter.wsgi import SlackRequestHandler  # noqa: E402
from slack_sdk import WebClient  # noqa: E402
from waitress.server import create_server  # noqa: E402

from bench.common import SIGNING_SECRET, TOKEN, local_slack, settings_for  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.fakeslack import FakeSlack, Limits, SlackDriver  # noqa: E402
from bot.runtime import build_replica  # noqa: E402
from tests.support import ORG, mention_record, post_ingest, with_agents  # noqa: E402


def bare_bolt(fake: FakeSlack) -> tuple[object, str]:
    """The baseline: Bolt behind the same server, with a listener that only acknowledges."""
    app = App(signing_secret=SIGNING_SECRET, client=WebClient(TOKEN, base_url=fake.url))
    app.action("case-claim")(lambda ack: ack())
    server = create_server(SlackRequestHandler(app), host="127.0.0.1", port=0, threads=16)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


def click_all(driver: SlackDriver, cards: list[str], users: list[str]) -> list[float]:
    """Everyone clicks Claim on a card of their own, all at once; seconds to each HTTP 200."""

    def click(pair):
        user, ts = pair
        started = time.perf_counter()
        result = driver.click(user, ORG.channels.triage, ts, "case-claim")
        assert result.status == 200, result
        return time.perf_counter() - started

    with ThreadPoolExecutor(len(cards)) as pool:
        return list(pool.map(click, zip(users, cards, strict=True)))


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    users = [f"U0BENCH{n:03d}" for n in range(args.concurrency)]
    fake = local_slack(Limits(enabled=False))
    for user in users:
        fake.add_user(user, name=user.lower(), real_name=user)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        migrate(url)
        settings = settings_for(
            fake,
            url,
            channel_rate_per_second=1000,
            channel_burst=100,
        )
        replica = build_replica(settings, with_agents(ORG, users), run_migrations=False).start()
        total = args.concurrency * (args.rounds + 1)
        for n in range(total):
            assert post_ingest(replica.url, mention_record(n)).status == 202
        while len(fake.messages(ORG.channels.triage)) < total:
            time.sleep(0.05)
        cards = [m["ts"] for m in fake.messages(ORG.channels.triage)]
        _server, baseline_url = bare_bolt(fake)
        bot = SlackDriver(fake, bot_url=replica.url, signing_secret=SIGNING_SECRET)
        bare = SlackDriver(fake, bot_url=baseline_url, signing_secret=SIGNING_SECRET)
        measured, baseline = [], []
        for round_ in range(args.rounds + 1):  # round 0 warms both up
            batch = cards[round_ * args.concurrency : (round_ + 1) * args.concurrency]
            bare_round, bot_round = click_all(bare, batch, users), click_all(bot, batch, users)
            if round_:
                baseline += bare_round
                measured += bot_round
        replica.stop()
    fake.stop()
    report(args.concurrency, measured, baseline)


def report(concurrency: int, measured: list[float], baseline: list[float]) -> None:
    rows = [("bot: Claim", measured), ("Bolt listener that only acks", baseline)]
    print(f"{len(measured)} clicks, {concurrency} at a time\n")
    print("| listener | p50 | p99 |")
    print("| --- | --- | --- |")
    for name, values in rows:
        print(
            f"| {name} | {percentile(values, 0.5) * 1000:.1f} ms | "
            f"{percentile(values, 0.99) * 1000:.1f} ms |"
        )
    p50 = percentile(measured, 0.5) / percentile(baseline, 0.5)
    p99 = percentile(measured, 0.99) / percentile(baseline, 0.99)
    print(f"\nratio bot / bare Bolt: p50 {p50:.2f}, p99 {p99:.2f}")


if __name__ == "__main__":
    main()
