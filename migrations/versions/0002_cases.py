"""cases, escalations, audit events and processed requests; cards belong to cases

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=True),
        sa.Column("owner_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("before_snooze", sa.String(length=24), nullable=True),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column("resolution_link", sa.String(length=2048), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("triage_channel", sa.String(length=32), nullable=True),
        sa.Column("triage_ts", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=32), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=32), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("closed_note", sa.Text(), nullable=True),
        sa.Column("card_channel", sa.String(length=32), nullable=True),
        sa.Column("card_ts", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_escalations_case_id", "escalations", ["case_id"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "processed_requests",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_processed_requests_at", "processed_requests", ["at"])
    _mentions_get_cases()
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("case_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("escalation_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_outbox_case_id", "cases", ["case_id"], ["id"])
        batch.create_foreign_key(
            "fk_outbox_escalation_id", "escalations", ["escalation_id"], ["id"]
        )
        batch.create_foreign_key("fk_outbox_event_id", "case_events", ["event_id"], ["id"])
        batch.create_index("ix_outbox_case_id", ["case_id"])
    op.execute("UPDATE outbox SET case_id = mention_id WHERE kind = 'triage_card'")


def _mentions_get_cases() -> None:
    """Each existing mention opens a case with the same id, which takes over its card."""
    with op.batch_alter_table("mentions") as batch:
        batch.add_column(sa.Column("case_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_mentions_case_id", "cases", ["case_id"], ["id"])
        batch.create_index("ix_mentions_case_id", ["case_id"])
    op.execute(
        "INSERT INTO cases (id, status, created_at, updated_at, triage_channel, triage_ts) "
        "SELECT id, 'new', received_at, received_at, card_channel, card_ts FROM mentions"
    )
    op.execute("UPDATE mentions SET case_id = id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('cases', 'id'), "
            "COALESCE((SELECT MAX(id) FROM cases), 0) + 1, false)"
        )
    with op.batch_alter_table("mentions") as batch:
        batch.drop_column("card_channel")
        batch.drop_column("card_ts")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_case_id")
        batch.drop_constraint("fk_outbox_event_id", type_="foreignkey")
        batch.drop_constraint("fk_outbox_escalation_id", type_="foreignkey")
        batch.drop_constraint("fk_outbox_case_id", type_="foreignkey")
        batch.drop_column("event_id")
        batch.drop_column("escalation_id")
        batch.drop_column("case_id")
    with op.batch_alter_table("mentions") as batch:
        batch.add_column(sa.Column("card_channel", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("card_ts", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE mentions SET card_channel = (SELECT triage_channel FROM cases WHERE cases.id = "
        "mentions.case_id), card_ts = (SELECT triage_ts FROM cases WHERE cases.id = "
        "mentions.case_id)"
    )
    with op.batch_alter_table("mentions") as batch:
        batch.drop_index("ix_mentions_case_id")
        batch.drop_constraint("fk_mentions_case_id", type_="foreignkey")
        batch.drop_column("case_id")
    op.drop_table("processed_requests")
    op.drop_table("case_events")
    op.drop_table("escalations")
    op.drop_table("cases")
