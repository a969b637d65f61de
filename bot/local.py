"""The built-in local Slack workspace: the whole product, offline, in a browser.

It starts the fake Slack Web API with the organisation's people and channels, installs the app
from manifest.yaml (its request URL pointing at one replica, which runs exactly as against Slack:
only SLACK_API_URL differs), serves a Slack-like web client over that workspace, and feeds the
bot Brightwave's sample mentions through the signed webhook, an outage surge included. Response
targets are quickened (by `speed`) so that reminders and breaches show within minutes.
"""

from __future__ import annotations

import html
import json
import logging
import random
import secrets
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from pydantic import SecretStr

from bot.config import OrgConfig
from bot.fakeslack import FakeSlack, Limits
from bot.fakeslack.client import install_app
from bot.ingest import sign
from bot.runtime import Replica, build_replica
from bot.settings import Settings
from bot.workspace_seed import seed_workspace

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "brightwave-mentions.jsonl"
OUTAGE = ROOT / "samples" / "brightwave-outage.jsonl"
MANIFEST = ROOT / "manifest.yaml"
LOCAL_DATABASE = ROOT / "var" / "local-workspace.db"
SURGE_AFTER = 12  # ordinary mentions before the outage in Hull starts


@dataclass
class LocalWorkspace:
    fake: FakeSlack
    replica: Replica
    ingest_secret: str

    @property
    def page_url(self) -> str:
        return self.fake.root_url

    @classmethod
    def start(
        cls, settings: Settings, org: OrgConfig, *, database_url: str, port: int = 0
    ) -> LocalWorkspace:
        token, signing_secret = f"xoxb-local-{secrets.token_hex(12)}", secrets.token_hex(16)
        ingest_secret = secrets.token_hex(16)
        fake = _fake_slack(token, port)
        fake.workspace.team_name = org.brand
        seed_workspace(fake, org)
        local = settings.model_copy(
            update={
                "slack_bot_token": SecretStr(token),
                "slack_signing_secret": SecretStr(signing_secret),
                "slack_app_token": None,
                "ingest_secret": SecretStr(ingest_secret),
                "slack_api_url": fake.url,
                "database_url": database_url,
            }
        )
        replica = build_replica(local, org).start()
        manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
        request_url = f"{replica.url}/slack/events"
        install_app(fake, manifest, request_url, signing_secret, org.channels.triage)
        return cls(fake, replica, ingest_secret)

    def stop(self) -> None:
        self.replica.stop()
        self.fake.stop()


def _fake_slack(token: str, port: int) -> FakeSlack:
    """On the port asked for; on any free one if it is taken (another workspace is running)."""
    try:
        return FakeSlack(bot_token=token, limits=Limits(), port=port).start()
    except OSError:
        log.warning("port %s is taken: the local workspace takes a free one", port)
        return FakeSlack(bot_token=token, limits=Limits()).start()


def run_local_workspace(
    settings: Settings, org: OrgConfig, *, every: float, speed: float, port: int
) -> None:
    """Run until Ctrl-C. The database starts empty each time, like the in-memory workspace."""
    LOCAL_DATABASE.parent.mkdir(exist_ok=True)
    for stale in LOCAL_DATABASE.parent.glob(LOCAL_DATABASE.name + "*"):
        stale.unlink()
    settings = settings.model_copy(update={"nag_tick_seconds": min(settings.nag_tick_seconds, 2)})
    local = LocalWorkspace.start(
        settings, quickened(org, speed), database_url=f"sqlite:///{LOCAL_DATABASE}", port=port
    )
    local.fake.subscribe(TerminalView(local.fake).show)
    print(banner(local, org, speed), flush=True)
    feeder = threading.Thread(
        target=feed,
        args=(local.replica.url, local.ingest_secret, sample_stream(every), local.replica.stopping),
        daemon=True,
    )
    feeder.start()
    try:
        local.replica.wait()
    finally:
        local.stop()


def banner(local: LocalWorkspace, org: OrgConfig, speed: float) -> str:
    return (
        f"Open {local.page_url} in your browser: the local Slack workspace of {org.brand}.\n"
        f"(No Slack needed; nothing leaves this machine. Switch person at the top right.)\n"
        f"Bot listening at {local.replica.url}: POST /slack/events, POST /ingest, GET /healthz\n"
        f"Feeding sample mentions into #{org.channels.triage}, an outage surge after "
        f"{SURGE_AFTER}; response targets {speed:g} times faster than configured. "
        f"Ctrl-C stops.\n"
    )


# --- quickened deadlines ---------------------------------------------------------------------


def quickened(org: OrgConfig, speed: float) -> OrgConfig:
    """The organisation with every response target, reminder step and update cadence divided
    by `speed`, and every calendar open around the clock, so a demo shows nags in minutes."""

    def fast(value: timedelta | None) -> timedelta | None:
        return value / speed if value is not None else None

    def faster(model, *fields):
        return model.model_copy(update={f: fast(getattr(model, f)) for f in fields})

    targets = ("first_reply", "acknowledge", "resolve")
    cadence = org.rapid_team.update_every
    return org.model_copy(
        update={
            "policies": {key: faster(p, *targets) for key, p in org.policies.items()},
            "policy_overrides": [faster(p, *targets) for p in org.policy_overrides],
            "ladder": faster(org.ladder, "unclaimed_after", "repeat_every", "snooze"),
            "calendars": {
                key: c.model_copy(update={"hours": None, "holidays": []})
                for key, c in org.calendars.items()
            },
            "rapid_team": org.rapid_team.model_copy(
                update={"update_every": faster(cadence, *type(cadence).model_fields)}
            ),
        }
    )


# --- the sample stream -----------------------------------------------------------------------


def sample_stream(every: float, seed: int | None = None) -> Iterator[tuple[float, dict]]:
    """(pause before, mention) pairs, forever: the samples at about `every` seconds apart, the
    outage in Hull a burst after the first SURGE_AFTER, then the samples again with new ids."""
    regular = _records(SAMPLES)
    outage = _records(OUTAGE)
    jitter = random.Random(seed)
    for round_ in range(1, 1_000_000):
        for n, record in enumerate(regular):
            if round_ == 1 and n == SURGE_AFTER:
                for burst in outage:
                    yield every * jitter.uniform(0.1, 0.4), burst
            yield every * jitter.uniform(0.5, 1.5), _again(record, round_)


def _records(path: Path) -> list[dict]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record["external_id"] = record.pop("id")
        record.pop("labels", None)
        records.append(record)
    return records


def _again(record: dict, round_: int) -> dict:
    return record if round_ == 1 else record | {"external_id": f"{record['external_id']}-{round_}"}


def feed(bot_url: str, secret: str, stream: Iterator[tuple[float, dict]], stop: threading.Event):
    """Send each mention through the signed webhook, as a social source would, posted now."""
    for pause, record in stream:
        if stop.wait(pause):
            return
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        body = json.dumps(record | {"created_at": now}).encode()
        stamp = str(int(time.time()))
        headers = {"X-Ingest-Timestamp": stamp, "X-Ingest-Signature": sign(secret, stamp, body)}
        request = urllib.request.Request(f"{bot_url}/ingest", data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except OSError as error:  # the bot restarting or busy: the demo goes on
            log.warning("sample %s not taken: %s", record["external_id"], error)


class TerminalView:
    """One line a message, as a person scrolling Slack would read it."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake

    def show(self, event: dict) -> None:
        if event.get("type") not in ("message", "message_changed"):
            return
        message = event["message"]
        where = self.where(event["channel"])
        if message.get("thread_ts") not in (None, message.get("ts")):
            where += " ↳"
        text = html.unescape(" ".join(message.get("text", "").split()))
        width = max(40, shutil.get_terminal_size(fallback=(140, 24)).columns - 32)
        edited = " (edited)" if event["type"] == "message_changed" else ""
        clock = time.strftime("%H:%M:%S")
        print(f"{clock}  {where:<20} {text[:width]}{edited}", flush=True)

    def where(self, channel_id: str) -> str:
        """'#social-triage', or 'DM Priya Shah' for the bot's direct message with someone."""
        channel = next((c for c in self.fake.channels() if c["id"] == channel_id), {})
        if not channel.get("is_im"):
            return "#" + self.fake.channel_name(channel_id)
        names = {u["id"]: u.get("real_name") or u["name"] for u in self.fake.users()}
        person = next((m for m in channel.get("members", []) if m != self.fake.bot_user_id), "")
        return f"DM {names.get(person, person)}"
