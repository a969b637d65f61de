"""Response deadlines: when a target falls due, and where a clock stands at a given moment.

A P1 clock runs around the clock and never pauses. Other clocks count only the responsible
team's working hours, and stop while the case waits on the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from escalation.calendars import ALWAYS, WorkingHours, add_working_time, working_time

AT_RISK = 0.8
Pauses = tuple[tuple[datetime, datetime | None], ...]


class DeadlineKind(StrEnum):
    FIRST_REPLY = "first_reply"  # the first public reply to the customer
    ACKNOWLEDGE = "acknowledge"  # a department takes an escalation
    RESOLVE = "resolve"


class ClockState(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"


@dataclass(frozen=True)
class Clock:
    """A deadline at one moment: how much of its target is used, and what that means."""

    due_at: datetime
    target: timedelta
    used: timedelta

    @property
    def fraction(self) -> float:
        return self.used / self.target if self.target else 1.0

    @property
    def left(self) -> timedelta:
        return max(self.target - self.used, timedelta())

    @property
    def state(self) -> ClockState:
        if self.fraction >= 1:
            return ClockState.BREACHED
        return ClockState.AT_RISK if self.fraction >= AT_RISK else ClockState.ON_TRACK


def counted_hours(hours: WorkingHours, around_the_clock: bool) -> WorkingHours:
    return ALWAYS if around_the_clock else hours


def due_at(
    start: datetime,
    target: timedelta,
    hours: WorkingHours,
    *,
    around_the_clock: bool = False,
    pauses: Pauses = (),
) -> datetime:
    """When the deadline falls due: `target` of counted time after `start`."""
    if around_the_clock:
        return start + target
    return add_working_time(start, target, hours, pauses)


def moment_at(
    start: datetime,
    target: timedelta,
    fraction: float,
    hours: WorkingHours,
    *,
    around_the_clock: bool = False,
    pauses: Pauses = (),
) -> datetime:
    """When `fraction` of the target will have been used (a nag at half time, at 80%...)."""
    return due_at(start, target * fraction, hours, around_the_clock=around_the_clock, pauses=pauses)


def clock(
    start: datetime,
    target: timedelta,
    hours: WorkingHours,
    now: datetime,
    *,
    around_the_clock: bool = False,
    pauses: Pauses = (),
) -> Clock:
    """Where the deadline stands at `now`; during a pause, due as if it ended now."""
    counted = counted_hours(hours, around_the_clock)
    used = working_time(start, now, counted, () if around_the_clock else pauses)
    ended = tuple((low, high or max(low, now)) for low, high in pauses)
    due = due_at(start, target, hours, around_the_clock=around_the_clock, pauses=ended)
    return Clock(due, target, used)


def in_words(left: timedelta) -> str:
    """'12 min', '3 h 5 min', '2 days': how a card says time left."""
    minutes = int(left.total_seconds() // 60)
    if minutes < 1:
        return f"{int(left.total_seconds())} s"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{minutes // (24 * 60)} days"
