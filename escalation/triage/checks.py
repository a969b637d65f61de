"""Checking a triage section before use: every phrase compiles, every flag a rule names exists,
and derived flags do not depend on themselves. Each problem names its key, what was expected and
what was found, in the style of the organisation file's other errors."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from escalation.triage.phrases import phrase_problem

BUILTIN_FLAGS = frozenset(
    {
        "negative", "neutral", "positive", "sarcasm", "shouting", "question",
        "addressed", "brand_named", "lookalike", "mentions_others", "impersonation",
        "disguised_link", "link", "slack_markup", "injection", "empty", "in_cluster", "verified",
    }
)  # fmt: skip
LATE_FLAGS = frozenset({"crisis"})  # known once the department and crisis rules have run
LEXICON_LISTS = (
    "positive", "negative", "weak_negative", "sarcasm_strong", "sarcasm_markers", "neutralisers",
    "negators",
)  # fmt: skip


def check_rules(
    data: Mapping[str, Any], key: str = "triage", departments: Collection[str] | None = None
) -> list[str]:
    """Every problem in a triage section. `departments` are the keys `dept_<key>` may name;
    None accepts any, for when the organisation's departments are checked elsewhere."""
    problems = [*_phrase_problems(data, key), *_reach_problems(data.get("reach") or {}, key)]
    derived = data.get("derived") or {}
    known = set(BUILTIN_FLAGS) | set(data.get("cues") or {}) | set(data.get("author_cues") or {})
    known |= {f"reach_{band}" for band in (data.get("reach") or {}).get("bands") or {}}
    known |= set(derived)
    for name, condition in derived.items():
        problems += _name_problems(condition, known, f"{key}.derived.{name}")
    problems += _cycle_problems(derived, key)
    outage = (data.get("cluster") or {}).get("outage_cues")
    problems += _unknown_names(outage, known, f"{key}.cluster.outage_cues")
    lexicon = data.get("sentiment") or {}
    for part in ("sarcasm_context", "negative_cues", "neutral_when"):
        problems += _unknown_names(lexicon.get(part), known, f"{key}.sentiment.{part}")
    for index, rule in enumerate(data.get("routing") or ()):
        problems += _name_problems(rule, known, f"{key}.routing.{index}")
    late = _LateNames(known | LATE_FLAGS, departments)
    for part in ("crisis", "no_reply", "priority"):
        for index, rule in enumerate(data.get(part) or ()):
            problems += _name_problems(rule, late, f"{key}.{part}.{index}")
    for risk, names in (data.get("risks") or {}).items():
        problems += _unknown_names(names, known, f"{key}.risks.{risk}")
    return problems


class _LateNames:
    """Flags known after routing: the others, plus dept_<department>."""

    def __init__(self, known: set[str], departments: Collection[str] | None) -> None:
        self.known, self.departments = known, departments

    def __contains__(self, name: object) -> bool:
        if name in self.known:
            return True
        if not isinstance(name, str) or not name.startswith("dept_"):
            return False
        return self.departments is None or name.removeprefix("dept_") in self.departments


def dependency_order(derived: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Derived flags in an order where each comes after the derived flags it uses."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for used in _names(derived[name]):
            if used in derived:
                visit(used)
        visiting.discard(name)
        order.append(name)

    for name in derived:
        visit(name)
    return order


def _cycle_problems(derived: Mapping[str, Mapping[str, Any]], key: str) -> list[str]:
    problems = []
    for name in derived:
        if _reaches(derived, name, name, set()):
            problems.append(
                f"{key}.derived.{name}: expected flags that do not depend on {name!r} itself, "
                "found a cycle"
            )
    return problems


def _reaches(derived: Mapping[str, Any], start: str, target: str, seen: set[str]) -> bool:
    for used in _names(derived.get(start) or {}):
        if used == target:
            return True
        if used in derived and used not in seen:
            seen.add(used)
            if _reaches(derived, used, target, seen):
                return True
    return False


def _names(condition: Mapping[str, Any]) -> list[str]:
    return [name for part in ("all", "any", "none") for name in condition.get(part) or ()]


def _unknown_names(names: Sequence[str] | None, known: Collection[str], where: str) -> list[str]:
    return [_unknown_flag(where, name) for name in names or () if name not in known]


def _name_problems(condition: Mapping[str, Any], known: Collection[str], where: str) -> list[str]:
    problems = []
    for part in ("all", "any", "none"):
        for name in condition.get(part) or ():
            if name not in known:
                problems.append(_unknown_flag(f"{where}.{part}", name))
    return problems


def _unknown_flag(where: str, name: str) -> str:
    if name.startswith("dept_"):
        return f"{where}: expected dept_ and a key of 'departments' or none, found {name!r}"
    return f"{where}: expected a cue, a derived flag or a built-in flag, found {name!r}"


def _phrase_problems(data: Mapping[str, Any], key: str) -> list[str]:
    lists = [(f"{key}.injection", data.get("injection") or ())]
    for section in ("cues", "author_cues"):
        lists += [(f"{key}.{section}.{n}", p) for n, p in (data.get(section) or {}).items()]
    lexicon = data.get("sentiment") or {}
    for part in LEXICON_LISTS:
        lists.append((f"{key}.sentiment.{part}", lexicon.get(part) or ()))
    problems = []
    for where, phrases in lists:
        for index, phrase in enumerate(phrases):
            if problem := phrase_problem(phrase):
                problems.append(f"{where}.{index}: expected {problem}, found {phrase!r}")
    return problems


def _reach_problems(reach: Mapping[str, Any], key: str) -> list[str]:
    bands = reach.get("bands") or {}
    problems = []
    if sorted(bands.values())[:1] != [0]:
        problems.append(f"{key}.reach.bands: expected one band starting at 0, found {bands!r}")
    if (level := reach.get("verified_at_least")) and level not in bands:
        problems.append(f"{key}.reach.verified_at_least: expected a key of 'reach.bands', "
                        f"found {level!r}")  # fmt: skip
    return problems
