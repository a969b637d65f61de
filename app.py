"""Social escalation bot: social-media mentions become owned, deadline-tracked cases in Slack.

Run with no command to try it: without Slack tokens it starts a built-in local Slack workspace.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.config import ConfigError, load_org_config
from bot.settings import Settings, SettingsError

log = logging.getLogger("app")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
        from bot.llm import LlmSettings
        from bot.logs import configure_logging
        from bot.sources.settings import SourceSettings

        secrets = settings.secret_values() + SourceSettings().secret_values()
        secrets += LlmSettings().secret_values()
        configure_logging(settings.log_level, secrets)
        org = load_org_config(settings.bot_config)
        return args.command(args, settings, org)
    except (ConfigError, SettingsError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


# The local workspace's defaults: a mention every 3 s or so, targets 30 times faster
# (a P2's first hour in 2 minutes), the page at http://127.0.0.1:8800/.
LOCAL = {"every": 3.0, "speed": 30.0, "port": 8800}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="app.py",
        description=__doc__,
        epilog="Settings come from the environment: see README.md, 'Settings'.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.set_defaults(command=run)
    commands = top.add_subparsers(title="commands", metavar="COMMAND")
    commands.add_parser(
        "run", help="the default: local workspace without Slack tokens, else serve"
    ).set_defaults(command=run)
    local = commands.add_parser(
        "local", help="a built-in local Slack workspace fed with Brightwave sample mentions"
    )
    local.add_argument(
        "--every", type=float, default=LOCAL["every"], help="seconds between sample mentions"
    )
    local.add_argument(
        "--speed",
        type=float,
        default=LOCAL["speed"],
        help="response targets and reminders this many times faster than configured",
    )
    local.add_argument(
        "--port", type=int, default=LOCAL["port"], help="where the web page is served"
    )
    local.set_defaults(command=run_local)
    commands.add_parser(
        "serve", help="HTTP mode for Slack (Socket Mode when SLACK_APP_TOKEN is set)"
    ).set_defaults(command=serve)
    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        command=migrate
    )
    replay = commands.add_parser("replay", help="take in mentions from a JSON Lines file")
    replay.add_argument("file", type=Path, help="one mention a line, as POST /ingest takes them")
    replay.set_defaults(command=run_replay)
    classify = commands.add_parser(
        "classify", help="triage mentions offline; with labels, report accuracy per field"
    )
    classify.add_argument("file", type=Path, help="one mention a line, as in samples/")
    classify.add_argument(
        "--report-only", action="store_true", help="print only the accuracy report"
    )
    classify.set_defaults(command=run_classify)
    from bot.report import add_arguments as report_arguments

    report = commands.add_parser(
        "report", help="per-case rows with every timestamp, and the KPIs, as CSV or JSON"
    )
    report_arguments(report)
    report.set_defaults(command=run_report)
    return top


def run(args, settings: Settings, org) -> int:
    if settings.slack_bot_token is None:
        vars(args).update(LOCAL)
        return run_local(args, settings, org)
    return serve(args, settings, org)


def serve(_args, settings: Settings, org) -> int:
    from bot.runtime import build_replica

    replica = build_replica(settings, org).start()
    try:
        replica.wait()
    finally:
        replica.stop()
    return 0


def run_local(args, settings: Settings, org) -> int:
    from bot.local import run_local_workspace

    run_local_workspace(settings, org, every=args.every, speed=args.speed, port=args.port)
    return 0


def migrate(_args, settings: Settings, _org) -> int:
    from bot.db import migrate as upgrade

    upgrade(settings.database_url)
    print(f"database is up to date: {redact_url(settings.database_url)}")
    return 0


def run_report(args, settings: Settings, org) -> int:
    from bot.report import run as write_report

    return write_report(args, settings.database_url, org)


def run_replay(args, settings: Settings, org) -> int:
    from bot.replay import replay_file

    report = replay_file(args.file, settings, org)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    print(json.dumps(report.counts()))
    return 1 if report.problems else 0


def run_classify(args, _settings: Settings, org) -> int:
    from bot.classify import run as classify_file
    from escalation.triage import TriageRules

    rules = TriageRules.from_config(org.triage)
    return classify_file(args.file, rules, sys.stdout, sys.stderr, args.report_only)


def redact_url(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
