"""What one engine step reports: the activities it started and ended, and the error it stopped on.

The runner (engine.spiff.runner) produces them; history, jobs and incidents are written from them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.spiff.snapshot import WaitingServiceTask


@dataclass(frozen=True)
class ActivityEvent:
    task_id: str
    activity_id: str
    activity_name: str | None
    activity_type: str
    at: datetime
    ended: bool
    state: str
    # True the first time this activity instance is reported, across saves: the history row is
    # inserted then and only updated afterwards.
    first: bool = True
    canceled: bool = False


@dataclass(frozen=True)
class StepError:
    activity_id: str | None
    message: str
    line: int | None
    details: str


# Runs the handler of a service task the moment the engine reaches it: the outputs to complete the
# task with, or None to leave it waiting (a job, an external task, or a failure to report later).
ServiceCall = Callable[[WaitingServiceTask], Mapping[str, Any] | None]


class HostFailure(Exception):
    """Carries an exception of the host out of an engine pass, past the handling of process errors.

    A handler's own failure comes back as an outcome; what escapes the call (a database error, a
    failed savepoint commit) must abort the whole step, never become an error of the instance.
    """

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


@dataclass
class StepResult:
    events: list[ActivityEvent] = field(default_factory=list)
    error: StepError | None = None


def activity_type_of(task: Any) -> str:
    """The activity type history shows: from the spec's class, or what the spec declares.

    The Camunda parser builds embedded subprocesses with its call activity class; its description
    still says what the element was.
    """
    spec = task.task_spec
    declared = getattr(spec, "activity_type", None)
    if isinstance(declared, str):
        return declared
    if getattr(spec, "description", None) == "Subprocess":
        return "subProcess"
    name = type(spec).__name__
    return name[0].lower() + name[1:]
