"""The engine's exception hierarchy.

Every exception carries the context a person needs to act on it (definition key, instance id,
element id, line) and its message says what to do. The docstring of each class is its default
message, so ``raise TaskNotFound()`` is already helpful.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.problems import Problem


class FlowdeskError(Exception):
    """Flowdesk could not do what was asked."""

    def __init__(self, message: str | None = None, **context: Any) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.context = {key: value for key, value in context.items() if value is not None}
        super().__init__(self.message)


class NotFound(FlowdeskError):
    """The object asked for does not exist; check its id or key."""


class DefinitionNotFound(NotFound):
    """No process definition matches; deploy it first or check the key or id."""


class InstanceNotFound(NotFound):
    """No process instance has this id; it may have ended or been deleted."""


class TaskNotFound(NotFound):
    """No open task has this id; it may have been completed by someone else."""


class UserNotFound(NotFound):
    """No user has this name."""


class Forbidden(FlowdeskError):
    """You are not allowed to do this; ask an administrator for the right group."""


class InvalidRequest(FlowdeskError):
    """The request is not valid; see the message for what to change."""


class DeploymentError(InvalidRequest):
    """The deployment was refused; every problem found is listed."""

    def __init__(self, problems: Sequence[Problem], message: str | None = None) -> None:
        self.problems = list(problems)
        summary = message or "; ".join(problem.describe() for problem in self.problems[:5])
        if len(self.problems) > 5:
            summary += f"; and {len(self.problems) - 5} more problem(s)"
        super().__init__(summary or "The deployment was refused.")


class FormValidationError(InvalidRequest):
    """Some submitted values are not valid for the task's form; correct the listed fields."""

    def __init__(self, field_errors: Mapping[str, str], message: str | None = None) -> None:
        self.field_errors = dict(field_errors)
        detail = "; ".join(f"{name}: {error}" for name, error in self.field_errors.items())
        super().__init__(message or f"Invalid form values: {detail}")


class VariableError(InvalidRequest):
    """A variable has a value or type Flowdesk cannot use; see the message for the variable."""


class ConcurrentModification(FlowdeskError):
    """Someone else changed this process instance at the same time; reload and try again."""


class ScriptError(FlowdeskError):
    """A script or expression in the process failed; the instance records where and why."""


class ExpressionError(ScriptError):
    """An expression (Camunda EL, FEEL) is malformed, unsupported, or failed while it ran.

    ``position`` is the 1-based column in the expression text where the problem starts (None for
    failures at run time); ``expression`` is the whole text as written in the BPMN file.
    """

    def __init__(
        self, message: str, *, expression: str | None = None, position: int | None = None, **context: Any
    ) -> None:
        super().__init__(message, expression=expression, position=position, **context)
        self.expression = expression
        self.position = position


class SandboxViolation(ScriptError):
    """A script tried something the sandbox forbids (imports, private attributes, files, eval)."""


class ScriptTimeout(ScriptError):
    """A script or expression ran longer than allowed and was stopped."""


class ProcessError(FlowdeskError):
    """A process instance failed while it ran; the error is stored on the instance."""


class AuthenticationError(FlowdeskError):
    """User name or password is wrong."""
