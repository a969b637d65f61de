"""Shared fixtures. The database is SQLite unless TEST_DATABASE=postgresql, in which case each
run creates its own database on the server (TEST_POSTGRES_URL) and drops it at the end."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, make_url, text

from bot.db import make_engine, migrate, session_factory
from escalation.crises import Crisis  # noqa: F401 (its tables join Base.metadata)
from escalation.models import Base
from escalation.surge import SurgeAlert  # noqa: F401 (its table joins Base.metadata)

BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ROOT = Path(__file__).resolve().parent.parent


def pytest_report_header() -> str:
    return f"database backend: {BACKEND}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BACKEND == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        migrate(url)
        yield url
        return
    if BACKEND != "postgresql":
        raise pytest.UsageError(f"TEST_DATABASE must be sqlite or postgresql, not {BACKEND!r}")
    yield from _postgres_database()


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, for migration tests."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield from _postgres_database(migrated=False)


def _postgres_database(migrated: bool = True) -> Iterator[str]:
    name = f"sebot_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str):
    engine = make_engine(database_url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return session_factory(engine)


@pytest.fixture
def slack_limits():
    """Functional tests post faster than Slack allows; fault tests use Slack's own numbers."""
    from bot.fakeslack import Limits

    return Limits(tiers=False, post_per_second_per_channel=50, post_burst_per_channel=10)


@pytest.fixture
def fake_slack(slack_limits):
    from bot.fakeslack import FakeSlack
    from bot.workspace_seed import seed_workspace
    from tests.support import BOT_TOKEN, ORG

    fake = FakeSlack(bot_token=BOT_TOKEN, limits=slack_limits).start()
    seed_workspace(fake, ORG)
    yield fake
    fake.stop()


def replica_settings(database_url: str, fake, **overrides):
    from bot.settings import Settings
    from tests.support import BOT_TOKEN, INGEST_SECRET, SIGNING_SECRET

    values = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "ingest_secret": INGEST_SECRET,
        "slack_api_url": fake.url,
        "database_url": database_url,
        "host": "127.0.0.1",
        "port": 0,
        "bot_config": ROOT / "config.example.yaml",
        "delivery_poll_seconds": 0.1,
        "channel_rate_per_second": 40,
        "channel_burst": 5,
        "nag_tick_seconds": 0.2,
    }
    return Settings(**(values | overrides))


@pytest.fixture
def start_replica(database_url, engine, fake_slack):
    """Start replicas against the fake Slack; all are stopped at the end of the test."""
    from bot.runtime import build_replica
    from tests.support import ORG, with_agents

    assert engine is not None  # requested for its side effect: the tables start empty

    started = []

    def start(extra_agents=(), org=ORG, clock=None, **overrides):
        settings = replica_settings(database_url, fake_slack, **overrides)
        org = with_agents(org, extra_agents)
        timing = {"clock": clock} if clock else {}
        replica = build_replica(settings, org, run_migrations=False, **timing).start()
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.stop()


@pytest.fixture
def no_internet(monkeypatch):
    """Only cassettes and local servers answer: a request to any other host fails at once."""
    resolve = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if host not in ("localhost", "127.0.0.1", "::1"):  # the test database may be local
            raise OSError(f"a test tried to reach {host}")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
