"""Alembic environment: one metadata, batch mode on SQLite, one migrator at a time on PostgreSQL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from escalation.crises import Crisis  # noqa: F401 (its tables join Base.metadata)
from escalation.models import Base
from escalation.surge import SurgeAlert  # noqa: F401 (its table joins Base.metadata)

# Any fixed number shared by every replica: replicas starting together migrate one at a time.
MIGRATION_LOCK_ID = 7_301_964


def database_url() -> str:
    url = context.config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    return url or "sqlite:///var/socialbot.db"


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        context.configure(url=database_url(), target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        run_migrations(connection)
    engine.dispose()


main()
