"""Working time: when a calendar is open, and time counted only while it is open.

Pure functions of their arguments (no hidden clock). Times in and out are aware UTC datetimes;
opening hours are read in the calendar's own time zone, so the hour lost or gained when summer
time starts or ends is counted as it happens on the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 400  # no deadline looks further ahead than a year of working days


@dataclass(frozen=True)
class WorkingHours:
    """Open hours per weekday in a time zone, minus holidays; `always` means never closed."""

    timezone: str = "UTC"
    hours: dict[str, tuple[time, time]] | None = None
    holidays: frozenset[date] = field(default_factory=frozenset)

    @property
    def always(self) -> bool:
        return self.hours is None

    def intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open stretches between `start` and `end`, in UTC, in order."""
        if self.always:
            if start < end:
                yield start, end
            return
        zone = ZoneInfo(self.timezone)
        day = start.astimezone(zone).date() - timedelta(days=1)
        while True:
            opening = self._open_on(day, zone)
            if opening and opening[0] >= end:
                return
            if opening:
                low, high = max(opening[0], start), min(opening[1], end)
                if low < high:
                    yield low, high
            day += timedelta(days=1)
            if day > end.astimezone(zone).date() + timedelta(days=1):
                return

    def _open_on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
        span = self.hours.get(WEEKDAYS[day.weekday()]) if self.hours else None
        if span is None or day in self.holidays:
            return None
        opens = datetime.combine(day, span[0], zone).astimezone(UTC)
        closes = (datetime.combine(day, time(0), zone) + timedelta(days=1) if span[1] == time(0)
                  else datetime.combine(day, span[1], zone))  # fmt: skip
        return opens, closes.astimezone(UTC)

    def is_open(self, moment: datetime) -> bool:
        return any(True for _ in self.intervals(moment, moment + timedelta(microseconds=1)))

    def next_open(self, moment: datetime) -> datetime:
        """`moment` if open then, else when the calendar next opens."""
        for low, _ in self.intervals(moment, moment + timedelta(days=MAX_DAYS)):
            return low
        raise ValueError("this calendar never opens")


ALWAYS = WorkingHours()


def working_time(
    start: datetime,
    end: datetime,
    hours: WorkingHours,
    pauses: tuple[tuple[datetime, datetime | None], ...] = (),
) -> timedelta:
    """Time between `start` and `end` that counts: open hours, outside any pause."""
    total = timedelta()
    for low, high in hours.intervals(start, end):
        total += high - low - _paused_within(low, high, pauses)
    return total


def add_working_time(
    start: datetime,
    duration: timedelta,
    hours: WorkingHours,
    pauses: tuple[tuple[datetime, datetime | None], ...] = (),
) -> datetime:
    """When `duration` of counted time will have passed since `start` (a deadline's due time).

    Pauses must have ended: while one runs the due time is not known (see deadlines.clock).
    """
    remaining = duration
    for low, high in hours.intervals(start, start + timedelta(days=MAX_DAYS)):
        for run_low, run_high in _unpaused(low, high, pauses):
            if run_high - run_low >= remaining:
                return run_low + remaining
            remaining -= run_high - run_low
    raise ValueError("the deadline is more than a year of working time away")


def _paused_within(low, high, pauses) -> timedelta:
    paused = timedelta()
    for p_low, p_high in pauses:
        p_high = p_high or high
        overlap = min(high, p_high) - max(low, p_low)
        paused += max(overlap, timedelta())
    return paused


def _unpaused(low, high, pauses) -> Iterator[tuple[datetime, datetime]]:
    cursor = low
    for p_low, p_high in sorted(pauses):
        p_high = p_high or datetime.max.replace(tzinfo=UTC)
        if p_high <= cursor or p_low >= high:
            continue
        if p_low > cursor:
            yield cursor, p_low
        cursor = max(cursor, p_high)
        if cursor >= high:
            return
    if cursor < high:
        yield cursor, high
