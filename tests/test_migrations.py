"""Migrations: the models match them, and upgrading keeps what a running bot already stored."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from bot.db import alembic_config, make_engine, migrate
from escalation.models import Base


def test_the_models_match_the_migrations(engine):
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []


def test_upgrading_to_cases_keeps_every_card_and_can_go_back(empty_database_url):
    url = empty_database_url
    migrate(url, "0001")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO mentions (id, source, external_id, author_handle, author_followers, "
            "author_verified, text, posted_at, received_at, card_channel, card_ts) VALUES "
            "(7, 'x', '1', 'phil', 3, false, 'hi', '2026-11-02 08:00:00+00', "
            "'2026-11-02 08:00:00+00', 'C1', '1.000100')"
        ))  # fmt: skip
        conn.execute(text(
            "INSERT INTO outbox (id, dedupe_key, kind, channel, mention_id, status, due_at, "
            "created_at, attempts, in_flight) VALUES (1, 'triage_card:7', 'triage_card', "
            "'social-triage', 7, 'sent', '2026-11-02 08:00:00+00', '2026-11-02 08:00:00+00', "
            "1, false)"
        ))  # fmt: skip
    migrate(url)
    with engine.connect() as conn:
        case = conn.execute(text("SELECT id, status, triage_ts FROM cases")).one()
        assert tuple(case) == (7, "new", "1.000100")
        assert conn.scalar(text("SELECT case_id FROM mentions")) == 7
        assert conn.scalar(text("SELECT case_id FROM outbox")) == 7
    with engine.begin() as conn:  # new cases do not collide with the carried-over ids
        conn.execute(text(
            "INSERT INTO cases (status, priority, created_at, updated_at) VALUES "
            "('new', 'P2', '2026-11-02 09:00:00+00', '2026-11-02 09:00:00+00')"
        ))  # fmt: skip
    command.downgrade(alembic_config(url), "0001")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT card_ts FROM mentions WHERE id = 7")) == "1.000100"
    engine.dispose()
