"""The engine facade: every service wired to one database, clock and sandbox."""

from __future__ import annotations

import os

from engine import handlers as handler_api
from engine.bpmn_lint import Linter
from engine.clock import Clock, system_clock
from engine.db import Database, upgrade
from engine.definitions import DefinitionCache, DefinitionService
from engine.deployments import DeploymentService
from engine.executor import Executor
from engine.handlers import HandlerRegistry, load_handler_modules
from engine.history import HistoryService
from engine.identity import IdentityService
from engine.instances import InstanceLoader, RuntimeService
from engine.jobs import JobService
from engine.live_instances import DEFAULT_MAX_TASKS, LiveInstances
from engine.messages import MessageService
from engine.sandbox import Sandbox
from engine.spiff.scripting import SandboxScriptEngine
from engine.tasks import TaskService
from engine.throws import EventDelivery
from engine.timers import TimerService

DEFAULT_DATABASE_URL = "sqlite:///var/flowdesk.sqlite"
DEFAULT_MAX_BPMN_BYTES = 10 * 1024 * 1024


def database_url(explicit: str | None = None) -> str:
    """``--db`` wins, then ``FLOWDESK_DATABASE_URL``, then an SQLite file under ./var."""
    return explicit or os.environ.get("FLOWDESK_DATABASE_URL") or DEFAULT_DATABASE_URL


class Engine:
    def __init__(
        self,
        database: Database,
        *,
        clock: Clock = system_clock,
        sandbox: Sandbox | None = None,
        max_bpmn_bytes: int | None = None,
        migrate: bool = True,
        handlers: HandlerRegistry | None = None,
        live_tasks: int | None = None,
    ) -> None:
        """``live_tasks`` bounds the workflows kept in memory between operations, counted in tasks
        (engine.live_instances; default ``FLOWDESK_LIVE_TASKS`` or 50,000; 0 keeps none)."""
        self.database = database
        self.clock = clock
        if migrate:
            upgrade(database)
        self.sandbox = sandbox or Sandbox()
        max_bytes = max_bpmn_bytes or int(os.environ.get("FLOWDESK_MAX_BPMN_BYTES", DEFAULT_MAX_BPMN_BYTES))
        cache = DefinitionCache()
        if handlers is None:
            # The process-wide registry: what installed packages and FLOWDESK_HANDLER_MODULES register.
            load_handler_modules()
            handlers = handler_api.default_registry
        self.handlers = handlers
        self.executor = Executor(handlers, self.sandbox)
        if live_tasks is None:
            live_tasks = int(os.environ.get("FLOWDESK_LIVE_TASKS", DEFAULT_MAX_TASKS))
        self.live = LiveInstances(live_tasks)
        loader = InstanceLoader(
            cache, SandboxScriptEngine(self.sandbox, clock), clock, self.executor, self.live
        )
        self.identity = IdentityService(database, clock)
        self.definitions = DefinitionService(database, cache)
        self.deployments = DeploymentService(database, Linter(self.sandbox), clock, max_bytes, handlers)
        self.runtime = RuntimeService(database, loader, clock)
        self.tasks = TaskService(database, loader, self.identity, clock)
        self.history = HistoryService(database)
        self.messages = MessageService(database, loader, self.runtime, clock)
        self.jobs = JobService(database, loader, self.executor, clock, EventDelivery(self.messages))
        self.timers = TimerService(database, loader, self.runtime, clock)

    @classmethod
    def from_url(cls, url: str | None = None, **kwargs: object) -> Engine:
        return cls(Database(database_url(url)), **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        self.database.dispose()
