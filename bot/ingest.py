"""POST /ingest: one mention from any source, signed like Slack signs its requests.

Headers `X-Ingest-Timestamp` and `X-Ingest-Signature: v1=<hex HMAC-SHA256 of
"v1:{timestamp}:{raw body}" keyed with INGEST_SECRET>`, within five minutes of now.
Answers 202 (new), 200 (duplicate), 400 (names the bad field), 401 (signature), 413 (over 64 KiB).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.metrics import Metrics
from escalation.cases import case_of
from escalation.mentions import NewMention, record_mention
from escalation.people import Directory
from escalation.sla import Policies
from escalation.surge import (
    AlertKind,
    Sighting,
    SurgeDetector,
    raise_once,
    recent_sightings,
    roll_up_case,
    tell_rapid_team,
)
from escalation.triage import Assessment, MentionFacts, TriageContext, TriageRules, assess

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
MAX_SKEW_SECONDS = 300
# How long a mention waits for the surge of its topic that another request is raising, so that
# it joins the roll-up case instead of getting a card of its own (the surge commits in ms).
SURGE_WAIT_SECONDS = 5.0
UNIX_SECONDS = re.compile(r"[0-9]{1,20}")


class IngestError(Exception):
    """A refused request: the HTTP status and the sentence the sender sees."""

    def __init__(self, status: int, error: str, field: str | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.field = status, error, field

    def body(self) -> dict:
        return {"error": self.error} | ({"field": self.field} if self.field else {})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Ingest-Signature value for `body` sent at `timestamp` (Unix seconds)."""
    base = b"v1:" + timestamp.encode() + b":" + body
    return "v1=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float):
    """Raise IngestError(401) unless the request was signed with `secret` in the last 5 minutes."""
    if not timestamp or not signature:
        raise IngestError(401, "missing X-Ingest-Timestamp or X-Ingest-Signature")
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses, as it refuses
    # numbers of more than 4,300 digits.
    if not UNIX_SECONDS.fullmatch(timestamp) or abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        raise IngestError(401, "stale or invalid X-Ingest-Timestamp (allowed: 5 minutes)")
    # As bytes: compare_digest raises TypeError on a str with non-ASCII characters.
    expected = sign(secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, signature.encode(errors="replace")):
        raise IngestError(401, "signature does not match")


def parse(body: bytes) -> NewMention:
    """The mention in `body`, or IngestError(400) naming the first bad field."""
    try:
        return NewMention.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        if first["type"] == "json_invalid":
            raise IngestError(400, "body is not valid JSON") from None
        if first["type"] == "model_type" and field is None:
            raise IngestError(400, "body must be a JSON object") from None
        raise IngestError(400, f"{field}: {first['msg']}", field) from None


@dataclass
class Ingestor:
    """Assesses, stores and queues; shared by the webhook, the sources and `replay`."""

    sessions: sessionmaker[Session]
    triage_channel: str
    metrics: Metrics
    clock: Callable[[], datetime]
    on_new: Callable[[], None] = lambda: None
    policies: Policies | None = None
    rules: TriageRules | None = None
    grouping_window: timedelta | None = None
    directory: Directory | None = None  # who the bot acts as when the customer writes again
    rapid_channel: str | None = None  # where surge alerts go
    context: TriageContext = field(default_factory=TriageContext)
    detector: SurgeDetector = field(default_factory=SurgeDetector)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Volume surges detected and not committed yet, by topic: set once their roll-up case is.
    raising: dict[str, threading.Event] = field(default_factory=dict)

    @classmethod
    def for_org(cls, org, sessions, metrics, clock, on_new=lambda: None) -> Ingestor:
        """The ingestor of an organisation: its triage rules, grouping window and deadlines."""
        return cls(
            sessions,
            org.channels.triage,
            metrics,
            clock,
            on_new,
            org.sla_policies(),
            rules=TriageRules.from_config(org.triage),
            grouping_window=org.grouping_window,
            directory=org.directory(),
            rapid_channel=org.channels.rapid_response,
        )

    def take(self, mention: NewMention) -> tuple[int, bool]:
        """Store `mention` once; returns its id and whether it was new.

        A mention of a topic that is surging joins the surge's roll-up case; every new mention
        is watched for surges, and a new one is queued for the rapid-action team.
        """
        assessment, now = self.assess(mention), self.clock()
        topic = self.detector.cluster(mention.text)
        if topic:
            self._await_surge(topic)
        raised: list[str] = []
        try:
            mention_id, created = self._store(mention, assessment, topic, now, raised)
        finally:  # committed or rolled back: the mentions waiting for its surge may go on
            self._surges_settled(raised)
        self.metrics.ingested.labels(mention.source, "new" if created else "duplicate").inc()
        if created:
            self.on_new()
        return mention_id, created

    def _store(
        self,
        mention: NewMention,
        assessment: Assessment,
        topic: str | None,
        now: datetime,
        raised: list[str],
    ) -> tuple[int, bool]:
        """Store the mention (into the roll-up case of its topic's surge, if one is on) and
        watch it for surges, in one transaction."""
        cooldown = self.detector.config.cooldown
        with unit_of_work(self.sessions) as db:
            into = roll_up_case(db=db, topic=topic, now=now, cooldown=cooldown) if topic else None
            mention_id, created = record_mention(
                db=db,
                mention=mention,
                triage_channel=self.triage_channel,
                now=now,
                assessment=assessment,
                policies=self.policies,
                grouping_window=self.grouping_window,
                org=self.directory,
                into_case=into,
            )
            if created:
                self._watch(db, _sighting(mention_id, mention, assessment, now), now, raised)
        return mention_id, created

    def _await_surge(self, topic: str) -> None:
        """Wait while another request raises a volume surge of `topic`: it has decided, and
        its roll-up case is about to be committed, which this mention then joins."""
        with self.lock:
            raising = self.raising.get(topic)
        if raising is not None and not raising.wait(SURGE_WAIT_SECONDS):
            log.warning("surge of %r not settled in %s s; going on", topic, SURGE_WAIT_SECONDS)

    def _surges_settled(self, topics: list[str]) -> None:
        with self.lock:
            for topic in topics:
                if (raising := self.raising.pop(topic, None)) is not None:
                    raising.set()

    def _watch(self, db: Session, sighting: Sighting, now: datetime, raised: list[str]) -> None:
        """Feed the surge detector; store and announce the alerts it calls for that are new.
        A volume surge's roll-up case is the case of the mention that tipped it; its topic goes
        into `raised` (for `_surges_settled`) until the transaction ends."""
        with self.lock:  # the detector is in memory, one caller at a time; no I/O under it
            alerts = self.detector.observe(sighting, now=now)
            for alert in alerts:
                if alert.kind == AlertKind.VOLUME and alert.topic not in self.raising:
                    self.raising[alert.topic] = threading.Event()
                    raised.append(alert.topic)
        for alert in alerts:
            surge = raise_once(db=db, alert=alert, cooldown=self.detector.config.cooldown)
            if surge is None:
                continue
            if alert.kind == AlertKind.VOLUME:
                surge.case_id = case_of(db, sighting.mention_id)
            if self.rapid_channel:
                tell_rapid_team(db=db, surge=surge, channel=self.rapid_channel, now=now)

    def warm_up(self) -> None:
        """Learn the usual rates from the mentions stored lately, so that a replica that
        (re)starts can tell a surge at once."""
        now = self.clock()
        since = now - self.detector.config.baseline
        with self.sessions() as db:
            sightings = recent_sightings(db=db, since=since, limit=50_000)
        with self.lock:
            self.detector.warm_up(sightings, now=now)

    def assess(self, mention: NewMention) -> Assessment:
        """Triage, remembering recent mentions for incident clusters (one thread at a time)."""
        author = mention.author
        facts = MentionFacts(
            mention.text,
            mention.source.value,
            author.handle.removeprefix("@"),
            author.followers,
            author.verified,
            mention.created_at,
            author.display_name or "",
        )
        with self.lock:
            return assess(facts, self.rules, context=self.context)


def _sighting(mention_id: int, mention: NewMention, assessment: Assessment, now) -> Sighting:
    return Sighting(
        mention_id=mention_id,
        text=mention.text,
        posted_at=min(mention.created_at, now),
        sentiment=assessment.sentiment,
        followers=mention.author.followers,
        verified=mention.author.verified,
        risks=frozenset(assessment.risks),
        crisis_signal=assessment.crisis_signal,
        source=mention.source.value,
        handle=mention.author.handle.removeprefix("@"),
    )
