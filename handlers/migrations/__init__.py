"""The built-in handlers' Alembic chain (version table ``alembic_version_handlers``).

Named by the ``flowdesk.migrations`` entry point; ``engine.db.migrate.upgrade`` runs it after the
engine's own schema.
"""

SCRIPT_LOCATION = "handlers:migrations"
VERSION_TABLE = "alembic_version_handlers"
