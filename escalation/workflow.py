"""The case status machine: one table says which action moves a case from which status to which.

Listeners never set a status; services ask `next_status`, which refuses anything not in the table.
"""

from __future__ import annotations

from enum import StrEnum

from escalation.errors import InvalidTransition


class CaseStatus(StrEnum):
    NEW = "new"
    CLAIMED = "claimed"
    ESCALATED = "escalated"  # waiting on a department
    ACKNOWLEDGED = "acknowledged"  # a department member took it
    ANSWERED = "answered"  # the department's input is back
    REPLIED = "replied"  # the public reply was made
    WAITING_CUSTOMER = "waiting_customer"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Action(StrEnum):
    CLAIM = "claim"
    RELEASE = "release"
    TAKE_OVER = "take_over"
    ESCALATE = "escalate"
    ACKNOWLEDGE = "acknowledge"
    ANSWER = "answer"
    SEND_BACK = "send_back"
    REASSIGN = "reassign"
    MARK_REPLIED = "mark_replied"
    WAIT_CUSTOMER = "wait_customer"
    CUSTOMER_REPLIED = "customer_replied"
    SNOOZE = "snooze"
    WAKE = "wake"
    RESOLVE = "resolve"
    REOPEN = "reopen"


S = CaseStatus
OPEN = frozenset(S) - {S.RESOLVED}
# Where an action may start from. Its target is in TARGETS, or decided by the service for the
# few actions that return a case to where it was (release, send back, wake, reopen).
OWNED = OPEN - {S.NEW, S.SNOOZED}
SOURCES: dict[Action, frozenset[CaseStatus]] = {
    # Ownership: a case at a department can still be claimed, released or taken over.
    Action.CLAIM: OPEN - {S.SNOOZED},
    Action.RELEASE: OWNED,
    Action.TAKE_OVER: OWNED,
    Action.ESCALATE: frozenset({S.NEW, S.CLAIMED, S.ANSWERED, S.REPLIED, S.WAITING_CUSTOMER}),
    Action.ACKNOWLEDGE: frozenset({S.ESCALATED}),
    Action.ANSWER: frozenset({S.ESCALATED, S.ACKNOWLEDGED}),
    Action.SEND_BACK: frozenset({S.ESCALATED, S.ACKNOWLEDGED}),
    Action.REASSIGN: frozenset({S.ESCALATED, S.ACKNOWLEDGED}),
    Action.MARK_REPLIED: frozenset({S.NEW, S.CLAIMED, S.ANSWERED, S.WAITING_CUSTOMER}),
    Action.WAIT_CUSTOMER: frozenset({S.CLAIMED, S.ANSWERED, S.REPLIED}),
    Action.CUSTOMER_REPLIED: frozenset({S.WAITING_CUSTOMER}),
    Action.SNOOZE: frozenset({S.NEW, S.CLAIMED, S.ANSWERED, S.REPLIED, S.WAITING_CUSTOMER}),
    Action.WAKE: frozenset({S.SNOOZED}),
    Action.RESOLVE: OPEN,
    Action.REOPEN: frozenset({S.RESOLVED}),
}
TARGETS: dict[Action, CaseStatus] = {
    Action.ESCALATE: S.ESCALATED,
    Action.ACKNOWLEDGE: S.ACKNOWLEDGED,
    Action.ANSWER: S.ANSWERED,
    Action.REASSIGN: S.ESCALATED,
    Action.MARK_REPLIED: S.REPLIED,
    Action.WAIT_CUSTOMER: S.WAITING_CUSTOMER,
    Action.CUSTOMER_REPLIED: S.CLAIMED,
    Action.SNOOZE: S.SNOOZED,
    Action.RESOLVE: S.RESOLVED,
}
OWNERSHIP = {(S.NEW, Action.CLAIM): S.CLAIMED, (S.CLAIMED, Action.RELEASE): S.NEW}
WHY_NOT = {
    S.RESOLVED: "This case is resolved; reopen it first.",
    S.SNOOZED: "This case is snoozed; wake it first.",
}


def next_status(
    current: CaseStatus, action: Action, *, owner: str | None, before_snooze: str | None = None
) -> CaseStatus:
    """The status after `action`, or InvalidTransition with a sentence saying why not."""
    if current not in SOURCES[action]:
        reason = f"This case is {describe(current)}: it cannot be {PAST[action]} now."
        raise InvalidTransition(WHY_NOT.get(current, reason))
    if action in (Action.CLAIM, Action.RELEASE, Action.TAKE_OVER):
        return OWNERSHIP.get((current, action), current)  # elsewhere only the owner changes
    if action in (Action.SEND_BACK, Action.REOPEN, Action.WAKE):
        back = S.CLAIMED if owner else S.NEW
        return CaseStatus(before_snooze) if action == Action.WAKE and before_snooze else back
    return TARGETS[action]


def describe(status: CaseStatus) -> str:
    return str(status).replace("_", " ")


PAST = {
    Action.CLAIM: "claimed",
    Action.RELEASE: "released",
    Action.TAKE_OVER: "taken over",
    Action.ESCALATE: "escalated",
    Action.ACKNOWLEDGE: "acknowledged",
    Action.ANSWER: "answered",
    Action.SEND_BACK: "sent back",
    Action.REASSIGN: "reassigned",
    Action.MARK_REPLIED: "marked replied",
    Action.WAIT_CUSTOMER: "put on waiting for the customer",
    Action.CUSTOMER_REPLIED: "resumed",
    Action.SNOOZE: "snoozed",
    Action.WAKE: "woken",
    Action.RESOLVE: "resolved",
    Action.REOPEN: "reopened",
}
