"""Small database helpers the services share."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from escalation.models import ProcessedRequest


def insert_ignoring_conflict(db: Session, model, values: dict, *, keys: list[str], returning):
    """INSERT ... ON CONFLICT (keys) DO NOTHING RETURNING `returning`: None if it existed."""
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(model).values(**values).on_conflict_do_nothing(index_elements=keys)
    return db.scalar(statement.returning(returning))


def first_time(db: Session, *, key: str, now: datetime) -> bool:
    """Remember `key` in this transaction; False if a request with that key was applied before.

    Kept in the same transaction as the change it guards, so a retried or doubled request (two
    replicas, a double click, Slack's retries) is applied exactly once.
    """
    stored = insert_ignoring_conflict(
        db,
        ProcessedRequest,
        {"key": key[:255], "at": now},
        keys=["key"],
        returning=ProcessedRequest.key,
    )
    return stored is not None
