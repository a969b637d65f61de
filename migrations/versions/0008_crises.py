"""crises: war rooms, roles, updates, linked cases and their audit trail

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crises",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(length=150), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("declared_by", sa.String(length=32), nullable=False),
        sa.Column("declared_at", WHEN, nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("channel_name", sa.String(length=80), nullable=True),
        sa.Column("brief_ts", sa.String(length=32), nullable=True),
        sa.Column("ready_at", WHEN, nullable=True),
        sa.Column("setup_due_at", WHEN, nullable=True),
        sa.Column("setup_attempts", sa.Integer(), nullable=False),
        sa.Column("setup_error", sa.String(length=255), nullable=True),
        sa.Column("last_update_at", WHEN, nullable=True),
        sa.Column("next_reminder_at", WHEN, nullable=True),
        sa.Column("closed_by", sa.String(length=32), nullable=True),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("closing_summary", sa.Text(), nullable=True),
        sa.Column("summary_origin", sa.String(length=128), nullable=True),
        sa.Column("archived_at", WHEN, nullable=True),
        sa.UniqueConstraint("channel_id"),
    )
    op.create_index("ix_crises_status", "crises", ["status"])
    op.create_table(
        "crisis_roles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("crisis_id", sa.Integer(), sa.ForeignKey("crises.id"), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("person", sa.String(length=32), nullable=False),
        sa.Column("assigned_by", sa.String(length=32), nullable=False),
        sa.Column("assigned_at", WHEN, nullable=False),
        sa.UniqueConstraint("crisis_id", "role", name="uq_crisis_roles_crisis_role"),
    )
    op.create_table(
        "crisis_updates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("crisis_id", sa.Integer(), sa.ForeignKey("crises.id"), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("needs", sa.Text(), nullable=True),
        sa.Column("posted_by", sa.String(length=32), nullable=False),
        sa.Column("posted_at", WHEN, nullable=False),
    )
    op.create_index("ix_crisis_updates_crisis_id", "crisis_updates", ["crisis_id"])
    op.create_table(
        "crisis_cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("crisis_id", sa.Integer(), sa.ForeignKey("crises.id"), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("linked_by", sa.String(length=32), nullable=False),
        sa.Column("linked_at", WHEN, nullable=False),
        sa.UniqueConstraint("crisis_id", "case_id", name="uq_crisis_cases_crisis_case"),
    )
    op.create_index("ix_crisis_cases_case_id", "crisis_cases", ["case_id"])
    op.create_table(
        "crisis_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("crisis_id", sa.Integer(), sa.ForeignKey("crises.id"), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
    )
    op.create_index("ix_crisis_events_crisis_at", "crisis_events", ["crisis_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_crisis_events_crisis_at", table_name="crisis_events")
    op.drop_table("crisis_events")
    op.drop_index("ix_crisis_cases_case_id", table_name="crisis_cases")
    op.drop_table("crisis_cases")
    op.drop_index("ix_crisis_updates_crisis_id", table_name="crisis_updates")
    op.drop_table("crisis_updates")
    op.drop_table("crisis_roles")
    op.drop_index("ix_crises_status", table_name="crises")
    op.drop_table("crises")
