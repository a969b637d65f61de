"""reply drafts offered, and replies approved and posted

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "suggestions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("requested_at", WHEN, nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("prompt_version", sa.String(length=64), nullable=False),
        sa.Column("llm_calls", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("drafts", sa.JSON(), nullable=False),
    )
    op.create_index("ix_suggestions_case_id", "suggestions", ["case_id"])
    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("suggestion_id", sa.Integer(), sa.ForeignKey("suggestions.id"), nullable=True),
        sa.Column("draft_index", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("approved_by", sa.String(length=32), nullable=False),
        sa.Column("approved_at", WHEN, nullable=False),
        sa.Column("second_needed", sa.String(length=64), nullable=True),
        sa.Column("second_approver", sa.String(length=32), nullable=True),
        sa.Column("second_approved_at", WHEN, nullable=True),
        sa.Column("posted_by", sa.String(length=32), nullable=True),
        sa.Column("posted_id", sa.String(length=64), nullable=True),
        sa.Column("link", sa.String(length=2048), nullable=True),
        sa.Column("error", sa.String(length=512), nullable=True),
        sa.Column("card_channel", sa.String(length=32), nullable=True),
        sa.Column("card_ts", sa.String(length=32), nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_index("ix_replies_case_id", "replies", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_replies_case_id", table_name="replies")
    op.drop_table("replies")
    op.drop_index("ix_suggestions_case_id", table_name="suggestions")
    op.drop_table("suggestions")
