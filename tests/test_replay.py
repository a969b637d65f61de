"""`app.py replay`: the labelled data set's format, deduplicated exactly like the webhook."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.replay import replay_file
from escalation.models import Mention, Outbox
from tests.conftest import replica_settings
from tests.support import ORG, ROOT, mention_record

SAMPLES = ROOT / "samples" / "brightwave-mentions.jsonl"


def test_replaying_twice_stores_each_mention_once(database_url, sessions, fake_slack):
    settings = replica_settings(database_url, fake_slack)
    first = replay_file(SAMPLES, settings, ORG)
    second = replay_file(SAMPLES, settings, ORG)
    assert first.counts() == {"read": 90, "new": 90, "duplicate": 0, "invalid": 0}
    assert second.counts() == {"read": 90, "new": 0, "duplicate": 90, "invalid": 0}
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Mention)) == 90
        assert db.scalar(select(func.count()).select_from(Outbox)) == 90


def test_invalid_lines_are_named_and_skipped(database_url, sessions, fake_slack, tmp_path):
    path = tmp_path / "mixed.jsonl"
    bad_followers = mention_record(2, author={"handle": "x", "followers": -5})
    lines = [json.dumps(mention_record(1)), "not json", "", json.dumps(bad_followers), "[1]"]
    path.write_text("\n".join(lines) + "\n")
    report = replay_file(path, replica_settings(database_url, fake_slack), ORG)
    assert report.counts() == {"read": 4, "new": 1, "duplicate": 0, "invalid": 3}
    assert report.problems == [
        "mixed.jsonl:2: not valid JSON (Expecting value)",
        "mixed.jsonl:4: author.followers: Input should be greater than or equal to 0",
        "mixed.jsonl:5: expected a JSON object",
    ]
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Mention)) == 1
