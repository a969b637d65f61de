"""The web client's own endpoints: what the page may read and do, and what it may not."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from bot.fakeslack.client import install_app
from tests.support import ROOT, request

MANIFEST = yaml.safe_load(Path(ROOT / "manifest.yaml").read_text())
AMIRA, TOM = "U0AMIRA01", "U0TOM0001"


@pytest.fixture
def page(fake_slack):
    """The fake workspace (seeded with ORG) with the app installed; its request URL answers
    nothing here."""
    install_app(fake_slack, MANIFEST, "http://127.0.0.1:9/slack/events", "secret", "social-triage")
    return fake_slack.root_url.rstrip("/")


def post(url: str, data: dict):
    return request(url, json.dumps(data).encode(), {"Content-Type": "application/json"})


def test_the_page_and_its_files_are_served_and_nothing_else(page):
    assert b"/static/app.js" in urllib.request.urlopen(page + "/", timeout=5).read()
    assert request(page + "/static/app.css").status == 200
    assert request(page + "/static/../client.py").status == 404
    assert request(page + "/static/%2e%2e/client.py").status == 404
    assert request(page + "/static/nothing.js").status == 404


def test_the_workspace_names_the_app_its_commands_and_people_with_titles(page):
    workspace = request(page + "/client/workspace").body
    assert workspace["app"]["name"] == "Social Escalation"
    assert [c["command"] for c in workspace["app"]["commands"]] == ["/rapid", "/social"]
    titles = {p["id"]: p["profile"]["title"] for p in workspace["people"]}
    assert titles[TOM] == "Lead, Billing & Payments"
    assert titles[AMIRA] == "Agent, Customer Care · rapid-action team"
    assert workspace["default_channel"] == "social-triage"


def test_a_person_sees_only_their_channels(page):
    state = request(f"{page}/client/state?user={TOM}&channel=esc-care").body
    names = {c["name"] for c in state["channels"]}
    assert names == {"social-triage", "esc-billing"}
    assert state["channel"] == ""  # not his channel: the page falls back to triage
    assert request(f"{page}/client/state?user=U0NOBODY1").status == 400


def test_refusals_say_why_and_change_nothing(page, fake_slack):
    unknown = post(page + "/client/command", {"user": AMIRA, "text": "/nope now"})
    assert unknown.status == 400 and "/rapid" in unknown.body["error"]
    outside = post(page + "/client/message", {"user": TOM, "channel": "esc-care", "text": "hi"})
    assert outside.status == 400 and "Join the channel" in outside.body["error"]
    assert post(page + "/client/click", {"user": AMIRA}).status == 400
    assert request(page + "/client/click", b"not json").status == 400
    assert fake_slack.messages("esc-care") == []


def test_a_long_poll_answers_as_soon_as_the_workspace_changes(page, fake_slack):
    since = request(page + "/client/wait?since=-1").body["version"]
    later = threading.Timer(0.3, fake_slack.add_message, ("social-triage", AMIRA, "hello"))
    later.start()
    started = time.monotonic()
    answer = request(f"{page}/client/wait?since={since}").body
    assert answer["version"] > since and time.monotonic() - started < 5
    posted = post(
        page + "/client/message", {"user": AMIRA, "channel": "social-triage", "text": "x"}
    )
    assert posted.status == 200
    assert [m["text"] for m in fake_slack.messages("social-triage")] == ["hello", "x"]
