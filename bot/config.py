"""The organisation file: channels, departments, people, roles and response policies.

A wrong file stops the bot at start with the file, the key, what was expected and what was found.
"""

from __future__ import annotations

import re
import string
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
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

from escalation.calendars import WorkingHours
from escalation.digests import DigestSchedule
from escalation.people import Actor, DepartmentInfo, Directory, Role
from escalation.sla import Ladder, Override, Policies, Targets
from escalation.triage import check_rules
from escalation.triage.phrases import phrase_problem

CHANNEL_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
FLAG_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
HOURS = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")
CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
X_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")
FEDIVERSE_ACCOUNT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
BLUESKY_HANDLE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,}$")
SLASH_COMMAND = re.compile(r"^/[a-z0-9_-]{1,31}$")
USER_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,20}$")
WAR_ROOM_FIELDS = {"date", "slug"}
WAR_ROOM_LONGEST = 60  # of a name before its slug, leaving room for the slug and a "-NN" suffix


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


def _clock_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and 0 <= value < 24 * 60:  # YAML 1.1 reads 08:00 as 480
        return time(value // 60, value % 60)
    if not isinstance(value, str) or not CLOCK_TIME.match(value.strip()):
        raise ValueError("a time of day such as 08:00 (24-hour clock)")
    return time.fromisoformat(value.strip())


ChannelName = Annotated[str, AfterValidator(_channel_name)]
UserId = Annotated[str, AfterValidator(_user_id)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Hours = Annotated[str, AfterValidator(_hours)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]


def _phrase(value: str) -> str:
    if problem := phrase_problem(value):
        raise ValueError(problem)
    return value


def _flag_name(value: str) -> str:
    if not FLAG_NAME.match(value):
        raise ValueError("a flag name: lowercase letters, digits and '_'")
    return value


def _x_username(value: str) -> str:
    value = value.removeprefix("@")
    if not X_USERNAME.match(value):
        raise ValueError("an X username such as brightwave: letters, digits or '_', 1-15 long")
    return value


def _fediverse_account(value: str) -> str:
    value = value.removeprefix("@")
    if not FEDIVERSE_ACCOUNT.match(value) or len(value) > 240:  # the cursor key has 255
        raise ValueError("a Mastodon account such as brightwave@mastodon.social")
    return value


def _bluesky_handle(value: str) -> str:
    value = value.removeprefix("@")
    if not BLUESKY_HANDLE.match(value) or len(value) > 240:  # the cursor key has 255
        raise ValueError("a Bluesky handle such as brightwave.bsky.social")
    return value.lower()


def _slash_command(value: str) -> str:
    if not SLASH_COMMAND.match(value):
        raise ValueError("a slash command such as /rapid: '/', then lowercase letters or digits")
    return value


def _user_group(value: str) -> str:
    if not USER_GROUP_ID.match(value):
        raise ValueError("a Slack user group id such as S0614TZR7")
    return value


def _war_room(value: str) -> str:
    """A channel name template: {date} and {slug} among lowercase letters, digits, - or _."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        sample = value.format(date="2026-11-02", slug="x")
    except (ValueError, IndexError, KeyError):
        fields, sample = set(), ""
    valid = "slug" in fields and fields <= WAR_ROOM_FIELDS and CHANNEL_NAME.match(sample)
    if not valid or len(sample) > WAR_ROOM_LONGEST:
        raise ValueError(
            "a channel name template with {slug} and optionally {date}, otherwise lowercase"
            " letters, digits, '-' or '_', such as crisis-{date}-{slug}"
        )
    return value


XUsername = Annotated[str, AfterValidator(_x_username)]
FediverseAccount = Annotated[str, AfterValidator(_fediverse_account)]
BlueskyHandle = Annotated[str, AfterValidator(_bluesky_handle)]
SlashCommand = Annotated[str, AfterValidator(_slash_command)]
UserGroupId = Annotated[str, AfterValidator(_user_group)]
WarRoomTemplate = Annotated[str, AfterValidator(_war_room)]
Phrase = Annotated[str, AfterValidator(_phrase)]
FlagName = Annotated[str, AfterValidator(_flag_name)]
Priority = Literal["P1", "P2", "P3", "P4"]


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


class Digest(Strict):
    """When a manager's daily digest arrives: `at` in `timezone` (the person's, else the
    organisation's)."""

    enabled: bool = True  # `digest: false` in the file
    at: ClockTime = time(8, 0)
    timezone: TimeZone | None = None


def _digest(value: Any) -> Any:
    return {"enabled": False} if value is False else value


class Person(Strict):
    slack_id: UserId
    name: str = Field(min_length=1)
    roles: list[Role] = Field(min_length=1)
    departments: list[str] = Field(default_factory=list)
    timezone: TimeZone | None = None
    digest: Annotated[Digest | None, BeforeValidator(_digest)] = None  # managers: 08:00 by default


class Policy(Strict):
    """Response targets for one priority."""

    first_reply: Duration | None = None
    acknowledge: Duration | None = None
    resolve: Duration | None = None
    around_the_clock: bool = False


class PolicyOverride(Strict):
    """Other targets for one priority in one department or from one source."""

    priority: Literal["P1", "P2", "P3", "P4"]
    department: str | None = None
    source: str | None = None
    first_reply: Duration | None = None
    acknowledge: Duration | None = None
    resolve: Duration | None = None


class LadderConfig(Strict):
    """When reminders go out (fractions of the target) and how snoozing works."""

    unclaimed_after: Duration = timedelta(minutes=5)
    owner_at: float = Field(default=0.5, gt=0, lt=1)
    lead_at: float = Field(default=0.8, gt=0, lt=1)
    repeat_every: Duration = timedelta(minutes=30)
    repeat_cap: int = Field(default=3, ge=0, le=20)
    snooze: Duration = timedelta(minutes=15)
    snooze_limit: int = Field(default=2, ge=0, le=10)


class TriageBrand(Strict):
    names: list[str] = Field(min_length=1)
    handles: list[str] = Field(default_factory=list)


class TriageReach(Strict):
    bands: dict[FlagName, Annotated[int, Field(ge=0)]] = Field(min_length=1)
    verified_at_least: str | None = None


class TriageCluster(Strict):
    window: Duration = timedelta(minutes=60)
    min_reports: int = Field(default=2, ge=2)
    outage_cues: list[FlagName] = Field(default_factory=list)
    not_places: list[str] = Field(default_factory=list)


class TriageSentiment(Strict):
    """Word lists of the sentiment analyser (escalation/triage/sentiment.py)."""

    positive: list[Phrase] = Field(default_factory=list)
    negative: list[Phrase] = Field(default_factory=list)
    weak_negative: list[Phrase] = Field(default_factory=list)
    sarcasm_strong: list[Phrase] = Field(default_factory=list)
    sarcasm_markers: list[Phrase] = Field(default_factory=list)
    neutralisers: list[Phrase] = Field(default_factory=list)
    negators: list[Phrase] = Field(default_factory=list)
    sarcasm_context: list[FlagName] = Field(default_factory=list)
    negative_cues: list[FlagName] = Field(default_factory=list)
    neutral_when: list[FlagName] = Field(default_factory=list)
    not_shouting: list[str] = Field(default_factory=list)
    positive_emoji: str = ""
    negative_emoji: str = ""
    eye_roll_emoji: str = ""
    irony_emoji: str = ""


class TriageCondition(Strict):
    """Holds when all of `all`, one of `any` (if given) and none of `none` are present."""

    all: list[FlagName] = Field(default_factory=list)
    any: list[FlagName] = Field(default_factory=list)
    none: list[FlagName] = Field(default_factory=list)


class TriageRoute(TriageCondition):
    department: str
    confidence: float = Field(default=0.7, ge=0, le=1)


class TriagePriority(TriageCondition):
    priority: Priority


class Triage(Strict):
    """Triage rules: phrase lists and ordered decision rules (escalation/triage)."""

    brand: TriageBrand
    reach: TriageReach
    cluster: TriageCluster = TriageCluster()
    sentiment: TriageSentiment
    injection: list[Phrase] = Field(default_factory=list)
    cues: dict[FlagName, list[Phrase]]
    author_cues: dict[FlagName, list[Phrase]] = Field(default_factory=dict)
    derived: dict[FlagName, TriageCondition] = Field(default_factory=dict)
    routing: list[TriageRoute] = Field(min_length=1)
    default_department: str = "none"
    crisis: list[TriageCondition] = Field(default_factory=list)
    priority: list[TriagePriority] = Field(min_length=1)
    default_priority: Priority = "P3"
    no_reply: list[TriageCondition] = Field(default_factory=list)
    risks: dict[FlagName, list[FlagName]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _flag_names(self) -> Triage:
        if problems := check_rules(self.model_dump()):
            raise ValueError("; ".join(problems))
        return self

    def departments(self) -> list[tuple[str, str]]:
        """(key, department) for every department the rules route to."""
        keys = [
            (f"triage.routing.{n}.department", r.department) for n, r in enumerate(self.routing)
        ]
        return [*keys, ("triage.default_department", self.default_department)]


class XAccount(Strict):
    enabled: bool = False
    account: XUsername | None = None


class MastodonAccount(Strict):
    enabled: bool = False
    account: FediverseAccount | None = None


class BlueskyAccount(Strict):
    enabled: bool = False
    handle: BlueskyHandle | None = None


class Sources(Strict):
    """The brand's accounts whose mentions the bot polls (bot/sources); all off by default."""

    x: XAccount = XAccount()
    mastodon: MastodonAccount = MastodonAccount()
    bluesky: BlueskyAccount = BlueskyAccount()

    @model_validator(mode="after")
    def _named_when_enabled(self) -> Sources:
        names = {
            "x.account": (self.x.enabled, self.x.account),
            "mastodon.account": (self.mastodon.enabled, self.mastodon.account),
            "bluesky.handle": (self.bluesky.enabled, self.bluesky.handle),
        }
        problems = [
            f"sources.{key}: expected a value when enabled, found nothing"
            for key, (enabled, value) in names.items()
            if enabled and value is None
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


class UpdateCadence(Strict):
    """How often a crisis's war room owes an update, by severity (SEV1 is the highest)."""

    SEV1: Duration = timedelta(minutes=30)
    SEV2: Duration = timedelta(hours=1)
    SEV3: Duration = timedelta(hours=2)


class RapidTeam(Strict):
    """The rapid-action team: the people with role `rapid`, and the members of `usergroup`."""

    command: SlashCommand = "/rapid"
    usergroup: UserGroupId | None = None
    war_room: WarRoomTemplate = "crisis-{date}-{slug}"
    private: bool = False  # war rooms as private channels
    update_every: UpdateCadence = UpdateCadence()


class OrgConfig(Strict):
    brand: str = Field(min_length=1)
    timezone: TimeZone
    channels: Channels
    calendars: dict[str, Calendar]
    departments: dict[str, Department] = Field(min_length=1)
    people: dict[str, Person]
    policies: dict[str, Policy]
    policy_overrides: list[PolicyOverride] = Field(default_factory=list)
    triage_department: str | None = None
    grouping_window: Duration = timedelta(hours=2)  # one case per author's conversation
    ladder: LadderConfig = Field(default_factory=LadderConfig)
    triage: Triage | None = None  # None: Brightwave's rules, escalation/triage/brightwave.yaml
    sources: Sources = Sources()
    rapid_team: RapidTeam = RapidTeam()

    @model_validator(mode="after")
    def _references(self) -> OrgConfig:
        problems = [*self._department_problems(), *self._people_problems()]
        problems += self._triage_problems()
        if missing := {"P1", "P2", "P3", "P4"} - set(self.policies):
            problems.append(f"policies: expected P1, P2, P3 and P4, found no {sorted(missing)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _department_problems(self) -> list[str]:
        problems = []
        if self.triage_department and self.triage_department not in self.departments:
            problems.append(_unknown("triage_department", self.triage_department, "departments"))
        for n, rule in enumerate(self.policy_overrides):
            if rule.department and rule.department not in self.departments:
                key = f"policy_overrides.{n}.department"
                problems.append(_unknown(key, rule.department, "departments"))
        for key, dept in self.departments.items():
            if dept.calendar not in self.calendars:
                problems.append(_unknown(f"departments.{key}.calendar", dept.calendar, "calendars"))
            for lead in dept.leads:
                if lead not in self.people:
                    problems.append(_unknown(f"departments.{key}.leads", lead, "people"))
        return problems

    def _triage_problems(self) -> list[str]:
        if self.triage is None:
            return []
        problems = [
            _unknown(key, department, "departments")
            for key, department in self.triage.departments()
            if department != "none" and department not in self.departments
        ]
        known = {*self.departments, "none"}
        return problems + check_rules(self.triage.model_dump(), departments=known)

    def _people_problems(self) -> list[str]:
        problems = []
        for key, person in self.people.items():
            for dept in person.departments:
                if dept not in self.departments:
                    problems.append(_unknown(f"people.{key}.departments", dept, "departments"))
            if person.digest and person.digest.enabled and Role.MANAGER not in person.roles:
                problems.append(
                    f"people.{key}.digest: expected a digest only for a person with role"
                    f" manager, found roles {', '.join(person.roles)}"
                )
        return problems

    def digest_schedules(self) -> list[DigestSchedule]:
        """The managers' daily digests: when, in which time zone, for which departments (a
        manager with no departments covers them all)."""
        return [
            DigestSchedule(
                slack_id=p.slack_id,
                at=(p.digest or Digest()).at,
                timezone=self.timezone_of(p.slack_id),
                departments=tuple(p.departments) or None,
            )
            for p in self.people.values()
            if Role.MANAGER in p.roles and (p.digest is None or p.digest.enabled)
        ]

    def timezone_of(self, slack_id: str) -> str:
        """A person's time zone: their digest's, their own, else the organisation's."""
        person = self.person_by_slack_id(slack_id)
        digest = person.digest if person and person.digest else None
        return (digest and digest.timezone) or (person and person.timezone) or self.timezone

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
        return Directory(self.channels.triage, departments, people, self.sla_policies())

    def sla_policies(self) -> Policies:
        """Targets, calendars and the reminder ladder, as the domain takes them."""
        return Policies(
            targets={key: _targets(p) for key, p in self.policies.items()},
            calendars={key: _working_hours(c) for key, c in self.calendars.items()},
            department_calendars={key: d.calendar for key, d in self.departments.items()},
            triage_department=self.triage_department,
            person_calendars={
                p.slack_id: self.departments[p.departments[0]].calendar
                for p in self.people.values()
                if p.departments
            },
            overrides=tuple(
                Override(r.priority, r.department, r.source, _targets(r))
                for r in self.policy_overrides
            ),
            ladder=Ladder(**self.ladder.model_dump()),
        )


def _targets(policy: Policy | PolicyOverride) -> Targets:
    return Targets(
        policy.first_reply,
        policy.acknowledge,
        policy.resolve,
        getattr(policy, "around_the_clock", False),
    )


def _working_hours(calendar: Calendar) -> WorkingHours:
    if calendar.hours is None:
        return WorkingHours(calendar.timezone)
    spans = {day: _span(text) for day, text in calendar.hours.items()}
    return WorkingHours(calendar.timezone, spans, frozenset(calendar.holidays))


def _span(text: str) -> tuple[time, time]:
    opens, closes = text.split("-")
    return time.fromisoformat(opens), time(0) if closes == "24:00" else time.fromisoformat(closes)


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
