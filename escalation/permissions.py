"""Who may do what: one table, and the sentence a refused person reads (why, and who can)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from escalation.people import Actor, DepartmentInfo, Directory, Role, person
from escalation.workflow import Action


class Scope(StrEnum):
    ANY = "any"  # any holder of the roles
    OWNER = "owner"  # the case's owner, when it has one
    DEPARTMENT = "department"  # members of the department the case is waiting on


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    scope: Scope = Scope.ANY
    override: frozenset[Role] = frozenset({Role.MANAGER})  # may act outside the scope


STAFF = frozenset({Role.AGENT, Role.LEAD, Role.MANAGER})
EVERYONE = frozenset(Role)
RULES: dict[Action, Rule] = {
    Action.CLAIM: Rule(STAFF),
    Action.RELEASE: Rule(STAFF, Scope.OWNER),
    Action.TAKE_OVER: Rule(STAFF),
    Action.ESCALATE: Rule(STAFF),
    Action.ACKNOWLEDGE: Rule(EVERYONE, Scope.DEPARTMENT),
    Action.ANSWER: Rule(EVERYONE, Scope.DEPARTMENT),
    Action.SEND_BACK: Rule(EVERYONE, Scope.DEPARTMENT),
    Action.REASSIGN: Rule(EVERYONE, Scope.DEPARTMENT),
    Action.MARK_REPLIED: Rule(STAFF, Scope.OWNER, frozenset({Role.LEAD, Role.MANAGER})),
    Action.WAIT_CUSTOMER: Rule(STAFF, Scope.OWNER, frozenset({Role.LEAD, Role.MANAGER})),
    Action.CUSTOMER_REPLIED: Rule(STAFF),
    Action.SNOOZE: Rule(STAFF, Scope.OWNER, frozenset({Role.LEAD, Role.MANAGER})),
    Action.WAKE: Rule(STAFF),
    Action.RESOLVE: Rule(STAFF, Scope.OWNER, frozenset({Role.LEAD, Role.MANAGER})),
    Action.REOPEN: Rule(STAFF),
}
VERBS = {
    Action.TAKE_OVER: "take over",
    Action.SEND_BACK: "send back",
    Action.MARK_REPLIED: "mark as replied",
    Action.WAIT_CUSTOMER: "set to waiting on the customer",
    Action.CUSTOMER_REPLIED: "resume",
}


def refusal(
    action: Action,
    actor: Actor,
    *,
    owner: str | None,
    department: DepartmentInfo | None,
    directory: Directory,
) -> str | None:
    """None when `actor` may do `action`; otherwise the sentence telling them why not."""
    rule, verb = RULES[action], VERBS.get(action, action.value)
    managers = _managers(directory)
    if not actor.known:
        return stranger_refusal(directory)
    if actor.roles & rule.override:
        return None
    if not actor.roles & rule.roles:
        return f"Only an {_roles(rule.roles)} can {verb} cases; ask {managers}."
    if rule.scope == Scope.OWNER and owner and owner != actor.id:
        return (
            f"Only the owner ({person(owner)}) or a {_roles(rule.override)} can {verb} this case."
        )
    if rule.scope == Scope.DEPARTMENT and department and department.key not in actor.departments:
        leads = ", ".join(person(lead) for lead in department.leads)
        return f"Only members of {department.name} can {verb} this escalation; ask {leads}."
    return None


def stranger_refusal(directory: Directory) -> str:
    """What someone who is not in the organisation file is told, whatever they tried: the
    cases, crises and digests are the organisation's, and who can add them."""
    return f"You are not in the bot's organisation file yet; ask {_managers(directory)} to add you."


def _managers(directory: Directory) -> str:
    return ", ".join(person(m) for m in directory.with_role(Role.MANAGER)) or "a manager"


def _roles(roles: frozenset[Role]) -> str:
    return " or ".join(r.value for r in Role if r in roles)
