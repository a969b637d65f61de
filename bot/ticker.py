"""Each replica's ticker: APScheduler interval jobs that send the reminders now due, poll the
social sources whose turn it is, keep crises' war rooms going (their setup, their cadence) and
queue the managers' digests that are due (bot/digest.py).

There is never a job per case: reminders are rows, and the ticker of whichever replica gets
to a due row first sends it (the row is locked and marked in one transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.digest import DigestDesk
from bot.sources.poller import Poller
from bot.warroom import RapidDesk
from escalation.ladder import send_due_nags
from escalation.people import Directory

log = logging.getLogger(__name__)


class Ticker:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        org: Directory,
        clock: Callable[[], datetime],
        every_seconds: float,
        on_sent: Callable[[], None],
        rapid: RapidDesk | None = None,
        digests: DigestDesk | None = None,
    ) -> None:
        self.sessions, self.org, self.clock = sessions, org, clock
        self.every_seconds, self.on_sent, self.rapid = every_seconds, on_sent, rapid
        self.digests = digests
        self.scheduler = BackgroundScheduler(timezone=UTC)

    def tick(self) -> int:
        """Send every reminder due now; returns how many."""
        try:
            with unit_of_work(self.sessions) as db:
                sent = send_due_nags(db=db, org=self.org, now=self.clock())
        except Exception:  # the database may be restarting; the next tick tries again
            log.exception("reminder tick failed")
            return 0
        if sent:
            self.on_sent()
        return sent

    def crisis_tick(self) -> None:
        """Continue the war rooms set up half-way; remind the ones that owe an update."""
        try:
            self.rapid.tick()
        except Exception:  # the database or Slack may be restarting; the next tick tries again
            log.exception("crisis tick failed")

    def digest_tick(self) -> None:
        """Queue the managers' digests now due (once each, whichever replica gets there first)."""
        try:
            self.digests.tick()
        except Exception:  # the database may be restarting; the next tick tries again
            log.exception("digest tick failed")

    def start(self, poller: Poller | None = None, poll_seconds: float = 60) -> None:
        """Tick the reminders (and crises); with a poller, also poll the sources that are due."""
        self._every(self.tick, self.every_seconds, "reminders")
        if self.rapid is not None:
            self._every(self.crisis_tick, self.every_seconds, "crises")
        if self.digests is not None:
            self._every(self.digest_tick, self.every_seconds, "digests")
        if poller is not None:
            self._every(lambda: poller.poll_due(self.clock()), poll_seconds, "sources")
        self.scheduler.start()

    def _every(self, job, seconds: float, name: str) -> None:
        self.scheduler.add_job(
            job,
            "interval",
            seconds=seconds,
            id=name,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
