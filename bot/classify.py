"""`app.py classify FILE.jsonl`: triage a file of mentions offline and, when the records carry
labels (the data set's format), report the accuracy and a confusion matrix per field."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from escalation.triage import Assessment, MentionFacts, TriageContext, TriageRules, assess

FIELDS = ("department", "sentiment", "priority", "needs_reply", "crisis_signal")


class ClassifyError(ValueError):
    """The input file cannot be read as mentions; the message names the line."""


@dataclass
class Result:
    record_id: str
    predicted: dict[str, Any]
    expected: dict[str, Any] | None


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    @property
    def labelled(self) -> list[Result]:
        return [r for r in self.results if r.expected is not None]

    def accuracy(self, name: str) -> float:
        scored = [r for r in self.labelled if name in r.expected]
        if not scored:
            return 0.0
        hits = sum(r.predicted[name] == r.expected[name] for r in scored)
        return hits / len(scored)

    def confusion(self, name: str) -> Counter[tuple[str, str]]:
        return Counter(
            (_show(r.expected[name]), _show(r.predicted[name]))
            for r in self.labelled
            if name in r.expected
        )


def read_records(path: Path) -> list[dict[str, Any]]:
    """The file's records, in created_at order as the incident clusters need them."""
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ClassifyError(f"{path}: cannot read ({exc.strerror})") from exc
    for number, line in enumerate(lines, start=1):
        if line.strip():
            records.append(_parse(path, number, line))
    return sorted(records, key=lambda record: record["_at"])


def _parse(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
        record["_at"] = _timestamp(record["created_at"])
        record["_facts"] = _facts(record, record["_at"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ClassifyError(f"{path}:{number}: not a mention record ({exc})") from None
    return record


def _timestamp(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _facts(record: dict[str, Any], at: datetime) -> MentionFacts:
    author = record.get("author") or {}
    return MentionFacts(
        text=str(record["text"]),
        source=str(record.get("source", "other")),
        handle=str(author.get("handle", "")),
        followers=int(author.get("followers", 0)),
        verified=bool(author.get("verified", False)),
        created_at=at,
        display_name=str(author.get("display_name") or ""),
    )


def classify(records: Iterable[dict[str, Any]], rules: TriageRules) -> Report:
    """Assess every record in order, sharing one incident-cluster context."""
    context = TriageContext(window=rules.cluster_window)
    report = Report()
    for index, record in enumerate(records, start=1):
        assessment = assess(record["_facts"], rules, context=context)
        labels = record.get("labels")
        report.results.append(Result(str(record.get("id", index)), _prediction(assessment), labels))
    return report


def _prediction(a: Assessment) -> dict[str, Any]:
    return {
        "department": a.department,
        "sentiment": a.sentiment,
        "priority": a.priority,
        "needs_reply": a.needs_reply,
        "crisis_signal": a.crisis_signal,
    }


def write_lines(report: Report, out: TextIO) -> None:
    for result in report.results:
        out.write(json.dumps({"id": result.record_id, **result.predicted}, ensure_ascii=False))
        out.write("\n")


def write_report(report: Report, out: TextIO) -> None:
    """Accuracy per field, then one confusion matrix per field (rows: label, columns: ours)."""
    labelled = report.labelled
    out.write(f"{len(labelled)} labelled of {len(report.results)} mentions\n")
    if not labelled:
        return
    for name in FIELDS:
        out.write(f"  {name:<14} {report.accuracy(name):6.1%}\n")
    for name in FIELDS:
        out.write("\n" + confusion_table(name, report.confusion(name)))


def confusion_table(name: str, counts: Counter[tuple[str, str]]) -> str:
    values = sorted({v for pair in counts for v in pair}, key=_order)
    corner = f"{name} \\ predicted"
    width = max(len(corner), *(len(v) for v in values))
    cell = max(5, *(len(v) for v in values))
    lines = [corner.ljust(width) + "".join(v.rjust(cell + 1) for v in values)]
    for expected in values:
        row = [str(counts.get((expected, got), 0) or ".").rjust(cell + 1) for got in values]
        lines.append(expected.ljust(width) + "".join(row))
    return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _order(value: str) -> tuple[int, str]:
    """Priorities and sentiments in their natural order, departments alphabetically, none last."""
    ranked = ["P1", "P2", "P3", "P4", "negative", "neutral", "positive", "true", "false"]
    if value in ranked:
        return ranked.index(value), value
    return (len(ranked) + 1 if value == "none" else len(ranked)), value


def run(path: Path, rules: TriageRules, out: TextIO, err: TextIO, report_only: bool) -> int:
    """The classify command: 0 when every record was assessed, 2 for an unreadable file."""
    try:
        records = read_records(path)
    except ClassifyError as exc:
        err.write(f"error: {exc}\n")
        return 2
    report = classify(records, rules)
    if not report_only:
        write_lines(report, out)
    if report.labelled or report_only:
        write_report(report, err)
    return 0
