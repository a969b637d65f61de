"""The Slack delivery worker: sends the outbox, paced per channel, each message once.

Each replica runs one worker thread. A job is taken in one short transaction (row locks with
SKIP LOCKED on PostgreSQL, so replicas never take the same job), sent, and its result committed
before the next is taken. A send whose outcome was never recorded (the replica died, the
connection dropped) is marked `in_flight`; before sending it again the worker looks for it in the
channel's history by the outbox id it carries in its metadata, so a crash does not post twice.
"""

from __future__ import annotations

import http.client
import logging
import random
import re
import threading
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.logs import FailureSeries, correlation_id
from bot.metrics import Metrics
from bot.render import DIRECT, POST, UPDATE_PACE, Defer, Renderer, Skip, SlackCall, pace_key
from escalation.models import ChannelPace, Outbox, OutboxStatus

log = logging.getLogger(__name__)
CANDIDATES = 25
HISTORY_PAGES = 5
MAX_BACKOFF = timedelta(minutes=5)
# The longest the worker ever holds a channel (Retry-After is honoured up to this). A channel
# held for longer than this, plus its burst, was held by a clock that has since gone back.
MAX_HOLD = timedelta(minutes=15)
INCIDENT = re.compile(r"^\[([0-9a-f]{12})\] ")
METADATA_TYPE = "outbox"
# Errors that say the message itself can never be sent; anything else is tried again later.
PERMANENT_ERRORS = {
    "invalid_blocks",
    "msg_too_long",
    "msg_blocks_too_long",
    "no_text",
    "invalid_arguments",
    "invalid_metadata_format",
    "channel_not_found",
    "is_archived",
    "not_in_channel",
    "restricted_action",
    "message_not_found",
    "cant_update_message",
    "edit_window_closed",
}
NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Pacing:
    """About `rate` messages a second per channel, with bursts of `burst`."""

    rate: float = 1.0
    burst: int = 3

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=1 / self.rate)


@dataclass(frozen=True)
class Taken:
    """A job leased to this worker, with its Slack call drawn from the current state."""

    id: int
    call: SlackCall
    created_at: datetime
    uncertain: bool
    channel_id: str | None


class DeliveryWorker:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        client: WebClient,
        renderer: Renderer,
        metrics: Metrics,
        owner: str,
        pacing: Pacing = Pacing(),
        update_pacing: Pacing = Pacing(rate=50 / 60, burst=10),
        lease: timedelta = timedelta(seconds=60),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions, self.client, self.renderer = sessions, client, renderer
        self.metrics, self.owner, self.clock = metrics, owner, clock
        self.pacing, self.update_pacing, self.lease = pacing, update_pacing, lease
        self.wake = threading.Event()
        self.direct_channels: dict[str, str] = {}
        self.failures = FailureSeries(log, "delivery worker: cycle")

    def run(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        """Deliver until `stop` is set; `wake` ends an idle wait when new work is committed."""
        while not stop.is_set():
            try:
                wait = self.deliver_one()
                self.failures.succeeded()
            except Exception as exc:  # the database may be restarting: log once, wait, go on
                self.failures.failed(exc)
                wait = poll_seconds
            if wait == float("inf"):  # nothing due: new work may wake us
                self.wake.wait(poll_seconds)
                self.wake.clear()
            elif wait:  # work is waiting for a channel slot: new work would not help
                stop.wait(min(wait, poll_seconds))

    def deliver_one(self) -> float:
        """Send one due job; returns 0 when it sent one, else how long nothing can be sent."""
        taken, wait = self._take()
        if taken is None:
            return wait
        if taken.uncertain:
            self.metrics.uncertain.inc()
            found = self._find_posted(taken)
            if found:
                log.warning("outbox %s: was posted before an interruption; not again", taken.id)
                self._sent(taken, *found)
                return 0.0
        self._send(taken)
        return 0.0

    def _take(self) -> tuple[Taken | None, float]:
        """Lease the oldest due job whose channel has a slot. Oldest by id, not by due time: a
        message that failed is due again when its channel opens again, and must go before the
        ones queued behind it, or a channel's messages come out of order after an outage."""
        with unit_of_work(self.sessions) as db:
            now = self.clock()
            query = (
                select(Outbox)
                .where(Outbox.status == OutboxStatus.PENDING, Outbox.due_at <= now)
                .order_by(Outbox.id)
                .limit(CANDIDATES)
                .with_for_update(skip_locked=True)
            )
            waits, busy = [], set()
            for job in db.scalars(query):
                if pace_key(job) in busy:
                    continue
                call = self._ready(job, now)
                if call is None:
                    continue
                pacing = self._pacing(call.pace_key)
                wait = take_slot(db, channel=call.pace_key, now=now, pacing=pacing)
                if wait is None:
                    return self._lease(db, job, call, now), 0.0
                busy.add(call.pace_key)
                waits.append(wait)
            return None, min(waits, default=float("inf"))

    def _pacing(self, key: str) -> Pacing:
        return self.update_pacing if key == UPDATE_PACE else self.pacing

    def _ready(self, job: Outbox, now: datetime) -> SlackCall | None:
        """The job's Slack call, or None after settling a job that has nothing to send yet."""
        try:
            drawn = self.renderer.render(job)
        except Exception as exc:  # a bug drawing one message must not stop the others
            log.exception("outbox %s: cannot draw it; kept as dead", job.id)
            job.status, job.last_error = OutboxStatus.DEAD, f"render: {exc!r}"[:512]
            return None
        if isinstance(drawn, Skip):
            job.status, job.last_error, job.sent_at = OutboxStatus.SENT, drawn.reason, now
            return None
        if isinstance(drawn, Defer):
            job.due_at = now + timedelta(seconds=drawn.seconds)
            return None
        return drawn

    def _lease(self, db: Session, job: Outbox, call: SlackCall, now: datetime) -> Taken:
        uncertain = job.in_flight
        job.due_at, job.lease_owner = now + self.lease, self.owner
        job.attempts += 1
        job.in_flight = True
        pace = db.get(ChannelPace, call.pace_key)
        channel_id = pace.channel_id if pace else None
        return Taken(job.id, call, job.created_at, uncertain, channel_id)

    def _send(self, taken: Taken) -> None:
        args = taken.call.args
        if taken.call.method == POST:  # lets a later attempt find it in the channel's history
            args = args | {
                "metadata": {"event_type": METADATA_TYPE, "event_payload": {"outbox_id": taken.id}}
            }
        try:
            if args.get("channel", "").startswith(DIRECT):
                args = args | {"channel": self._direct_channel(args["channel"][len(DIRECT) :])}
            response = self.client.api_call(taken.call.method, json=args)
        except SlackApiError as exc:
            self._failed(taken, exc.response.status_code, exc.response.get("error"), exc)
        except NETWORK_ERRORS as exc:  # the request may have reached Slack: outcome unknown
            self._failed(taken, None, type(exc).__name__, exc)
        else:
            self._sent(taken, response["channel"], response["ts"])

    def _direct_channel(self, user: str) -> str:
        """The id of the app's direct-message channel with `user` (opened once, then known)."""
        if user not in self.direct_channels:
            opened = self.client.conversations_open(users=user)
            self.direct_channels[user] = opened["channel"]["id"]
        return self.direct_channels[user]

    def _find_posted(self, taken: Taken) -> tuple[str, str] | None:
        """The (channel, ts) of this job's message if an earlier attempt did post it."""
        # A reply in a thread is not in the channel's history: it is looked for in its thread,
        # whose channel the call names by id.
        thread = taken.call.args.get("thread_ts")
        channel = taken.call.args.get("channel") if thread else taken.channel_id
        if channel is None or taken.call.method != POST:
            return None
        try:
            return find_outbox_message(
                self.client, channel, taken.id, taken.created_at, thread_ts=thread
            )
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            log.warning("outbox %s: cannot read history (%s); sending again", taken.id, exc)
            return None

    def _sent(self, taken: Taken, channel: str, ts: str) -> None:
        with unit_of_work(self.sessions) as db:
            job = db.get_one(Outbox, taken.id)
            incident, attempts = incident_of(job.last_error), job.attempts
            job.status, job.in_flight, job.sent_at = OutboxStatus.SENT, False, self.clock()
            job.result_channel, job.result_ts, job.last_error = channel, ts, None
            self.renderer.record(job, channel, ts)
            learnt = {"channel_id": channel} if taken.call.method == POST else {}
            db.execute(
                update(ChannelPace)
                .where(ChannelPace.channel == taken.call.pace_key)
                .values(failures=0, **learnt)
            )
        if incident:
            log.info(
                "outbox %s: sent at attempt %s [correlation id %s]", taken.id, attempts, incident
            )
        self.metrics.deliveries.labels("sent").inc()

    def _failed(self, taken: Taken, status: int | None, error: str | None, exc: Exception) -> None:
        reason = f"{status or ''} {error or exc}".strip()
        with unit_of_work(self.sessions) as db:
            job = db.get_one(Outbox, taken.id)
            ongoing = incident_of(job.last_error)
            job.in_flight = status is None
            job.last_error = reason[:512]
            result = self._reschedule(db, job, taken.call.pace_key, status, error, exc)
            incident = ongoing or (None if result == "ratelimited" else correlation_id())
            if incident:  # the series of failures of one job shares one id, in its row
                job.last_error = f"[{incident}] {reason}"[:512]
            attempts = job.attempts
        self._log_failure(taken.id, result, reason, attempts, incident, first=ongoing is None)
        self.metrics.deliveries.labels(result).inc()

    @staticmethod
    def _log_failure(job_id: int, result: str, reason: str, attempts: int, incident, first):
        """One line per failing job, not one per attempt: Slack down for an hour is one warning
        a message (and one line when it is sent at last), whatever the retries in between."""
        if result == "ratelimited":  # Slack said when to come back: nothing went wrong
            return
        level = logging.ERROR if result == "dead" else logging.WARNING if first else logging.DEBUG
        what = "Slack refused it for good" if result == "dead" else f"attempt {attempts} failed"
        log.log(level, "outbox %s: %s: %s [correlation id %s]", job_id, what, reason, incident)

    def _reschedule(self, db: Session, job: Outbox, pace_key: str, status, error, exc) -> str:
        now = self.clock()
        if status == 429:
            wait = retry_after(exc)
            job.attempts -= 1  # being told to wait is not a failed attempt
            job.due_at = now + wait
            hold_channel(db, channel=pace_key, until=now + wait, pacing=self._pacing(pace_key))
            return "ratelimited"
        if status is not None and status < 500 and error in PERMANENT_ERRORS:
            job.status = OutboxStatus.DEAD
            return "dead"
        wait = channel_failed(db, channel=pace_key, now=now, pacing=self._pacing(pace_key))
        job.due_at = now + wait
        return "retry"

    def queue_sizes(self) -> dict[str, int]:
        """Pending and dead jobs in the whole outbox (sent ones are history, not queue)."""
        query = (
            select(Outbox.status, func.count())
            .where(Outbox.status != OutboxStatus.SENT)
            .group_by(Outbox.status)
        )
        with self.sessions() as db:
            counts = dict(db.execute(query).all())
        return {status: counts.get(status, 0) for status in ("pending", "dead")}


def incident_of(last_error: str | None) -> str | None:
    """The correlation id of the failures a job is going through, if it is."""
    found = INCIDENT.match(last_error or "")
    return found.group(1) if found else None


def find_outbox_message(
    client: WebClient,
    channel_id: str,
    outbox_id: int,
    since: datetime,
    thread_ts: str | None = None,
) -> tuple[str, str] | None:
    """Search the channel's history since `since` (or the thread of `thread_ts`, whose
    replies the history leaves out) for the message carrying `outbox_id`."""
    cursor = None
    read = client.conversations_replies if thread_ts else client.conversations_history
    where = {"ts": thread_ts} if thread_ts else {}
    for _ in range(HISTORY_PAGES):
        page = read(
            channel=channel_id,
            oldest=f"{since.timestamp() - 1:.6f}",
            include_all_metadata=True,
            limit=200,
            cursor=cursor,
            **where,
        )
        for message in page.get("messages", []):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == METADATA_TYPE
                and payload.get("outbox_id") == outbox_id
            ):
                return channel_id, message["ts"]
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def retry_after(exc: Exception) -> timedelta:
    """Slack's Retry-After header, in whole seconds, at least one."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "1")
    value = value[0] if isinstance(value, list) else value
    try:
        return min(timedelta(seconds=max(1, int(value))), MAX_HOLD)
    except ValueError:
        return timedelta(seconds=1)


def backoff(failures: int) -> timedelta:
    """Exponential backoff with jitter: about 1 s, 2 s, 4 s ... capped at five minutes."""
    seconds = min(MAX_BACKOFF.total_seconds(), 2 ** max(0, failures - 1))
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def take_slot(db: Session, *, channel: str, now: datetime, pacing: Pacing) -> float | None:
    """Reserve a send slot on `channel`: None if granted, else seconds until one frees up.

    A virtual-scheduling rate limit (GCRA): `next_at` is when the channel would be idle again if
    every granted message were spaced by one interval; up to `burst` messages may run ahead.
    """
    pace = _lock_pace(db, channel, now)
    if pace is None:  # another replica is taking a slot on this channel right now
        return pacing.interval.total_seconds()
    if pace.next_at - now > MAX_HOLD + pacing.interval * pacing.burst:
        # Nothing holds a channel this long: it was held by a clock that has since gone back
        # (an NTP step). Waiting for that clock to come round again would stall the channel.
        log.warning(
            "channel %s: held until %s, after now (%s); clock went back", channel, pace.next_at, now
        )
        pace.next_at = now
    earliest = pace.next_at - pacing.interval * (pacing.burst - 1)
    if now < earliest:
        return (earliest - now).total_seconds()
    pace.next_at = max(pace.next_at, now) + pacing.interval
    return None


def hold_channel(db: Session, *, channel: str, until: datetime, pacing: Pacing) -> None:
    """No slot on `channel` before `until`, then one at a time."""
    pace = _lock_pace(db, channel, until, skip_locked=False)
    pace.next_at = max(pace.next_at, until + pacing.interval * (pacing.burst - 1))


def channel_failed(db: Session, *, channel: str, now: datetime, pacing: Pacing) -> timedelta:
    """Count a 5xx or network failure on `channel` and hold it for a growing backoff."""
    pace = _lock_pace(db, channel, now, skip_locked=False)
    pace.failures += 1
    wait = backoff(pace.failures)
    hold_channel(db, channel=channel, until=now + wait, pacing=pacing)
    return wait


def _lock_pace(db: Session, channel: str, now: datetime, skip_locked: bool = True):
    query = select(ChannelPace).where(ChannelPace.channel == channel)
    query = query.with_for_update(skip_locked=skip_locked)
    pace = db.scalar(query)
    if pace is None:
        try:
            with db.begin_nested():
                db.add(ChannelPace(channel=channel, next_at=now, failures=0))
        except IntegrityError:  # another replica created it at the same moment
            pass
        pace = db.scalar(query)
    return pace
