"""The built-in local Slack workspace: the whole bot, offline, with no Slack account.

It starts the fake Slack Web API with the organisation's people and channels, runs one replica
against it exactly as against Slack (only SLACK_API_URL differs), feeds it the Brightwave sample
mentions through the signed webhook, and prints what lands in which channel.
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import shutil
import threading
import time
from pathlib import Path

from pydantic import SecretStr

from bot.config import OrgConfig
from bot.fakeslack import FakeSlack, Limits
from bot.ingest import sign
from bot.runtime import build_replica
from bot.settings import Settings
from bot.workspace_seed import seed_workspace

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "brightwave-mentions.jsonl"
LOCAL_DATABASE = ROOT / "var" / "local-workspace.db"


def run_local_workspace(settings: Settings, org: OrgConfig, *, every: float) -> None:
    """Run until Ctrl-C. The database starts empty each time, like the in-memory workspace."""
    for stale in LOCAL_DATABASE.parent.glob(LOCAL_DATABASE.name + "*"):
        stale.unlink()
    token, ingest_secret = f"xoxb-local-{secrets.token_hex(12)}", secrets.token_hex(16)
    fake = FakeSlack(bot_token=token, limits=Limits()).start()
    seed_workspace(fake, org)
    local = settings.model_copy(
        update={
            "slack_bot_token": SecretStr(token),
            "slack_signing_secret": SecretStr(secrets.token_hex(16)),
            "slack_app_token": None,
            "ingest_secret": SecretStr(ingest_secret),
            "slack_api_url": fake.url,
            "database_url": f"sqlite:///{LOCAL_DATABASE}",
        }
    )
    replica = build_replica(local, org).start()
    fake.subscribe(TerminalView(fake).show)
    print(banner(fake, replica.url, org), flush=True)
    feeder = threading.Thread(
        target=feed, args=(replica.url, ingest_secret, every, replica.stopping), daemon=True
    )
    feeder.start()
    try:
        replica.wait()
    finally:
        replica.stop()
        fake.stop()


def banner(fake: FakeSlack, bot_url: str, org: OrgConfig) -> str:
    return (
        f"Local Slack workspace at {fake.url} (no Slack needed; nothing leaves this machine)\n"
        f"Bot listening at {bot_url}: POST /ingest, GET /healthz, GET /metrics\n"
        f"Feeding {SAMPLES.name} into #{org.channels.triage}. Ctrl-C stops.\n"
    )


def feed(bot_url: str, secret: str, every: float, stop: threading.Event) -> None:
    """Send each sample mention through the signed webhook, as a social source would."""
    import urllib.request

    for line in SAMPLES.read_text(encoding="utf-8").splitlines():
        if stop.wait(every):
            return
        record = json.loads(line)
        record["external_id"] = record.pop("id")
        record.pop("labels", None)
        body = json.dumps(record).encode()
        stamp = str(int(time.time()))
        headers = {"X-Ingest-Timestamp": stamp, "X-Ingest-Signature": sign(secret, stamp, body)}
        request = urllib.request.Request(f"{bot_url}/ingest", data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=10):
            pass


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
