"""What the benchmarks share: a local Slack workspace and a replica's settings against it,
percentiles, a replica process's memory, and the rows each benchmark hands to bench/run_all.py."""

from __future__ import annotations

import json
import statistics
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
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


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


def replica_env(fake: FakeSlack, database_url: str, config: Path, **overrides: str) -> dict:
    """The environment of `python app.py serve` against `fake` (for tests.support.ServerProcess)."""
    return {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "INGEST_SECRET": INGEST_SECRET,
        "SLACK_API_URL": fake.url,
        "DATABASE_URL": database_url,
        "BOT_CONFIG": str(config),
        "LOG_LEVEL": "WARNING",
    } | overrides


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile (0.5, 0.99...) of `values`, interpolated between samples."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(share * 1000) - 1]


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the peak) of a process, in KiB, from /proc."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def add_json_option(parser) -> None:
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the results there (bench/run_all.py)"
    )


def row(bench: str, measure: str, result: str, reference: str = "") -> dict:
    """One line of the results table: what was measured, the figure, its baseline or check."""
    return {"bench": bench, "measure": measure, "result": result, "reference": reference}


def write_rows(path: Path | None, rows: list[dict]) -> None:
    if path is not None:
        path.write_text(json.dumps(rows, indent=1, ensure_ascii=False))
