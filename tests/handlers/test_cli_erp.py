"""``flowdesk erp product add`` / ``stock set`` / ``stock show``, and the demo catalogue."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from engine import Database, Engine
from handlers.erp.catalogue import stock_levels
from webui.cli import deploy_demo, main


def test_products_and_stock_are_set_up_from_the_command_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    runner = CliRunner()

    added = runner.invoke(main, ["erp", "product", "add", "BOLT-M8", "--name", "Bolt M8", "--db", db])
    counted = runner.invoke(
        main, ["erp", "stock", "set", "BOLT-M8", "250", "--warehouse", "WEST", "--db", db]
    )
    shown = runner.invoke(main, ["erp", "stock", "show", "BOLT-M8", "--db", db])

    assert added.exit_code == 0 and "product BOLT-M8: Bolt M8 (unit)" in added.output
    assert counted.exit_code == 0 and "BOLT-M8 in WEST: on hand 250, reserved 0" in counted.output
    assert "WEST" in shown.output and "available        250" in shown.output


def test_bad_input_is_a_clear_error_and_changes_nothing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    runner = CliRunner()
    runner.invoke(main, ["erp", "product", "add", "BOLT-M8", "--name", "Bolt M8", "--db", db])

    fraction = runner.invoke(main, ["erp", "stock", "set", "BOLT-M8", "2.5", "--db", db])
    unknown = runner.invoke(main, ["erp", "stock", "set", "NUT-M8", "5", "--db", db])
    bad_uom = runner.invoke(
        main, ["erp", "product", "add", "X", "--name", "X", "--uom", "furlong", "--db", db]
    )

    assert fraction.exit_code == 1 and "unit allows whole numbers only" in fraction.output
    assert unknown.exit_code == 1 and "no product has SKU 'NUT-M8'" in unknown.output
    assert bad_uom.exit_code == 2 and "furlong" in bad_uom.output
    engine = Engine(Database(db))
    with engine.database.read() as session:
        assert stock_levels(session, "BOLT-M8") == []
    engine.close()


def test_the_demo_loads_a_stocked_catalogue_once(tmp_path: Path) -> None:
    engine = Engine(Database(f"sqlite:///{tmp_path / 'demo.sqlite'}"))
    try:
        deploy_demo(engine)
        with engine.database.write() as session:
            [level] = stock_levels(session, "LAPTOP-14")
            level.reserved = level.on_hand - 1  # the demo is in use: a second start must not recount it
        deploy_demo(engine)
        with engine.database.read() as session:
            [level] = stock_levels(session, "LAPTOP-14")
            assert level.available == 1
            assert [lvl.on_hand for lvl in stock_levels(session, "CABLE-CAT6")] == [500]
        assert {d.key for d in engine.definitions.list()} >= {"lead_to_cash", "lead_qualification"}
    finally:
        engine.close()
