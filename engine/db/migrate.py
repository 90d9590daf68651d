"""Create or upgrade a database schema with Alembic, never by hand."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from engine.db.database import Database


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "engine:migrations")
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema of ``database`` to ``revision`` (the newest by default)."""
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
