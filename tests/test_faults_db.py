"""PostgreSQL restarting under load, without restarting the shared server: the replica reaches
PostgreSQL through a TCP proxy on 127.0.0.1 that can drop every connection and refuse new ones
for a few seconds (as a restart does), and the test also ends the replica's sessions on the
server (pg_terminate_backend, as an administrator or a failover does).

While mentions keep arriving, a webhook request either succeeds or gets a 503 naming a
correlation id (never a silent loss: the sender retries); afterwards every mention is stored
once, every card reaches Slack once, the outbox drains, and each failing loop (the delivery
worker, the reminder ticker) logged its trouble once, not once a poll.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.exc import OperationalError

from bot.db import make_engine
from bot.logs import FailureSeries
from bot.runtime import build_replica
from bot.settings import Settings
from escalation.models import Case, Mention, Outbox, OutboxKind, OutboxStatus
from tests.conftest import BACKEND, replica_settings
from tests.support import ORG, accepted_per_job, mention_record, post_ingest, request, wait_until

MENTIONS = 80
SENDERS = 4
APPLICATION = "faults-db-replica"
CORRELATION = re.compile(r"\[correlation id ([0-9a-f]{12})\]")


class BlinkingProxy:
    """A TCP proxy to PostgreSQL that can blink: drop every connection, refuse new ones."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.down_until = 0.0
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.refused = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            if time.monotonic() < self.down_until:  # restarting: the connection ends at once
                self.refused += 1
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.open |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, sink)

    def _drop(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with self.lock:
                self.open.discard(sock)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def blink(self, seconds: float) -> None:
        """Drop every connection now and refuse new ones for `seconds`."""
        self.down_until = time.monotonic() + seconds
        with self.lock:
            dropped = list(self.open)
        self._drop(*dropped)

    def close(self) -> None:
        self.listener.close()
        self.blink(0)


@pytest.fixture
def proxied_replica(database_url, engine, fake_slack, proxy):
    """A replica that reaches the database through the proxy."""
    assert engine is not None  # requested for its side effect: the tables start empty
    url = through(database_url, proxy)
    settings = replica_settings(url, fake_slack, delivery_lease_seconds=3)
    replica = build_replica(settings, ORG, run_migrations=False).start()
    yield replica
    replica.stop()


@pytest.fixture
def proxy(database_url):
    url = make_url(database_url)
    blinking = BlinkingProxy(url.host or "127.0.0.1", url.port or 5432)
    yield blinking
    blinking.close()


def through(database_url: str, proxy: BlinkingProxy) -> str:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    url = url.update_query_dict({"application_name": APPLICATION})
    return url.render_as_string(hide_password=False)


def terminate_replica_sessions(database_url: str) -> int:
    """End the replica's sessions on the server, as an administrator would."""
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    query = text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = :name AND pid <> pg_backend_pid()"
    )
    try:
        with admin.connect() as conn:
            return conn.execute(query, {"name": APPLICATION}).scalar_one()
    finally:
        admin.dispose()


def send_until_taken(url: str, n: int) -> list[tuple[int, dict]]:
    """One sender: POST the mention, and again after each 503, until it is taken."""
    answers = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        answer = post_ingest(url, mention_record(n))
        answers.append((answer.status, answer.body))
        if answer.status != 503:
            return answers
        time.sleep(0.2)
    raise AssertionError(f"mention {n} was never taken: {answers[-3:]}")


@pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL's connections are what drop")
def test_postgresql_restarting_under_load_loses_nothing(
    database_url, proxy, proxied_replica, fake_slack, sessions, caplog
):
    caplog.set_level(logging.INFO)
    replica = proxied_replica
    health_during_blink = []

    def disturb():
        time.sleep(1.0)
        terminated.append(terminate_replica_sessions(database_url))
        time.sleep(1.0)
        proxy.blink(3.0)
        time.sleep(0.5)
        health_during_blink.append(request(f"{replica.url}/healthz"))

    terminated: list[int] = []
    disturber = threading.Thread(target=disturb)
    disturber.start()
    with ThreadPoolExecutor(SENDERS) as pool:
        per_mention = list(pool.map(lambda n: send_until_taken(replica.url, n), paced()))
    disturber.join()

    answers = [answer for tries in per_mention for answer in tries]
    statuses = Counter(status for status, _ in answers)
    assert set(statuses) <= {202, 200, 503}, statuses
    assert statuses[503] >= 1 and proxy.refused >= 1 and terminated[0] >= 1, "the blips hit"
    assert health_during_blink[0].status == 503
    assert health_during_blink[0].body["status"] == "unavailable"

    wait_until(lambda: len(fake_slack.messages("social-triage")) == MENTIONS, timeout=60)
    wait_until(lambda: nothing_due(sessions), timeout=30)
    assert request(f"{replica.url}/healthz").status == 200
    with sessions() as db:
        stored = db.scalars(select(Mention.external_id)).all()
        assert sorted(stored) == sorted(mention_record(n)["external_id"] for n in range(MENTIONS))
        assert db.scalar(select(func.count()).select_from(Case)) == MENTIONS
        cards = select(func.count()).select_from(Outbox)
        assert db.scalar(cards.where(Outbox.kind == OutboxKind.TRIAGE_CARD)) == MENTIONS
    posted = accepted_per_job(fake_slack)
    assert [job for job, count in posted.items() if count > 1] == [], "nothing posted twice"

    incidents = [body["id"] for status, body in answers if status == 503]
    logged = [r for r in caplog.records if r.getMessage().startswith("ingest failed")]
    assert sorted(CORRELATION.search(r.getMessage()).group(1) for r in logged) == sorted(incidents)
    for loop in ("delivery worker: cycle", "reminder tick"):
        failed = [r for r in caplog.records if r.getMessage().startswith(f"{loop} failed;")]
        assert 1 <= len(failed) <= 2, f"{loop}: once per blip, not once a poll ({len(failed)})"
        assert all(CORRELATION.search(r.getMessage()) for r in failed)


def paced():
    """The mentions' numbers, handed out at about 25 a second so that the load lasts the blips."""
    for n in range(MENTIONS):
        time.sleep(0.04)
        yield n


def nothing_due(sessions) -> bool:
    with sessions() as db:
        query = select(Outbox).where(
            Outbox.status == OutboxStatus.PENDING, Outbox.due_at <= func.now()
        )
        return db.scalars(query).first() is None


def test_a_failing_loop_is_logged_once_per_series_with_its_correlation_id(caplog):
    caplog.set_level(logging.DEBUG)
    series = FailureSeries(logging.getLogger("tests.faults"), "reminder tick")
    for _ in range(50):
        series.failed(ConnectionError("server closed the connection unexpectedly"))
    series.succeeded()
    series.succeeded()
    series.failed(TimeoutError("again"))

    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelname for r in loud] == ["ERROR", "WARNING", "ERROR"]
    first, recovered, second = (r.getMessage() for r in loud)
    assert first.startswith("reminder tick failed; retrying") and loud[0].exc_info
    assert recovered.startswith("reminder tick recovered after 50 failed attempts")
    ids = [CORRELATION.search(m).group(1) for m in (first, recovered, second)]
    assert ids[0] == ids[1] != ids[2], "one id per series"
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) == 49


def test_the_pool_settings_reach_the_engine(monkeypatch):
    for name in ("POOL_SIZE", "MAX_OVERFLOW", "POOL_TIMEOUT_SECONDS", "CONNECT_TIMEOUT_SECONDS"):
        monkeypatch.delenv(f"DATABASE_{name}", raising=False)
    assert Settings().engine_options() == {
        "pool_size": 10,
        "max_overflow": 10,
        "pool_timeout": 30.0,
        "connect_timeout": 10,
    }
    monkeypatch.setenv("DATABASE_POOL_SIZE", "4")
    monkeypatch.setenv("DATABASE_MAX_OVERFLOW", "2")
    monkeypatch.setenv("DATABASE_POOL_TIMEOUT_SECONDS", "7.5")
    settings = Settings(database_url="postgresql+psycopg://bot@127.0.0.1:5432/socialbot")
    engine = make_engine(settings.database_url, **settings.engine_options())
    try:
        assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._timeout) == (4, 2, 7.5)
        assert engine.pool._pre_ping, "connections a restart dropped are replaced on checkout"
    finally:
        engine.dispose()


def test_a_silent_database_server_fails_a_connection_in_the_connect_timeout():
    """A server that takes the TCP connection and never answers (down, not refusing) fails the
    request after DATABASE_CONNECT_TIMEOUT_SECONDS, so that a webhook gets its 503 in time."""
    with socket.create_server(("127.0.0.1", 0)) as silent:  # never accepts: the kernel does
        url = f"postgresql+psycopg://bot@127.0.0.1:{silent.getsockname()[1]}/socialbot"
        settings = Settings(database_url=url, database_connect_timeout_seconds=2)
        engine = make_engine(url, **settings.engine_options())
        started = time.monotonic()
        try:
            with pytest.raises(OperationalError), engine.connect():
                pass
        finally:
            engine.dispose()
    assert time.monotonic() - started < 6
