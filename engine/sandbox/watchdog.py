"""The deadline thread: stops an evaluation that runs past its timeout.

One daemon watchdog thread keeps a deadline per running evaluation and raises the internal
``_Expired`` (a ``BaseException``) in the overdue thread with ``PyThreadState_SetAsyncExc``, again
every ``_REFIRE_SECONDS`` while the deadline stays exceeded.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Callable

_REFIRE_SECONDS = 0.1


class _Expired(BaseException):
    """Raised asynchronously in a thread whose evaluation is past its deadline; never visible to scripts."""


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    # None becomes NULL, which cancels an exception set earlier and not delivered yet.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


class _Deadline:
    __slots__ = ("at", "done", "fired", "seconds", "stack", "thread")

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.at = monotonic() + seconds
        self.done = False
        self.fired = False
        self.stack: list[_Deadline] | tuple[()] = ()  # () until armed: disarm may run without arm
        self.thread = 0


class _Watchdog:
    """One daemon thread for all sandboxes: it sleeps until the earliest deadline and fires at it.

    The happy path takes no lock and never wakes the thread: each thread appends its deadline to a
    list of its own, and the watchdog never sleeps longer than the shortest timeout it has seen, so
    a new deadline is always later than its next look. A late firing cannot escape the evaluation:
    the watchdog marks a deadline ``fired`` *before* it checks ``done`` and fires under its lock;
    ``disarm`` sets ``done`` *before* it checks ``fired`` and then cancels under the same lock.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stacks: dict[int, list[_Deadline]] = {}  # thread id -> its running (nested) evaluations
        self._last_fire: dict[int, float] = {}
        self._thread: threading.Thread | None = None
        self._next_look = float("inf")
        self._shortest = float("inf")

    def arm(self, deadline: _Deadline) -> None:
        deadline.thread = thread = threading.get_ident()
        stack = self._stacks.get(thread)
        if stack is None:
            with self._lock:
                stack = self._stacks.setdefault(thread, [])
        deadline.stack = stack
        stack.append(deadline)
        if deadline.at < self._next_look or deadline.seconds < self._shortest:
            with self._lock:
                self._shortest = min(self._shortest, deadline.seconds)
                self._next_look = min(self._next_look, deadline.at)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._watch, name="sandbox-watchdog", daemon=True)
                    self._thread.start()
                self._wake.notify()

    def disarm(self, deadline: _Deadline) -> None:
        # The exception may also arrive while we clean up: retry until the deadline is gone for sure.
        while True:
            try:
                deadline.done = True
                stack = deadline.stack
                if isinstance(stack, list) and deadline in stack:
                    stack.remove(deadline)
                if deadline.fired:
                    with self._lock:  # the watchdog has finished firing: cancel what is not delivered yet
                        _set_async_exc(deadline.thread, None)
                return
            except _Expired:
                continue

    def _watch(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                next_look = now + self._shortest
                for thread, stack in self._stacks.items():
                    running = [deadline for deadline in list(stack) if not deadline.done]
                    overdue = [deadline for deadline in running if deadline.at <= now]
                    if overdue:
                        last = self._last_fire.get(thread, float("-inf"))
                        if now - last >= _REFIRE_SECONDS:
                            for deadline in overdue:
                                deadline.fired = True
                            if not all(deadline.done for deadline in overdue):
                                _set_async_exc(thread, _Expired)
                                self._last_fire[thread] = last = now
                        next_look = min(next_look, last + _REFIRE_SECONDS)
                    next_look = min([next_look, *(d.at for d in running if d.at > now)])
                self._next_look = next_look
                self._wake.wait(max(next_look - time.monotonic(), 0.001))


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG._reset)
