"""Surge detection: topics, the three kinds of alert, one alert per surge across replicas.

Ordinary traffic is Brightwave's labelled mentions (samples/ and tests/data/), without the
influencers and journalists, replayed in a fixed order at a fixed pace; sentiment is the label.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count, cycle

import pytest
from sqlalchemy import event, func, select

from bot.db import unit_of_work
from bot.ingest import Ingestor
from bot.metrics import Metrics
from escalation.mentions import NewMention
from escalation.models import Mention
from escalation.surge import (
    Alert,
    AlertKind,
    Sighting,
    SurgeAlert,
    SurgeConfig,
    SurgeDetector,
    Topics,
    detect,
    open_surge,
    raise_once,
    recent_sightings,
    topic_label,
)
from tests.support import ORG, ROOT, mention_record

START = datetime(2026, 11, 9, 6, tzinfo=UTC)
RECORDS = [
    json.loads(line)
    for path in (
        ROOT / "samples" / "brightwave-mentions.jsonl",
        ROOT / "tests/data/triage-extra.jsonl",
    )
    for line in path.read_text().splitlines()
]
BY_ID = {record["id"]: record for record in RECORDS}
ORDINARY = [r for r in RECORDS if not {"influencer", "journalist"} & set(r["labels"]["tags"])]
NEGATIVE = [r for r in ORDINARY if r["labels"]["sentiment"] == "negative"]
HULL_OUTAGE = [
    ("@BrightwaveHelp broadband down in Hull since about half nine, anyone else?", "neutral"),
    ("No internet in Bransholme at all, router flashing red. @BrightwaveHelp", "neutral"),
    ("@BrightwaveHelp is there an outage in Hull? Whole street is offline", "neutral"),
    (
        "HU8 fibre gone completely and I'm working from home. Sort it out @BrightwaveHelp",
        "negative",
    ),
    ("hull's internet is dead AGAIN @brightwave, this is a joke", "negative"),
    ("@BrightwaveHelp our Hull office has no broadband, 40 staff sat doing nothing", "negative"),
    ("Anyone else in Hull lost their Brightwave connection? Been off for 15 min", "neutral"),
    (
        "@BrightwaveHelp my mum in HU5 has no internet and relies on it for her care alarm",
        "neutral",
    ),
    ("Kingston upon Hull down again, brilliant work @brightwave 🙄", "negative"),
    ("@BrightwaveHelp status page says all fine but Hull is offline. What's going on?", "negative"),
    ("Whole of east Hull seems to be off. @BrightwaveHelp any ETA?", "neutral"),
    ("@BrightwaveHelp no wifi in Bransholme, kids can't do homework", "neutral"),
    ("Brightwave outage in Hull? Can't load anything @BrightwaveHelp", "neutral"),
    ("@brightwave fibre's down across Hull, two hours now. Ridiculous", "negative"),
    ("hull broadband dead, @BrightwaveHelp please update us", "neutral"),
]


class Stream:
    """Mentions with ids and times assigned in order, as a replayed stream."""

    def __init__(self) -> None:
        self.ids = count(1)
        self.sightings: list[Sighting] = []

    def record(self, record: dict, at: datetime) -> Sighting:
        author, labels = record["author"], record["labels"]
        sighting = Sighting(
            mention_id=next(self.ids),
            text=record["text"],
            posted_at=at,
            sentiment=labels["sentiment"],
            followers=author["followers"],
            verified=author["verified"],
            risks=frozenset({"press"} if "journalist" in labels["tags"] else ()),
            crisis_signal=labels["crisis_signal"],
            source=record["source"],
            handle=author["handle"],
        )
        self.sightings.append(sighting)
        return sighting

    def ordinary(self, start: datetime, length: timedelta, every: timedelta, records=ORDINARY):
        """`records` in turn, one every `every`, from `start` for `length`."""
        at, source = start, cycle(records)
        while at < start + length:
            self.record(next(source), at)
            at += every

    def hull_outage(self, start: datetime, mentions: int, every: timedelta) -> list[int]:
        texts = cycle(HULL_OUTAGE)
        ids = []
        for n in range(mentions):
            text, mood = next(texts)
            record = {
                "text": text,
                "source": "x",
                "author": {"handle": f"hull_{n}", "followers": 200 + n, "verified": False},
                "labels": {"sentiment": mood, "crisis_signal": False, "tags": []},
            }
            ids.append(self.record(record, start + n * every).mention_id)
        return ids

    def in_order(self) -> list[Sighting]:
        return sorted(self.sightings, key=lambda s: (s.posted_at, s.mention_id))


def replay(sessions, stream: Stream, detector: SurgeDetector | None = None) -> list[Alert]:
    """Each mention in its own unit of work, seen two seconds after it was posted."""
    detector = detector or SurgeDetector()
    raised = []
    for sighting in stream.in_order():
        with unit_of_work(sessions) as db:
            now = sighting.posted_at + timedelta(seconds=2)
            raised += [
                stored.alert
                for stored in detect(db=db, detector=detector, sighting=sighting, now=now)
            ]
    return raised


def stored_alerts(sessions) -> list[SurgeAlert]:
    with unit_of_work(sessions) as db:
        return list(db.scalars(select(SurgeAlert).order_by(SurgeAlert.id)))


# ---- topics ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("@BrightwaveHelp internet down in Headingley, Leeds. anyone else?", "place:leeds"),
        ("LS6 has had no broadband since 7", "place:leeds"),
        ("hull's fibre is dead", "place:hull"),
        ("Stoke-on-Trent outage again", "place:stoke"),
        ("Reading is completely offline", "place:reading"),
        ("reading my bill and it's wrong @brightwave", "terms:billing"),
        ("@BrightwaveHelp broadband dead again, not working since lunch", "terms:outage"),
        ("smoke coming out of the street cabinet, no broadband either", "terms:safety"),
        ("Done. Cancelled. #BoycottBrightwave", "terms:boycott"),
        ("#BrightwaveFail honestly", "tag:brightwavefail"),
        ("Love you @brightwave, thanks for everything", None),
        ("see https://leeds.example/status @leeds_news", None),
    ],
)
def test_a_mention_belongs_to_the_town_it_names_else_its_terms_else_its_hashtag(text, topic):
    assert Topics(SurgeConfig()).key(text) == topic


def test_the_gazetteer_the_groups_and_the_stopwords_are_configurable():
    config = SurgeConfig(
        places={"wakefield": ("ossett",)},
        postcode_areas={"wf": "wakefield"},
        term_groups={"outage": ("down",)},
        stopwords=frozenset({"the"}),
    )
    topics = Topics(config)
    assert topics.key("Ossett is down") == "place:wakefield"
    assert topics.key("WF5 is down") == "place:wakefield"
    assert topics.key("Leeds is down") == "terms:outage"
    assert topics.terms("The Leeds fibre") == ["leeds", "fibre"]
    assert [topic_label(k) for k in ("place:milton keynes", "terms:outage", "tag:x")] == [
        "Milton Keynes",
        "outage",
        "#x",
    ]


def test_a_wrong_configuration_is_refused_with_what_is_wrong():
    with pytest.raises(ValueError, match="shorter than the baseline"):
        SurgeConfig(window=timedelta(hours=7))


# ---- the acceptance scenarios --------------------------------------------------------------


def test_a_replayed_outage_in_one_town_raises_exactly_one_alert(sessions):
    stream = Stream()
    stream.ordinary(START, timedelta(hours=6), timedelta(seconds=90))
    outage = stream.hull_outage(START + timedelta(hours=4), 15, timedelta(seconds=80))
    detector = SurgeDetector()

    raised = replay(sessions, stream, detector)

    assert [(a.kind, a.topic) for a in raised] == [(AlertKind.VOLUME, "place:hull")]
    alert = raised[0]
    assert alert.count >= 10 and alert.expected < 1
    assert all(
        detector.cluster(m.text) == "place:hull"
        for m in stream.sightings
        if m.mention_id in alert.sample_ids
    )
    assert set(alert.sample_ids) & set(outage)
    assert alert.window_end - alert.window_start == timedelta(minutes=20)
    assert "mentions about Hull in the last 20 min" in alert.reason
    assert [(s.kind, s.topic, s.seq) for s in stored_alerts(sessions)] == [
        ("volume", "place:hull", 1)
    ]


@pytest.mark.parametrize(
    ("every", "hours"),
    [(timedelta(seconds=60), 10), (timedelta(seconds=10), 3)],  # 20 and 120 in 20 minutes
)
def test_hours_of_ordinary_traffic_raise_no_alert(sessions, every, hours):
    stream = Stream()
    stream.ordinary(START, timedelta(hours=hours), every)

    assert replay(sessions, stream) == []
    assert stored_alerts(sessions) == []


def test_a_dip_in_sentiment_raises_one_alert(sessions):
    stream, every = Stream(), timedelta(seconds=45)  # a dip needs 20 mentions in the window
    dip_start = START + timedelta(hours=4)
    stream.ordinary(START, timedelta(hours=4), every)
    stream.ordinary(dip_start, timedelta(minutes=30), every, NEGATIVE)
    stream.ordinary(dip_start + timedelta(minutes=30), timedelta(hours=1), every)

    raised = replay(sessions, stream)

    assert [(a.kind, a.topic) for a in raised] == [(AlertKind.SENTIMENT, "stream")]
    alert = raised[0]
    assert alert.negative_share - alert.baseline_negative_share >= 0.25
    assert 0.4 < alert.baseline_negative_share < 0.6
    assert dip_start < alert.window_end < dip_start + timedelta(minutes=30)
    negative = {s.mention_id for s in stream.sightings if s.sentiment == "negative"}
    assert alert.sample_ids and set(alert.sample_ids) <= negative
    assert len(stored_alerts(sessions)) == 1


def test_the_outage_alone_does_not_also_raise_a_sentiment_alert(sessions):
    stream = Stream()
    stream.ordinary(START, timedelta(hours=6), timedelta(seconds=90))
    angry = [(text, "negative") for text, _ in HULL_OUTAGE]
    texts = iter(angry * 3)
    for n in range(40):  # a fiercer outage: every report negative, one a minute
        text, mood = next(texts)
        record = {
            "text": text,
            "source": "x",
            "author": {"handle": f"hull_{n}", "followers": 90, "verified": False},
            "labels": {"sentiment": mood, "crisis_signal": False, "tags": []},
        }
        stream.record(record, START + timedelta(hours=4, minutes=n))

    raised = replay(sessions, stream)

    assert [(a.kind, a.topic) for a in raised] == [(AlertKind.VOLUME, "place:hull")]


@pytest.mark.parametrize(
    ("record_id", "kinds"),
    [
        ("dev-041", [AlertKind.REACH]),  # 231,000 followers, negative
        ("dev-039", [AlertKind.REACH]),  # a verified reporter digging: a crisis signal
        ("dev-025", []),  # 145,000 followers, praise
        ("dev-007", []),  # a verified journalist with a neutral question
    ],
)
def test_one_high_reach_negative_post_raises_one_alert(sessions, record_id, kinds):
    stream = Stream()
    stream.ordinary(START, timedelta(hours=2), timedelta(seconds=90))
    post = stream.record(BY_ID[record_id], START + timedelta(hours=1, seconds=30))

    raised = replay(sessions, stream)

    assert [a.kind for a in raised] == kinds
    if kinds:
        handle = BY_ID[record_id]["author"]["handle"]
        assert raised[0].topic == f"author:x:{handle}"
        assert raised[0].sample_ids == (post.mention_id,)
        assert handle in raised[0].reason


def test_a_surge_alerts_once_while_it_lasts_and_again_only_after_the_cooldown(sessions):
    stream = Stream()
    stream.ordinary(START, timedelta(hours=10), timedelta(seconds=90))
    stream.hull_outage(START + timedelta(hours=2), 90, timedelta(minutes=1))  # 90 minutes long
    stream.hull_outage(START + timedelta(hours=4, minutes=30), 25, timedelta(seconds=48))
    third = stream.hull_outage(START + timedelta(hours=7, minutes=30), 25, timedelta(seconds=48))
    stream.record(BY_ID["dev-041"], START + timedelta(hours=1))
    stream.record(BY_ID["dev-041"], START + timedelta(hours=1, minutes=40))  # same author, again

    raised = replay(sessions, stream)

    assert [(a.kind, a.topic) for a in raised] == [
        (AlertKind.REACH, "author:x:thegrantshow"),
        (AlertKind.VOLUME, "place:hull"),
        (AlertKind.VOLUME, "place:hull"),
    ]
    first, second = [s for s in stored_alerts(sessions) if s.kind == "volume"]
    # The second burst came an hour after the first ended: still the same surge, seen later.
    assert first.last_seen_at > START + timedelta(hours=4, minutes=30)
    assert first.last_seen_at - first.raised_at > timedelta(hours=2)
    assert second.seq == 2 and second.raised_at > START + timedelta(hours=7, minutes=30)
    samples = second.alert.sample_ids
    assert set(samples) & set(third)
    assert all(
        Topics(SurgeConfig()).key(m.text) == "place:hull"
        for m in stream.sightings
        if m.mention_id in samples
    )


def test_two_replicas_fed_the_same_stream_alert_once(sessions):
    stream = Stream()
    stream.ordinary(START, timedelta(hours=6), timedelta(seconds=90))
    stream.hull_outage(START + timedelta(hours=4), 15, timedelta(seconds=80))
    stream.record(BY_ID["dev-071"], START + timedelta(hours=5))
    replicas = [SurgeDetector(), SurgeDetector()]

    raised = []
    for n, sighting in enumerate(stream.in_order()):
        now = sighting.posted_at + timedelta(seconds=2)
        for detector in replicas[:: 1 if n % 2 else -1]:  # either may see a mention first
            with unit_of_work(sessions) as db:
                raised += detect(db=db, detector=detector, sighting=sighting, now=now)

    assert sorted((a.kind, a.topic) for a in raised) == [
        ("reach", "author:x:jasstreamsdaily"),
        ("volume", "place:hull"),
    ]
    assert len(stored_alerts(sessions)) == 2


def test_replicas_raising_the_same_alert_at_the_same_moment_store_it_once(sessions):
    detector = SurgeDetector()
    stream = Stream()
    stream.ordinary(START, timedelta(hours=1), timedelta(seconds=90))
    stream.hull_outage(START + timedelta(hours=1), 10, timedelta(seconds=30))
    alerts = [a for s in stream.in_order() for a in detector.observe(s, now=s.posted_at)]
    volume = [a for a in alerts if a.kind == AlertKind.VOLUME]
    assert [a.topic for a in volume] == ["place:hull"]

    for round_ in range(8):
        alert = replace(volume[0], topic=f"place:town{round_}")
        ready, stored = threading.Barrier(2), []

        def replica(alert=alert, ready=ready, stored=stored):
            with unit_of_work(sessions) as db:
                ready.wait()
                stored.append(raise_once(db=db, alert=alert, cooldown=timedelta(hours=2)))

        threads = [threading.Thread(target=replica) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sum(s is not None for s in stored) == 1, stored
    with unit_of_work(sessions) as db:
        assert db.scalar(select(func.count()).select_from(SurgeAlert)) == 8


# ---- persistence helpers ---------------------------------------------------------------------


def test_a_replica_that_starts_warms_up_from_the_stored_mentions(sessions):
    stream = Stream()
    stream.ordinary(START, timedelta(hours=4), timedelta(seconds=90))
    stream.hull_outage(START + timedelta(hours=4), 12, timedelta(seconds=60))
    with unit_of_work(sessions) as db:
        db.add_all(stored_mention(s) for s in stream.in_order())
    started = START + timedelta(hours=4, minutes=8, seconds=30)  # nine Hull reports so far

    with unit_of_work(sessions) as db:
        stored = recent_sightings(db=db, since=started - SurgeConfig().baseline)
        after = recent_sightings(db=db, since=START, after_id=stored[-3].mention_id)
    assert [s.text for s in stored] == [s.text for s in stream.in_order()]
    assert after == stored[-2:]
    before = [s for s in stored if s.posted_at < started]
    since = stored[len(before) :]

    warm, cold = SurgeDetector(), SurgeDetector()
    warm.warm_up(before, now=started)
    with unit_of_work(sessions) as db:
        raised = [
            a for s in since for a in detect(db=db, detector=warm, sighting=s, now=s.posted_at)
        ]
    assert [(a.kind, a.topic) for a in raised] == [("volume", "place:hull")]
    # Without a warm-up, a detector that has just started does not know the usual rates yet.
    assert [a for s in since for a in cold.observe(s, now=s.posted_at)] == []


def stored_mention(sighting: Sighting) -> Mention:
    return Mention(
        source=sighting.source,
        external_id=str(sighting.mention_id),
        author_handle=sighting.handle,
        author_followers=sighting.followers,
        author_verified=sighting.verified,
        text=sighting.text,
        posted_at=sighting.posted_at,
        received_at=sighting.posted_at,
        sentiment=sighting.sentiment,
        risks=sorted(sighting.risks),
        crisis_signal=sighting.crisis_signal,
    )


def test_the_open_surge_of_a_topic_is_its_roll_up_anchor_until_the_cooldown(sessions):
    stream = Stream()
    stream.ordinary(START, timedelta(hours=2), timedelta(seconds=90))
    stream.hull_outage(START + timedelta(hours=2), 15, timedelta(seconds=60))
    raised = replay(sessions, stream)
    last = stream.in_order()[-1].posted_at
    cooldown = timedelta(hours=2)

    with unit_of_work(sessions) as db:
        surge = open_surge(db=db, topic="place:hull", now=last, cooldown=cooldown)
        assert surge is not None and surge.alert == raised[0]
        assert open_surge(db=db, topic="place:leeds", now=last, cooldown=cooldown) is None
        later = surge.last_seen_at + cooldown
        assert open_surge(db=db, topic="place:hull", now=later, cooldown=cooldown) is None


def test_mentions_that_come_while_a_surge_is_being_raised_join_its_roll_up(sessions):
    """The request that tips a surge takes a moment to commit it; mentions of the topic that
    come meanwhile wait for it and join the roll-up case instead of getting cards of their
    own (on PostgreSQL they would not see the surge before its commit)."""
    now = datetime.now(UTC)
    clock = [now - timedelta(minutes=45)]  # the detector needs two windows of history
    ingestor = Ingestor.for_org(ORG, sessions, Metrics(), lambda: clock[0])
    meanwhile: list[threading.Thread] = []

    def take(n: int, text: str = "@BrightwaveHelp Leeds is down again, LS6 has no broadband"):
        record = mention_record(n, text=f"{text} ({n})", created_at=clock[0].isoformat())
        ingestor.take(NewMention.model_validate_json(json.dumps(record)))

    def slow_surge_commit(session) -> None:
        tipping = any(isinstance(o, SurgeAlert) for o in session.identity_map.values())
        if tipping and not meanwhile:
            meanwhile.extend(threading.Thread(target=take, args=(100 + n,)) for n in range(5))
            for thread in meanwhile:
                thread.start()
            time.sleep(1.0)  # they arrive while the surge is decided and not yet committed

    take(99, "Thanks @BrightwaveHelp, all sorted now")
    clock[0] = now
    event.listen(sessions, "before_commit", slow_surge_commit)
    try:
        for n in range(30):
            take(n)
            if meanwhile:
                break
        for thread in meanwhile:
            thread.join(timeout=30)
    finally:
        event.remove(sessions, "before_commit", slow_surge_commit)

    assert meanwhile, "a surge was raised"
    with sessions() as db:
        roll_up = db.scalar(select(SurgeAlert.case_id))
        late = [mention_record(100 + n)["external_id"] for n in range(5)]
        cases = db.scalars(select(Mention.case_id).where(Mention.external_id.in_(late))).all()
    assert cases == [roll_up] * 5
