"""The ``flowdesk`` command: serve, worker, deploy, start, tasks, complete, users."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from engine import Engine, database_url
from engine.exceptions import DeploymentError, FlowdeskError
from engine.tasks import TaskQuery
from engine.variables import parse_cli_assignment
from engine.worker import DEFAULT_POLL_INTERVAL, Worker, stop_on_signals
from webui.cli_erp import erp as erp_commands

PROCESSES_DIR = Path(__file__).resolve().parent.parent / "processes"
DEMO_USERS = {
    "admin": ("admin", ["admins", "designers"]),
    "sales": ("sales", ["sales"]),
    "finance": ("finance", ["finance"]),
    "warehouse": ("warehouse", ["warehouse"]),
}


def _engine(db: str | None) -> Engine:
    return Engine.from_url(database_url(db))


def _vars(assignments: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for text in assignments:
        try:
            name, value = parse_cli_assignment(text)
        except FlowdeskError as err:
            raise click.BadParameter(err.message, param_hint="--var") from err
        values[name] = value
    return values


def _fail(err: FlowdeskError) -> None:
    click.echo(f"error: {err.message}", err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """Flowdesk: run BPMN processes across CRM and ERP."""


db_option = click.option(
    "--db",
    envvar="FLOWDESK_DATABASE_URL",
    default=None,
    help="Database URL (default: sqlite:///var/flowdesk.sqlite).",
)


def deploy_demo(engine: Engine) -> None:
    files = [(p.name, p.read_bytes()) for p in sorted(PROCESSES_DIR.glob("*.bpmn"))]
    if files:
        result = engine.deployments.deploy(
            files, name="demo", source="flowdesk serve --demo", duplicate_filtering=True
        )
        for d in result.definitions:
            click.echo(f"deployed {d.key} version {d.version}")
        for d in result.unchanged:
            click.echo(f"unchanged {d.key} version {d.version}")
    known = {a.name for a in engine.identity.users()}
    click.echo("Demo users (for trying Flowdesk only; change or remove them before real use):")
    for name, (password, groups) in DEMO_USERS.items():
        if name not in known:
            engine.identity.add_user(name, password, groups)
        click.echo(f"  {name} / {password}  groups: {', '.join(groups)}")
    from handlers.erp.demo import load_demo_catalogue

    with engine.database.write() as session:
        stocked = load_demo_catalogue(session)
    click.echo(f"Demo catalogue: {', '.join(stocked) or 'already loaded'}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@db_option
@click.option("--demo", is_flag=True, help="Deploy processes/ and create the demo users.")
@click.option(
    "--worker/--no-worker",
    "with_worker",
    default=True,
    show_default=True,
    help="Run asynchronous jobs in this process too (one worker thread); "
    "with --no-worker, run `flowdesk worker` beside it.",
)
def serve(host: str, port: int, db: str | None, demo: bool, with_worker: bool) -> None:
    """Start the web UI and the REST API (and, unless --no-worker, a job worker)."""
    from waitress import serve as waitress_serve

    from webui import create_app

    engine = _engine(db)
    if demo:
        try:
            deploy_demo(engine)
        except DeploymentError as err:
            for problem in err.problems:
                click.echo(f"  {problem.describe()}", err=True)
            _fail(err)
    click.echo(f"Flowdesk on http://{host}:{port}/  (REST API: http://{host}:{port}/engine-rest)")
    click.echo(f"Database: {engine.database.url}")
    stop = threading.Event()
    worker: Worker | None = None
    worker_thread: threading.Thread | None = None
    if with_worker:
        worker = Worker(engine)
        worker_thread = threading.Thread(
            target=worker.run_forever, args=(stop,), name="flowdesk-worker", daemon=True
        )
        worker_thread.start()
        click.echo(f"Job worker: {worker.worker_id}")

    def terminate(_signum: int, _frame: object) -> None:
        raise SystemExit(0)  # waitress stops on SystemExit and KeyboardInterrupt, like on Ctrl-C

    signal.signal(signal.SIGTERM, terminate)
    try:
        waitress_serve(create_app(engine), host=host, port=port, threads=8)
    finally:
        # A second Ctrl-C or SIGTERM interrupts the join: the worker thread dies with the process
        # and its open transaction is rolled back.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        stop.set()
        if worker is not None and worker_thread is not None:
            click.echo("Stopping: waiting for running jobs to finish")
            worker_thread.join()
            click.echo(f"Job worker stopped; jobs: {dict(worker.counts()) or 'none'}")
        engine.close()


@main.command("worker")
@db_option
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Jobs run side by side (threads).",
)
@click.option(
    "--lock-seconds",
    default=300.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="How long after this worker dies its jobs go to other workers.",
)
@click.option(
    "--poll-interval",
    default=DEFAULT_POLL_INTERVAL,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds between looks for jobs made by other processes or due by time.",
)
@click.option("--worker-id", default=None, help="Name in job locks (default: host:pid:random).")
def worker_command(
    db: str | None, concurrency: int, lock_seconds: float, poll_interval: float, worker_id: str | None
) -> None:
    """Run asynchronous jobs (service task handlers) until SIGTERM or Ctrl-C.

    Handlers come from the 'flowdesk.handlers' entry points and FLOWDESK_HANDLER_MODULES. Start as
    many workers, on as many machines, as you like: each job runs once.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        engine = _engine(db)
    except FlowdeskError as err:
        _fail(err)
        return
    worker = Worker(
        engine,
        worker_id,
        concurrency=concurrency,
        lock_seconds=lock_seconds,
        poll_interval=poll_interval,
    )
    stop = threading.Event()
    restore = stop_on_signals(stop)
    try:
        worker.run_forever(stop)
    finally:
        restore()
        engine.close()


@main.command()
@db_option
@click.option("--name", default=None, help="Deployment name.")
@click.option("--changed-only", is_flag=True, help="Skip processes whose file is unchanged.")
@click.option(
    "--async-before",
    is_flag=True,
    help="Run bound service tasks as jobs unless a task sets camunda:asyncBefore itself.",
)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def deploy(
    db: str | None, name: str | None, changed_only: bool, async_before: bool, files: tuple[Path, ...]
) -> None:
    """Deploy BPMN files; prints new versions, or every problem and exits 1."""
    engine = _engine(db)
    try:
        result = engine.deployments.deploy(
            [(f.name, f.read_bytes()) for f in files],
            name=name,
            source="flowdesk deploy",
            duplicate_filtering=changed_only,
            async_before=async_before,
        )
    except DeploymentError as err:
        for problem in err.problems:
            click.echo(problem.describe(), err=True)
        sys.exit(1)
    for d in result.definitions:
        click.echo(f"{d.key} version {d.version} ({d.id})")
    for d in result.unchanged:
        click.echo(f"{d.key} version {d.version} unchanged")
    for warning in result.warnings:
        click.echo(f"warning: {warning.describe()}", err=True)


@main.command()
@db_option
@click.option("--business-key", default=None)
@click.option("--var", "assignments", multiple=True, help="name=value (JSON or text), or name:Type=value.")
@click.argument("key")
def start(db: str | None, business_key: str | None, assignments: tuple[str, ...], key: str) -> None:
    """Start an instance of the latest version of KEY."""
    engine = _engine(db)
    try:
        info = engine.runtime.start(key=key, variables=_vars(assignments), business_key=business_key)
    except FlowdeskError as err:
        _fail(err)
        return
    click.echo(info.id)
    if info.error_message:
        click.echo(
            f"warning: the instance stopped with an error at {info.error_activity_id}: {info.error_message}",
            err=True,
        )


@main.command()
@db_option
@click.option("--user", default=None, help="Only tasks this user may work on.")
@click.option("--json", "as_json", is_flag=True)
def tasks(db: str | None, user: str | None, as_json: bool) -> None:
    """List open tasks."""
    engine = _engine(db)
    try:
        actor = engine.identity.actor(user) if user else None
    except FlowdeskError as err:
        _fail(err)
        return
    items = engine.tasks.list(TaskQuery(), actor=actor)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": t.id,
                        "name": t.name,
                        "processKey": t.process_key,
                        "instanceId": t.instance_id,
                        "assignee": t.assignee,
                        "candidateGroups": list(t.candidate_groups),
                    }
                    for t in items
                ],
                indent=2,
            )
        )
        return
    for t in items:
        who = t.assignee or ",".join(t.candidate_groups + t.candidate_users) or "-"
        click.echo(f"{t.id}  {t.process_key:<20} {t.name or t.activity_id:<30} {who}")


@main.command()
@db_option
@click.option("--var", "assignments", multiple=True, help="name=value (JSON or text), or name:Type=value.")
@click.option("--user", default=None, help="Complete as this user (checks that they may).")
@click.argument("task_id")
def complete(db: str | None, assignments: tuple[str, ...], user: str | None, task_id: str) -> None:
    """Complete TASK_ID with the given variables."""
    from engine.exceptions import FormValidationError

    engine = _engine(db)
    try:
        actor = engine.identity.actor(user) if user else None
        engine.tasks.complete(task_id, _vars(assignments), actor=actor)
    except FormValidationError as err:
        for name, message in err.field_errors.items():
            click.echo(f"{name}: {message}", err=True)
        sys.exit(1)
    except FlowdeskError as err:
        _fail(err)
    click.echo("completed")


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@db_option
@click.option("--group", "groups", multiple=True, help="A group of the user (repeat for several).")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@click.option("--replace", is_flag=True, help="Replace an existing user's password and groups.")
@click.argument("name")
def user_add(db: str | None, groups: tuple[str, ...], password_stdin: bool, replace: bool, name: str) -> None:
    """Add user NAME; the password is read from standard input, never from the command line."""
    password = sys.stdin.readline().rstrip("\r\n")
    engine = _engine(db)
    try:
        actor = engine.identity.add_user(name, password, groups, replace=replace)
    except FlowdeskError as err:
        _fail(err)
        return
    click.echo(f"user {actor.name} in groups {', '.join(sorted(actor.groups)) or '-'}")


main.add_command(erp_commands)  # flowdesk erp product add / stock set (webui/cli_erp.py)


if __name__ == "__main__":
    main()
