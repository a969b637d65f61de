"""`app.py report`: per-case rows with every timestamp (CSV, JSON) and the KPIs, worked by hand.

Two cases opened from Friday 23 to Monday 26 October 2026 (London days; the clocks go back on
Sunday 25), a third on Tuesday 27, outside. The report is written at Tuesday 12:00 UTC.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from bot.report import kpi_options, report_command, write_report
from escalation.models import Case, CaseEvent, Deadline, Escalation, Mention
from tests.support import ORG

NOW = datetime(2026, 10, 27, 12, tzinfo=UTC)
START = datetime(2026, 10, 22, 23, tzinfo=UTC)  # Friday 00:00 BST
END = datetime(2026, 10, 27, tzinfo=UTC)  # Tuesday 00:00 GMT
BEN, AMIRA = "U0BEN0001", "U0AMIRA01"


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def iso(day: int, hour: int, minute: int = 0) -> str:
    return utc(day, hour, minute).isoformat()


def mention(case: Case, at: datetime, source: str, department: str, sentiment: str, text: str):
    return Mention(
        case_id=case.id,
        source=source,
        external_id=f"{case.id}-{at.timestamp()}",
        author_handle="someone",
        text=text,
        posted_at=at,
        received_at=at,
        department=department,
        sentiment=sentiment,
    )


def event(case: Case, at: datetime, who: str, action: str = "claim") -> CaseEvent:
    return CaseEvent(
        case_id=case.id, at=at, actor=who, action=action, from_status="new", to_status="claimed"
    )


def deadline(case, kind, due, status, *, escalation=None, met=None, breached=None) -> Deadline:
    return Deadline(
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


def escalation(case, department, requested, status, acked=None, answered=None) -> Escalation:
    return Escalation(
        case_id=case.id,
        department=department,
        status=status,
        question="Can you look?",
        requested_by=BEN,
        requested_at=requested,
        acknowledged_at=acked,
        answered_at=answered,
    )


@pytest.fixture
def cases(sessions) -> list[int]:
    """The ids of case 1 (Friday), case 2 (Saturday) and case 3 (Tuesday, outside)."""
    with sessions() as db, db.begin():
        # Case 1: claimed by Ben, released, claimed by Amira; sent to Legal, moved to Billing,
        # answered; replied Monday 08:30 (late) and resolved at 09:00. Two mentions.
        one = Case(
            status="resolved",
            priority="P2",
            owner_id=AMIRA,
            created_at=utc(23, 16, 30),
            updated_at=utc(26, 9),
            first_reply_at=utc(26, 8, 30),
            resolved_at=utc(26, 9),
            resolution="replied_publicly",
        )
        # Case 2: Saturday, nobody has it; its first reply is overdue since 13:00.
        two = Case(priority="P3", created_at=utc(24, 9), updated_at=utc(24, 9))
        three = Case(priority="P1", created_at=END, updated_at=END)
        db.add_all([one, two, three])
        db.flush()
        db.add_all(
            [
                mention(one, utc(23, 16, 30), "x", "billing", "negative",
                        "Charged twice this month"),
                mention(one, utc(23, 18), "x", "billing", "negative", "Still waiting"),
                mention(two, utc(24, 9), "mastodon", "care", "neutral",
                        "How do I reset my router?"),
                mention(three, END, "x", "care", "negative", "Outage outage"),
                event(one, utc(23, 16, 35), BEN),
                event(one, utc(23, 16, 50), BEN, action="release"),
                event(one, utc(23, 17), AMIRA),
                deadline(one, "first_reply", utc(23, 17, 30), "met",
                         met=utc(26, 8, 30), breached=utc(23, 17, 30)),
                deadline(two, "first_reply", utc(24, 13), "running"),
            ]
        )  # fmt: skip
        legal = escalation(one, "legal", utc(23, 16, 40), "reassigned")
        billing = escalation(
            one, "billing", utc(23, 16, 45), "answered", utc(26, 8, 10), utc(26, 8, 25)
        )
        db.add_all([legal, billing])
        db.flush()
        db.add_all(
            [
                deadline(one, "acknowledge", utc(26, 8, 40), "cancelled", escalation=legal),
                deadline(one, "acknowledge", utc(26, 8, 15), "met",
                         escalation=billing, met=utc(26, 8, 10)),
            ]
        )  # fmt: skip
        return [one.id, two.id, three.id]


def report(sessions, fmt: str) -> str:
    out = io.StringIO()
    write_report(sessions, START, END, fmt, out, now=NOW, options=kpi_options(ORG))
    return out.getvalue()


def test_csv_has_one_row_per_case_with_every_timestamp(sessions, cases):
    rows = list(csv.DictReader(io.StringIO(report(sessions, "csv"))))
    assert rows == [
        {
            "case_id": str(cases[0]),
            "created_at": "2026-10-23T16:30:00+00:00",
            "priority": "P2",
            "status": "resolved",
            "source": "x",
            "department": "billing",
            "sentiment": "negative",
            "mentions": "2",
            "first_owner": BEN,
            "claimed_at": "2026-10-23T16:35:00+00:00",
            "owner": AMIRA,
            "first_reply_at": "2026-10-26T08:30:00+00:00",
            "resolved_at": "2026-10-26T09:00:00+00:00",
            "resolution": "replied_publicly",
            "first_reply_due_at": "2026-10-23T17:30:00+00:00",
            "first_reply_deadline": "late",
            "escalations": "2",
            "escalation_department": "legal | billing",
            "escalation_status": "reassigned | answered",
            "escalation_requested_at": f"{iso(23, 16, 40)} | {iso(23, 16, 45)}",
            "escalation_acknowledged_at": f" | {iso(26, 8, 10)}",  # Legal never acknowledged
            "escalation_answered_at": f" | {iso(26, 8, 25)}",
            "acknowledge_due_at": f"{iso(26, 8, 40)} | {iso(26, 8, 15)}",
            "acknowledge_deadline": "cancelled | met",
        },
        {
            "case_id": str(cases[1]),
            "created_at": "2026-10-24T09:00:00+00:00",
            "priority": "P3",
            "status": "new",
            "source": "mastodon",
            "department": "care",
            "sentiment": "neutral",
            "mentions": "1",
            "first_owner": "",
            "claimed_at": "",
            "owner": "",
            "first_reply_at": "",
            "resolved_at": "",
            "resolution": "",
            "first_reply_due_at": "2026-10-24T13:00:00+00:00",
            "first_reply_deadline": "overdue",  # running, due Saturday 13:00, now Tuesday
            "escalations": "0",
            "escalation_department": "",
            "escalation_status": "",
            "escalation_requested_at": "",
            "escalation_acknowledged_at": "",
            "escalation_answered_at": "",
            "acknowledge_due_at": "",
            "acknowledge_deadline": "",
        },
    ]


def test_json_has_the_cases_their_escalations_deadlines_and_the_kpis(sessions, cases):
    document = json.loads(report(sessions, "json"))
    assert (document["start"], document["end"]) == (START.isoformat(), END.isoformat())
    assert [case["case_id"] for case in document["cases"]] == cases[:2]
    one = document["cases"][0]
    assert (one["first_owner"], one["claimed_at"], one["owner"]) == (BEN, iso(23, 16, 35), AMIRA)
    assert [(e["department"], e["acknowledged_at"]) for e in one["escalations"]] == [
        ("legal", None),
        ("billing", iso(26, 8, 10)),
    ]
    assert [(d["kind"], d["department"], d["met_at"], d["outcome"]) for d in one["deadlines"]] == [
        ("first_reply", None, iso(26, 8, 30), "late"),
        ("acknowledge", "legal", None, "cancelled"),
        ("acknowledge", "billing", iso(26, 8, 10), "met"),
    ]
    kpis = document["kpis"]
    assert kpis["cases"] == 2
    assert kpis["by_source"] == {"mastodon": 1, "x": 1}
    # Only case 1 was replied: Friday 16:30 -> Monday 08:30 UTC is 64 h = 230400 s; in the
    # office, Friday 17:30-18:00 BST and Monday 08:00-08:30 GMT: 3600 s.
    reply = kpis["first_reply"]
    assert (reply["replied"], reply["unreplied"], reply["median"]) == (1, 1, 230400)
    assert (reply["business_median"], reply["business_p90"]) == (3600, 3600)
    # Deadlines: case 1's first reply late, Legal's cancelled, Billing's met (08:10, due 08:15);
    # case 2's first reply overdue. Met in time 1 of the 3 decided.
    assert kpis["deadlines"] == {
        "met": 1,
        "late": 1,
        "overdue": 1,
        "running": 0,
        "paused": 0,
        "cancelled": 1,
        "breached": 2,
        "met_rate": pytest.approx(1 / 3),
    }
    assert kpis["deadlines_by_department"]["care"]["breached"] == 2  # triage owes first replies
    assert kpis["deadlines_by_department"]["billing"]["met_rate"] == 1
    # Billing: Friday 16:45 -> Monday 08:10 = 72 h - 8 h 35 = 228300 s; answered 08:25: 229200.
    assert kpis["escalations"] == [
        {
            "department": "billing",
            "escalations": 1,
            "sent_back": 0,
            "reassigned": 0,
            "acknowledge_median": 228300,
            "answer_median": 229200,
        },
        {
            "department": "legal",
            "escalations": 1,
            "sent_back": 0,
            "reassigned": 1,
            "acknowledge_median": None,
            "answer_median": None,
        },
    ]
    assert [day["day"] for day in kpis["sentiment"]] == [
        "2026-10-23",
        "2026-10-24",
        "2026-10-25",
        "2026-10-26",
    ]
    assert [(d["negative"], d["neutral"]) for d in kpis["sentiment"]] == [
        (1, 0),
        (0, 1),
        (0, 0),
        (0, 0),
    ]
    # Each term once: alphabetical. "Still waiting" is case 1's second mention, not counted.
    assert kpis["themes"] == [
        ["charged", 1],
        ["month", 1],
        ["reset", 1],
        ["router", 1],
        ["twice", 1],
    ]


def test_the_command_reads_local_days_and_writes_a_file(database_url, cases, tmp_path):
    path = tmp_path / "report.csv"
    argv = ["--from", "2026-10-23", "--to", "2026-10-23", "--format", "csv", "--out", str(path)]
    assert report_command(argv, database_url, ORG, now=NOW) == 0
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [row["case_id"] for row in rows] == [str(cases[0])]  # --to is included: Friday
    argv = [
        "--from",
        "2026-10-23",
        "--to",
        "2026-10-27",
        "--department",
        "care",
        "--out",
        str(path),
    ]
    assert report_command(argv, database_url, ORG, now=NOW) == 0
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [row["case_id"] for row in rows] == [str(cases[1]), str(cases[2])]


def test_the_command_writes_json_to_standard_output(database_url, cases, capsys):
    argv = ["--from", "2026-10-24", "--to", "2026-10-24", "--format", "json"]
    assert report_command(argv, database_url, ORG, now=NOW) == 0
    document = json.loads(capsys.readouterr().out)
    assert [case["case_id"] for case in document["cases"]] == [cases[1]]
    assert document["kpis"]["at_risk_total"] == 1  # case 2's overdue first reply


@pytest.mark.usefixtures("engine")
def test_the_command_refuses_unknown_departments_and_backward_dates(database_url, capsys):
    argv = ["--from", "2026-10-23", "--to", "2026-10-26", "--department", "hr"]
    assert report_command(argv, database_url, ORG, now=NOW) == 2
    assert "no department hr" in capsys.readouterr().err
    argv = ["--from", "2026-10-23", "--to", "2026-10-22"]
    assert report_command(argv, database_url, ORG, now=NOW) == 2
    assert "--to must not be before --from" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        report_command(["--from", "23/10/2026", "--to", "2026-10-26"], database_url, ORG)


def test_an_unknown_format_is_refused(sessions):
    with pytest.raises(ValueError, match="csv, json"):
        write_report(sessions, START, END, "xml", io.StringIO(), now=NOW)
