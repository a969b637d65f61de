"""One replica: the HTTP server, the Bolt app and the delivery worker, wired from settings."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from waitress import wasyncore
from waitress.server import create_server

import handlers
from bot.config import OrgConfig
from bot.db import make_engine, migrate, session_factory, unit_of_work
from bot.delivery import DeliveryWorker, Pacing, utcnow
from bot.digest import DigestDesk
from bot.ingest import Ingestor
from bot.metrics import Metrics
from bot.render import Renderer
from bot.replies import ReplyDesk
from bot.services import Services
from bot.settings import Settings
from bot.sources.build import build_sources
from bot.sources.poller import Poller
from bot.sources.settings import SourceSettings
from bot.ticker import Ticker
from bot.warroom import RapidDesk
from bot.web import WebApp
from escalation.store import first_time

log = logging.getLogger(__name__)
SLACK_TIMEOUT_SECONDS = 10


@dataclass
class Replica:
    settings: Settings
    org: OrgConfig
    engine: Engine
    sessions: sessionmaker[Session]
    metrics: Metrics
    bolt: App
    worker: DeliveryWorker
    web: WebApp
    ticker: Ticker
    poller: Poller | None = None
    poll_seconds: float = 60
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    server: object | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.effective_port}"

    def start(self) -> Replica:
        """Serve HTTP and deliver in background threads; returns at once."""
        self.server = create_server(
            self.web,
            host=self.settings.host,
            port=self.settings.port,
            threads=self.settings.http_threads,
            ident="social-escalation-bot",
        )
        poll = self.settings.delivery_poll_seconds
        self._thread("http", self.server.run)
        self._thread("delivery", lambda: self.worker.run(self.stopping, poll))
        self.ticker.start(self.poller, self.poll_seconds)
        if self.settings.slack_app_token:
            self._start_socket_mode()
        log.info("replica %s listening on port %s", self.worker.owner, self.server.effective_port)
        return self

    def _thread(self, name: str, target) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _start_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        token = self.settings.slack_app_token.get_secret_value()
        SocketModeHandler(self.bolt, token).connect()
        log.info("connected to Slack in Socket Mode")

    def wait(self) -> None:
        """Block until stopped; SIGTERM (an orchestrator's stop) ends the wait gracefully."""
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        self.stopping.wait()

    def stop(self) -> None:
        self.stopping.set()
        self.ticker.stop()
        self.worker.wake.set()
        if self.server is not None:
            _stop_waitress(self.server)
        for thread in self.threads:
            thread.join(timeout=5)
        self.engine.dispose()

    def health(self) -> dict:
        report = {"status": "ok", "replica": self.worker.owner}
        try:
            queue = self.worker.queue_sizes()
            report |= {
                "database": "ok",
                "outbox_pending": queue["pending"],
                "outbox_dead": queue["dead"],
            }
        except Exception as exc:  # the answer is the report: the database is not there
            report |= {"status": "unavailable", "database": type(exc).__name__}
        delivery = any(t.name == "delivery" and t.is_alive() for t in self.threads)
        report["delivery"] = "running" if delivery else "stopped"
        return report


def _stop_waitress(server) -> None:
    # waitress has no public stop: close every socket from inside its loop, which then ends.
    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map, ignore_all=True))
    server.task_dispatcher.shutdown()


def slack_client(settings: Settings, token: str, *, retries: bool = True) -> WebClient:
    client = WebClient(token=token, base_url=settings.slack_api_url, timeout=SLACK_TIMEOUT_SECONDS)
    if not retries:  # the delivery worker retries itself, counting what may have been sent
        client.retry_handlers = []
    return client


def build_replica(
    settings: Settings, org: OrgConfig, *, run_migrations: bool = True, clock=utcnow
) -> Replica:
    """Everything one replica needs; nothing runs until `start()`. `clock` tells the time to
    every part (a test may shift it)."""
    token, signing_secret = settings.require_slack()
    ingest_secret = settings.require_ingest_secret()
    if run_migrations:
        migrate(settings.database_url)
    engine = make_engine(settings.database_url, **settings.engine_options())
    sessions = session_factory(engine)
    metrics, directory = Metrics(), org.directory()
    client = slack_client(settings, token)
    desk = ReplyDesk.from_environment(metrics)
    worker = DeliveryWorker(
        sessions=sessions,
        client=slack_client(settings, token, retries=False),
        renderer=Renderer(
            directory,
            team_url=client.auth_test().get("url", ""),
            clock=clock,
            postable=frozenset(desk.publishers),
        ),
        metrics=metrics,
        owner=settings.replica_name or f"{socket.gethostname()}:{os.getpid()}",
        pacing=Pacing(settings.channel_rate_per_second, settings.channel_burst),
        update_pacing=Pacing(settings.update_rate_per_minute / 60, settings.update_burst),
        lease=timedelta(seconds=settings.delivery_lease_seconds),
        clock=clock,
    )
    metrics.track_outbox(worker.queue_sizes)
    rapid = RapidDesk.for_org(
        org, client, sessions, clock=clock, llm=desk.llm, setup_lease=worker.lease
    )
    digests = DigestDesk(
        org, sessions=sessions, client=client, clock=clock, llm=desk.llm, on_queued=worker.wake.set
    )
    services = Services(sessions, directory, clock, worker.wake.set, desk, rapid, digests)
    bolt = build_bolt_app(client, signing_secret, services)
    ingestor = Ingestor.for_org(org, sessions, metrics, clock, on_new=worker.wake.set)
    ingestor.warm_up()
    web = WebApp(
        SlackRequestHandler(bolt), ingestor, ingest_secret, metrics, lambda: replica.health()
    )
    ticker = Ticker(
        sessions=sessions,
        org=directory,
        clock=clock,
        every_seconds=settings.nag_tick_seconds,
        on_sent=worker.wake.set,
        rapid=rapid,
        digests=digests,
    )
    replica = Replica(settings, org, engine, sessions, metrics, bolt, worker, web, ticker)
    replica.poller, replica.poll_seconds = social_poller(org, sessions, ingestor, worker.owner)
    return replica


def social_poller(org: OrgConfig, sessions, ingestor: Ingestor, owner: str):
    """The poller of the sources the organisation switched on (None if none is), and how often
    its job runs: a few times an interval, since each source keeps its own turn."""
    source_settings = SourceSettings()
    sources = build_sources(org, source_settings)
    if not sources:
        return None, 60.0
    interval = timedelta(seconds=source_settings.source_poll_seconds)
    poller = Poller(sessions, sources, ingestor.take, owner, interval=interval)
    return poller, max(1.0, source_settings.source_poll_seconds / 4)


def build_bolt_app(client: WebClient, signing_secret: str, services: Services) -> App:
    """The Bolt app: verifies Slack's signatures, acknowledges at once, runs listeners on a pool."""
    app = App(
        client=client,
        signing_secret=signing_secret,
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(max_workers=64, thread_name_prefix="listener"),
        logger=logging.getLogger("bolt"),
    )
    app.middleware(delivered_once(services.sessions, services.clock))
    handlers.register(app, services)
    return app


def delivered_once(sessions: sessionmaker[Session], clock):
    """A Bolt middleware that answers a request Slack delivers again (its retry of an event, or
    the same request resent after a timeout, perhaps to another replica) with a 200 and runs
    nothing: a slash command, a shortcut or a button that opens a modal would otherwise act
    twice, or fail on its spent trigger id and tell the person something went wrong."""

    def once(body: dict, next_):
        key = delivery_key(body)
        if key is not None:
            with unit_of_work(sessions) as db:
                if not first_time(db, key=key, now=clock()):
                    log.info("Slack delivered %s again; it was handled the first time", key)
                    return BoltResponse(status=200, body="")
        next_()

    return once


def delivery_key(body: dict) -> str | None:
    """What names one event or one person's action across Slack's deliveries of it: the event
    id, or the trigger id Slack mints for each command, click and shortcut. Modal submissions
    are left to their listeners (each is applied once), whose answer may carry the errors to
    show again."""
    if body.get("type") == "event_callback":
        return f"slack-event:{body['event_id']}" if body.get("event_id") else None
    if body.get("type") in ("view_submission", "view_closed", "block_suggestion"):
        return None
    return f"slack-trigger:{body['trigger_id']}" if body.get("trigger_id") else None
