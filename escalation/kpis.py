"""The managers' KPIs over a window of time [start, end), for some departments or all.

The window picks a cohort: the cases opened in it. Volume, reply times, sentiment and themes
describe the cohort, each case by its opening mention (source, suggested department, sentiment,
text); deadlines and escalations are the cohort's, counted for the department that owes them
(a first reply is owed by the triage department). Open cases at risk are not windowed: they are
the running deadlines, of any case, due within `soon` of `now` or already overdue.

Counting is done by the database where it can (volumes, deadline outcomes); medians,
percentiles and working-hours arithmetic in Python, over the few columns they need.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from escalation.calendars import ALWAYS, WorkingHours, working_time
from escalation.models import Case, Deadline, DeadlineStatus, Escalation, Mention
from escalation.workflow import CaseStatus

SENTIMENTS = ("positive", "neutral", "negative")
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
NOISE = re.compile(r"https?://\S+|www\.\S+|@[\w.@-]+")
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because
    been before being below between both but by can can't cannot could couldn't did didn't do
    does doesn't doing don't during each even ever every few for from further get gets got had
    hadn't has hasn't have haven't having he her here hers herself him himself his how i i'm
    i've if in into is isn't it it's its itself just let's like me more most much my myself no
    nor not now of off on once one only or other our ours ourselves out over own same she
    should shouldn't since so some still such than that that's the their theirs them themselves
    then there these they they're this those through to too under until up very was wasn't we
    we're we've were weren't what when where which while who whom why will with won't would
    wouldn't yet you you're you've your yours yourself yourselves""".split()
)


class Outcome(StrEnum):
    """Where a deadline stands at a moment."""

    MET = "met"  # met by its due time
    LATE = "late"  # met after it fell due
    OVERDUE = "overdue"  # still owed, and past due (or the ladder declared it breached)
    RUNNING = "running"  # still owed, not yet due
    PAUSED = "paused"  # waiting on the customer: its due time is not known
    CANCELLED = "cancelled"  # no longer owed; not counted


@dataclass(frozen=True)
class Window:
    """The cases opened in [start, end), for `departments` (None: all)."""

    start: datetime
    end: datetime
    departments: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError("the window must end after it starts")


@dataclass(frozen=True)
class KpiOptions:
    """What the organisation decides: its business hours, its days, who owes first replies."""

    business_hours: WorkingHours = ALWAYS
    timezone: str = "UTC"  # where a day of the sentiment trend starts
    triage_department: str | None = None
    soon: timedelta = timedelta(hours=1)
    list_limit: int = 100
    top_terms: int = 10
    ignore_terms: frozenset[str] = frozenset()  # e.g. the brand's own name


@dataclass(frozen=True)
class ReplyTimes:
    """First public reply times of the cohort, in seconds; None when nothing was replied."""

    replied: int
    unreplied: int
    median: float | None
    p90: float | None
    business_median: float | None
    business_p90: float | None


@dataclass(frozen=True)
class DeadlineCounts:
    met: int = 0
    late: int = 0
    overdue: int = 0
    running: int = 0
    paused: int = 0
    cancelled: int = 0

    @property
    def breached(self) -> int:
        return self.late + self.overdue

    @property
    def met_rate(self) -> float | None:
        """Met in time among those decided (met or breached)."""
        decided = self.met + self.breached
        return self.met / decided if decided else None


@dataclass(frozen=True)
class EscalationTimes:
    """How a department handled the cohort's escalations; times in seconds, around the clock."""

    department: str
    escalations: int
    sent_back: int
    reassigned: int
    acknowledge_median: float | None
    answer_median: float | None


@dataclass(frozen=True)
class DeadlineRef:
    """A breached or at-risk deadline, and who answers for it."""

    deadline_id: int
    case_id: int
    priority: str
    kind: str
    department: str
    owner_id: str | None
    due_at: datetime
    outcome: Outcome


@dataclass(frozen=True)
class SentimentDay:
    day: date
    positive: int = 0
    neutral: int = 0
    negative: int = 0


@dataclass(frozen=True)
class Kpis:
    start: datetime
    end: datetime
    now: datetime
    departments: tuple[str, ...] | None
    cases: int
    by_source: dict[str, int]
    by_priority: dict[str, int]
    by_department: dict[str, int]
    first_reply: ReplyTimes
    deadlines: DeadlineCounts
    deadlines_by_department: dict[str, DeadlineCounts]
    escalations: tuple[EscalationTimes, ...]
    breaches: tuple[DeadlineRef, ...]  # the first `list_limit`; deadlines.breached counts all
    at_risk: tuple[DeadlineRef, ...]  # the first `list_limit`
    at_risk_total: int
    sentiment: tuple[SentimentDay, ...]
    themes: tuple[tuple[str, int], ...]


def compute_kpis(
    db: Session,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    departments: Collection[str] | None = None,
    options: KpiOptions = KpiOptions(),
) -> Kpis:
    """Every KPI of the digest for the cases opened in [start, end)."""
    window = Window(start, end, frozenset(departments) if departments is not None else None)
    sources, priorities, depts = volume(db, window)
    by_department = deadlines_by_department(db, window, now, options.triage_department)
    at_risk, at_risk_total = open_at_risk(db, window.departments, now, options)
    return Kpis(
        start=start,
        end=end,
        now=now,
        departments=tuple(sorted(window.departments)) if window.departments is not None else None,
        cases=sum(sources.values()),
        by_source=sources,
        by_priority=priorities,
        by_department=depts,
        first_reply=first_reply_times(db, window, options.business_hours),
        deadlines=_sum(by_department.values()),
        deadlines_by_department=by_department,
        escalations=escalation_times(db, window),
        breaches=breaches(db, window, now, options),
        at_risk=at_risk,
        at_risk_total=at_risk_total,
        sentiment=sentiment_trend(db, window, options.timezone),
        themes=themes(db, window, options.top_terms, options.ignore_terms),
    )


def volume(db: Session, window: Window) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Cases opened, by source, by priority and by suggested department."""
    rows = cohort(window, Mention.source, Case.priority, Mention.department).subquery()
    keys = (rows.c.source, rows.c.priority, rows.c.department)
    counted = select(*keys, func.count()).group_by(*keys)
    sources, priorities, departments = Counter(), Counter(), Counter()
    for source, priority, department, count in db.execute(counted):
        sources[source] += count
        priorities[priority] += count
        departments[department or "none"] += count
    return _sorted(sources), _sorted(priorities), _sorted(departments)


def first_reply_times(db: Session, window: Window, business_hours: WorkingHours) -> ReplyTimes:
    """Median and 90th percentile of opening to first public reply, and in business hours."""
    query = cohort(window, Case.created_at, Case.first_reply_at)
    clock, business, unreplied = [], [], 0
    for created, replied in db.execute(query):
        if replied is None:
            unreplied += 1
            continue
        clock.append((replied - created).total_seconds())
        business.append(working_time(created, replied, business_hours).total_seconds())
    return ReplyTimes(
        replied=len(clock),
        unreplied=unreplied,
        median=median(clock),
        p90=percentile(clock, 90),
        business_median=median(business),
        business_p90=percentile(business, 90),
    )


def deadlines_by_department(
    db: Session, window: Window, now: datetime, triage_department: str | None = None
) -> dict[str, DeadlineCounts]:
    """The cohort's deadlines by outcome at `now`, for each department that owes them."""
    owner = _owing(triage_department)
    rows = (
        select(outcome_at(now).label("outcome"), owner.label("department"))
        .join(Case, Case.id == Deadline.case_id)
        .where(*_opened(window), *_owed_by(owner, window.departments))
        .subquery()
    )
    counted = select(rows.c.department, rows.c.outcome, func.count()).group_by(
        rows.c.department, rows.c.outcome
    )
    found: dict[str, Counter] = {}
    for department, outcome, count in db.execute(counted):
        found.setdefault(department, Counter())[outcome] += count
    return {dept: DeadlineCounts(**found[dept]) for dept in sorted(found)}


def escalation_times(db: Session, window: Window) -> tuple[EscalationTimes, ...]:
    """Per department: escalations, hand-backs, median time to acknowledge and to answer."""
    query = (
        select(
            Escalation.department,
            Escalation.status,
            Escalation.requested_at,
            Escalation.acknowledged_at,
            Escalation.answered_at,
        )
        .join(Case, Case.id == Escalation.case_id)
        .where(*_opened(window))
    )
    if window.departments is not None:
        query = query.where(Escalation.department.in_(window.departments))
    found: dict[str, list] = {}
    for row in db.execute(query):
        found.setdefault(row.department, []).append(row)
    return tuple(_escalations(dept, found[dept]) for dept in sorted(found))


def _escalations(department: str, rows: list) -> EscalationTimes:
    statuses = Counter(row.status for row in rows)
    return EscalationTimes(
        department=department,
        escalations=len(rows),
        sent_back=statuses["sent_back"],
        reassigned=statuses["reassigned"],
        acknowledge_median=median(_seconds(rows, "acknowledged_at")),
        answer_median=median(_seconds(rows, "answered_at")),
    )


def _seconds(rows: list, moment: str) -> list[float]:
    return [
        (getattr(row, moment) - row.requested_at).total_seconds()
        for row in rows
        if getattr(row, moment) is not None
    ]


def breaches(
    db: Session, window: Window, now: datetime, options: KpiOptions
) -> tuple[DeadlineRef, ...]:
    """The cohort's breached deadlines (late or overdue), earliest due first, with owners."""
    outcome = outcome_at(now)
    query = _deadline_refs(outcome, options.triage_department, window.departments).where(
        *_opened(window),
        outcome.in_((Outcome.LATE, Outcome.OVERDUE)),
        # Implied (a deadline starts when its case opens, or later), and it spares the
        # database sorting the breaches of all time to find the window's first ones.
        Deadline.started_at >= window.start,
    )
    return _refs(db, query, options.list_limit)


def open_at_risk(
    db: Session, departments: frozenset[str] | None, now: datetime, options: KpiOptions
) -> tuple[tuple[DeadlineRef, ...], int]:
    """Running deadlines of open cases due before `now + soon` (overdue ones too), and how
    many there are in all."""
    query = _deadline_refs(outcome_at(now), options.triage_department, departments).where(
        Deadline.status == DeadlineStatus.RUNNING,
        Deadline.due_at < now + options.soon,
        Case.status != CaseStatus.RESOLVED,
    )
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    return _refs(db, query, options.list_limit), total


def _deadline_refs(
    outcome: ColumnElement[str], triage_department: str | None, departments: frozenset[str] | None
) -> Select:
    owner = _owing(triage_department)
    return (
        select(
            Deadline.id,
            Deadline.case_id,
            Case.priority,
            Deadline.kind,
            owner,
            Case.owner_id,
            Deadline.due_at,
            outcome,
        )
        .join(Case, Case.id == Deadline.case_id)
        .where(*_owed_by(owner, departments))
    )


def _refs(db: Session, query: Select, limit: int) -> tuple[DeadlineRef, ...]:
    rows = db.execute(query.order_by(Deadline.due_at, Deadline.id).limit(limit))
    return tuple(
        DeadlineRef(d_id, c_id, priority, kind, dept, owner, due, Outcome(outcome))
        for d_id, c_id, priority, kind, dept, owner, due, outcome in rows
    )


def sentiment_trend(db: Session, window: Window, timezone: str = "UTC") -> tuple[SentimentDay, ...]:
    """Opening mentions by sentiment, for each day of the window in `timezone` (empty days
    included); mentions triage did not assess are left out."""
    days = _days(window, timezone)
    bucket = literal(0)
    if len(days) > 1:  # the index of the day each case was opened on
        whens = [(Case.created_at < begins, n) for n, (_, begins) in enumerate(days[1:])]
        bucket = case(*whens, else_=len(days) - 1)
    rows = cohort(window, bucket.label("day"), Mention.sentiment).subquery()
    counted = select(rows.c.day, rows.c.sentiment, func.count()).group_by(
        rows.c.day, rows.c.sentiment
    )
    found: dict[int, Counter] = {}
    for day, sentiment, count in db.execute(counted):
        if sentiment in SENTIMENTS:
            found.setdefault(day, Counter())[sentiment] += count
    return tuple(SentimentDay(day, **found.get(n, {})) for n, (day, _) in enumerate(days))


def themes(
    db: Session, window: Window, top: int = 10, ignore: Collection[str] = ()
) -> tuple[tuple[str, int], ...]:
    """The most frequent terms of the opening mentions, each counted once per mention."""
    texts = db.scalars(cohort(window, Mention.text))
    counts = Counter(term for text in texts for term in terms(text, ignore))
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top])


def terms(text: str, ignore: Collection[str] = ()) -> set[str]:
    """The words of a post worth counting: no links, handles, stopwords or short words."""
    text = NOISE.sub(" ", text.replace("\u2019", "'")).casefold()
    words = (word.removesuffix("'s") for word in WORD.findall(text))
    return {w for w in words if len(w) >= 3 and w not in STOPWORDS and w not in ignore}


def outcome_at(now: datetime) -> ColumnElement[str]:
    """A deadline's Outcome at `now`, as SQL. A paused deadline's due time is stale (it moves
    when the clock resumes), so only the ladder's mark makes a paused one overdue."""
    met, running = DeadlineStatus.MET, DeadlineStatus.RUNNING
    late = or_(Deadline.met_at > Deadline.due_at, Deadline.breached_at.is_not(None))
    overdue = or_(
        Deadline.breached_at.is_not(None), and_(Deadline.status == running, Deadline.due_at <= now)
    )
    return case(
        (Deadline.status == DeadlineStatus.CANCELLED, Outcome.CANCELLED.value),
        (and_(Deadline.status == met, late), Outcome.LATE.value),
        (Deadline.status == met, Outcome.MET.value),
        (overdue, Outcome.OVERDUE.value),
        else_=Deadline.status,
    )


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: list[float], share: int) -> float | None:
    """Nearest rank: the smallest value with at least `share` percent of values at or below."""
    if not values:
        return None
    rank = math.ceil(len(values) * share / 100)
    return sorted(values)[max(rank, 1) - 1]


def cohort(window: Window, *columns) -> Select:
    """`columns` of each case opened in the window, joined to its opening mention."""
    opening = (
        select(Mention.case_id, func.min(Mention.id).label("mention_id"))
        .join(Case, Case.id == Mention.case_id)
        .where(*_opened(window))
        .group_by(Mention.case_id)
        .subquery()
    )
    query = (
        select(*columns)
        .select_from(Case)
        .join(opening, opening.c.case_id == Case.id)
        .join(Mention, Mention.id == opening.c.mention_id)
        .where(*_opened(window))
    )
    if window.departments is not None:
        query = query.where(Mention.department.in_(window.departments))
    return query


def _opened(window: Window) -> tuple[ColumnElement[bool], ...]:
    return Case.created_at >= window.start, Case.created_at < window.end


def _owing(triage_department: str | None) -> ColumnElement[str]:
    """The department a deadline is owed by: its own, else (first replies) triage's."""
    return func.coalesce(Deadline.department, literal(triage_department or "triage"))


def _owed_by(owner: ColumnElement[str], departments: frozenset[str] | None) -> tuple:
    return () if departments is None else (owner.in_(departments),)


def _days(window: Window, timezone: str) -> list[tuple[date, datetime]]:
    """Each local day the window touches, and when (in UTC) its part of the window begins."""
    zone = ZoneInfo(timezone)
    day = window.start.astimezone(zone).date()
    days = [(day, window.start)]
    while True:
        day += timedelta(days=1)
        begins = datetime.combine(day, time(0), zone).astimezone(UTC)
        if begins >= window.end:
            return days
        days.append((day, begins))


def _sum(counts: Iterable[DeadlineCounts]) -> DeadlineCounts:
    total = Counter()
    for each in counts:
        total.update(vars(each))
    return DeadlineCounts(**total)


def _sorted(counts: Counter) -> dict[str, int]:
    return dict(sorted(counts.items()))
