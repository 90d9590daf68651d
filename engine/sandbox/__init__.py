"""The sandbox every BPMN script and expression runs in.

SpiffWorkflow runs scripts with plain ``eval``/``exec`` and full builtins, so a process file could
``__import__('os')`` or walk ``().__class__.__base__.__subclasses__()`` to ``subprocess.Popen``. Here
every script is compiled by RestrictedPython with a stricter policy and runs against a curated set of
builtins and guards:

* **Nothing private is reachable.** Names and attributes starting with ``_`` are refused at compile
  time; ``_getattr_`` (also behind ``getattr``/``hasattr``) refuses them at run time, together with
  frame/code/generator internals, ``mro`` and ``str.format`` (its ``{0.__class__}`` fields would walk
  private attributes). Imports, ``class``, ``finally``, bare ``except:`` and calls of ``exec``,
  ``eval``, ``open``, ``type``, ``globals`` ... are refused when the script is compiled, so a refused
  script runs no line at all. ``check`` does exactly this at deploy time.
* **Time is bounded.** One daemon watchdog thread keeps a deadline per running evaluation and raises
  an internal ``BaseException`` in the overdue thread with ``PyThreadState_SetAsyncExc`` (again every
  ``_REFIRE_SECONDS`` while the deadline stays exceeded). Scripts cannot catch it: ``except:``,
  ``except BaseException`` and ``finally`` are refused, and ``_except_`` drops non-``Exception``
  classes reached at run time. The happy path takes no lock and wakes no thread (about 1 µs).
* **Single operations stay small.** An asynchronous exception waits for a long C call to end, so the
  operations that build a huge value in one call are guarded: ``**``, ``*`` (sequence repetition and
  int products), ``<<``, ``%`` and format specs (widths), ``range``, ``int()``/``round()`` of a
  Decimal with a huge exponent, ``sum`` of lists, and the str/bytes methods that grow (``center``,
  ``replace``, ``join``, ...). Limits: ``MAX_ITEMS`` items or characters, ``MAX_INT_BITS`` bits.

Known limits (say so rather than pretend): memory is only bounded per operation, so a loop that keeps
appending can use a lot of memory before its deadline; a C call over data within the limits (sorting
ten million items, ``repr`` of a list that holds the same nested list many times, a set of keys
chosen to collide) can overrun the deadline until it returns. Run workers with a process memory
limit for hard isolation.

The parts: ``policy`` (compile-time transformer and compile cache), ``guards`` (run-time checks),
``script_builtins`` (what a script can call), ``watchdog`` (the deadline thread) and ``limits`` (the
numbers and refusal lists the others share).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import CodeType, ModuleType
from typing import Any, Literal

from engine.exceptions import SandboxViolation, ScriptError, ScriptTimeout
from engine.sandbox.limits import MAX_INT_BITS, MAX_ITEMS
from engine.sandbox.policy import _FILENAME, _cached_compiler, _Compiled, _Refusal
from engine.sandbox.script_builtins import _BUILTINS
from engine.sandbox.watchdog import _WATCHDOG, _Deadline, _Expired

__all__ = ["MAX_INT_BITS", "MAX_ITEMS", "Sandbox"]

_ABSENT = object()


def _script_line(exc: BaseException) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# --- the public face ------------------------------------------------------------------------------


class Sandbox:
    """Compiles (with a cache), checks and runs scripts and expressions under the policy above.

    Safe to share between threads. ``extra_globals`` adds names (helpers, constants) for every script;
    they are shared, so give immutable values or functions.
    """

    def __init__(
        self,
        timeout_seconds: float = 2.0,
        extra_globals: Mapping[str, Any] | None = None,
        cache_size: int = 2048,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        extra = dict(extra_globals or {})
        private = sorted(name for name in extra if name.startswith("_"))
        if private:
            raise ValueError(f"extra globals must not start with '_' (scripts cannot reach them): {private}")
        self.timeout_seconds = timeout_seconds
        self._builtins = {**_BUILTINS, **extra}
        self._globals = {"__builtins__": self._builtins}
        self._compile: Callable[[str, str], _Compiled | _Refusal] = _cached_compiler(cache_size)

    def check(self, source: str, mode: Literal["eval", "exec"]) -> None:
        """Compile without running: raise ScriptError (syntax) or SandboxViolation (policy)."""
        if mode not in ("eval", "exec"):
            raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
        compiled = self._compile(source, mode)
        if isinstance(compiled, _Refusal):
            compiled.raise_()

    def evaluate(self, expression: str, variables: Mapping[str, Any]) -> Any:
        """The value of ``expression`` with ``variables`` as its names."""
        compiled = self._compile(expression, "eval")
        if isinstance(compiled, _Refusal):
            compiled.raise_()
        code, isolated, _ = compiled
        if isolated:  # comprehensions look names up as globals, so they need a real namespace
            namespace = dict(variables)
            namespace["__builtins__"] = self._builtins
            return self._run(code, namespace, None)
        return self._run(code, self._globals, variables)

    def execute(self, script: str, variables: dict[str, Any]) -> None:
        """Run ``script`` with ``variables`` as its namespace, like SpiffWorkflow's TaskDataEnvironment.

        On success ``variables`` holds every top-level name the script created or changed, without
        the names it deleted and without the functions and modules it bound (values it did not
        touch stay as given). On failure the top-level names are left as they were; objects the
        script changed in place before failing stay changed.
        """
        compiled = self._compile(script, "exec")
        if isinstance(compiled, _Refusal):
            compiled.raise_()
        code, _, bound = compiled
        namespace = dict(variables)
        namespace["__builtins__"] = self._builtins
        self._run(code, namespace, None)
        for name in bound:  # only names the script can have rebound: cheap on large task data
            value = namespace.get(name, _ABSENT)
            if value is _ABSENT or callable(value) or isinstance(value, ModuleType):
                variables.pop(name, None)
            elif not name.startswith("_"):  # _print, _tmp0: RestrictedPython's own names
                variables[name] = value

    def _run(self, code: CodeType, namespace: dict[str, Any], names: Mapping[str, Any] | None) -> Any:
        deadline = _Deadline(self.timeout_seconds)
        try:
            try:
                _WATCHDOG.arm(deadline)
                return eval(code, namespace, names)
            finally:
                _WATCHDOG.disarm(deadline)
        except _Expired as exc:
            _WATCHDOG.disarm(deadline)
            if not deadline.fired:
                raise  # an enclosing evaluation's deadline: let it through to its owner
            line = _script_line(exc)
            where = f" (stopped at line {line} of the script)" if line else ""
            raise ScriptTimeout(
                f"the script ran longer than {self.timeout_seconds:g} s and was stopped{where}; "
                "make it do less work or raise the timeout",
                line=line,
                timeout_seconds=self.timeout_seconds,
            ) from None
        except ScriptTimeout:
            raise
        except SandboxViolation as exc:  # refused by a guard while running
            line = _script_line(exc)
            if line is None or "line" in exc.context:
                raise
            message = f"{exc.message} (line {line} of the script)"
            raise SandboxViolation(message, **exc.context, line=line) from None
        except Exception as exc:
            line = _script_line(exc)
            where = f" (line {line} of the script)" if line else ""
            raise ScriptError(
                f"{type(exc).__name__}: {exc}{where}", line=line, error_type=type(exc).__name__
            ) from exc
