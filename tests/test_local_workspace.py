"""The README's first command: the bot on its built-in local Slack workspace, fed with samples."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

from bot.local import SURGE_AFTER, quickened, sample_stream
from escalation.surge import SurgeConfig, Topics
from tests.support import ORG, ROOT, free_port


def test_the_local_workspace_serves_its_page_and_shows_cards_landing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env |= {"PORT": str(free_port()), "HOST": "127.0.0.1"}
    out = tmp_path / "out.txt"
    with out.open("w") as stdout:
        process = subprocess.Popen(
            [sys.executable, "app.py", "local", "--every", "0.05", "--port", "0"],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and out.read_text().count("#social-triage") < 5:
                time.sleep(0.2)
            page = re.search(r"Open (http://127\.0\.0\.1:\d+/) in your browser", out.read_text())
            assert page, out.read_text()
            with urllib.request.urlopen(page.group(1), timeout=5) as answer:
                assert b'<script type="module" src="/static/app.js">' in answer.read()
            state_url = f"{page.group(1)}client/state?user=U0AMIRA01&channel=social-triage"
            with urllib.request.urlopen(state_url, timeout=5) as answer:
                state = json.load(answer)
        finally:
            process.terminate()
            process.wait(timeout=10)
    text = out.read_text()
    assert text.count("#social-triage") >= 5
    assert "New X mention from @big_phil_79: Love how @BrightwaveHelp" in text
    triage = next(c for c in state["channels"] if c["name"] == "social-triage")
    assert state["channel"] == triage["id"] and state["messages"]


def test_quickened_targets_and_calendars_show_nags_within_minutes():
    fast = quickened(ORG, 30)
    assert fast.policies["P2"].first_reply == timedelta(minutes=2)
    assert fast.policies["P1"].acknowledge == timedelta(seconds=20)
    assert fast.policies["P4"].acknowledge is None
    assert fast.policy_overrides[0].acknowledge == timedelta(minutes=2)
    assert fast.ladder.unclaimed_after == timedelta(seconds=10)
    assert fast.ladder.owner_at == ORG.ladder.owner_at  # fractions stay as they are
    assert all(c.hours is None and not c.holidays for c in fast.calendars.values())
    assert fast.rapid_team.update_every.SEV1 == timedelta(minutes=1)
    assert ORG.policies["P2"].first_reply == timedelta(hours=1)  # the original is untouched


def test_the_sample_stream_carries_an_outage_surge_then_goes_on_with_new_ids():
    pairs = list(itertools.islice(sample_stream(every=3.0, seed=1), 300))
    finder = Topics(SurgeConfig())
    topics = [finder.key(record["text"]) for _, record in pairs]
    burst = pairs[SURGE_AFTER : SURGE_AFTER + 14]
    assert all(topic == "place:hull" for topic in topics[SURGE_AFTER : SURGE_AFTER + 14])
    assert sum(pause for pause, _ in burst) < 20 * 60  # within the detector's window
    assert SurgeConfig().min_count <= len(burst)
    assert all(0.3 <= pause <= 4.5 for pause, _ in pairs)
    ids = [record["external_id"] for _, record in pairs]
    assert len(ids) == len(set(ids))  # later rounds are new mentions, not duplicates
