"""Each replica's ticker: APScheduler interval jobs that send the reminders now due, poll the
social sources whose turn it is, keep crises' war rooms going (their setup, their cadence) and
queue the managers' digests that are due (bot/digest.py).

There is never a job per case: reminders are rows, and the ticker of whichever replica gets
to a due row first sends it (the row is locked and marked in one transaction).

What is due is decided by `clock`, the wall clock every part of the replica shares, so a
clock that jumps sends what fell due in the jump once. APScheduler 3 plans the ticks in wall
time too: a clock stepped back by an hour (a restored VM) pauses the ticks for that hour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.digest import DigestDesk
from bot.logs import FailureSeries
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
        self.failures = {
            name: FailureSeries(log, f"{name} tick")
            for name in ("reminder", "crisis", "digest", "sources")
        }

    def tick(self) -> int:
        """Send every reminder due now; returns how many."""
        try:
            with unit_of_work(self.sessions) as db:
                sent = send_due_nags(db=db, org=self.org, now=self.clock())
        except Exception as exc:  # the database may be restarting; the next tick tries again
            self.failures["reminder"].failed(exc)
            return 0
        self.failures["reminder"].succeeded()
        if sent:
            self.on_sent()
        return sent

    def crisis_tick(self) -> None:
        """Continue the war rooms set up half-way; remind the ones that owe an update."""
        self._guarded("crisis", self.rapid.tick)

    def digest_tick(self) -> None:
        """Queue the managers' digests now due (once each, whichever replica gets there first)."""
        self._guarded("digest", self.digests.tick)

    def _guarded(self, name: str, job: Callable[[], object]) -> None:
        """Run `job`; the database or Slack may be restarting: the next tick tries again, and a
        failure that lasts is logged once, not once a tick."""
        try:
            job()
        except Exception as exc:
            self.failures[name].failed(exc)
        else:
            self.failures[name].succeeded()

    def start(self, poller: Poller | None = None, poll_seconds: float = 60) -> None:
        """Tick the reminders (and crises); with a poller, also poll the sources that are due."""
        self._every(self.tick, self.every_seconds, "reminders")
        if self.rapid is not None:
            self._every(self.crisis_tick, self.every_seconds, "crises")
        if self.digests is not None:
            self._every(self.digest_tick, self.every_seconds, "digests")
        if poller is not None:
            self._every(lambda: self._poll(poller), poll_seconds, "sources")
        self.scheduler.start()

    def _poll(self, poller: Poller) -> None:
        self._guarded("sources", lambda: poller.poll_due(self.clock()))

    def _every(self, job: Callable[[], object], seconds: float, name: str) -> None:
        """Run `job` now, then every `seconds`; one run at a time, missed runs coalesced."""
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
