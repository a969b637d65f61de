"""The managers' digest as a message: pure, from the KPIs (escalation/kpis.py).

Every list is cut to a few lines and says how many more there are, so that a digest stays
within Block Kit's limits (50 blocks, 3,000 characters a section) whatever the day was like.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.views.cards import button
from bot.views.ids import ActionId
from bot.views.text import Message, context, escape, mrkdwn_section, plain, shorten, source_name
from escalation.crises import Crisis
from escalation.deadlines import in_words
from escalation.kpis import (
    DeadlineCounts,
    DeadlineRef,
    EscalationTimes,
    Kpis,
    Outcome,
    SentimentDay,
)
from escalation.people import Directory

LIST_LINES = 10  # lines of a list before "and N more"
AT_RISK_BUTTONS = 8  # at-risk cases shown with their own Claim button
SUMMARY_LIMIT = 1500
KINDS = {"first_reply": "first reply", "acknowledge": "acknowledgement", "resolve": "resolution"}


def digest_message(
    kpis: Kpis,
    org: Directory,
    *,
    title: str,
    crises: Sequence[Crisis] = (),
    themes_summary: str | None = None,
    note: str = "",
) -> Message:
    """The digest of `kpis`: what came in, how fast it was answered, what is late or at risk."""
    blocks = [
        {"type": "header", "text": plain(title, 150)},
        context(f"Cases opened {_when(kpis.start)} to {_when(kpis.end)} · {_covering(kpis, org)}"),
        mrkdwn_section(volume_text(kpis, org)),
        mrkdwn_section(reply_text(kpis)),
        mrkdwn_section(deadlines_text(kpis, org)),
        mrkdwn_section(escalations_text(kpis.escalations, org)),
        mrkdwn_section(breaches_text(kpis, org)),
        *at_risk_blocks(kpis, org),
        mrkdwn_section(sentiment_text(kpis.sentiment)),
        mrkdwn_section(themes_text(kpis, themes_summary)),
        mrkdwn_section(crises_text(crises)),
        context(note),
    ]
    return Message(f"{title}: {kpis.cases} cases", [b for b in blocks if b])


def volume_text(kpis: Kpis, org: Directory) -> str:
    departments = {_department(key, org): n for key, n in kpis.by_department.items()}
    return "\n".join(
        [
            f"*Volume:* {kpis.cases} cases",
            f"By source: {_counts({source_name(k): n for k, n in kpis.by_source.items()})}",
            f"By priority: {_counts(kpis.by_priority)}",
            f"By department: {_counts(departments)}",
        ]
    )


def reply_text(kpis: Kpis) -> str:
    times = kpis.first_reply
    return "\n".join(
        [
            f"*First public reply* ({times.replied} replied, {times.unreplied} not yet)",
            f"Around the clock: median {_took(times.median)} · 90th percentile {_took(times.p90)}",
            f"In business hours: median {_took(times.business_median)}"
            f" · 90th percentile {_took(times.business_p90)}",
        ]
    )


def deadlines_text(kpis: Kpis, org: Directory) -> str:
    lines = [f"*Deadlines met:* {_met(kpis.deadlines)}"]
    lines += [
        f"{escape(_department(dept, org))}: {_met(counts)}"
        for dept, counts in kpis.deadlines_by_department.items()
    ]
    return "\n".join(_cut(lines, LIST_LINES + 1))


def escalations_text(escalations: Sequence[EscalationTimes], org: Directory) -> str:
    if not escalations:
        return "*Escalations:* none"
    lines = ["*Escalations* (median time to acknowledge, to answer)"]
    for each in escalations:
        returned = f" · {each.sent_back} sent back" if each.sent_back else ""
        lines.append(
            f"{escape(_department(each.department, org))}: {each.escalations}"
            f" · acknowledged in {_took(each.acknowledge_median)}"
            f" · answered in {_took(each.answer_median)}{returned}"
        )
    return "\n".join(_cut(lines, LIST_LINES + 1, len(escalations) + 1))


def breaches_text(kpis: Kpis, org: Directory) -> str:
    total = kpis.deadlines.breached
    if not total:
        return "*Breaches:* none 🎉"
    lines = [f"*Breaches* ({total})", *(_ref_line(ref, org) for ref in kpis.breaches)]
    return "\n".join(_cut(lines, LIST_LINES + 1, total + 1))


def at_risk_blocks(kpis: Kpis, org: Directory) -> list[dict]:
    """Open cases whose deadline is near or past, each with a Claim button if nobody owns it."""
    cases: dict[int, DeadlineRef] = {}
    for ref in kpis.at_risk:  # earliest due first: a case shows its most urgent deadline
        cases.setdefault(ref.case_id, ref)
    if not cases:
        return [mrkdwn_section("*Open cases at risk:* none")]
    blocks = [mrkdwn_section(f"*Open cases at risk* ({kpis.at_risk_total} deadlines)")]
    shown = list(cases.values())[:AT_RISK_BUTTONS]
    for ref in shown:
        section = mrkdwn_section(_ref_line(ref, org))
        if ref.owner_id is None:
            section["accessory"] = button("Claim", ActionId.CLAIM, str(ref.case_id), "primary")
        blocks.append(section)
    ids = {ref.case_id for ref in shown}
    more = kpis.at_risk_total - sum(1 for ref in kpis.at_risk if ref.case_id in ids)
    if more > 0:
        blocks.append(context(f"and {more} more deadlines at risk"))
    return blocks


def sentiment_text(days: Sequence[SentimentDay]) -> str:
    lines = ["*Sentiment*"]
    for day in days[-8:]:
        total = day.positive + day.neutral + day.negative
        share = f" ({day.negative / total:.0%} negative)" if total else ""
        lines.append(
            f"{day.day:%a %d %b}: 🙂 {day.positive} · 😐 {day.neutral} · 😠 {day.negative}{share}"
        )
    return "\n".join(lines + [_trend(days)] if len(days) > 1 else lines)


def _trend(days: Sequence[SentimentDay]) -> str:
    shares = [_negative_share(d) for d in days if d.positive + d.neutral + d.negative]
    if len(shares) < 2:
        return ""
    change = round((shares[-1] - shares[0]) * 100)
    if change == 0:
        return "Negative share steady"
    return f"Negative share {'up' if change > 0 else 'down'} {abs(change)} points"


def _negative_share(day: SentimentDay) -> float:
    return day.negative / (day.positive + day.neutral + day.negative)


def themes_text(kpis: Kpis, summary: str | None) -> str:
    if summary:
        return f"*Main themes*\n{escape(shorten(summary.strip(), SUMMARY_LIMIT))}"
    if not kpis.themes:
        return "*Main themes:* nothing to report"
    terms = " · ".join(f"{escape(term)} ({n})" for term, n in kpis.themes)
    return f"*Main themes* (most frequent terms)\n{terms}"


def crises_text(crises: Sequence[Crisis]) -> str:
    if not crises:
        return "*Crises:* none"
    lines = [f"*Crises* ({len(crises)})"]
    for crisis in crises:
        room = f" · #{escape(crisis.channel_name)}" if crisis.channel_name else ""
        state = "open" if crisis.is_open else "closed"
        lines.append(f"🚨 {crisis.severity} {escape(shorten(crisis.title, 100))}{room} · {state}")
    return "\n".join(_cut(lines, LIST_LINES + 1))


def _ref_line(ref: DeadlineRef, org: Directory) -> str:
    owner = escape(org.name(ref.owner_id)) if ref.owner_id else "unclaimed"
    late = {Outcome.OVERDUE: "overdue since", Outcome.LATE: "met late, was due"}
    due = late.get(ref.outcome, "due")
    return (
        f"*#{ref.case_id}* {ref.priority} · {KINDS.get(ref.kind, ref.kind)}"
        f" · {escape(_department(ref.department, org))} · {owner} · {due} {_when(ref.due_at)}"
    )


def _cut(lines: list[str], keep: int, total: int | None = None) -> list[str]:
    """The first `keep` lines, and how many more there are."""
    total = len(lines) if total is None else total
    return lines[:keep] + ([f"and {total - keep} more"] if total > keep else [])


def _counts(counts: dict[str, int]) -> str:
    if not counts:
        return "none"
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = [f"{escape(key)} {n}" for key, n in ordered[:LIST_LINES]]
    more = f" and {len(ordered) - LIST_LINES} more" if len(ordered) > LIST_LINES else ""
    return " · ".join(shown) + more


def _met(counts: DeadlineCounts) -> str:
    rate = f"{counts.met_rate:.0%}" if counts.met_rate is not None else "n/a"
    return f"{rate} ({counts.met} met, {counts.breached} breached, {counts.running} running)"


def _took(seconds: float | None) -> str:
    return in_words(timedelta(seconds=seconds)) if seconds is not None else "n/a"


def _department(key: str, org: Directory) -> str:
    known = org.departments.get(key)
    return known.name if known else key


def _covering(kpis: Kpis, org: Directory) -> str:
    if kpis.departments is None or set(kpis.departments) >= set(org.departments):
        return "all departments"
    return escape(", ".join(_department(key, org) for key in kpis.departments))


def _when(moment: datetime) -> str:
    """A moment each reader sees in their own time zone."""
    fallback = f"{moment:%d %b %H:%M} UTC"
    return f"<!date^{int(moment.timestamp())}^{{date_short}} {{time}}|{fallback}>"
