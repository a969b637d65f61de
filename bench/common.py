"""What the benchmarks share: a local Slack workspace and a replica's settings against it."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.fakeslack import FakeSlack, Limits  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.workspace_seed import seed_workspace  # noqa: E402
from tests.support import INGEST_SECRET, ORG  # noqa: E402

TOKEN = "xoxb-bench-token"
SIGNING_SECRET = "bench-signing-secret"


def local_slack(limits: Limits | None = None) -> FakeSlack:
    """The fake Slack with Brightwave's people and channels, started."""
    fake = FakeSlack(bot_token=TOKEN, limits=limits or Limits()).start()
    seed_workspace(fake, ORG)
    return fake


def settings_for(fake: FakeSlack, database_url: str, **overrides) -> Settings:
    """A replica's settings against `fake`, on `database_url`, listening on a free port."""
    values = {
        "slack_bot_token": TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "ingest_secret": INGEST_SECRET,
        "slack_api_url": fake.url,
        "database_url": database_url,
        "host": "127.0.0.1",
        "port": 0,
    }
    return Settings(**(values | overrides))
