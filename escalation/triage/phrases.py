"""Phrase lists from the organisation file, each compiled to one case-insensitive expression.

A phrase is written as people write, so that operators can maintain the lists:

* words match whole words: `refund` does not match `refunded`;
* `*` ends a word with anything: `refund*` matches refund, refunds, refunded;
* `...` stands for up to four words in between: `engineer ... never showed`;
* `'` is optional, because people type `didnt` as often as `didn't`;
* `{brand}` stands for any of the brand's names;
* `re:` starts a regular expression (where `{brand}` works too), for the few patterns that
  words cannot say.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

GAP = r"(?:[^\w\n]+[\w'’*-]+){0,4}?[^\w\n]+"
SEPARATOR = r"[^\w\n]+"
PHRASE_HELP = (
    "a phrase of words, '*' word endings and '...' gaps, or 're:' and a regular expression"
)


@dataclass(frozen=True)
class Hit:
    """One match of a phrase list in a text: where it is and what it said."""

    start: int
    end: int
    text: str


def phrase_problem(phrase: object) -> str | None:
    """Why `phrase` cannot be used, or None when it compiles."""
    if not isinstance(phrase, str):
        return PHRASE_HELP
    return _problem(phrase)


@lru_cache(maxsize=8192)  # an organisation file holds about a thousand phrases, read at start
def _problem(phrase: str) -> str | None:
    if not phrase.strip() or phrase.strip() in {"*", "...", "re:"}:
        return PHRASE_HELP
    try:
        re.compile(phrase_pattern(phrase, ("brand",)))
    except re.error as exc:
        return f"{PHRASE_HELP} ({exc})"
    return None


def phrase_pattern(phrase: str, brand_names: Iterable[str]) -> str:
    """The regular expression for one phrase."""
    brand = "(?:" + "|".join(re.escape(name) for name in brand_names) + ")"
    if phrase.startswith("re:"):
        return phrase[3:].strip().replace("{brand}", brand)
    parts = [_token(token, brand) for token in phrase.split()]
    pattern = ""
    for part in parts:
        if part == GAP:
            pattern += GAP
        elif pattern and not pattern.endswith(GAP):
            pattern += SEPARATOR + part
        else:
            pattern += part
    return pattern


def _token(token: str, brand: str) -> str:
    if token == "...":
        return GAP
    stem = token.rstrip("*")
    body = re.escape(stem).replace("'", "['’]?").replace(r"\{brand\}", brand)
    if token.endswith("*"):
        body += r"[\w'’-]*"
    start = r"\b" if stem[:1].isalnum() or stem.startswith("{") else ""
    end = r"\b" if token[-1:].isalnum() or token.endswith(("*", "}")) else ""
    return start + body + end


@lru_cache(maxsize=1024)
def _compile(phrases: tuple[str, ...], brand_names: tuple[str, ...]) -> re.Pattern[str]:
    patterns = [f"(?:{phrase_pattern(p, brand_names)})" for p in phrases]
    return re.compile("|".join(patterns), re.IGNORECASE)


class PhraseList:
    """A named list of phrases matched as one expression."""

    def __init__(self, name: str, phrases: Iterable[str], brand_names: Iterable[str]) -> None:
        self.name = name
        self.phrases = tuple(phrases)
        self._regex = _compile(self.phrases, tuple(brand_names)) if self.phrases else None

    def find(self, text: str) -> list[Hit]:
        if self._regex is None:
            return []
        return [
            Hit(m.start(), m.end(), m.group(0)) for m in self._regex.finditer(text) if m.group(0)
        ]

    def search(self, text: str) -> bool:
        return bool(self._regex and self._regex.search(text))

    def __repr__(self) -> str:
        return f"PhraseList({self.name!r}, {len(self.phrases)} phrases)"
