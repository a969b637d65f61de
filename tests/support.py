"""Test helpers: a running replica against the fake Slack, signed webhooks, waiting."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import load_org_config
from bot.ingest import sign

ROOT = Path(__file__).resolve().parent.parent


def without_digests(org):
    """The organisation with no manager's digest, for tests of everything else (a digest
    queued at start when it is past 08:00 would add direct messages to count)."""
    data = org.model_dump()
    for person in data["people"].values():
        if "manager" in person["roles"]:
            person["digest"] = False
    return type(org).model_validate(data)


EXAMPLE_ORG = load_org_config(ROOT / "config.example.yaml")
ORG = without_digests(EXAMPLE_ORG)
BOT_TOKEN = "xoxb-test-0000000000-secret-bot-token"
SIGNING_SECRET = "slack-signing-secret-for-tests-0001"
INGEST_SECRET = "ingest-secret-for-tests-0001"


@dataclass
class HttpResult:
    status: int
    body: dict | str
    headers: dict


def request(url: str, body: bytes | None = None, headers: dict | None = None, method=None):
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return _result(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return _result(error.code, error.read(), dict(error.headers))


def _result(status: int, raw: bytes, headers: dict) -> HttpResult:
    try:
        return HttpResult(status, json.loads(raw), headers)
    except ValueError:
        return HttpResult(status, raw.decode(errors="replace"), headers)


def post_ingest(base_url: str, body: bytes | dict, *, secret=INGEST_SECRET, stamp=None, **extra):
    """POST /ingest signed with `secret` at `stamp` (now by default); `extra` adds headers."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(time.time())) if stamp is None else stamp
    headers = {"Content-Type": "application/json", "X-Ingest-Timestamp": stamp}
    if secret is not None:
        headers["X-Ingest-Signature"] = sign(secret, stamp, raw)
    headers.update(extra)
    return request(f"{base_url}/ingest", raw, headers)


def mention_record(n: int, **overrides) -> dict:
    record = {
        "source": "x",
        "external_id": f"18{n:06d}",
        "url": f"https://x.com/user{n}/status/18{n:06d}",
        "author": {"handle": f"user{n}", "display_name": f"User {n}", "followers": 100 + n},
        "text": f"@BrightwaveHelp mention number {n}: my broadband is down",
        "created_at": "2026-11-02T08:00:00Z",
    }
    return record | overrides


def wait_until(predicate: Callable[[], object], timeout: float = 20, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not true within {timeout} s: {getattr(predicate, '__name__', '')}")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`python app.py serve` in a child process, as an operator would run a replica."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        import os
        import subprocess
        import sys

        self.port = free_port()
        self.log_path = log_path
        env = os.environ | env | {"PORT": str(self.port), "HOST": "127.0.0.1"}
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "serve"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        wait_until(self.healthy, timeout=30, every=0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"server exited: {self.log_path.read_text()[-2000:]}")
        try:
            return request(f"{self.url}/healthz").status == 200
        except OSError:
            return False

    def kill(self) -> None:
        import signal

        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except Exception:
                self.process.kill()
        self.log.close()


class ShiftedClock:
    """The wall clock moved to `start`, running at real speed from there; `jump` moves it."""

    def __init__(self, start: datetime) -> None:
        self.jump(start)

    def jump(self, to: datetime) -> None:
        self.offset = to - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def replica_env(database_url: str, fake, config: Path, **settings: str) -> dict[str, str]:
    """The environment of a replica (`ServerProcess`) on this test's database and fake Slack,
    quick to deliver and to take over; `settings` add to it or override it."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "INGEST_SECRET": INGEST_SECRET,
        "SLACK_API_URL": fake.url,
        "DATABASE_URL": database_url,
        "BOT_CONFIG": str(config),
        "DELIVERY_LEASE_SECONDS": "2",
        "DELIVERY_POLL_SECONDS": "0.1",
        "CHANNEL_RATE_PER_SECOND": "40",
        "CHANNEL_BURST": "5",
    } | settings


def outbox_id(call) -> int | None:
    """The outbox job a Slack call was made for, from the metadata the bot attaches."""
    return ((call.params.get("metadata") or {}).get("event_payload") or {}).get("outbox_id")


def accepted_per_job(fake) -> Counter:
    """How many messages Slack accepted for each outbox job (messages of no job left out)."""
    return Counter(
        job for call in fake.calls("chat.postMessage") if call.ok and (job := outbox_id(call))
    )


def with_agents(org, slack_ids):
    """The organisation with more Customer Care agents (for crowds of clickers)."""
    if not slack_ids:
        return org
    data = org.model_dump()
    for slack_id in slack_ids:
        data["people"][slack_id.lower()] = {
            "slack_id": slack_id,
            "name": f"Agent {slack_id[-2:]}",
            "roles": ["agent"],
            "departments": ["care"],
        }
    return type(org).model_validate(data)


def fast_org(org, **ladder):
    """The organisation with deadlines of seconds, so that a test sees the whole ladder."""
    data = org.model_dump()
    for priority in ("P2", "P3", "P4"):  # whatever triage decides, the clock runs in seconds
        data["policies"][priority] = {
            "first_reply": timedelta(seconds=8),
            "acknowledge": timedelta(seconds=6),
        }
    data["ladder"] = {
        "unclaimed_after": timedelta(seconds=1),
        "owner_at": 0.5,
        "lead_at": 0.8,
        "repeat_every": timedelta(seconds=2),
        "repeat_cap": 1,
        "snooze": timedelta(seconds=2),
        "snooze_limit": 1,
    } | ladder
    return type(org).model_validate(data)


def direct_messages(fake, user: str) -> list[dict]:
    """Messages the bot sent `user` in their direct-message channel."""
    found = []
    for channel in fake.channels():
        if channel.get("is_im") and user in channel.get("members", []):
            found += fake.messages(channel["id"])
    return found


def example_config_file(folder: Path, name: str = "org.yaml", change=None) -> Path:
    """The example organisation file without the manager's digest (as `ORG`), for child
    processes; `change(data)` may alter it further."""
    import yaml

    data = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    data["people"]["sam"]["digest"] = False
    if change:
        change(data)
    path = folder / name
    path.write_text(yaml.safe_dump(data))
    return path


def fast_config_file(folder: Path) -> Path:
    """The example organisation file with the deadlines of `fast_org`, for child processes."""
    return example_config_file(folder, "fast-org.yaml", _fast)


def _fast(data: dict) -> None:
    for priority in ("P2", "P3", "P4"):
        data["policies"][priority] = {"first_reply": "8s", "acknowledge": "6s"}
    data["ladder"] = {
        "unclaimed_after": "1s",
        "owner_at": 0.5,
        "lead_at": 0.8,
        "repeat_every": "2s",
        "repeat_cap": 1,
        "snooze": "2s",
        "snooze_limit": 1,
    }


def labelled_mention(record: dict):
    """A record of the labelled data set as an unsaved Mention, its labels as triage's."""
    from escalation.models import Mention

    labels = record["labels"]
    return Mention(
        source=record["source"],
        text=record["text"],
        author_handle=record["author"]["handle"],
        author_display_name=record["author"]["display_name"],
        sentiment=labels["sentiment"],
        department=labels["department"],
        priority=labels["priority"],
    )
