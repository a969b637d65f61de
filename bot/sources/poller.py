"""Polling the sources: one replica at a time per account, and never stuck on one account.

Each account has a row in `source_cursors`. A replica polls it only after taking its lease,
with one UPDATE that succeeds only while the lease is free or expired, the account is not parked
and its last poll is an interval old; that transaction commits before the network is asked, so
the lease is visible to the other replicas while the fetch runs. PostgreSQL applies the UPDATE
to the row atomically (a second replica's UPDATE waits, then finds the lease taken); SQLite's
database lock serialises the two. The row is written again after the mentions are stored: the
new cursor, when the poll ended, its error and the lease freed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Update, or_, update
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.sources import Batch, RateLimited, Source, SourceAuthError, SourceError
from escalation.mentions import NewMention
from escalation.models import SourceCursor
from escalation.store import insert_ignoring_conflict

log = logging.getLogger(__name__)

Ingest = Callable[[NewMention], tuple[int, bool]]
MAX_ERROR = 512
DEFAULT_PARK = timedelta(minutes=15)  # a 429 without a reset time: X's window is 15 minutes
AUTH_PARK = timedelta(minutes=15)  # wrong credentials are not fixed in seconds
LONGEST_PARK = timedelta(hours=24)  # a reset time further out is more likely a bad header


@dataclass(frozen=True)
class Outcome:
    """What happened to one source in one `poll_due`.

    status: "polled", "busy" (another replica holds it), "parked" (waiting for `resume_at`),
    "not_due" (polled less than an interval ago), "rate_limited", "auth_error" or "failed".
    """

    status: str
    fetched: int = 0
    new: int = 0
    resume_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Result:
    """How a leased poll ended, as it is written back to the row."""

    outcome: Outcome
    cursor: str | None


class Poller:
    """Polls every source that is due, through the ingestor, one replica per account."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        sources: Sequence[Source],
        ingest: Ingest,
        owner: str,
        *,
        interval: timedelta = timedelta(seconds=60),
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.sessions, self.sources, self.ingest = sessions, list(sources), ingest
        self.owner, self.interval, self.lease = owner[:128], interval, lease

    def poll_due(self, now: datetime) -> dict[str, Outcome]:
        """Poll each source that is due at `now`; one failing source never stops the others."""
        outcomes = {}
        for source in self.sources:
            try:
                outcomes[source.key] = self._poll(source, now)
            except Exception as exc:  # the database may be restarting; the next tick tries again
                log.error("source %s: poll failed: %s", source.key, _describe(exc))
                outcomes[source.key] = Outcome("failed", error=_describe(exc))
        return outcomes

    def _poll(self, source: Source, now: datetime) -> Outcome:
        leased = self._take_lease(source.key, now)
        if isinstance(leased, Outcome):
            return leased
        cursor, previous_error = leased
        result = self._fetch_and_store(source, cursor, now)
        self._release(source.key, result, now)
        self._log_change(source.key, previous_error, result.outcome)
        return result.outcome

    def _take_lease(self, key: str, now: datetime) -> tuple[str | None, str | None] | Outcome:
        """(cursor, last error) with the lease taken, or the Outcome that says why not."""
        with unit_of_work(self.sessions) as db:
            insert_ignoring_conflict(
                db, SourceCursor, {"key": key}, keys=["key"], returning=SourceCursor.key
            )
            taken = db.execute(self._lease_statement(key, now)).first()
            if taken is not None:
                return taken.cursor, taken.last_error
            return _why_not(db.get(SourceCursor, key), now)

    def _lease_statement(self, key: str, now: datetime) -> Update:
        row = SourceCursor
        # A tick that fires a little early still counts as an interval later.
        due_before = now - self.interval * 0.9
        return (
            update(row)
            .where(row.key == key)
            .where(or_(row.lease_owner.is_(None), row.lease_until <= now))
            .where(or_(row.resume_at.is_(None), row.resume_at <= now))
            .where(or_(row.polled_at.is_(None), row.polled_at <= due_before))
            .values(lease_owner=self.owner, lease_until=now + self.lease)
            .returning(row.cursor, row.last_error)
            .execution_options(synchronize_session=False)
        )

    def _fetch_and_store(self, source: Source, cursor: str | None, now: datetime) -> _Result:
        try:
            batch = source.fetch(cursor)
        except RateLimited as exc:
            resume_at = _park_until(exc.resume_at, now)
            return _Result(Outcome("rate_limited", resume_at=resume_at, error=str(exc)), cursor)
        except SourceAuthError as exc:
            return _Result(Outcome("auth_error", resume_at=now + AUTH_PARK, error=str(exc)), cursor)
        except SourceError as exc:
            return _Result(Outcome("failed", error=str(exc)), cursor)
        except Exception as exc:  # a bug in a source must not hold the lease or the others up
            log.debug("source %s: fetch raised", source.key, exc_info=True)
            return _Result(Outcome("failed", error=_describe(exc)), cursor)
        return self._store(batch, cursor)

    def _store(self, batch: Batch, cursor: str | None) -> _Result:
        """Hand every mention to the ingestor; only then may the cursor move past them."""
        new = 0
        for mention in batch.mentions:
            try:
                new += self.ingest(mention)[1]
            except Exception as exc:
                error = f"storing mention {mention.external_id} failed: {_describe(exc)}"
                return _Result(Outcome("failed", len(batch.mentions), new, error=error), cursor)
        return _Result(Outcome("polled", len(batch.mentions), new), batch.cursor or cursor)

    def _release(self, key: str, result: _Result, now: datetime) -> None:
        outcome = result.outcome
        row = SourceCursor
        values = {
            "cursor": result.cursor,
            "polled_at": now,
            "last_error": outcome.error[:MAX_ERROR] if outcome.error else None,
            "resume_at": outcome.resume_at,
            "lease_owner": None,
            "lease_until": None,
        }
        # Only while we still hold it: a replica whose lease ran out must not move the cursor
        # back under the replica that took the lease over.
        statement = (
            update(row)
            .where(row.key == key, row.lease_owner == self.owner)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        with unit_of_work(self.sessions) as db:
            db.execute(statement)

    def _log_change(self, key: str, previous: str | None, outcome: Outcome) -> None:
        """Log an error when it starts (or changes), not on every poll of every replica."""
        if outcome.error and outcome.error != previous:
            log.warning("source %s: %s: %s", key, outcome.status, outcome.error)
        elif previous and not outcome.error:
            log.info("source %s: polling again after: %s", key, previous)
        elif outcome.new:
            log.info("source %s: %d new mentions of %d", key, outcome.new, outcome.fetched)


def _why_not(row: SourceCursor | None, now: datetime) -> Outcome:
    if row is None:  # cannot happen after the insert, but say something sensible
        return Outcome("busy")
    if row.resume_at is not None and row.resume_at > now:
        return Outcome("parked", resume_at=row.resume_at, error=row.last_error)
    if row.lease_owner is not None and row.lease_until is not None and row.lease_until > now:
        return Outcome("busy")
    return Outcome("not_due")


def _park_until(resume_at: datetime | None, now: datetime) -> datetime:
    if resume_at is None:
        return now + DEFAULT_PARK
    return min(max(resume_at, now), now + LONGEST_PARK)


def _describe(exc: BaseException) -> str:
    """An exception in one line, short; sources already keep secrets out of their messages."""
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
