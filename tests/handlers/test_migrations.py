"""The handlers' tables come from their own Alembic chain, named by a ``flowdesk.migrations`` entry point."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import inspect, text

from engine import Engine
from engine.db import migrate
from engine.exceptions import FlowdeskError


def test_the_engine_upgrade_runs_the_handlers_chain_with_its_own_version_table(engine: Engine) -> None:
    with engine.database.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        engine_version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        handlers_version = conn.execute(text("SELECT version_num FROM alembic_version_handlers")).scalar_one()

    assert {"crm_leads", "erp_stock", "erp_invoices", "erp_number_sequences", "handler_effects"} <= tables
    assert handlers_version == "h0002"
    assert not engine_version.startswith("h")
    migrate.upgrade(engine.database)  # a second upgrade finds both chains at their heads


def _entry_point(value: Any, name: str = "broken") -> Any:
    def load() -> Any:
        if isinstance(value, Exception):
            raise value
        return value

    return SimpleNamespace(name=name, value="pkg.mod:ATTR", load=load)


@pytest.mark.parametrize(
    ("loaded", "message"),
    [
        (ImportError("No module named 'pkg'"), "cannot be loaded (No module named 'pkg')"),
        (42, "must name an Alembic script location as a string such as 'package:migrations', not int"),
    ],
)
def test_a_broken_migration_entry_point_is_named(
    monkeypatch: pytest.MonkeyPatch, loaded: Any, message: str
) -> None:
    monkeypatch.setattr(migrate, "entry_points", lambda group: [_entry_point(loaded)])

    with pytest.raises(FlowdeskError) as raised:
        migrate.extra_script_locations()

    assert "migration entry point 'broken' (pkg.mod:ATTR)" in raised.value.message
    assert message in raised.value.message
