"""`app.py replay FILE.jsonl`: mentions from a file, deduplicated exactly as the webhook does.

Each line is what POST /ingest takes, or a record of the labelled data set (`id` for
`external_id`; `labels` are ignored), so exported or captured mentions can be fed back in.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from bot.config import OrgConfig
from bot.db import make_engine, migrate, session_factory
from bot.delivery import utcnow
from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.settings import Settings
from escalation.mentions import NewMention

IGNORED_KEYS = ("labels",)


@dataclass
class ReplayReport:
    read: int = 0
    results: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "read": self.read,
            "new": self.results["new"],
            "duplicate": self.results["dup"],
            "invalid": len(self.problems),
        }


def as_mention(record: object) -> NewMention:
    """A JSON record as a mention; raises ValueError or ValidationError naming the field."""
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    record = {k: v for k, v in record.items() if k not in IGNORED_KEYS}
    if "external_id" not in record and "id" in record:
        record["external_id"] = str(record.pop("id"))
    return NewMention.model_validate_json(json.dumps(record))


def replay_lines(lines, ingestor: Ingestor, source_name: str) -> ReplayReport:
    report = ReplayReport()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        report.read += 1
        try:
            mention = as_mention(json.loads(line))
        except json.JSONDecodeError as exc:
            report.problems.append(f"{source_name}:{number}: not valid JSON ({exc.msg})")
            continue
        except (ValueError, ValidationError) as exc:
            report.problems.append(f"{source_name}:{number}: {describe(exc)}")
            continue
        _, created = ingestor.take(mention)
        report.results["new" if created else "dup"] += 1
    return report


def describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)


def replay_file(path: Path, settings: Settings, org: OrgConfig) -> ReplayReport:
    """Store every new mention of `path` and queue its card; a running bot delivers them."""
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        ingestor = Ingestor.for_org(org, session_factory(engine), Metrics(), utcnow)
        with path.open(encoding="utf-8") as lines:
            return replay_lines(lines, ingestor, path.name)
    finally:
        engine.dispose()
