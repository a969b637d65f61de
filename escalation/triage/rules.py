"""An organisation's triage rules: phrase lists, reach bands and the ordered decision rules.

They come from the `triage:` section of the organisation file; without one, Brightwave's rules
(`brightwave.yaml` beside this file) apply. The decision rules name *flags*: a cue (a phrase list
that matched), a derived flag (a condition over other flags) or a built-in flag (listed in
checks.py, computed in assess.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from escalation.triage.checks import check_rules, dependency_order
from escalation.triage.phrases import PhraseList
from escalation.triage.text import Brand

DEFAULTS = Path(__file__).with_name("brightwave.yaml")
PRIORITIES = ("P1", "P2", "P3", "P4")
DURATION = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

Flags = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Condition:
    """All of `all`, at least one of `any` (when given) and none of `none`."""

    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    none: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Condition:
        return cls(*(tuple(raw.get(part) or ()) for part in ("all", "any", "none")))

    def holds(self, flags: Flags) -> bool:
        return (
            all(flags.get(name) for name in self.all)
            and (not self.any or any(flags.get(name) for name in self.any))
            and not any(flags.get(name) for name in self.none)
        )

    def because(self, flags: Flags) -> list[str]:
        """The flags that made the condition hold, for the reasons shown to people."""
        return [name for name in (*self.all, *self.any) if flags.get(name)]

    def names(self) -> tuple[str, ...]:
        return (*self.all, *self.any, *self.none)


@dataclass(frozen=True)
class RoutingRule:
    department: str
    when: Condition
    confidence: float


@dataclass(frozen=True)
class PriorityRule:
    priority: str
    when: Condition


@dataclass(frozen=True)
class ReachBands:
    """Follower bands, lowest first: each band starts at its number of followers."""

    starts: tuple[tuple[str, int], ...]
    verified_at_least: str | None = None

    def band(self, followers: int, verified: bool) -> str:
        names = [name for name, start in self.starts if followers >= start]
        band = names[-1] if names else self.starts[0][0]
        if (
            verified
            and self.verified_at_least
            and self._rank(band) < self._rank(self.verified_at_least)
        ):
            return self.verified_at_least
        return band

    def _rank(self, band: str) -> int:
        return [name for name, _ in self.starts].index(band)


@dataclass(frozen=True)
class Lexicon:
    """The sentiment analyser's word lists; see sentiment.py for how they combine."""

    positive: PhraseList
    negative: PhraseList
    weak_negative: PhraseList
    sarcasm_strong: PhraseList
    sarcasm_markers: PhraseList
    neutralisers: PhraseList
    negators: PhraseList
    sarcasm_context: tuple[str, ...]
    negative_cues: tuple[str, ...]
    neutral_when: tuple[str, ...]
    not_shouting: frozenset[str]
    positive_emoji: str
    negative_emoji: str
    eye_roll_emoji: str
    irony_emoji: str


@dataclass(frozen=True)
class TriageRules:
    brand: Brand
    reach: ReachBands
    cluster_window: timedelta
    cluster_min_reports: int
    outage_cues: tuple[str, ...]
    not_places: frozenset[str]
    lexicon: Lexicon
    injection: PhraseList
    cues: Mapping[str, PhraseList]
    author_cues: Mapping[str, PhraseList]
    derived: tuple[tuple[str, Condition], ...]
    risks: Mapping[str, tuple[str, ...]]
    routing: tuple[RoutingRule, ...]
    default_department: str
    crisis: tuple[Condition, ...]
    priority: tuple[PriorityRule, ...]
    default_priority: str
    no_reply: tuple[Condition, ...]

    @classmethod
    def default(cls) -> TriageRules:
        """Brightwave's rules, the demo brand's, for organisation files with no triage section."""
        return _default()

    @classmethod
    def from_config(cls, section: Any) -> TriageRules:
        """Rules from the organisation file's triage section: a validated model, a mapping or
        None (then the defaults)."""
        if section is None:
            return cls.default()
        if hasattr(section, "model_dump"):
            section = section.model_dump()
        return cls.from_dict(section)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TriageRules:
        departments = {r.get("department") for r in data.get("routing") or ()}
        departments |= {data.get("default_department", "none"), "none"}
        if problems := check_rules(data, departments=departments):
            raise ValueError("; ".join(problems))
        return _build(data)

    def departments(self) -> frozenset[str]:
        return frozenset({rule.department for rule in self.routing} | {self.default_department})


@cache
def _default() -> TriageRules:
    return TriageRules.from_dict(yaml.safe_load(DEFAULTS.read_text(encoding="utf-8")))


def _build(data: Mapping[str, Any]) -> TriageRules:
    brand = Brand(
        names=tuple(data["brand"]["names"]),
        handles=frozenset(h.lower().lstrip("@") for h in data["brand"]["handles"]),
    )
    cluster = data.get("cluster") or {}
    derived = data.get("derived") or {}
    return TriageRules(
        brand=brand,
        reach=_reach(data["reach"]),
        cluster_window=parse_window(cluster.get("window", "60m")),
        cluster_min_reports=int(cluster.get("min_reports", 2)),
        outage_cues=tuple(cluster.get("outage_cues") or ()),
        not_places=frozenset(w.lower() for w in cluster.get("not_places") or ()),
        lexicon=_lexicon(data["sentiment"], brand.names),
        injection=PhraseList("injection", data.get("injection") or (), brand.names),
        cues=_phrase_lists(data.get("cues"), brand.names),
        author_cues=_phrase_lists(data.get("author_cues"), brand.names),
        derived=tuple((k, Condition.parse(derived[k])) for k in dependency_order(derived)),
        risks={key: tuple(names) for key, names in (data.get("risks") or {}).items()},
        routing=tuple(
            RoutingRule(r["department"], Condition.parse(r), float(r.get("confidence", 0.7)))
            for r in data["routing"]
        ),
        default_department=data.get("default_department", "none"),
        crisis=tuple(Condition.parse(c) for c in data.get("crisis") or ()),
        priority=tuple(PriorityRule(r["priority"], Condition.parse(r)) for r in data["priority"]),
        default_priority=data.get("default_priority", "P3"),
        no_reply=tuple(Condition.parse(c) for c in data.get("no_reply") or ()),
    )


def _reach(raw: Mapping[str, Any]) -> ReachBands:
    starts = tuple(sorted(((k, int(v)) for k, v in raw["bands"].items()), key=lambda b: b[1]))
    return ReachBands(starts, raw.get("verified_at_least"))


def _phrase_lists(raw: Mapping[str, Any] | None, brand: Sequence[str]) -> dict[str, PhraseList]:
    return {name: PhraseList(name, phrases, brand) for name, phrases in (raw or {}).items()}


def _lexicon(raw: Mapping[str, Any], brand: Sequence[str]) -> Lexicon:
    def words(key: str) -> PhraseList:
        return PhraseList(key, raw.get(key) or (), brand)

    return Lexicon(
        positive=words("positive"),
        negative=words("negative"),
        weak_negative=words("weak_negative"),
        sarcasm_strong=words("sarcasm_strong"),
        sarcasm_markers=words("sarcasm_markers"),
        neutralisers=words("neutralisers"),
        negators=words("negators"),
        sarcasm_context=tuple(raw.get("sarcasm_context") or ()),
        negative_cues=tuple(raw.get("negative_cues") or ()),
        neutral_when=tuple(raw.get("neutral_when") or ()),
        not_shouting=frozenset(w.upper() for w in raw.get("not_shouting") or ()),
        positive_emoji=raw.get("positive_emoji") or "",
        negative_emoji=raw.get("negative_emoji") or "",
        eye_roll_emoji=raw.get("eye_roll_emoji") or "",
        irony_emoji=raw.get("irony_emoji") or "",
    )


def parse_window(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    match = DURATION.match(str(value).strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"a duration such as 90s, 15m, 4h or 1d, not {value!r}")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
