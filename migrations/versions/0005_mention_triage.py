"""what triage concluded about each mention

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [
    ("sentiment", sa.String(length=8)),
    ("reach", sa.String(length=16)),
    ("priority", sa.String(length=2)),
    ("department", sa.String(length=32)),
    ("department_confidence", sa.Float()),
    ("risks", sa.JSON()),
    ("needs_reply", sa.Boolean()),
    ("crisis_signal", sa.Boolean()),
    ("reasons", sa.JSON()),
]


def upgrade() -> None:
    with op.batch_alter_table("mentions") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mentions") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
