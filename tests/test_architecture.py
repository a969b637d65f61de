"""The layout's rules, read from the imports: the domain knows nothing of Slack or the runtime."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SLACK_MD_SCOPES = {
    "chat:write",
    "chat:write.public",
    "commands",
    "channels:manage",
    "groups:write",
    "channels:read",
    "groups:read",
    "users:read",
    "im:write",
    "files:write",
}


def imports(folder: str) -> dict[Path, set[str]]:
    found = {}
    for path in (ROOT / folder).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[path.relative_to(ROOT)] = names
    return found


def test_the_domain_imports_no_slack_llm_x_or_runtime():
    forbidden = {"slack_sdk", "slack_bolt", "openai", "tweepy", "bot", "handlers"}
    for path, names in imports("escalation").items():
        assert not names & forbidden, f"{path} imports {names & forbidden}"


def test_each_outside_service_has_one_module_that_talks_to_it():
    owners = {
        "tweepy": Path("bot/sources/x.py"),
        "mastodon": Path("bot/sources/mastodon.py"),
        "atproto": Path("bot/sources/bluesky.py"),
        "openai": Path("bot/llm.py"),
    }
    for folder in ("bot", "escalation", "handlers", "prompts"):
        for path, names in imports(folder).items():
            for name in names & owners.keys():
                assert path == owners[name], f"{path} imports {name}"


def test_only_the_app_factory_imports_the_handlers():
    for path, names in imports("bot").items():
        if "handlers" in names:
            assert path == Path("bot/runtime.py"), path


def test_the_manifest_asks_for_what_the_bot_needs():
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # history: the delivery worker looks a message up before re-sending after a crash
    assert SLACK_MD_SCOPES | {"channels:history", "groups:history"} <= scopes
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"]
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
