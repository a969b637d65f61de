"""Incident clusters: outage reports from different people that name the same place within a
time window are one incident, so each of them is handled as part of a mass outage.

Only what a caller has already fed in counts: the first report of an incident is assessed on its
own, as a team would see it at that moment.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

CAPITALISED = re.compile(r"(?<![\w'@#.-])([A-Z][a-z]+(?:['-][A-Za-z]+)*)(?![\w@])")
POSTCODE_DISTRICT = re.compile(r"\b([A-Z]{1,2}[0-9][0-9A-Z]?)\b")
SENTENCE_START = re.compile(r"(?:^|[.!?:;\n\"(]\s*)$")
MAX_REMEMBERED = 5_000  # a burst of mentions must not grow memory without bound


@dataclass(frozen=True)
class Report:
    """An outage report: its time, author and the places it names.

    `places` are capitalised inside a sentence, so most likely names; `maybe_places` open a
    sentence ("Hull is down."), so they count only when another report names them too.
    """

    at: datetime
    handle: str
    places: frozenset[str]
    maybe_places: frozenset[str] = frozenset()

    def shares(self, other: Report) -> frozenset[str]:
        return (self.places & (other.places | other.maybe_places)) | (
            self.maybe_places & other.places
        )


class TriageContext:
    """Recent outage reports, remembered for `window`; feed mentions in time order."""

    def __init__(self, window: timedelta = timedelta(minutes=60)) -> None:
        if window <= timedelta(0):
            raise ValueError("the cluster window must be positive")
        self.window = window
        self._reports: deque[Report] = deque(maxlen=MAX_REMEMBERED)

    def cluster_places(self, report: Report, min_reports: int) -> dict[str, int]:
        """Places this report shares with enough recent reports from other people, with how
        many reports (this one included) name each."""
        self._forget_before(report.at - self.window)
        shared: dict[str, set[str]] = {}
        for earlier in self._reports:
            if earlier.handle == report.handle or abs(report.at - earlier.at) > self.window:
                continue
            for place in earlier.shares(report):
                shared.setdefault(place, set()).add(earlier.handle)
        counts = {place: len(handles) + 1 for place, handles in shared.items()}
        return {place: n for place, n in counts.items() if n >= min_reports}

    def remember(self, report: Report) -> None:
        if report.places or report.maybe_places:
            self._reports.append(report)

    def __len__(self) -> int:
        return len(self._reports)

    def _forget_before(self, moment: datetime) -> None:
        while self._reports and self._reports[0].at < moment:
            self._reports.popleft()


def places_in(text: str, not_places: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Likely place names (capitalised words inside a sentence, postcode districts such as LS6)
    and possible ones (capitalised words opening a sentence, which are capitalised anyway)."""
    likely, possible = set(), set()
    for match in CAPITALISED.finditer(text):
        word = match.group(1).lower()
        if word not in not_places:
            opening = SENTENCE_START.search(text[: match.start()])
            (possible if opening else likely).add(word)
    likely |= {code.lower() for code in POSTCODE_DISTRICT.findall(text) if _postcode(code)}
    return frozenset(likely - not_places), frozenset(possible - likely - not_places)


def _postcode(code: str) -> bool:
    """Outward codes such as LS6, E8 or SW1A, not model names such as 4G or E204."""
    return code[0].isalpha() and any(ch.isdigit() for ch in code) and len(code) <= 4
