"""Deadline arithmetic, pure: weekends, holidays, the end of British Summer Time, pauses, P1."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from escalation.calendars import ALWAYS, WorkingHours, add_working_time, working_time
from escalation.deadlines import ClockState, clock, due_at, in_words, moment_at

NINE_TO_SIX = (time(8), time(18))
OFFICE = WorkingHours(
    "Europe/London",
    dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), NINE_TO_SIX),
    frozenset({date(2026, 12, 25), date(2026, 12, 28)}),
)
ALL_DAY_LONDON = WorkingHours(
    "Europe/London",
    {d: (time(0), time(0)) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_office_hours_skip_the_weekend():
    friday_4pm = utc(2026, 11, 6, 16)  # November: London is on UTC
    assert due_at(friday_4pm, timedelta(hours=4), OFFICE) == utc(2026, 11, 9, 10)
    assert working_time(friday_4pm, utc(2026, 11, 9, 10), OFFICE) == timedelta(hours=4)


def test_office_hours_skip_bank_holidays():
    christmas_eve_5pm = utc(2026, 12, 24, 17)
    # 1 h on Thursday; Friday 25th and Monday 28th are bank holidays; the weekend is closed
    assert due_at(christmas_eve_5pm, timedelta(hours=2), OFFICE) == utc(2026, 12, 29, 9)


def test_the_end_of_british_summer_time():
    # Sunday 25 October 2026, 02:00 BST becomes 01:00 GMT.
    friday_5pm_bst = utc(2026, 10, 23, 16)
    # 1 h on Friday (to 18:00 BST = 17:00 UTC), then Monday opens at 08:00 GMT = 08:00 UTC
    assert due_at(friday_5pm_bst, timedelta(hours=2), OFFICE) == utc(2026, 10, 26, 9)
    # The Sunday of the change has 25 hours on the wall clock
    sunday = working_time(utc(2026, 10, 24, 23), utc(2026, 10, 26, 0), ALL_DAY_LONDON)
    assert sunday == timedelta(hours=25)


def test_a_start_outside_hours_waits_for_the_opening():
    saturday = utc(2026, 11, 7, 12)
    assert due_at(saturday, timedelta(minutes=30), OFFICE) == utc(2026, 11, 9, 8, 30)
    assert OFFICE.next_open(saturday) == utc(2026, 11, 9, 8)
    assert not OFFICE.is_open(saturday) and OFFICE.is_open(utc(2026, 11, 9, 8))


def test_a_pause_stops_the_clock_and_resuming_moves_the_due_time():
    start = utc(2026, 11, 2, 9)
    waiting = ((start + timedelta(minutes=20), start + timedelta(minutes=50)),)
    assert due_at(start, timedelta(hours=1), ALWAYS, pauses=waiting) == start + timedelta(
        hours=1, minutes=30
    )
    at_40 = clock(start, timedelta(hours=1), ALWAYS, start + timedelta(minutes=40), pauses=waiting)
    assert at_40.used == timedelta(minutes=20) and at_40.state == ClockState.ON_TRACK
    still_waiting = ((start + timedelta(minutes=20), None),)
    frozen = clock(
        start, timedelta(hours=1), ALWAYS, start + timedelta(hours=3), pauses=still_waiting
    )
    assert frozen.used == timedelta(minutes=20)


def test_p1_runs_around_the_clock_and_never_pauses():
    saturday_night = utc(2026, 11, 7, 23)
    waiting = ((saturday_night, None),)
    assert due_at(
        saturday_night, timedelta(minutes=15), OFFICE, around_the_clock=True, pauses=waiting
    ) == saturday_night + timedelta(minutes=15)
    late = clock(
        saturday_night,
        timedelta(minutes=15),
        OFFICE,
        saturday_night + timedelta(minutes=16),
        around_the_clock=True,
        pauses=waiting,
    )
    assert late.state == ClockState.BREACHED


@pytest.mark.parametrize(
    ("minutes", "state"),
    [
        (0, ClockState.ON_TRACK),
        (47, ClockState.ON_TRACK),
        (48, ClockState.AT_RISK),
        (60, ClockState.BREACHED),
        (90, ClockState.BREACHED),
    ],
)
def test_clock_states(minutes, state):
    start = utc(2026, 11, 2, 9)
    assert (
        clock(start, timedelta(hours=1), ALWAYS, start + timedelta(minutes=minutes)).state == state
    )


def test_a_fraction_of_the_target_in_working_time():
    friday_5pm = utc(2026, 11, 6, 17)
    assert moment_at(friday_5pm, timedelta(hours=4), 0.5, OFFICE) == utc(2026, 11, 9, 9)
    assert add_working_time(friday_5pm, timedelta(), OFFICE) == friday_5pm


@pytest.mark.parametrize(
    ("left", "words"),
    [
        (timedelta(seconds=40), "40 s"),
        (timedelta(minutes=12), "12 min"),
        (timedelta(hours=3, minutes=5), "3 h 5 min"),
        (timedelta(hours=2), "2 h"),
        (timedelta(days=3), "3 days"),
    ],
)
def test_time_left_in_words(left, words):
    assert in_words(left) == words
