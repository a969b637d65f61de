"""A person's queue, as the App Home shows it: their open cases, the unclaimed ones, their
departments' open escalations, and how many open cases each owner holds."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from escalation.models import Case, Escalation, EscalationStatus, Mention
from escalation.workflow import CaseStatus

OPEN_ESCALATION = (EscalationStatus.OPEN, EscalationStatus.ACKNOWLEDGED)


@dataclass(frozen=True)
class Listed:
    """The first few of a list, and how long the whole list is."""

    items: list
    total: int


@dataclass(frozen=True)
class Queue:
    mine: Listed  # of Case
    unclaimed: Listed  # of Case
    escalations: Listed  # of Escalation
    load: list[tuple[str, int]]  # (owner, open cases), the busiest first
    openings: dict[int, Mention]  # each listed case's opening mention


def queue_for(
    db: Session, *, slack_id: str, departments: Collection[str], limit: int = 15
) -> Queue:
    """What `slack_id` has to do, `limit` of each list at most."""
    is_open = Case.status != CaseStatus.RESOLVED
    mine = _cases(db, limit, is_open, Case.owner_id == slack_id)
    unclaimed = _cases(db, limit, is_open, Case.owner_id.is_(None))
    escalations = _escalations(db, departments, limit)
    load = db.execute(
        select(Case.owner_id, func.count())
        .where(is_open, Case.owner_id.is_not(None))
        .group_by(Case.owner_id)
        .order_by(func.count().desc(), Case.owner_id)
    ).all()
    shown = {c.id for c in mine.items + unclaimed.items} | {e.case_id for e in escalations.items}
    return Queue(mine, unclaimed, escalations, [tuple(r) for r in load], _openings(db, shown))


def _cases(db: Session, limit: int, *conditions) -> Listed:
    total = db.scalar(select(func.count()).select_from(Case).where(*conditions))
    query = (
        select(Case)
        .where(*conditions)
        .options(selectinload(Case.deadlines))
        .order_by(Case.priority, Case.created_at, Case.id)
        .limit(limit)
    )
    return Listed(list(db.scalars(query)), total or 0)


def _escalations(db: Session, departments: Collection[str], limit: int) -> Listed:
    conditions = (Escalation.department.in_(departments), Escalation.status.in_(OPEN_ESCALATION))
    total = db.scalar(select(func.count()).select_from(Escalation).where(*conditions))
    query = (
        select(Escalation)
        .where(*conditions)
        .options(selectinload(Escalation.case).selectinload(Case.deadlines))
        .order_by(Escalation.requested_at, Escalation.id)
        .limit(limit)
    )
    return Listed(list(db.scalars(query)), total or 0)


def _openings(db: Session, case_ids: set[int]) -> dict[int, Mention]:
    """The first mention of each case (a surge's roll-up case may hold thousands)."""
    if not case_ids:
        return {}
    first = select(func.min(Mention.id)).where(Mention.case_id.in_(case_ids))
    first = first.group_by(Mention.case_id)
    return {m.case_id: m for m in db.scalars(select(Mention).where(Mention.id.in_(first)))}
