"""`python app.py report`: one row per case with every timestamp, and the KPIs, for BI tools.

    python app.py report --from 2026-10-01 --to 2026-10-31 --format csv --out october.csv

The cases are those opened from the first day to the last, both included, in the organisation's
time zone. CSV has one row per case; a case's escalations fill their columns in the same order,
joined by " | ". JSON has the same cases, with their escalations and deadlines as lists, and
the KPIs of the digest for the same window (escalation/kpis.py).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import OrgConfig
from bot.db import make_engine, session_factory
from escalation.calendars import ALWAYS
from escalation.kpis import KpiOptions, Kpis, Window, cohort, compute_kpis, outcome_at, terms
from escalation.models import Case, CaseEvent, Deadline, Escalation, Mention

FORMATS = ("csv", "json")
LIST_SEPARATOR = " | "
CASE_FIELDS = (
    "case_id",
    "created_at",
    "priority",
    "status",
    "source",
    "department",
    "sentiment",
    "mentions",
    "first_owner",
    "claimed_at",
    "owner",
    "first_reply_at",
    "resolved_at",
    "resolution",
)
CASE_COLUMNS = {
    "case_id": Case.id,
    "created_at": Case.created_at,
    "priority": Case.priority,
    "status": Case.status,
    "source": Mention.source,
    "department": Mention.department,
    "sentiment": Mention.sentiment,
    "owner": Case.owner_id,
    "first_reply_at": Case.first_reply_at,
    "resolved_at": Case.resolved_at,
    "resolution": Case.resolution,
}
ESCALATION_FIELDS = ("department", "status", "requested_at", "acknowledged_at", "answered_at")
DEADLINE_FIELDS = ("kind", "department", "escalation_id", "started_at", "due_at", "met_at")
COLUMNS = (
    *CASE_FIELDS,
    "first_reply_due_at",
    "first_reply_deadline",
    "escalations",
    *(f"escalation_{name}" for name in ESCALATION_FIELDS),
    "acknowledge_due_at",
    "acknowledge_deadline",
)


def write_report(
    sessions: sessionmaker[Session],
    start: datetime,
    end: datetime,
    fmt: str,
    out: TextIO,
    *,
    now: datetime,
    options: KpiOptions | None = None,
    departments: frozenset[str] | None = None,
) -> int:
    """Write the cases opened in [start, end) as `fmt` (csv or json); returns how many."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    window = Window(start, end, departments)
    with sessions() as db:
        rows = case_rows(db, window, now)
        if fmt == "csv":
            writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(flat(row) for row in rows)
            return len(rows)
        options = options or KpiOptions()
        kpis = compute_kpis(
            db, start=start, end=end, now=now, departments=departments, options=options
        )
    document = {"start": start, "end": end, "generated_at": now, "cases": rows}
    json.dump(document | {"kpis": kpis_json(kpis)}, out, indent=2, default=_iso)
    out.write("\n")
    return len(rows)


def case_rows(db: Session, window: Window, now: datetime) -> list[dict]:
    """Each case opened in the window, oldest first: its timestamps, its escalations and its
    deadlines (with their outcome at `now`)."""
    ids = cohort(window, Case.id)
    mentions = dict(
        db.execute(
            select(Mention.case_id, func.count())
            .where(Mention.case_id.in_(ids))
            .group_by(Mention.case_id)
        ).all()
    )
    claims = _first_claims(db, ids)
    escalations = _escalations(db, ids)
    deadlines = _deadlines(db, ids, now)
    columns = [column.label(name) for name, column in CASE_COLUMNS.items()]
    rows = []
    for found in db.execute(cohort(window, *columns).order_by(Case.created_at, Case.id)):
        row = dict(found._mapping)
        case_id = row["case_id"]
        row["first_owner"], row["claimed_at"] = claims.get(case_id, (None, None))
        row["mentions"] = mentions.get(case_id, 0)
        row["escalations"] = escalations.get(case_id, [])
        row["deadlines"] = deadlines.get(case_id, [])
        rows.append({name: row[name] for name in (*CASE_FIELDS, "escalations", "deadlines")})
    return rows


def _first_claims(db: Session, ids) -> dict[int, tuple[str | None, datetime]]:
    """Who claimed each case first, and when."""
    query = (
        select(CaseEvent.case_id, CaseEvent.actor, CaseEvent.at)
        .where(CaseEvent.case_id.in_(ids), CaseEvent.action == "claim")
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
    )
    return {case_id: (actor, at) for case_id, actor, at in db.execute(query)}  # earliest wins


def _escalations(db: Session, ids) -> dict[int, list[dict]]:
    columns = [getattr(Escalation, name) for name in ("id", *ESCALATION_FIELDS)]
    query = (
        select(Escalation.case_id, *columns)
        .where(Escalation.case_id.in_(ids))
        .order_by(Escalation.id)
    )
    found: dict[int, list[dict]] = {}
    for case_id, *values in db.execute(query):
        entry = dict(zip(("id", *ESCALATION_FIELDS), values, strict=True))
        found.setdefault(case_id, []).append(entry)
    return found


def _deadlines(db: Session, ids, now: datetime) -> dict[int, list[dict]]:
    columns = [getattr(Deadline, name) for name in DEADLINE_FIELDS]
    query = (
        select(Deadline.case_id, *columns, Deadline.breached_at, outcome_at(now))
        .where(Deadline.case_id.in_(ids))
        .order_by(Deadline.id)
    )
    found: dict[int, list[dict]] = {}
    for case_id, *values, breached, outcome in db.execute(query):
        entry = dict(zip(DEADLINE_FIELDS, values, strict=True))
        entry |= {"breached_at": breached, "outcome": outcome}
        found.setdefault(case_id, []).append(entry)
    return found


def flat(row: dict) -> dict:
    """A case as one CSV row: the newest first-reply deadline, and per escalation its fields
    and its newest acknowledgement deadline, in the same order in each list column."""
    deadlines = row["deadlines"]
    first_reply = _newest(deadlines, "first_reply", None)
    escalations = row["escalations"]
    acknowledgements = [_newest(deadlines, "acknowledge", e["id"]) for e in escalations]
    values = {name: _text(row[name]) for name in CASE_FIELDS}
    values |= {
        "first_reply_due_at": _text(first_reply and first_reply["due_at"]),
        "first_reply_deadline": _text(first_reply and first_reply["outcome"]),
        "escalations": len(escalations),
        "acknowledge_due_at": _joined(a and a["due_at"] for a in acknowledgements),
        "acknowledge_deadline": _joined(a and a["outcome"] for a in acknowledgements),
    }
    for name in ESCALATION_FIELDS:
        values[f"escalation_{name}"] = _joined(e[name] for e in escalations)
    return values


def _newest(deadlines: list[dict], kind: str, escalation_id: int | None) -> dict | None:
    found = [d for d in deadlines if d["kind"] == kind and d["escalation_id"] == escalation_id]
    return found[-1] if found else None


def _joined(values) -> str:
    return LIST_SEPARATOR.join(_text(value) for value in values)


def _text(value) -> str:
    if value is None:
        return ""
    return _iso(value) if isinstance(value, datetime | date) else str(value)


def _iso(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def kpis_json(kpis: Kpis) -> dict:
    """The KPIs as plain data, with each deadline count's breaches and met rate."""
    data = asdict(kpis)
    pairs = [(kpis.deadlines, data["deadlines"])]
    for dept, counts in kpis.deadlines_by_department.items():
        pairs.append((counts, data["deadlines_by_department"][dept]))
    for counts, target in pairs:
        target.update(breached=counts.breached, met_rate=counts.met_rate)
    return data


def kpi_options(org: OrgConfig, calendar: str | None = None) -> KpiOptions:
    """The organisation's KPI settings; business hours from `calendar`, by default the
    calendar with opening hours that most departments keep."""
    name = calendar or office_calendar(org)
    names = [org.brand, *(org.triage.brand.names if org.triage else ())]
    return KpiOptions(
        business_hours=org.sla_policies().calendars.get(name or "", ALWAYS),
        timezone=org.timezone,
        triage_department=org.triage_department,
        ignore_terms=frozenset(terms(" ".join(names))),
    )


def office_calendar(org: OrgConfig) -> str | None:
    kept = Counter(d.calendar for d in org.departments.values() if org.calendars[d.calendar].hours)
    return kept.most_common(1)[0][0] if kept else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The report's options, for a parser of its own or a subcommand's."""
    day = date.fromisoformat
    parser.add_argument(
        "--from", dest="first", type=day, required=True, metavar="DATE",
        help="first day, YYYY-MM-DD, in the organisation's time zone",
    )  # fmt: skip
    parser.add_argument(
        "--to", dest="last", type=day, required=True, metavar="DATE", help="last day, included"
    )
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("--out", default="-", metavar="FILE", help="default: standard output")
    parser.add_argument(
        "--department", action="append", metavar="KEY", help="only its cases (repeatable)"
    )
    parser.add_argument(
        "--calendar", metavar="NAME",
        help="the business hours of the KPIs (default: the one most departments keep)",
    )  # fmt: skip


def report_command(
    argv: list[str], database_url: str, org: OrgConfig, *, now: datetime | None = None
) -> int:
    """`app.py report ...` as a function of its arguments; returns the exit status."""
    parser = argparse.ArgumentParser(prog="app.py report", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv), database_url, org, now=now)


def run(
    args: argparse.Namespace, database_url: str, org: OrgConfig, *, now: datetime | None = None
) -> int:
    """Write the report the parsed arguments ask for."""
    if problem := _problem(args, org):
        sys.stderr.write(f"error: {problem}\n")
        return 2
    zone = ZoneInfo(org.timezone)
    start = datetime.combine(args.first, time(0), zone).astimezone(UTC)
    end = datetime.combine(args.last + timedelta(days=1), time(0), zone).astimezone(UTC)
    departments = frozenset(args.department) if args.department else None
    engine = make_engine(database_url)
    try:
        with _output(args.out) as out:
            write_report(
                session_factory(engine),
                start,
                end,
                args.format,
                out,
                now=now or datetime.now(UTC),
                options=kpi_options(org, args.calendar),
                departments=departments,
            )
    finally:
        engine.dispose()
    return 0


@contextmanager
def _output(path: str) -> Iterator[TextIO]:
    if path == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8", newline="") as out:
        yield out


def _problem(args: argparse.Namespace, org: OrgConfig) -> str | None:
    if args.last < args.first:
        return "--to must not be before --from"
    unknown = set(args.department or ()) - set(org.departments)
    if unknown:
        return f"--department: no department {', '.join(sorted(unknown))} in the organisation file"
    if args.calendar and args.calendar not in org.calendars:
        return f"--calendar: no calendar {args.calendar!r} in the organisation file"
    return None
