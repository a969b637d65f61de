"""Surge detection on the incoming mention stream, for the rapid-action team.

Each mention belongs to one topic, its cluster: the town it names (from a gazetteer), else the
first group of terms it matches, else its first hashtag. Three things call for an alert:

- volume: a topic has `min_count` mentions in the last `window`, and `ratio` times what the
  `baseline` window before it predicts;
- sentiment: the share of negative mentions in the window is `min_negative_rise` above its share
  over the baseline, outside the topics running above their usual rate (a volume alert speaks
  for those);
- reach: one negative or crisis-signalled post by an author with `reach_followers` followers or
  more, or by a verified journalist.

The detector is pure and in memory: every replica feeds it the same stream. `raise_once` stores
an alert unless its kind and topic alerted within `cooldown` of that surge last being seen, so
however many replicas detect a surge, and for as long as it lasts, it is alerted once.
"""

from __future__ import annotations

import re
from bisect import bisect_right, insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from escalation.models import Base, Mention, Outbox, OutboxKind
from escalation.store import insert_ignoring_conflict
from escalation.triage.text import CAMEL, HANDLE, HASHTAG, URL

# Brightwave's towns and the districts people name instead; a real operator lists their own.
TOWNS: dict[str, tuple[str, ...]] = {
    "leeds": ("headingley", "kirkstall", "chapel allerton", "horsforth"),
    "sheffield": ("crookes", "walkley", "hillsborough"),
    "hull": ("bransholme", "kingston upon hull"),
    "bristol": ("clifton", "redland", "bedminster"),
    "cardiff": ("canton", "splott", "roath"),
    "london": ("hackney", "brixton", "camden", "islington"),
    "newcastle": ("newcastle upon tyne", "tyneside"),
    "stoke": ("stoke on trent", "hanley"),
    "milton keynes": (),
    "llandrindod wells": (),
    **dict.fromkeys(
        "aberystwyth bangor bath birmingham brighton cambridge carlisle coventry derby dundee"
        " edinburgh exeter glasgow harrogate kettering leicester liverpool luton manchester"
        " norwich nottingham oxford peterborough plymouth preston reading salford southampton"
        " stirling swansea taunton wrexham york".split(),
        (),
    ),
}
# Postcode districts such as LS6 name their town by their area. Single-letter areas (E8, S9, M4)
# are left out: they read like phone models, error codes and motorways.
POSTCODE_AREAS = {
    "ls": "leeds", "hu": "hull", "bs": "bristol", "cf": "cardiff", "le": "leicester",
    "cv": "coventry", "ex": "exeter", "rg": "reading", "pr": "preston", "mk": "milton keynes",
    "st": "stoke", "nr": "norwich", "de": "derby", "ba": "bath", "sa": "swansea",
    "dd": "dundee", "hg": "harrogate", "pe": "peterborough", "ca": "carlisle", "ng": "nottingham",
    "eh": "edinburgh", "yo": "york", "bn": "brighton", "so": "southampton", "pl": "plymouth",
}  # fmt: skip
# Town names that are also everyday words count only when written with a capital.
AMBIGUOUS_PLACES = ("bath", "reading")
# In order: a mention matching several groups belongs to the first.
TERM_GROUPS: dict[str, tuple[str, ...]] = {
    "safety": ("fire", "smoke", "sparks", "sparking", "live wire", "exposed wires", "hazard"),
    "data-breach": ("breach", "data breach", "databreach", "leak", "leaked", "hacked",
                    "someone else's bill"),
    "outage": ("down", "outage", "offline", "no internet", "no broadband", "no wifi", "dead",
               "no connection", "no service", "not working", "cut off", "keeps dropping"),
    "mobile-signal": ("no signal", "signal", "4g", "5g", "mast", "coverage"),
    "speed": ("slow", "speed", "speeds", "buffering", "lag", "laggy", "congestion"),
    "tv": ("tv", "tv box", "channels", "no picture", "recording", "recordings"),
    "app": ("app", "login", "log in", "password", "website"),
    "billing": ("bill", "billed", "billing", "charge", "charged", "refund", "direct debit",
                "price rise", "overcharged", "fee", "fees"),
    "engineer": ("engineer", "appointment", "installation", "install", "no show", "technician"),
    "support": ("on hold", "callback", "call back", "chatbot", "customer service", "support"),
    "boycott": ("boycott", "cancel", "cancelled", "cancelling", "switching", "leaving"),
}  # fmt: skip
# Words that carry no topic. Negations and "down", "off", "out" stay: they make outage terms.
STOPWORDS = frozenset(
    "a about after all also am an and any anyone anything are as at be been before being but by"
    " can could did do does doing for from get got had has have having he her here hey hi hello"
    " him his how i i'd i'll i'm i've if in into is it it's its just know let me my myself of on"
    " one or our ours please pls she so some than that that's the their them then there these"
    " they this those to too up us very was we we're were what when where which who why will"
    " with would you you're your yours brightwave brightwavehelp today now else".split()
)

WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
POSTCODE_DISTRICT = re.compile(r"([a-z]{2})\d{1,2}[a-z]?")
NEGATIVE = "negative"
TAG_LENGTH = 100
TOPIC_LENGTH = 300
PRUNE_EVERY_SECONDS = 60
SENTIMENT_EVERY_SECONDS = 10  # a dip builds over minutes; a burst must not pay for it per mention


@dataclass(frozen=True)
class SurgeConfig:
    """What counts as a surge; the defaults suit Brightwave. Change with dataclasses.replace."""

    window: timedelta = timedelta(minutes=20)
    baseline: timedelta = timedelta(hours=6)  # the window before `window`, for the usual rate
    min_count: int = 10  # fewer mentions of a topic never make a volume surge
    ratio: float = 3.0  # times the usual count for the window
    min_window_mentions: int = 20  # in the window and in the baseline, for a sentiment dip
    min_negative_rise: float = 0.25  # share of negative mentions, above the baseline's share
    min_rising: int = 3  # mentions that make a topic above its usual rate a thing of its own
    reach_followers: int = 50_000
    journalist_risk: str = "press"  # the triage risk that marks a journalist
    cooldown: timedelta = timedelta(hours=2)  # calm needed before a topic alerts again
    recheck: timedelta = timedelta(minutes=1)  # how often an ongoing surge is reported seen
    samples: int = 5  # mention ids kept as evidence
    places: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: TOWNS)
    ambiguous_places: tuple[str, ...] = AMBIGUOUS_PLACES
    postcode_areas: Mapping[str, str] = field(default_factory=lambda: POSTCODE_AREAS)
    term_groups: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: TERM_GROUPS)
    stopwords: frozenset[str] = STOPWORDS

    def __post_init__(self) -> None:
        if not timedelta(0) < self.window < self.baseline:
            raise ValueError("surge: the window must be positive and shorter than the baseline")
        if self.min_count < 1 or self.ratio <= 0 or self.min_window_mentions < 1:
            raise ValueError("surge: min_count, ratio and min_window_mentions must be positive")


class Topics:
    """The normaliser: lowercase words without links, handles or stopwords, then the topic."""

    def __init__(self, config: SurgeConfig) -> None:
        self.stopwords = config.stopwords
        self.ambiguous = frozenset(name.lower() for name in config.ambiguous_places)
        self.postcode_areas = {area.lower(): town for area, town in config.postcode_areas.items()}
        self.places = self._phrases({t: (t, *aliases) for t, aliases in config.places.items()})
        self.groups = self._phrases(config.term_groups)
        self.rank = {name: i for i, name in enumerate(config.term_groups)}
        self.longest = max(map(len, [*self.places, *self.groups]), default=1)

    def words(self, text: str) -> list[str]:
        """The words of `text` as written, hashtags split, without possessives or stopwords."""
        text = HANDLE.sub(" ", URL.sub(" ", text.replace("’", "'")))
        text = HASHTAG.sub(lambda m: " " + CAMEL.sub(" ", m.group(1)) + " ", text)
        words = (word.removesuffix("'s") for word in WORD.findall(text))  # Hull's: Hull
        return [word for word in words if word.lower() not in self.stopwords]

    def terms(self, text: str) -> list[str]:
        return [word.lower() for word in self.words(text)]

    def key(self, text: str) -> str | None:
        """The topic: "place:<town>", else "terms:<group>", else "tag:<hashtag>", else None."""
        words = self.words(text)
        terms = [word.lower() for word in words]
        if town := self.place(words, terms):
            return f"place:{town}"
        if group := self.group(terms):
            return f"terms:{group}"
        tags = [tag.lower() for tag in HASHTAG.findall(text) if tag.lower() not in self.stopwords]
        return f"tag:{tags[0][:TAG_LENGTH]}" if tags else None

    def place(self, words: list[str], terms: list[str]) -> str | None:
        """The first town named, by a name, a district or a postcode district."""
        for i, term in enumerate(terms):
            for n in range(min(self.longest, len(terms) - i), 0, -1):
                town = self.places.get(tuple(terms[i : i + n]))
                if town and (n > 1 or term not in self.ambiguous or words[i][0].isupper()):
                    return town
            district = POSTCODE_DISTRICT.fullmatch(term)
            if district and district.group(1) in self.postcode_areas:
                return self.postcode_areas[district.group(1)]
        return None

    def group(self, terms: list[str]) -> str | None:
        """The first group, in the configured order, that one of the terms belongs to."""
        found = set()
        for i in range(len(terms)):
            for n in range(1, min(self.longest, len(terms) - i) + 1):
                found.add(self.groups.get(tuple(terms[i : i + n])))
        found.discard(None)
        return min(found, key=self.rank.__getitem__, default=None)

    def _phrases(self, named: Mapping[str, tuple[str, ...]]) -> dict[tuple[str, ...], str]:
        found: dict[tuple[str, ...], str] = {}
        for name, phrases in named.items():
            for phrase in phrases:
                found.setdefault(tuple(self.terms(phrase)), name)
        found.pop((), None)
        return found


@dataclass(frozen=True)
class Sighting:
    """What the detector needs to know of a mention."""

    mention_id: int
    text: str
    posted_at: datetime
    sentiment: str | None = None
    followers: int = 0
    verified: bool = False
    risks: frozenset[str] = frozenset()
    crisis_signal: bool = False
    source: str = ""
    handle: str = ""

    @classmethod
    def of(cls, mention: Mention) -> Sighting:
        return cls(
            mention_id=mention.id,
            text=mention.text,
            posted_at=mention.posted_at,
            sentiment=mention.sentiment,
            followers=mention.author_followers,
            verified=mention.author_verified,
            risks=frozenset(mention.risks or ()),
            crisis_signal=bool(mention.crisis_signal),
            source=mention.source,
            handle=mention.author_handle,
        )


class AlertKind(StrEnum):
    VOLUME = "volume"
    SENTIMENT = "sentiment"
    REACH = "reach"


STREAM = "stream"  # the topic of a sentiment alert: the whole stream


@dataclass(frozen=True)
class Alert:
    """A surge as detected, with the evidence a person can check.

    `topic` is the cluster key (volume), "stream" (sentiment) or "author:<source>:<handle>"
    (reach). `count` is the mentions in the window: the topic's, the stream's outside surging
    topics, or 1; `expected` is how many the baseline predicts for such a window.
    """

    kind: AlertKind
    topic: str
    window_start: datetime
    window_end: datetime  # when it was detected
    count: int
    expected: float
    negative_share: float
    baseline_negative_share: float | None
    sample_ids: tuple[int, ...]
    reason: str

    def as_json(self) -> dict:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        times = {key: data[key].isoformat() for key in ("window_start", "window_end")}
        return data | times | {"kind": self.kind.value, "sample_ids": list(self.sample_ids)}

    @classmethod
    def from_json(cls, data: Mapping) -> Alert:
        times = {key: datetime.fromisoformat(data[key]) for key in ("window_start", "window_end")}
        return cls(
            **data
            | times
            | {"kind": AlertKind(data["kind"]), "sample_ids": tuple(data["sample_ids"])}
        )


class _Series:
    """Mention times in order, each with (mention id, negative, topic), for counting windows.
    Windows are (start, end]."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.items: list[tuple[int, bool, str | None]] = []
        self.negative_times: list[float] = []

    def add(self, at: float, item: tuple[int, bool, str | None]) -> None:
        i = bisect_right(self.times, at)
        self.times.insert(i, at)
        self.items.insert(i, item)
        if item[1]:
            insort(self.negative_times, at)

    def count(self, start: float, end: float, *, negative: bool = False) -> int:
        times = self.negative_times if negative else self.times
        return bisect_right(times, end) - bisect_right(times, start)

    def between(self, start: float, end: float) -> list[tuple[int, bool, str | None]]:
        return self.items[bisect_right(self.times, start) : bisect_right(self.times, end)]

    def forget_until(self, moment: float) -> None:
        cut = bisect_right(self.times, moment)
        del self.times[:cut], self.items[:cut]
        del self.negative_times[: bisect_right(self.negative_times, moment)]


class SurgeDetector:
    """Sliding windows over the mentions fed in, in about the order they were posted.

    `observe` returns the alerts the stream calls for; an alert offered is not offered again for
    `recheck`, and `raise_once` decides whether it is new or a surge already alerted. Not thread
    safe: one caller at a time.
    """

    def __init__(self, config: SurgeConfig | None = None) -> None:
        self.config = config or SurgeConfig()
        self._since: float | None = None  # where the detector's history starts
        self.topics = Topics(self.config)
        self._stream = _Series()
        self._by_topic: dict[str, _Series] = {}
        self._held: dict[tuple[str, str], float] = {}  # (kind, topic) -> not offered before
        self._pruned = self._looked = float("-inf")
        self._window = self.config.window.total_seconds()
        self._baseline = self.config.baseline.total_seconds()

    def cluster(self, text: str) -> str | None:
        """The surge cluster (topic key) a mention's text belongs to, if any."""
        return self.topics.key(text)

    def remember(self, sighting: Sighting, *, now: datetime) -> str | None:
        """Count a mention without looking for alerts; its topic."""
        topic = self.topics.key(sighting.text)
        at, t = min(sighting.posted_at, now).timestamp(), now.timestamp()
        self._since = t if self._since is None else self._since
        if at > t - self._baseline:
            item = (sighting.mention_id, sighting.sentiment == NEGATIVE, topic)
            self._stream.add(at, item)
            if topic:
                self._by_topic.setdefault(topic, _Series()).add(at, item)
        if t - self._pruned >= PRUNE_EVERY_SECONDS:
            self._prune(t)
        return topic

    def warm_up(self, sightings: Iterable[Sighting], *, now: datetime) -> None:
        """Count the stored mentions of the last `baseline` (see `recent_sightings`) without
        alerting, so that a replica that starts knows the usual rates at once."""
        t = now.timestamp()
        self._since = min(self._since or t, t - self._baseline)
        for sighting in sightings:
            self.remember(sighting, now=now)

    def observe(self, sighting: Sighting, *, now: datetime) -> list[Alert]:
        """Count a mention; the alerts the stream now calls for."""
        topic = self.remember(sighting, now=now)
        found = [self._reach(sighting, now), self._volume(topic, now), self._sentiment(now)]
        return [alert for alert in found if alert and self._offer(alert, now)]

    def _reach(self, sighting: Sighting, now: datetime) -> Alert | None:
        config = self.config
        journalist = sighting.verified and config.journalist_risk in sighting.risks
        loud = sighting.followers >= config.reach_followers or journalist
        negative = sighting.sentiment == NEGATIVE
        if not loud or not (negative or sighting.crisis_signal):
            return None
        if now - sighting.posted_at > config.window:
            return None
        who = "a verified journalist" if journalist else f"{sighting.followers:,} followers"
        what = "negative" if negative else "crisis-signal"
        return Alert(
            kind=AlertKind.REACH,
            topic=f"author:{sighting.source}:{sighting.handle.lower()}"[:TOPIC_LENGTH],
            window_start=min(sighting.posted_at, now),
            window_end=now,
            count=1,
            expected=0.0,
            negative_share=1.0 if negative else 0.0,
            baseline_negative_share=None,
            sample_ids=(sighting.mention_id,),
            reason=f"{what} post by @{sighting.handle} ({who})",
        )

    def _volume(self, topic: str | None, now: datetime) -> Alert | None:
        series = self._by_topic.get(topic or "")
        config, t, w = self.config, now.timestamp(), self._window
        if series is None or not self._known(t):
            return None  # no topic, or too little history to tell a surge from the usual
        count, expected = self._rate(series, t)
        if count < config.min_count or count < config.ratio * expected:
            return None
        recent = series.between(t - w, t)
        return Alert(
            kind=AlertKind.VOLUME,
            topic=topic,
            window_start=now - config.window,
            window_end=now,
            count=count,
            expected=round(expected, 2),
            negative_share=round(sum(item[1] for item in recent) / count, 3),
            baseline_negative_share=None,
            sample_ids=tuple(item[0] for item in recent[: config.samples]),
            reason=(
                f"{count} mentions about {topic_label(topic)} in the last {_span(w)}, against"
                f" {expected:.1f} usually (from the {self._history(t)} before)"
            ),
        )

    def _sentiment(self, now: datetime) -> Alert | None:
        config, t, w, b = self.config, now.timestamp(), self._window, self._baseline
        if t - self._looked < SENTIMENT_EVERY_SECONDS or not self._known(t):
            return None
        self._looked = t
        rising = self._above_usual(t)
        total, negative = self._tally(t - w, t, rising)
        base_total, base_negative = self._tally(t - b, t - w, rising)
        if min(total, base_total) < config.min_window_mentions:
            return None
        share, base_share = negative / total, base_negative / base_total
        if share - base_share < config.min_negative_rise:
            return None
        recent = [i for i in self._stream.between(t - w, t) if i[1] and i[2] not in rising]
        left_out = f", leaving out {', '.join(sorted(map(topic_label, rising)))}" if rising else ""
        return Alert(
            kind=AlertKind.SENTIMENT,
            topic=STREAM,
            window_start=now - config.window,
            window_end=now,
            count=total,
            expected=round(base_total * w / self._known(t), 2),
            negative_share=round(share, 3),
            baseline_negative_share=round(base_share, 3),
            sample_ids=tuple(item[0] for item in recent[-config.samples :]),
            reason=(
                f"{negative} of {total} mentions negative ({share:.0%}) in the last {_span(w)},"
                f" against {base_share:.0%} in the {self._history(t)} before{left_out}"
            ),
        )

    def _known(self, t: float) -> float:
        """Seconds of history before the window that give the usual rates; 0 while that is
        shorter than one window (just started, no warm-up)."""
        known = min(self._baseline, t - self._since) - self._window
        return known if known >= self._window else 0.0

    def _history(self, t: float) -> str:
        return _span(self._known(t))

    def _rate(self, series: _Series, t: float) -> tuple[int, float]:
        """Mentions in the window, and how many the baseline predicts for it."""
        w, b = self._window, self._baseline
        return series.count(t - w, t), series.count(t - b, t - w) * w / self._known(t)

    def _above_usual(self, t: float) -> set[str]:
        """Topics running above their usual rate: left out of the sentiment dip, as their own
        volume alert speaks, or will speak, for them."""
        config, rising = self.config, set()
        for topic, series in self._by_topic.items():
            count, expected = self._rate(series, t)
            if count >= config.min_rising and count >= config.ratio * expected:
                rising.add(topic)
        return rising

    def _tally(self, start: float, end: float, leave_out: set[str]) -> tuple[int, int]:
        """Mentions and negative mentions in (start, end], outside the topics `leave_out`."""
        series = [self._by_topic[topic] for topic in leave_out]
        total = self._stream.count(start, end) - sum(s.count(start, end) for s in series)
        negative = self._stream.count(start, end, negative=True) - sum(
            s.count(start, end, negative=True) for s in series
        )
        return total, negative

    def _offer(self, alert: Alert, now: datetime) -> bool:
        key, t = (alert.kind.value, alert.topic), now.timestamp()
        if self._held.get(key, float("-inf")) > t:
            return False
        self._held[key] = t + self.config.recheck.total_seconds()
        return True

    def _prune(self, t: float) -> None:
        """Forget what is older than the baseline: memory follows the traffic, not the uptime."""
        cutoff = t - self._baseline
        self._stream.forget_until(cutoff)
        for topic, series in list(self._by_topic.items()):
            series.forget_until(cutoff)
            if not series.times:
                del self._by_topic[topic]
        self._held = {key: until for key, until in self._held.items() if until > t}
        self._pruned = t


def topic_label(topic: str) -> str:
    """A topic key as a person reads it: "Leeds", "outage", "#boycottbrightwave"."""
    kind, _, name = topic.partition(":")
    return {"place": name.title(), "tag": f"#{name}"}.get(kind, name)


def _span(seconds: float) -> str:
    hours, minutes = divmod(round(seconds / 60), 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


class SurgeAlert(Base):
    """An alert raised: the n-th (`seq`) for its kind and topic, with its evidence.

    Replicas that detect the same surge try to store the same (kind, topic, seq): the unique key
    lets one of them. While the surge goes on, `last_seen_at` moves and no new alert is raised.
    """

    __tablename__ = "surge_alerts"
    __table_args__ = (
        UniqueConstraint("kind", "topic", "seq", name="uq_surge_alerts_kind_topic_seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AlertKind] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH))
    seq: Mapped[int]
    raised_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    evidence: Mapped[dict] = mapped_column(JSON)  # Alert.as_json()
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))  # the roll-up card's

    @property
    def alert(self) -> Alert:
        return Alert.from_json(self.evidence)


def raise_once(*, db: Session, alert: Alert, cooldown: timedelta) -> SurgeAlert | None:
    """Store `alert`, unless its kind and topic alerted within `cooldown` of that surge last
    being seen: then the surge counts as seen now. None when nothing new was stored."""
    at = alert.window_end
    latest = _latest(db, alert.kind, alert.topic)
    if latest is not None and at - latest.last_seen_at < cooldown:
        seen = update(SurgeAlert).where(SurgeAlert.id == latest.id, SurgeAlert.last_seen_at < at)
        db.execute(seen.values(last_seen_at=at))
        return None
    values = {
        "kind": alert.kind.value,
        "topic": alert.topic,
        "seq": latest.seq + 1 if latest else 1,
        "raised_at": at,
        "last_seen_at": at,
        "evidence": alert.as_json(),
    }
    new_id = insert_ignoring_conflict(
        db, SurgeAlert, values, keys=["kind", "topic", "seq"], returning=SurgeAlert.id
    )
    return None if new_id is None else db.get(SurgeAlert, new_id)


def detect(
    *, db: Session, detector: SurgeDetector, sighting: Sighting, now: datetime
) -> list[SurgeAlert]:
    """Feed one mention to `detector` and store the alerts it calls for that are new."""
    cooldown = detector.config.cooldown
    stored = [
        raise_once(db=db, alert=a, cooldown=cooldown) for a in detector.observe(sighting, now=now)
    ]
    return [alert for alert in stored if alert is not None]


def open_surge(*, db: Session, topic: str, now: datetime, cooldown: timedelta) -> SurgeAlert | None:
    """The volume alert of `topic` if its surge is still on (seen within `cooldown`): the
    anchor of the topic's roll-up card."""
    latest = _latest(db, AlertKind.VOLUME, topic)
    return latest if latest is not None and now - latest.last_seen_at < cooldown else None


def tell_rapid_team(*, db: Session, surge: SurgeAlert, channel: str, now: datetime) -> None:
    """Queue the alert for the rapid-response channel (once per alert)."""
    db.add(
        Outbox(
            dedupe_key=f"surge:{surge.id}",
            kind=OutboxKind.SURGE_ALERT,
            channel=channel,
            payload={"alert": surge.id},
            due_at=now,
            created_at=now,
        )
    )


def roll_up_case(*, db: Session, topic: str, now: datetime, cooldown: timedelta) -> int | None:
    """The case whose card rolls up the mentions of `topic` while its surge is on, if any."""
    surge = open_surge(db=db, topic=topic, now=now, cooldown=cooldown)
    return surge.case_id if surge is not None else None


def recent_sightings(
    *, db: Session, since: datetime, after_id: int = 0, limit: int = 5_000
) -> list[Sighting]:
    """Stored mentions posted since `since` with an id above `after_id`, by id: to warm a
    detector up at start, then to feed it what every replica took in."""
    query = (
        select(Mention)
        .where(Mention.posted_at >= since, Mention.id > after_id)
        .order_by(Mention.id)
        .limit(limit)
    )
    return [Sighting.of(mention) for mention in db.scalars(query)]


def _latest(db: Session, kind: AlertKind, topic: str) -> SurgeAlert | None:
    query = (
        select(SurgeAlert)
        .where(SurgeAlert.kind == kind.value, SurgeAlert.topic == topic)
        .order_by(SurgeAlert.seq.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return db.scalars(query).first()
