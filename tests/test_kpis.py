"""The digest's KPIs on a small data set whose answers were worked out by hand (in comments).

The window is Friday 23 to Monday 26 October 2026, London days: it spans a weekend and the end of
British Summer Time (Sunday 25 October, 02:00 BST becomes 01:00 GMT). So Friday 08:00-18:00 in
the office is 07:00-17:00 UTC, Monday's is 08:00-18:00 UTC, and Sunday lasts 25 hours.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from escalation.calendars import WorkingHours
from escalation.kpis import (
    DeadlineCounts,
    EscalationTimes,
    KpiOptions,
    Outcome,
    SentimentDay,
    compute_kpis,
    percentile,
    terms,
)
from escalation.models import Case, Deadline, Escalation, Mention

OFFICE = WorkingHours(
    "Europe/London", dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), (time(8), time(18)))
)
OPTIONS = KpiOptions(
    business_hours=OFFICE,
    timezone="Europe/London",
    triage_department="care",
    ignore_terms=frozenset({"brightwave"}),
    top_terms=6,
)
START = datetime(2026, 10, 22, 23, tzinfo=UTC)  # Friday 23 October, 00:00 BST
END = datetime(2026, 10, 27, tzinfo=UTC)  # Tuesday 27 October, 00:00 GMT
NOW = datetime(2026, 10, 27, 12, tzinfo=UTC)
BEN, AMIRA = "U0BEN0001", "U0AMIRA01"


def utc(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def add_case(db, created, priority, source, department, sentiment, text, **fields) -> Case:
    case = Case(priority=priority, created_at=created, updated_at=created, **fields)
    db.add(case)
    db.flush()
    add_mention(db, case, created, source, department, sentiment, text)
    return case


def add_mention(db, case, at, source, department, sentiment, text) -> None:
    db.add(
        Mention(
            case_id=case.id,
            source=source,
            external_id=f"{source}-{case.id}-{at.timestamp()}",
            author_handle="someone",
            text=text,
            posted_at=at,
            received_at=at,
            sentiment=sentiment,
            department=department,
        )
    )
    db.flush()


def add_deadline(db, case, kind, due, status, *, escalation=None, met=None, breached=None):
    db.add(
        Deadline(
            case_id=case.id,
            escalation_id=escalation.id if escalation else None,
            kind=kind,
            department=escalation.department if escalation else None,
            started_at=case.created_at,
            target_seconds=3600.0,
            due_at=due,
            status=status,
            met_at=met,
            breached_at=breached,
        )
    )
    db.flush()


def add_escalation(db, case, department, requested, status, *, acked=None, answered=None):
    escalation = Escalation(
        case_id=case.id,
        department=department,
        status=status,
        question="Can you help?",
        requested_by=BEN,
        requested_at=requested,
        acknowledged_at=acked,
        answered_at=answered,
    )
    db.add(escalation)
    db.flush()
    return escalation


@pytest.fixture
def cases(sessions) -> dict[str, int]:
    """Ten cases; eight (I, B, A, C, D, J, F, E) opened in the window. Returns their ids."""
    with sessions() as db, db.begin():
        made = {}
        # G: one second before the window; only its running deadline counts (at risk).
        made["G"] = g = add_case(
            db, utc(10, 22, 22, 59, 59), "P3", "x", "care", "negative", "Broadband outage"
        )
        add_deadline(db, g, "first_reply", utc(10, 27, 12, 45), "running")
        # I: exactly at the start. Replied after 5 min, Friday 00:05 BST: office closed.
        made["I"] = i = add_case(
            db, START, "P3", "x", "care", "neutral",
            "@BrightwaveHelp broadband down since midnight",
            owner_id=BEN, first_reply_at=utc(10, 22, 23, 5),
        )  # fmt: skip
        add_deadline(db, i, "first_reply", utc(10, 23, 3), "met", met=utc(10, 22, 23, 5))
        # B: Friday 11:00 BST, replied 20 min later, in office hours. Sent to Legal and back.
        made["B"] = b = add_case(
            db, utc(10, 23, 10), "P3", "mastodon", "care", "negative",
            "Why was I charged twice? Billing is a mess",
            owner_id=AMIRA, first_reply_at=utc(10, 23, 10, 20),
        )  # fmt: skip
        add_deadline(db, b, "first_reply", utc(10, 23, 14), "met", met=utc(10, 23, 10, 20))
        legal = add_escalation(db, b, "legal", utc(10, 23, 10, 5), "sent_back")
        add_deadline(db, b, "acknowledge", utc(10, 23, 11, 5), "cancelled", escalation=legal)
        # A: Friday 17:30 BST, replied Monday 08:30 GMT; a later mention must not count.
        made["A"] = a = add_case(
            db, utc(10, 23, 16, 30), "P2", "x", "billing", "negative",
            "Charged twice again this month @BrightwaveHelp https://t.co/abc",
            owner_id=BEN, first_reply_at=utc(10, 26, 8, 30),
        )  # fmt: skip
        add_mention(db, a, utc(10, 26, 9), "x", "legal", "positive", "Thanks, sorted now")
        add_deadline(
            db, a, "first_reply", utc(10, 23, 17, 30), "met",
            met=utc(10, 26, 8, 30), breached=utc(10, 23, 17, 30),
        )  # fmt: skip
        # Billing: 30 min of office time from Friday 17:40 BST is 20 min on Friday, then
        # Monday 08:00-08:10 GMT; acknowledged at exactly 08:10, which is in time.
        billing = add_escalation(
            db, a, "billing", utc(10, 23, 16, 40), "answered",
            acked=utc(10, 26, 8, 10), answered=utc(10, 26, 8, 25),
        )  # fmt: skip
        add_deadline(
            db, a, "acknowledge", utc(10, 26, 8, 10), "met",
            escalation=billing, met=utc(10, 26, 8, 10),
        )  # fmt: skip
        # C: Saturday, P1, replied in 10 min; Network acknowledged in 3 min, answered in 25.
        made["C"] = c = add_case(
            db, utc(10, 24, 12), "P1", "x", "network", "negative",
            "Whole street broadband down, no signal",
            owner_id=AMIRA, first_reply_at=utc(10, 24, 12, 10),
        )  # fmt: skip
        add_deadline(db, c, "first_reply", utc(10, 24, 12, 15), "met", met=utc(10, 24, 12, 10))
        network = add_escalation(
            db, c, "network", utc(10, 24, 12, 5), "answered",
            acked=utc(10, 24, 12, 8), answered=utc(10, 24, 12, 30),
        )  # fmt: skip
        add_deadline(
            db, c, "acknowledge", utc(10, 24, 12, 15), "met",
            escalation=network, met=utc(10, 24, 12, 8),
        )  # fmt: skip
        # D: Sunday 01:30 BST, before the clocks go back; replied Monday 10:15 GMT, late,
        # though the ladder never marked it (no breached_at).
        made["D"] = d = add_case(
            db, utc(10, 25, 0, 30), "P3", "bluesky", "sales", "neutral",
            "Is fibre available at my new address?",
            owner_id=BEN, first_reply_at=utc(10, 26, 10, 15),
        )  # fmt: skip
        add_deadline(db, d, "first_reply", utc(10, 25, 4, 30), "met", met=utc(10, 26, 10, 15))
        # J: Sunday 23:30 GMT (still Sunday in London), waiting on the customer, unreplied.
        made["J"] = j = add_case(
            db, utc(10, 25, 23, 30), "P4", "x", "comms", "positive",
            "Loved the new advert with the dog", owner_id=AMIRA,
        )  # fmt: skip
        add_deadline(db, j, "first_reply", utc(10, 26, 23, 30), "paused")
        # F: Monday noon, unclaimed and unreplied; Billing acknowledged late.
        made["F"] = f = add_case(
            db, utc(10, 26, 12), "P2", "x", "billing", "negative",
            "Refund still missing, charged twice",
        )  # fmt: skip
        add_deadline(db, f, "first_reply", utc(10, 26, 13), "running")
        billing = add_escalation(
            db, f, "billing", utc(10, 26, 12, 20), "acknowledged", acked=utc(10, 26, 14)
        )
        add_deadline(
            db, f, "acknowledge", utc(10, 26, 12, 50), "met",
            escalation=billing, met=utc(10, 26, 14), breached=utc(10, 26, 12, 50),
        )  # fmt: skip
        # E: Monday 17:00 GMT, replied Tuesday 08:45; Field Ops has not acknowledged yet.
        made["E"] = e = add_case(
            db, utc(10, 26, 17), "P4", "x", "care", "positive",
            "Thanks Brightwave, great engineer visit",
            owner_id=AMIRA, first_reply_at=utc(10, 27, 8, 45),
        )  # fmt: skip
        add_deadline(db, e, "first_reply", utc(10, 27, 17), "met", met=utc(10, 27, 8, 45))
        field = add_escalation(db, e, "field", utc(10, 26, 17, 30), "open")
        add_deadline(db, e, "acknowledge", utc(10, 27, 12, 30), "running", escalation=field)
        # H: exactly at the end of the window, so outside it; its deadline is not due soon.
        made["H"] = h = add_case(
            db, END, "P2", "x", "care", "negative", "Broadband broadband outage"
        )
        add_deadline(db, h, "first_reply", utc(10, 27, 15), "running")
        return {label: case.id for label, case in made.items()}


def kpis(sessions, departments=None, start=START, end=END):
    with sessions() as db:
        return compute_kpis(
            db, start=start, end=end, now=NOW, departments=departments, options=OPTIONS
        )


@pytest.mark.usefixtures("cases")
def test_volume_counts_the_cases_opened_in_the_window_by_their_opening_mention(sessions):
    found = kpis(sessions)
    # I, B, A, C, D, J, F, E; G is a second early and H opens at the (excluded) end
    assert found.cases == 8
    assert found.by_source == {"bluesky": 1, "mastodon": 1, "x": 6}  # D; B; I A C J F E
    assert found.by_priority == {"P1": 1, "P2": 2, "P3": 3, "P4": 2}  # C; A F; I B D; J E
    # A's second mention (legal) does not move A out of billing
    assert found.by_department == {"billing": 2, "care": 3, "comms": 1, "network": 1, "sales": 1}


@pytest.mark.usefixtures("cases")
def test_first_reply_times_around_the_clock_and_in_business_hours(sessions):
    reply = kpis(sessions).first_reply
    assert (reply.replied, reply.unreplied) == (6, 2)  # J and F have no reply
    # Around the clock, in seconds:
    #   I 5 min = 300; C 10 min = 600; B 20 min = 1200;
    #   E Mon 17:00 -> Tue 08:45 = 15 h 45 = 56700;
    #   D Sun 00:30 -> Mon 10:15 UTC = 33 h 45 = 121500;
    #   A Fri 16:30 -> Mon 08:30 UTC = 64 h = 230400.
    # Median of six: (1200 + 56700) / 2 = 28950. p90, nearest rank: ceil(0.9 * 6) = 6th.
    assert reply.median == 28950
    assert reply.p90 == 230400
    # Office hours, Mon-Fri 08:00-18:00 London:
    #   I: Friday 00:00-00:05 BST, closed = 0;  C: Saturday = 0;  B: 11:00-11:20 BST = 1200;
    #   A: Friday 17:30-18:00 BST (30 min) + Monday 08:00-08:30 GMT (30 min) = 3600
    #      (had Monday kept BST, 07:00-08:30 UTC would have given 7200);
    #   E: Monday 17:00-18:00 + Tuesday 08:00-08:45 = 6300;
    #   D: the weekend is closed; Monday 08:00-10:15 GMT = 8100.
    # Sorted 0, 0, 1200, 3600, 6300, 8100: median (1200 + 3600) / 2 = 2400, p90 the 6th.
    assert reply.business_median == 2400
    assert reply.business_p90 == 8100


@pytest.mark.usefixtures("cases")
def test_deadlines_met_overall_and_per_department(sessions):
    found = kpis(sessions)
    # First replies are owed by care: met I B C E; late A (marked) and D (met after due);
    # F running past due at Tuesday noon; J paused. G and H are not in the window.
    assert found.deadlines_by_department == {
        "billing": DeadlineCounts(met=1, late=1),  # A met at its due time; F acknowledged late
        "care": DeadlineCounts(met=4, late=2, overdue=1, paused=1),
        "field": DeadlineCounts(running=1),  # E, due 12:30, not yet
        "legal": DeadlineCounts(cancelled=1),  # B, sent back: no longer owed
        "network": DeadlineCounts(met=1),
    }
    total = found.deadlines
    assert total == DeadlineCounts(met=6, late=3, overdue=1, running=1, paused=1, cancelled=1)
    assert total.breached == 4
    assert total.met_rate == 0.6  # 6 / (6 + 4)


@pytest.mark.usefixtures("cases")
def test_escalation_times_per_department(sessions):
    assert kpis(sessions).escalations == (
        # A: Fri 16:40 -> Mon 08:10 = 72 h - 8 h 30 = 228600 s; answered 08:25 = 229500 s.
        # F: Mon 12:20 -> 14:00 = 6000 s. Median of two: (6000 + 228600) / 2 = 117300.
        EscalationTimes("billing", 2, 0, 0, 117300, 229500),
        EscalationTimes("field", 1, 0, 0, None, None),
        EscalationTimes("legal", 1, 1, 0, None, None),
        EscalationTimes("network", 1, 0, 0, 180, 1500),  # 3 min, 25 min
    )


def test_breaches_with_their_owners_earliest_due_first(sessions, cases):
    found = kpis(sessions)
    label = {case_id: name for name, case_id in cases.items()}
    assert [
        (label[b.case_id], b.kind, b.department, b.owner_id, b.due_at, b.outcome)
        for b in found.breaches
    ] == [
        ("A", "first_reply", "care", BEN, utc(10, 23, 17, 30), Outcome.LATE),
        ("D", "first_reply", "care", BEN, utc(10, 25, 4, 30), Outcome.LATE),
        ("F", "acknowledge", "billing", None, utc(10, 26, 12, 50), Outcome.LATE),
        ("F", "first_reply", "care", None, utc(10, 26, 13), Outcome.OVERDUE),
    ]


def test_open_cases_at_risk_are_running_deadlines_due_within_the_hour(sessions, cases):
    found = kpis(sessions)
    label = {case_id: name for name, case_id in cases.items()}
    # At Tuesday 12:00, due before 13:00 and running: F (overdue since Monday), E's
    # acknowledgement (12:30) and G (12:45, opened before the window). H is due at 15:00,
    # J is paused.
    assert [(label[r.case_id], r.kind, r.outcome) for r in found.at_risk] == [
        ("F", "first_reply", Outcome.OVERDUE),
        ("E", "acknowledge", Outcome.RUNNING),
        ("G", "first_reply", Outcome.RUNNING),
    ]
    assert found.at_risk_total == 3


@pytest.mark.usefixtures("cases")
def test_sentiment_trend_per_london_day(sessions):
    assert kpis(sessions).sentiment == (
        SentimentDay(date(2026, 10, 23), positive=0, neutral=1, negative=2),  # I; B, A
        SentimentDay(date(2026, 10, 24), negative=1),  # C
        # D at 01:30 BST and J at 23:30 GMT: the 25-hour Sunday holds both
        SentimentDay(date(2026, 10, 25), positive=1, neutral=1),
        SentimentDay(date(2026, 10, 26), positive=1, negative=1),  # E; F
    )


@pytest.mark.usefixtures("cases")
def test_themes_are_the_most_frequent_terms_of_opening_mentions(sessions):
    # charged: B A F; twice: B A F; broadband: I C; down: I C; new: D J; then the terms met
    # once, alphabetically: "address" first. Counted, A's second mention would have given
    # "thanks" 2, and G or H "broadband" 3.
    assert kpis(sessions).themes == (
        ("charged", 3),
        ("twice", 3),
        ("broadband", 2),
        ("down", 2),
        ("new", 2),
        ("address", 1),
    )


@pytest.mark.usefixtures("cases")
def test_one_department(sessions):
    found = kpis(sessions, departments={"billing"})
    assert (found.cases, found.by_source, found.by_priority) == (2, {"x": 2}, {"P2": 2})
    reply = found.first_reply  # only A was replied: 230400 s, 3600 s in office hours
    assert (reply.replied, reply.unreplied, reply.median, reply.p90) == (1, 1, 230400, 230400)
    assert (reply.business_median, reply.business_p90) == (3600, 3600)
    assert found.deadlines_by_department == {"billing": DeadlineCounts(met=1, late=1)}
    assert found.deadlines.met_rate == 0.5
    assert [e.department for e in found.escalations] == ["billing"]
    assert [(b.kind, b.department) for b in found.breaches] == [("acknowledge", "billing")]
    assert (found.at_risk, found.at_risk_total) == ((), 0)  # F's first reply is care's
    assert [(d.day.day, d.negative) for d in found.sentiment] == [
        (23, 1),
        (24, 0),
        (25, 0),
        (26, 1),
    ]
    assert found.themes[:3] == (("charged", 2), ("twice", 2), ("missing", 1))


@pytest.mark.usefixtures("cases")
def test_a_one_day_window(sessions):
    saturday = kpis(sessions, start=utc(10, 23, 23), end=utc(10, 24, 23))  # London's Saturday
    assert saturday.cases == 1  # C
    assert saturday.sentiment == (SentimentDay(date(2026, 10, 24), negative=1),)
    assert (saturday.first_reply.median, saturday.first_reply.business_median) == (600, 0)


@pytest.mark.usefixtures("cases")
def test_an_empty_window_has_no_figures(sessions):
    found = kpis(sessions, start=utc(11, 2, 0), end=utc(11, 3, 0))
    assert found.cases == 0 and found.by_source == {}
    assert found.first_reply.median is found.first_reply.business_p90 is None
    assert found.deadlines == DeadlineCounts() and found.deadlines.met_rate is None
    assert found.themes == () and found.breaches == ()
    assert found.at_risk_total == 3  # not windowed


def test_a_window_must_end_after_it_starts(sessions):
    with pytest.raises(ValueError, match="end after"):
        kpis(sessions, start=END, end=END)


def test_percentile_is_the_nearest_rank():
    values = [float(n) for n in range(1, 11)]  # 1..10: 90% of ten is the 9th
    assert percentile(values, 90) == 9
    assert percentile([5.0], 90) == 5
    assert percentile([3.0, 1.0, 2.0], 50) == 2  # ceil(1.5) = 2nd
    assert percentile([], 90) is None


def test_terms_skip_links_handles_stopwords_and_short_words():
    text = "Don’t ‘fix’ it, it's BROKEN!! https://t.co/x @bob #outage day's ok"
    assert terms(text) == {"fix", "broken", "outage", "day"}
    assert terms("Brightwave brightwave TV down", ignore={"brightwave"}) == {"down"}


@pytest.mark.usefixtures("cases")
def test_a_week_of_local_days_has_seven_buckets(sessions):
    week = kpis(sessions, start=START - timedelta(days=3), end=END)
    assert [d.day.day for d in week.sentiment] == [20, 21, 22, 23, 24, 25, 26]
    assert week.sentiment[2].negative == 1  # G, Thursday 23:59:59 BST
