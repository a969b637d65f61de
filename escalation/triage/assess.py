"""One mention in, one assessment out: sentiment, reach, risks, department, priority, crisis and
whether to reply, each with the short reasons a person can check."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from escalation.triage.cluster import Report, TriageContext, places_in
from escalation.triage.rules import Condition, TriageRules
from escalation.triage.sentiment import Mood, score_sentiment
from escalation.triage.text import Prepared, prepare

MAX_QUOTES = 3


@dataclass(frozen=True)
class MentionFacts:
    """What triage needs to know about a mention."""

    text: str
    source: str
    handle: str
    followers: int
    verified: bool
    created_at: datetime
    display_name: str = ""


@dataclass(frozen=True)
class Assessment:
    """What triage concluded. `department` is a department key or "none";
    `department_confidence` (0..1) is lower when the deciding rule is a weak one or other rules
    would have sent the mention elsewhere; `reasons` are short lines a person can check."""

    sentiment: str
    reach: str
    risks: frozenset[str]
    needs_reply: bool
    priority: str
    crisis_signal: bool
    department: str
    department_confidence: float
    reasons: list[str] = field(default_factory=list)


def assess(
    facts: MentionFacts, rules: TriageRules | None = None, context: TriageContext | None = None
) -> Assessment:
    """Assess one mention; with a context, also remember it for the incident clusters."""
    rules = rules or TriageRules.default()
    prepared = prepare(facts.text, rules.brand, rules.injection)
    cues = _cues(prepared, facts, rules)
    mood = score_sentiment(prepared, cues, rules.lexicon)
    reach = rules.reach.band(facts.followers, facts.verified)
    flags: dict[str, list[str]] = {**cues, **_builtin(prepared, facts, mood, reach, rules)}
    flags["in_cluster"], cluster_note = _cluster(prepared, facts, rules, cues, context)
    _derive(flags, rules)
    mood = _without_attitude(mood, flags, rules)
    decision = _decide(flags, rules)
    reasons = _text_reasons(prepared, mood, reach, facts) + cluster_note + decision.reasons
    return Assessment(
        sentiment=mood.label,
        reach=reach,
        risks=decision.risks,
        needs_reply=decision.needs_reply,
        priority=decision.priority,
        crisis_signal=decision.crisis,
        department=decision.department,
        department_confidence=decision.confidence,
        reasons=reasons,
    )


@dataclass
class _Decision:
    department: str
    confidence: float
    priority: str
    crisis: bool
    needs_reply: bool
    risks: frozenset[str]
    reasons: list[str]


def _decide(flags: dict[str, list[str]], rules: TriageRules) -> _Decision:
    """Department, then crisis, then priority and reply: each may use the ones before it."""
    department, confidence, why = _route(flags, rules)
    flags[f"dept_{department}"] = [department]
    crisis = _first(rules.crisis, flags)
    flags["crisis"] = crisis.because(flags) if crisis else []
    priority, why_priority = _priority(flags, rules)
    quiet = _first(rules.no_reply, flags)
    risks = _risks(flags, rules)
    reasons = [_risk_reason(name, flags, rules) for name in sorted(risks)]
    reasons += [f"department {department}: {why}", f"priority {priority}: {why_priority}"]
    if crisis:
        reasons.append(f"crisis signal: {', '.join(crisis.because(flags))}")
    if quiet:
        reasons.append(f"no reply needed: {', '.join(quiet.because(flags)) or 'rule'}")
    return _Decision(department, confidence, priority, bool(crisis), not quiet, risks, reasons)


def _without_attitude(mood: Mood, flags: dict[str, list[str]], rules: TriageRules) -> Mood:
    """Spam and bare injection attempts carry no attitude to the brand worth recording."""
    if mood.label == "neutral" or not any(flags.get(n) for n in rules.lexicon.neutral_when):
        return mood
    flags[mood.label], flags["sarcasm"], flags["neutral"] = [], [], ["neutral"]
    return Mood("neutral", False, ())


def _cues(prepared: Prepared, facts: MentionFacts, rules: TriageRules) -> dict[str, list[str]]:
    found = {
        name: [h.text for h in phrases.find(prepared.text)] for name, phrases in rules.cues.items()
    }
    author = f"{facts.display_name} {facts.handle}"
    for name, phrases in rules.author_cues.items():
        found[name] = [h.text for h in phrases.find(author)]
    return found


def _builtin(
    prepared: Prepared, facts: MentionFacts, mood: Mood, reach: str, rules: TriageRules
) -> dict[str, list[str]]:
    named = [n for n in rules.brand.names if _names_brand(prepared.text, n)]
    author = f"{facts.display_name} {facts.handle}"
    impostor = not rules.brand.is_own(facts.handle) and rules.brand.imitated_by(author)
    return {
        mood.label: list(mood.evidence) or [mood.label],
        "sarcasm": list(mood.evidence) if mood.sarcasm else [],
        "question": ["?"] if "?" in prepared.text or _asks(prepared.text) else [],
        "addressed": prepared.brand_tags,
        "brand_named": named,
        "lookalike": prepared.lookalike_tags,
        "mentions_others": prepared.other_tags,
        "impersonation": [author.strip()] if impostor else [],
        "disguised_link": prepared.disguised_links,
        "link": prepared.links,
        "slack_markup": prepared.slack_markup,
        "injection": prepared.injection,
        "empty": [] if any(ch.isalpha() for ch in prepared.text) else ["no words"],
        "verified": ["verified"] if facts.verified else [],
        f"reach_{reach}": [f"{facts.followers} followers"],
    }


def _names_brand(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w@.-]){re.escape(name)}(?![\w@-])", text, re.IGNORECASE) is not None


def _asks(text: str) -> bool:
    first = text.split(maxsplit=1)[:1]
    return bool(first) and first[0].lower() in {
        "how",
        "what",
        "when",
        "where",
        "why",
        "who",
        "which",
    }


def _cluster(
    prepared: Prepared,
    facts: MentionFacts,
    rules: TriageRules,
    cues: Mapping[str, list[str]],
    context: TriageContext | None,
) -> tuple[list[str], list[str]]:
    """The shared place if this outage report joins an incident cluster, and the reason."""
    if context is None or not any(cues.get(name) for name in rules.outage_cues):
        return [], []
    places, maybe = places_in(prepared.text, rules.not_places)
    report = Report(facts.created_at, facts.handle.lower(), places, maybe)
    shared = context.cluster_places(report, rules.cluster_min_reports)
    context.remember(report)
    if not shared:
        return [], []
    place, count = max(shared.items(), key=lambda item: item[1])
    minutes = int(context.window.total_seconds() // 60)
    note = f"incident cluster: {count} outage reports naming {place.title()} within {minutes} min"
    return [place], [note]


def _derive(flags: dict[str, list[str]], rules: TriageRules) -> None:
    for name, condition in rules.derived:
        flags[name] = (condition.because(flags) or [name]) if condition.holds(flags) else []


def _route(flags: Mapping[str, list[str]], rules: TriageRules) -> tuple[str, float, str]:
    matching = [rule for rule in rules.routing if rule.when.holds(flags)]
    if not matching:
        return rules.default_department, 0.3, "no rule matched"
    rule = matching[0]
    rivals = {r.department for r in matching[1:]} - {rule.department}
    evidence = sum(len(flags.get(name, ())) for name in rule.when.because(flags))
    confidence = rule.confidence + min(0.1, 0.03 * max(0, evidence - 1)) - 0.05 * len(rivals)
    return rule.department, round(min(0.99, max(0.05, confidence)), 2), _explain(rule.when, flags)


def _priority(flags: Mapping[str, list[str]], rules: TriageRules) -> tuple[str, str]:
    for rule in rules.priority:
        if rule.when.holds(flags):
            return rule.priority, _explain(rule.when, flags)
    return rules.default_priority, "default"


def _first(conditions: tuple[Condition, ...], flags: Mapping[str, list[str]]) -> Condition | None:
    return next((c for c in conditions if c.holds(flags)), None)


def _explain(condition: Condition, flags: Mapping[str, list[str]]) -> str:
    names = condition.because(flags)
    if not names:
        return "rule without conditions"
    return ", ".join(f"{name} {_quote(flags[name])}" for name in names[:MAX_QUOTES])


def _quote(evidence: list[str]) -> str:
    return "(" + ", ".join(f"'{e}'" for e in dict.fromkeys(evidence[:MAX_QUOTES])) + ")"


def _risks(flags: Mapping[str, list[str]], rules: TriageRules) -> frozenset[str]:
    return frozenset(
        risk for risk, names in rules.risks.items() if any(flags.get(n) for n in names)
    )


def _risk_reason(risk: str, flags: Mapping[str, list[str]], rules: TriageRules) -> str:
    evidence = [e for name in rules.risks[risk] for e in flags.get(name, ())]
    return f"{risk.replace('_', ' ')}: " + ", ".join(f"'{e}'" for e in dict.fromkeys(evidence[:2]))


def _text_reasons(prepared: Prepared, mood: Mood, reach: str, facts: MentionFacts) -> list[str]:
    reasons = []
    if prepared.slack_markup:
        reasons.append(f"Slack control syntax ignored: {', '.join(prepared.slack_markup[:2])}")
    if prepared.injection:
        reasons.append(f"instructions to a bot ignored: '{prepared.injection[0]}'")
    said = f": {', '.join(repr(e) for e in mood.evidence[:MAX_QUOTES])}" if mood.evidence else ""
    reasons.append(f"sentiment {mood.label}{' (sarcasm)' if mood.sarcasm else ''}{said}")
    verified = ", verified" if facts.verified else ""
    reasons.append(f"reach {reach}: {facts.followers:,} followers{verified}")
    return reasons
