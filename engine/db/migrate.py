"""Create or upgrade a database schema with Alembic, never by hand."""

from __future__ import annotations

from importlib.metadata import entry_points

from alembic import command
from alembic.config import Config

from engine.db.database import Database
from engine.exceptions import FlowdeskError

# Packages with tables of their own (handlers) name an Alembic script location here; each chain
# keeps its own version table (set in its env.py) and is upgraded after the engine's schema.
MIGRATIONS_ENTRY_POINT_GROUP = "flowdesk.migrations"


def alembic_config(url: str | None = None, script_location: str = "engine:migrations") -> Config:
    config = Config()
    config.set_main_option("script_location", script_location)
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def extra_script_locations() -> list[str]:
    """The script locations that installed packages add, in entry-point name order."""
    locations: list[str] = []
    for ep in sorted(entry_points(group=MIGRATIONS_ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            location = ep.load()
        except Exception as err:  # a broken package must name itself, whatever it raised
            raise FlowdeskError(
                f"migration entry point {ep.name!r} ({ep.value}) cannot be loaded ({err}); check the "
                f"'{MIGRATIONS_ENTRY_POINT_GROUP}' entry points of installed packages"
            ) from err
        if not isinstance(location, str):
            raise FlowdeskError(
                f"migration entry point {ep.name!r} ({ep.value}) must name an Alembic script location "
                f"as a string such as 'package:migrations', not {type(location).__name__}"
            )
        locations.append(location)
    return locations


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema of ``database`` to ``revision`` (the newest by default), then every add-on chain."""
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    if revision != "head":
        return  # a downgrade or partial upgrade of the engine's schema leaves add-ons alone
    for location in extra_script_locations():
        extra = alembic_config(script_location=location)
        with database.engine.begin() as connection:
            extra.attributes["connection"] = connection
            command.upgrade(extra, "head")
