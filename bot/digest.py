"""The managers' digest in Slack.

Every replica's ticker asks `DigestDesk.tick()` which digests are due; a digest is queued as
an outbox job whose key names the manager and their local date, so one replica wins. The
winner holds the job back a moment while it uploads the chart of the last seven days into the
manager's direct messages (and asks the LLM, if there is one, for the themes), then lets it
go; the delivery worker draws it when it sends it (`draw_digest`, from bot/render.py). A chart
that cannot be uploaded is logged, and the digest goes without it. `/social digest` shows the
same digest to whoever asks (handlers/social.py), without the chart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.chart import chart_png
from bot.config import OrgConfig
from bot.db import unit_of_work
from bot.llm import LlmClient, LlmError
from bot.report import kpi_options, office_calendar
from bot.views.digest import digest_message
from bot.views.text import Message
from escalation import digests
from escalation.calendars import ALWAYS
from escalation.digests import DigestSchedule, crises_between, daily_points, period_window
from escalation.errors import NotAllowed
from escalation.kpis import KpiOptions, Window, cohort, compute_kpis
from escalation.kpis import themes as frequent_terms
from escalation.models import Mention
from escalation.people import Directory
from escalation.permissions import stranger_refusal
from prompts.digest import render_themes_prompt, themes_problem

log = logging.getLogger(__name__)
HOLD = timedelta(minutes=2)  # at most this long for the chart and themes before the digest goes
CHART_DAYS = 7
SAMPLE_POSTS = 40
TITLES = {"today": "today so far", "yesterday": "yesterday", "7d": "the last 7 days"}


def draw_digest(db: Session, payload: dict, org: Directory, now: datetime) -> Message:
    """The digest a job (or a request) describes, from the database as it is `now`."""
    start, end = (datetime.fromisoformat(payload[key]) for key in ("start", "end"))
    kpis = compute_kpis(
        db,
        start=start,
        end=end,
        now=now,
        departments=payload.get("departments"),
        options=_options(payload, org),
    )
    note = "📈 The chart of the last 7 days is just above." if payload.get("chart") else ""
    return digest_message(
        kpis,
        org,
        title=payload["title"],
        crises=crises_between(db, start, end),
        themes_summary=payload.get("themes"),
        note=note,
    )


def _options(payload: dict, org: Directory) -> KpiOptions:
    policies = org.policies
    calendars = policies.calendars if policies else {}
    return KpiOptions(
        business_hours=calendars.get(payload.get("calendar") or "", ALWAYS),
        timezone=payload["timezone"],
        triage_department=policies.triage_department if policies else None,
        ignore_terms=frozenset(payload.get("ignore", ())),
    )


# Digests drawn at once by one replica. Each holds the GIL for most of a second; fifty drawn
# together (a team typing /social digest at 9:00) starved the threads that acknowledge
# Slack's requests past its 3 seconds. The others wait here without holding the GIL.
DRAWING = threading.BoundedSemaphore(2)


class DigestDesk:
    """Queues the managers' digests once each, makes their charts, answers `/social digest`."""

    def __init__(
        self,
        org: OrgConfig,
        *,
        sessions: sessionmaker[Session],
        client: WebClient,
        clock: Callable[[], datetime],
        llm: LlmClient | None = None,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.org, self.directory = org, org.directory()
        self.schedules = org.digest_schedules()
        self.sessions, self.client, self.clock = sessions, client, clock
        self.llm, self.on_queued = llm, on_queued
        self.calendar = office_calendar(org)
        self.ignore = sorted(kpi_options(org).ignore_terms)
        self.known: set[str] = set()  # keys this replica saw queued: no need to ask again

    def tick(self) -> int:
        """Queue every digest now due that no replica queued yet; returns how many this did."""
        now, queued = self.clock(), 0
        for schedule in self.schedules:
            day = schedule.due_day(now)
            if day is None or schedule.key(day) in self.known:
                continue
            job_id = self._queue(schedule, day, now)
            self.known.add(schedule.key(day))
            if job_id is not None:
                self._prepare(schedule, day, job_id)
                queued += 1
        return queued

    def _queue(self, schedule: DigestSchedule, day: date, now: datetime) -> int | None:
        start, end = schedule.window(day)
        title = f"📊 Daily digest, {day:%a %d %b}"
        payload = self.payload(start, end, schedule.timezone, schedule.departments, title)
        with unit_of_work(self.sessions) as db:
            return digests.queue_digest(
                db=db, schedule=schedule, day=day, now=now, payload=payload | {"date": str(day)},
                hold=HOLD,
            )  # fmt: skip

    def _prepare(self, schedule: DigestSchedule, day: date, job_id: int) -> None:
        """Upload the chart and write the themes, then let the digest go, whatever happened."""
        extra = {"chart": None, "themes": None}
        try:
            extra["chart"] = self.upload_chart(schedule, day)
            start, end = schedule.window(day)
            extra["themes"] = self.themes(start, end, schedule.departments)
        finally:
            with unit_of_work(self.sessions) as db:
                digests.release(db=db, job_id=job_id, now=self.clock(), extra=extra)
            self.on_queued()

    def upload_chart(self, schedule: DigestSchedule, day: date) -> str | None:
        """The chart's file id in the manager's direct messages; None (logged) if it failed."""
        try:
            with self.sessions() as db:
                points = daily_points(
                    db,
                    last_day=day - timedelta(days=1),
                    days=CHART_DAYS,
                    timezone=schedule.timezone,
                    departments=schedule.departments,
                )
            png = chart_png(points)
            channel = self.client.conversations_open(users=schedule.slack_id)["channel"]["id"]
            uploaded = self.client.files_upload_v2(
                channel=channel,
                content=png,
                filename=f"digest-{day}.png",
                title=f"Cases and first-reply time, 7 days to {day:%d %b}",
                alt_txt="Bar chart of cases opened a day, line of the median first reply",
            )
            return uploaded["file"]["id"]
        except Exception as error:  # Slack down, refused, or drawing failed: no chart today
            log.warning(
                "digest for %s on %s: chart not uploaded (%s); the digest goes without it",
                schedule.slack_id, day, _reason(error),
            )  # fmt: skip
            return None

    def themes(self, start: datetime, end: datetime, departments) -> str | None:
        """The LLM's summary of what customers wrote about; None without an LLM or if it fails."""
        if self.llm is None:
            return None
        window = Window(start, end, frozenset(departments) if departments else None)
        options = _options({"timezone": self.org.timezone, "ignore": self.ignore}, self.directory)
        with self.sessions() as db:
            terms = frequent_terms(db, window, options.top_terms, options.ignore_terms)
            posts = list(db.scalars(cohort(window, Mention.text).limit(SAMPLE_POSTS)))
        if not posts:
            return None
        try:
            text = self.llm.write(render_themes_prompt(terms, posts)).strip()
        except LlmError as error:
            log.warning("digest themes: no LLM summary (%s); the frequent terms instead", error)
            return None
        if problem := themes_problem(text):
            log.warning("digest themes: the LLM's summary is unusable (%s)", problem)
            return None
        return text

    def on_demand(self, slack_id: str, period: str) -> Message:
        """`/social digest [period]` for one person: their departments, in their time zone."""
        person = self.org.person_by_slack_id(slack_id)
        if person is None:
            raise NotAllowed(stranger_refusal(self.directory))
        timezone, now = self.org.timezone_of(slack_id), self.clock()
        start, end = period_window(period, timezone, now)
        title = f"📊 Digest, {TITLES.get(period, 'the last 24 hours')}"
        departments = tuple(person.departments) or None
        payload = self.payload(start, end, timezone, departments, title)
        with DRAWING:
            payload["themes"] = self.themes(start, end, departments)
            with self.sessions() as db:
                return draw_digest(db, payload, self.directory, now)

    def payload(self, start, end, timezone, departments, title) -> dict:
        """What drawing a digest needs, as the outbox stores it (JSON)."""
        return {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "timezone": timezone,
            "departments": list(departments) if departments else None,
            "title": title,
            "calendar": self.calendar,
            "ignore": self.ignore,
        }


def _reason(error: Exception) -> str:
    response = getattr(error, "response", None)
    if response is not None and hasattr(response, "get"):
        return str(response.get("error") or type(error).__name__)
    return type(error).__name__
