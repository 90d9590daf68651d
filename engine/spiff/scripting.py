"""SpiffWorkflow's script engine, with every script and expression routed through the sandbox."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine import expressions
from engine.sandbox import Sandbox


class SandboxEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__({})
        self.sandbox = sandbox

    def evaluate(self, expression: str, context: Mapping[str, Any], external_context: Any = None) -> Any:
        scope = {**external_context, **context} if external_context else context
        if expressions.is_foreign(expression):  # Camunda EL: translated once, run in the same sandbox
            return expressions.evaluate(expression, scope, self.sandbox)
        return self.sandbox.evaluate(expression, scope)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        if not external_context:
            self.sandbox.execute(script, context)
            return True
        namespace = {**external_context, **context}
        self.sandbox.execute(script, namespace)
        # Names that only came from the external context are not task data.
        for name in list(namespace):
            if name in external_context and name not in context and namespace[name] is external_context[name]:
                del namespace[name]
        context.clear()
        context.update(namespace)
        return True


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SandboxScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    def __init__(self, sandbox: Sandbox, clock: Callable[[], datetime] = _utc_now) -> None:
        super().__init__(environment=SandboxEnvironment(sandbox))
        self.sandbox = sandbox
        # Timers (engine.spiff.timers) read the time here, so the engine's clock decides when they fire.
        self.clock = clock
