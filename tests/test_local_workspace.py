"""The README's first command: the bot on its built-in local Slack workspace, fed with samples."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.support import ROOT, free_port


def test_the_local_workspace_shows_cards_landing_in_triage(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env |= {"PORT": str(free_port()), "HOST": "127.0.0.1"}
    out = tmp_path / "out.txt"
    with out.open("w") as stdout:
        process = subprocess.Popen(
            [sys.executable, "app.py", "local", "--every", "0.05"],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and out.read_text().count("#social-triage") < 5:
                time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(timeout=10)
    text = out.read_text()
    assert "Local Slack workspace at http://127.0.0.1:" in text
    assert text.count("#social-triage") >= 5
    assert "New X mention from @big_phil_79: Love how @BrightwaveHelp" in text
