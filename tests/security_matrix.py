"""The permission matrix's runner (tests/test_security_permissions_*.py).

One person per role (tests/security_targets.py) acts on the running bot through signed Slack
requests (SlackDriver), and the outcome of each (action, role) cell is read from the database
and the fake Slack: "ok" (done, and confirmed to them if the action confirms), "no" (refused,
privately, with a sentence naming someone who can) or "self" (refused because it is already
theirs). Privately means an ephemeral message, or for a modal the error Slack shows under its
field (the modal stays open). A cell whose action changes something gets a target of its own;
the refusals of an action share one target, which must be unchanged at the end.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bot.fakeslack import Limits
from tests.security_targets import ROLES, USERS, World, case_state
from tests.support import ORG, with_agents

MANAGERS = {USERS["manager"]}
SELF = ("You already own this case.", "You approved this reply; a second person must approve it.")
WAIT_SECONDS = 15


def matrix_org():
    """Brightwave's organisation, with a second Care agent and a rapid-team-only member."""
    data = with_agents(ORG, [USERS["agent"]]).model_dump()
    data["people"]["rafa"] = {"slack_id": USERS["rapid"], "name": "Rafa Lund", "roles": ["rapid"]}
    return type(ORG).model_validate(data)


def parse(table: str) -> dict[str, dict[str, str]]:
    """The expected matrix as written: a row per action, a column per role."""
    rows = {}
    for line in table.strip().splitlines():
        key, *cells = line.split()
        assert len(cells) == len(ROLES), line
        rows[key] = dict(zip(ROLES, cells, strict=True))
    return rows


def lines(matrix: dict[str, dict[str, str]]) -> list[str]:
    """The matrix as text lines, so that a difference reads as a diff of rows."""
    return [f"{key:<28} " + " ".join(f"{m[r]:<5}" for r in ROLES) for key, m in matrix.items()]


def mismatches(observed: dict, expected: dict) -> list[str]:
    """The rows that differ, as expected, then as observed."""
    assert list(observed) == list(expected)
    pairs = zip(lines(expected), lines(observed), strict=True)
    return [
        f"expected {e.rstrip()} / observed {o.split(maxsplit=1)[1]}" for e, o in pairs if e != o
    ]


# --- the runner ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    key: str  # the matrix row
    prepare: Callable[[World], dict]
    act: Callable[[World, str, dict], Any]
    done: Callable[[World, str, dict], bool] = lambda _w, _u, _t: True
    state: Callable[[World, dict], tuple] = case_state
    said: str | None = None  # what the allowed path tells the person (a regular expression)
    fresh: bool = True  # each allowed cell changes its target, so it gets one of its own
    refused: Callable[[World, str], str | None] = lambda _w, _u: None  # a refusal not ephemeral


@dataclass
class Seen:
    outcome: str
    text: str = ""


def run(world: World, scenarios: list[Scenario], expected: dict) -> tuple[dict, list[str]]:
    """Every cell of these rows; returns the observed matrix and what else went wrong."""
    assert [s.key for s in scenarios] == list(expected), "one scenario per row, in order"
    with ThreadPoolExecutor(6) as pool:
        shared = {s.key: pool.submit(s.prepare, world) for s in scenarios}
        fresh = {
            (s.key, role): pool.submit(s.prepare, world)
            for s in scenarios
            for role in ROLES
            if s.fresh and expected[s.key][role] == "ok"
        }
        targets = {
            (s.key, role): (fresh.get((s.key, role)) or shared[s.key]).result()
            for s in scenarios
            for role in ROLES
        }
    before = {s.key: s.state(world, shared[s.key].result()) for s in scenarios}
    seen: dict[tuple[str, str], Seen] = {}

    def play(role: str) -> None:
        for s in scenarios:
            seen[(s.key, role)] = observe(world, s, USERS[role], targets[(s.key, role)])

    with ThreadPoolExecutor(len(ROLES)) as pool:
        list(pool.map(play, ROLES))
    observed = {s.key: {role: seen[(s.key, role)].outcome for role in ROLES} for s in scenarios}
    problems = [
        f"{s.key}: the shared target changed"
        for s in scenarios
        if s.state(world, shared[s.key].result()) != before[s.key]
    ]
    for (key, role), cell in seen.items():
        if cell.outcome == "no" and not names_who_can(cell.text, expected[key], role):
            problems.append(f"{key} / {role}: the refusal names nobody who can: {cell.text!r}")
        elif cell.outcome not in ("ok", "no", "self"):
            problems.append(f"{key} / {role}: {cell.text}")
    return observed, problems


def observe(world: World, scenario: Scenario, user: str, target: dict) -> Seen:
    """Act as `user`, then wait for what the bot made of it."""
    told = len(world.ephemerals(user))
    world.marks[user] = len(world.fake.views(user))
    result = scenario.act(world, user, target)
    errors = (getattr(result, "body", None) or {}) if result is not None else {}
    if isinstance(errors, dict) and errors.get("errors"):  # a modal kept open, saying why
        return refusal(" ".join(errors["errors"].values()))
    if result is not None and getattr(result, "status", 200) != 200:
        return Seen("??", f"HTTP {result.status}: {result.body}")
    confirmed, deadline = scenario.said is None, time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for text in world.ephemerals(user)[told:]:
            if scenario.said and re.search(scenario.said, text):
                confirmed = True
            else:
                return refusal(text)
        if text := scenario.refused(world, user):
            return refusal(text)
        if confirmed and scenario.done(world, user, target):
            return Seen("ok")
        time.sleep(0.05)
    return Seen("??", f"nothing seen within {WAIT_SECONDS} s (confirmed: {confirmed})")


def refusal(text: str) -> Seen:
    return Seen("self" if text in SELF else "no", text)


def names_who_can(text: str, row: dict[str, str], role: str) -> bool:
    """A refusal names someone who may do it (or, to a stranger, a manager who can add them)."""
    named = set(re.findall(r"<@([UW][A-Z0-9]+)>", text))
    allowed = {USERS[r] for r in ROLES if row[r] == "ok"}
    return bool(named & (allowed | (MANAGERS if role == "stranger" else set())))


def opened(callback: str) -> Callable[[World, str, dict], bool]:
    """Done, for a button or command that only opens a modal: it opened, for them."""
    return lambda world, user, _target: world.opened(user, callback)


def submit(build, values: dict):
    """Submit the modal `build(world, target)` draws, as the person would have it on screen."""

    def act(world: World, user: str, target: dict):
        world.show(user, build(world, target))
        return world.driver.submit(user, values=values)

    return act


def fast_limits():
    """The fake Slack's pace for these tests: well above what they send."""
    return Limits(tiers=False, post_per_second_per_channel=500, post_burst_per_channel=50)


def start_world(start_replica, fake_slack, sessions, **overrides) -> World:
    for role in ("agent", "rapid", "stranger"):
        fake_slack.add_user(USERS[role], name=role, real_name=f"The {role}")
    settings = {"update_rate_per_minute": 6000, "update_burst": 100}
    settings |= {"channel_rate_per_second": 200, "channel_burst": 20}
    replica = start_replica(org=matrix_org(), **(settings | overrides))
    return World(replica, fake_slack, sessions)
