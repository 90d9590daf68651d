"""The handlers' own declarative base: their tables never share metadata with the engine's.

It borrows the engine's naming convention (stable constraint names for migrations on SQLite and
PostgreSQL) and its UTC timestamp type (aware datetimes on every backend).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from engine.db.base import NAMING_CONVENTION, UTCDateTime


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}
