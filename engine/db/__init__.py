"""Storage: tables, connections and migrations."""

from engine.db.database import Database
from engine.db.migrate import upgrade

__all__ = ["Database", "upgrade"]
