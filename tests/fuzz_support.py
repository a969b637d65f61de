"""What the fuzz tests share: one replica per module against the fake Slack, a record of the
errors it logs, a way to wait until its listeners are done, and row counts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import delete, func, select

from bot.db import make_engine, session_factory
from escalation.models import Base, Case, Mention
from tests.conftest import replica_settings
from tests.support import BOT_TOKEN, ORG, request, wait_until

# Examples are fixed (derandomize) and nothing is remembered between runs, so a run is the
# same on every machine and never slower because of a failure seen last week.
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(examples: int) -> settings:
    """FUZZ with `examples` examples: a few dozen each keep a module near 15 s."""
    return settings(FUZZ, max_examples=examples)


class CountingExecutor(ThreadPoolExecutor):
    """Bolt's listener pool, counting what it runs: listeners finish after the HTTP answer,
    so a test waits for `idle()` before it reads the logs."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._busy, self._busy_lock = 0, threading.Lock()
        self.submitted = 0  # listeners (and acks) run so far

    def submit(self, fn, /, *args, **kwargs):
        def counted():
            try:
                return fn(*args, **kwargs)
            finally:
                with self._busy_lock:
                    self._busy -= 1

        with self._busy_lock:
            self._busy += 1
            self.submitted += 1
        return super().submit(counted)

    def idle(self) -> bool:
        with self._busy_lock:
            return self._busy == 0


class ErrorLog(logging.Handler):
    """Every record at ERROR or above, from any logger, while it is attached to the root."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        taken, self.records = self.records, []
        return taken


class Fuzzed:
    """A running replica, the fake Slack it talks to, and what it logged. (Not a dataclass:
    hypothesis prints a dataclass argument field by field when an example fails.)"""

    def __init__(self, replica, fake, sessions, listeners: CountingExecutor) -> None:
        self.replica, self.fake, self.sessions = replica, fake, sessions
        self.listeners, self.errors = listeners, ErrorLog()

    @property
    def url(self) -> str:
        return self.replica.url

    def __repr__(self) -> str:
        return f"<replica at {self.url}>"

    def rows(self) -> tuple[int, int]:
        """How many mentions and cases are stored."""
        with self.sessions() as db:
            mentions = db.scalar(select(func.count()).select_from(Mention))
            return mentions, db.scalar(select(func.count()).select_from(Case))

    def settle(self) -> list[logging.LogRecord]:
        """Wait until no listener runs; the error records logged since the last call."""
        wait_until(self.listeners.idle, timeout=20, every=0.01)
        return self.errors.take()

    def healthy(self) -> dict:
        answer = request(f"{self.url}/healthz")
        assert answer.status == 200, answer.body
        return answer.body

    def assert_clean(self, tolerated=()) -> None:
        """Still serving, every card delivered (none refused by Slack), no failure logged but
        for exceptions of the `tolerated` types."""
        wait_until(lambda: self.healthy()["outbox_pending"] == 0, timeout=30)
        assert unexpected(self.settle(), tolerated) == []
        health = self.healthy()
        assert (health["outbox_dead"], health["delivery"]) == (0, "running")


def unexpected(records: list[logging.LogRecord], tolerated=()) -> list[str]:
    """The records that show a failure: any, except those carrying an exception of a type in
    `tolerated` (a refusal the product logs on purpose)."""
    found = []
    for record in records:
        error = record.exc_info[1] if record.exc_info else None
        if not (tolerated and isinstance(error, tolerated)):
            found.append(f"{record.name}: {record.getMessage()} ({error!r})")
    return found


@contextmanager
def fuzzed_replica(database_url: str, **overrides) -> Iterator[Fuzzed]:
    """One replica on emptied tables, its listener pool counted, its errors recorded."""
    from bot.fakeslack import FakeSlack, Limits
    from bot.runtime import build_replica
    from bot.workspace_seed import seed_workspace

    engine = make_engine(database_url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(delete(table))
    limits = Limits(tiers=False, post_per_second_per_channel=50, post_burst_per_channel=10)
    fake = FakeSlack(bot_token=BOT_TOKEN, limits=limits).start()
    seed_workspace(fake, ORG)
    pools: list[CountingExecutor] = []

    def counting_pool(*args, **kwargs):
        pools.append(CountingExecutor(*args, **kwargs))
        return pools[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("bot.runtime.ThreadPoolExecutor", counting_pool)
        settings = replica_settings(database_url, fake, **overrides)
        replica = build_replica(settings, ORG, run_migrations=False)
    fuzzed = Fuzzed(replica, fake, session_factory(engine), pools[0])
    root = logging.getLogger()
    root.addHandler(fuzzed.errors)
    replica.start()
    try:
        yield fuzzed
    finally:
        root.removeHandler(fuzzed.errors)
        replica.stop()
        fake.stop()
        engine.dispose()
