"""Who is who: roles, departments and the directory the domain asks, built from the org file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from escalation.sla import Policies


class Role(StrEnum):
    AGENT = "agent"
    LEAD = "lead"
    MANAGER = "manager"
    RAPID = "rapid"


@dataclass(frozen=True)
class Actor:
    """A person acting in Slack: their Slack id, roles and departments (none if unknown)."""

    id: str
    roles: frozenset[Role] = frozenset()
    departments: frozenset[str] = frozenset()
    name: str = ""

    @property
    def known(self) -> bool:
        return bool(self.roles)

    @property
    def initials(self) -> str:
        """What they sign public replies with: 'Alex Morgan' -> 'AM' (at most four letters)."""
        letters = "".join(word[0] for word in self.name.split() if word[:1].isalpha())
        fallback = "".join(c for c in self.id if c.isalpha())  # a nameless entry: its Slack id
        return (letters or fallback or "A")[:4].upper()


@dataclass(frozen=True)
class DepartmentInfo:
    key: str
    name: str
    channel: str
    leads: tuple[str, ...]


@dataclass(frozen=True)
class Directory:
    triage_channel: str
    departments: Mapping[str, DepartmentInfo]
    people: Mapping[str, Actor] = field(default_factory=dict)
    policies: Policies | None = None

    def actor(self, slack_id: str) -> Actor:
        return self.people.get(slack_id) or Actor(slack_id)

    def name(self, slack_id: str | None) -> str:
        """A name that notifies nobody (a Slack mention if the person is unknown)."""
        known = self.people.get(slack_id or "")
        return known.name if known and known.name else person(slack_id or "?")

    def with_role(self, role: Role) -> list[str]:
        return [p.id for p in self.people.values() if role in p.roles]

    def department(self, key: str) -> DepartmentInfo:
        return self.departments[key]


def person(slack_id: str) -> str:
    """How a message names a person so that Slack shows their name (and notifies them)."""
    return f"<@{slack_id}>"
