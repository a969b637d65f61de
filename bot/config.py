"""The organisation file: channels, departments, people, roles and response policies.

A wrong file stops the bot at start with the file, the key, what was expected and what was found.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from escalation.people import Actor, DepartmentInfo, Directory, Role

CHANNEL_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
HOURS = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")
DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(ValueError):
    """The organisation file is wrong; the message lists every problem, one a line."""


def _channel_name(value: str) -> str:
    if not CHANNEL_NAME.match(value):
        raise ValueError("a Slack channel name: lowercase letters, digits, '-' or '_', 1-80 long")
    return value


def _user_id(value: str) -> str:
    if not SLACK_USER_ID.match(value):
        raise ValueError("a Slack user id such as U012AB3CD")
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("an IANA time zone such as Europe/London") from None
    return value


def parse_duration(value: Any) -> timedelta:
    """'90s', '15m', '4h' or '1d' as a timedelta."""
    if isinstance(value, timedelta):
        return value
    match = DURATION.match(str(value).strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError("a duration such as 90s, 15m, 4h or 1d")
    return timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})


def _hours(value: str) -> str:
    match = HOURS.match(value)
    if not match or not value[:5] < value[6:] <= "24:00":
        raise ValueError("opening hours such as 08:00-18:00")
    return value


ChannelName = Annotated[str, AfterValidator(_channel_name)]
UserId = Annotated[str, AfterValidator(_user_id)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Hours = Annotated[str, AfterValidator(_hours)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Channels(Strict):
    triage: ChannelName
    rapid_response: ChannelName


class Calendar(Strict):
    """Working time: weekly hours in a time zone, minus holidays; no hours means always open."""

    timezone: TimeZone
    hours: dict[str, Hours] | None = None
    holidays: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_days(self) -> Calendar:
        unknown = set(self.hours or {}) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"weekday keys among {', '.join(WEEKDAYS)}, not {sorted(unknown)}")
        return self


class Department(Strict):
    name: str = Field(min_length=1, max_length=75)
    channel: ChannelName
    leads: list[str] = Field(min_length=1)
    calendar: str


class Person(Strict):
    slack_id: UserId
    name: str = Field(min_length=1)
    roles: list[Role] = Field(min_length=1)
    departments: list[str] = Field(default_factory=list)
    timezone: TimeZone | None = None


class Policy(Strict):
    """Response targets for one priority."""

    first_reply: Duration | None = None
    acknowledge: Duration | None = None
    resolve: Duration | None = None
    around_the_clock: bool = False


class OrgConfig(Strict):
    brand: str = Field(min_length=1)
    timezone: TimeZone
    channels: Channels
    calendars: dict[str, Calendar]
    departments: dict[str, Department] = Field(min_length=1)
    people: dict[str, Person]
    policies: dict[str, Policy]

    @model_validator(mode="after")
    def _references(self) -> OrgConfig:
        problems = [*self._department_problems(), *self._people_problems()]
        if missing := {"P1", "P2", "P3", "P4"} - set(self.policies):
            problems.append(f"policies: expected P1, P2, P3 and P4, found no {sorted(missing)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _department_problems(self) -> list[str]:
        problems = []
        for key, dept in self.departments.items():
            if dept.calendar not in self.calendars:
                problems.append(_unknown(f"departments.{key}.calendar", dept.calendar, "calendars"))
            for lead in dept.leads:
                if lead not in self.people:
                    problems.append(_unknown(f"departments.{key}.leads", lead, "people"))
        return problems

    def _people_problems(self) -> list[str]:
        problems = []
        for key, person in self.people.items():
            for dept in person.departments:
                if dept not in self.departments:
                    problems.append(_unknown(f"people.{key}.departments", dept, "departments"))
        return problems

    def person_by_slack_id(self, slack_id: str) -> Person | None:
        return next((p for p in self.people.values() if p.slack_id == slack_id), None)

    def directory(self) -> Directory:
        """What the domain needs to know of the organisation: departments and people."""
        people = {
            p.slack_id: Actor(p.slack_id, frozenset(p.roles), frozenset(p.departments), p.name)
            for p in self.people.values()
        }
        departments = {
            key: DepartmentInfo(
                key, d.name, d.channel, tuple(self.people[lead].slack_id for lead in d.leads)
            )
            for key, d in self.departments.items()
        }
        return Directory(self.channels.triage, departments, people)


def _unknown(key: str, found: str, section: str) -> str:
    return f"{key}: expected a key of '{section}', found {found!r}"


def load_org_config(path: Path) -> OrgConfig:
    """Read and validate the organisation file, or raise ConfigError naming every problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the organisation file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top, found {type(raw).__name__}")
    try:
        return OrgConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(path, err) for err in exc.errors())) from None


def _describe(path: Path, err: Any) -> str:
    key = ".".join(str(part) for part in err["loc"]) or "(top level)"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        return f"{path}: {key}: expected a value, found nothing"
    if err["type"] == "extra_forbidden":
        return f"{path}: {key}: expected no such key, found {err['input']!r}"
    if ": expected" in message:  # cross-reference problems already name their keys
        return "\n".join(f"{path}: {part}" for part in message.split("; "))
    return f"{path}: {key}: expected {_lower_first(message)}, found {err['input']!r}"


def _lower_first(text: str) -> str:
    text = text.removeprefix("Input should be ")
    return text[:1].lower() + text[1:]
