"""The poller: leases across replicas, parking, cursors that follow storage, and isolation."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.sources import Batch, RateLimited, SourceAuthError, SourceError
from bot.sources.poller import AUTH_PARK, Poller
from escalation.mentions import NewMention, Source
from escalation.models import Mention, SourceCursor

NOW = datetime(2026, 11, 24, 8, 4, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def mention(n: int, source: Source = Source.X) -> NewMention:
    return NewMention(
        source=source,
        external_id=str(1000 + n),
        author={"handle": f"customer{n}", "followers": n},
        text=f"@brightwave problem number {n}",
        created_at=NOW - timedelta(minutes=n),
    )


class FakeSource:
    """Answers each fetch with the next of `answers` (a Batch or an exception to raise)."""

    def __init__(self, key: str, *answers: Batch | Exception) -> None:
        self.key, self.answers, self.cursors = key, list(answers), []
        self.before_answer: Callable[[], None] = lambda: None

    def fetch(self, cursor: str | None) -> Batch:
        self.cursors.append(cursor)
        answer = self.answers.pop(0) if self.answers else Batch([], cursor)
        self.before_answer()
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def ingestor(sessions) -> Ingestor:
    return Ingestor(sessions, "social-triage", Metrics(), lambda: NOW)


def poller(sessions, sources, ingest, owner: str = "replica-a") -> Poller:
    return Poller(sessions, sources, ingest, owner, interval=MINUTE, lease=5 * MINUTE)


def row(sessions, key: str) -> SourceCursor:
    with sessions() as db:
        return db.get(SourceCursor, key)


def stored(sessions) -> int:
    with sessions() as db:
        return db.scalar(select(func.count()).select_from(Mention))


def test_a_poll_stores_the_mentions_then_the_cursor_and_frees_the_lease(sessions, ingestor):
    source = FakeSource("x:1", Batch([mention(1), mention(2)], "1002"))

    outcome = poller(sessions, [source], ingestor.take).poll_due(NOW)["x:1"]

    assert (outcome.status, outcome.fetched, outcome.new) == ("polled", 2, 2)
    assert source.cursors == [None]
    state = row(sessions, "x:1")
    assert (state.cursor, state.polled_at, state.last_error) == ("1002", NOW, None)
    assert state.lease_owner is None and state.lease_until is None
    assert stored(sessions) == 2


def test_the_cursor_is_read_back_and_the_next_poll_waits_an_interval(sessions, ingestor):
    source = FakeSource("x:1", Batch([mention(1)], "1001"), Batch([], "1001"))
    polls = poller(sessions, [source], ingestor.take)

    polls.poll_due(NOW)
    assert polls.poll_due(NOW + MINUTE / 2)["x:1"].status == "not_due"
    assert polls.poll_due(NOW + MINUTE)["x:1"].status == "polled"
    assert source.cursors == [None, "1001"]


def test_the_cursor_moves_only_after_every_mention_is_stored(sessions, ingestor):
    cursors_seen = []

    def ingest(item: NewMention) -> tuple[int, bool]:
        cursors_seen.append(row(sessions, "x:1").cursor)  # what a crash now would leave
        return ingestor.take(item)

    source = FakeSource("x:1", Batch([mention(1)], "1001"), Batch([mention(2), mention(3)], "1003"))
    polls = poller(sessions, [source], ingest)
    polls.poll_due(NOW)
    polls.poll_due(NOW + MINUTE)

    assert cursors_seen == [None, "1001", "1001"]
    assert row(sessions, "x:1").cursor == "1003"


def test_a_failed_store_keeps_the_cursor_and_the_retry_stores_each_mention_once(sessions, ingestor):
    batch = Batch([mention(1), mention(2), mention(3)], "1003")
    calls = []

    def flaky(item: NewMention) -> tuple[int, bool]:
        calls.append(item.external_id)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return ingestor.take(item)

    source = FakeSource("x:1", batch, batch)
    polls = poller(sessions, [source], flaky)
    first = polls.poll_due(NOW)["x:1"]

    assert first.status == "failed" and "1002" in first.error
    assert row(sessions, "x:1").cursor is None
    second = polls.poll_due(NOW + MINUTE)["x:1"]
    assert (second.status, second.fetched, second.new) == ("polled", 3, 2)
    assert source.cursors == [None, None]
    assert stored(sessions) == 3
    assert row(sessions, "x:1").cursor == "1003"


def test_duplicates_across_polls_are_stored_once(sessions, ingestor):
    source = FakeSource(
        "x:1", Batch([mention(1), mention(2)], "1002"), Batch([mention(2), mention(3)], "1003")
    )
    polls = poller(sessions, [source], ingestor.take)
    polls.poll_due(NOW)
    second = polls.poll_due(NOW + MINUTE)["x:1"]

    assert (second.fetched, second.new) == (2, 1)
    assert stored(sessions) == 3


def test_a_rate_limited_source_is_parked_while_another_is_still_polled(sessions, ingestor):
    reset = NOW + 10 * MINUTE
    limited = FakeSource("x:1", RateLimited(reset, "X: 429 Too Many Requests"))
    healthy = FakeSource("mastodon:b@m.social", *(Batch([mention(n)], str(n)) for n in (1, 2, 3)))
    polls = poller(sessions, [limited, healthy], ingestor.take)

    first = polls.poll_due(NOW)
    assert first["x:1"].status == "rate_limited" and first["x:1"].resume_at == reset
    assert first["mastodon:b@m.social"].status == "polled"
    state = row(sessions, "x:1")
    assert (state.resume_at, state.lease_owner) == (reset, None)
    assert state.last_error == "X: 429 Too Many Requests"

    later = polls.poll_due(NOW + 2 * MINUTE)
    assert later["x:1"].status == "parked" and later["x:1"].resume_at == reset
    assert later["mastodon:b@m.social"].status == "polled"
    assert len(limited.cursors) == 1  # not asked while parked

    assert polls.poll_due(reset)["x:1"].status == "polled"
    assert row(sessions, "x:1").resume_at is None and row(sessions, "x:1").last_error is None


def test_a_rate_limit_without_a_reset_time_parks_for_the_default(sessions, ingestor):
    source = FakeSource("x:1", RateLimited(None, "X: 429 Too Many Requests"))
    outcome = poller(sessions, [source], ingestor.take).poll_due(NOW)["x:1"]
    assert outcome.resume_at == NOW + timedelta(minutes=15)


def test_refused_credentials_park_the_source_and_are_logged_once(sessions, ingestor, caplog):
    error = SourceAuthError("X: 401 Unauthorized, the bearer token was refused")
    source = FakeSource("x:1", error, error)
    polls = poller(sessions, [source], ingestor.take)

    with caplog.at_level(logging.INFO, logger="bot.sources.poller"):
        assert polls.poll_due(NOW)["x:1"].status == "auth_error"
        assert polls.poll_due(NOW + MINUTE)["x:1"].status == "parked"
        assert polls.poll_due(NOW + AUTH_PARK)["x:1"].status == "auth_error"

    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines == ["source x:1: auth_error: X: 401 Unauthorized, the bearer token was refused"]
    assert row(sessions, "x:1").resume_at == NOW + 2 * AUTH_PARK


def test_one_broken_source_never_stops_the_others(sessions, ingestor, caplog):
    broken = FakeSource("bluesky:a.b", ValueError("unexpected answer"))
    failing = FakeSource("mastodon:a@b.social", SourceError("Mastodon: 502 Bad Gateway"))
    healthy = FakeSource("x:1", Batch([mention(1)], "1001"))

    with caplog.at_level(logging.WARNING):
        outcomes = poller(sessions, [broken, failing, healthy], ingestor.take).poll_due(NOW)

    assert outcomes["bluesky:a.b"].status == "failed"
    assert outcomes["bluesky:a.b"].error == "ValueError: unexpected answer"
    assert outcomes["mastodon:a@b.social"].error == "Mastodon: 502 Bad Gateway"
    assert outcomes["x:1"].status == "polled"
    assert row(sessions, "bluesky:a.b").lease_owner is None
    assert any("bluesky:a.b" in r.getMessage() for r in caplog.records)


def test_a_database_failure_is_reported_not_raised(ingestor, caplog):
    def broken_sessions():
        raise OSError("connection refused")

    source = FakeSource("x:1", Batch([mention(1)], "1001"))
    polls = Poller(broken_sessions, [source], ingestor.take, "replica-a")
    with caplog.at_level(logging.ERROR, logger="bot.sources.poller"):
        outcome = polls.poll_due(NOW)["x:1"]

    assert outcome.status == "failed" and "connection refused" in outcome.error
    assert source.cursors == []
    assert "source x:1: poll failed" in caplog.text


def blocking(source: FakeSource) -> tuple[threading.Event, threading.Event]:
    """Make the source's next fetch wait: (entered, release)."""
    entered, release = threading.Event(), threading.Event()

    def wait() -> None:
        entered.set()
        assert release.wait(10)

    source.before_answer = wait
    return entered, release


def in_thread(target: Callable[[], object]) -> tuple[threading.Thread, list]:
    result: list = []
    thread = threading.Thread(target=lambda: result.append(target()))
    thread.start()
    return thread, result


def test_two_replicas_never_poll_the_same_account_at_once(sessions, ingestor):
    source = FakeSource("x:1", Batch([mention(1)], "1001"))
    entered, release = blocking(source)
    replica_a = poller(sessions, [source], ingestor.take, "replica-a")
    replica_b = poller(sessions, [source], ingestor.take, "replica-b")

    thread, result = in_thread(lambda: replica_a.poll_due(NOW))
    assert entered.wait(10)
    assert replica_b.poll_due(NOW)["x:1"].status == "busy"
    assert row(sessions, "x:1").lease_owner == "replica-a"
    release.set()
    thread.join(10)

    assert result[0]["x:1"].status == "polled"
    assert source.cursors == [None]
    assert replica_b.poll_due(NOW + MINUTE)["x:1"].status == "polled"


def test_replicas_racing_for_the_lease_poll_the_account_once(sessions, ingestor):
    source = FakeSource("x:1", Batch([mention(1)], "1001"))
    active, most = [0], [0]
    lock = threading.Lock()

    def count() -> None:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        threading.Event().wait(0.2)  # long enough for the other replica to try
        with lock:
            active[0] -= 1

    source.before_answer = count
    start = threading.Barrier(3)
    replicas = [poller(sessions, [source], ingestor.take, f"replica-{n}") for n in range(3)]
    threads = [in_thread(lambda r=r: (start.wait(), r.poll_due(NOW))[1]) for r in replicas]
    for thread, _ in threads:
        thread.join(10)

    statuses = [result[0]["x:1"].status for _, result in threads]
    assert most[0] == 1
    assert statuses.count("polled") == 1
    assert set(statuses) - {"polled"} <= {"busy", "not_due"}  # not_due: the winner was done
    assert len(source.cursors) == 1


def test_an_expired_lease_is_taken_over_and_the_late_replica_cannot_move_the_cursor(
    sessions, ingestor
):
    source = FakeSource("x:1", Batch([mention(1)], "stale"), Batch([mention(2)], "fresh"))
    entered, release = blocking(source)
    replica_a = poller(sessions, [source], ingestor.take, "replica-a")
    replica_b = poller(sessions, [source], ingestor.take, "replica-b")

    thread, result = in_thread(lambda: replica_a.poll_due(NOW))
    assert entered.wait(10)
    source.before_answer = lambda: None
    assert replica_b.poll_due(NOW + 6 * MINUTE)["x:1"].status == "polled"  # lease of 5 expired
    release.set()
    thread.join(10)

    assert result[0]["x:1"].status == "polled"  # its mention is stored all the same
    assert row(sessions, "x:1").cursor == "fresh"
    assert stored(sessions) == 2
