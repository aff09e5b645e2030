"""The schema the migrations build is the schema the models describe, on the engine under test."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from carebridge.contexts import all_models  # noqa: F401
from carebridge.kernel.db import Base
from carebridge.kernel.migrate import current_revision, head_revision


def test_migrations_reach_head(engine: Engine, db_url: str) -> None:
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision(db_url)


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ; regenerate the migration: {diff}"
