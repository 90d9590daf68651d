"""The runner's cheap views of the open tasks read exactly what a full walk of the tree reads.

engine.spiff.walk and engine.spiff.snapshot replace SpiffWorkflow's tree walks by cheaper ones and
update the view of the open tasks from a change log instead of walking again. Here the process
tests of several areas run again with ``Runner.verify_views`` on, which compares every updated
view with a fresh walk (and that walk with the library's own) and fails on any difference.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.spiff.runner import Runner
from tests.conformance.test_elements import *  # noqa: F403  (run again, verified)
from tests.conformance.test_event_subprocesses import *  # noqa: F403
from tests.conformance.test_multi_instance import *  # noqa: F403
from tests.engine.test_error_event_subprocesses import *  # noqa: F403
from tests.engine.test_messages import *  # noqa: F403
from tests.engine.test_nested_event_subprocesses import *  # noqa: F403
from tests.engine.test_parallel_join_data import *  # noqa: F403
from tests.engine.test_timers import *  # noqa: F403


@pytest.fixture(autouse=True)
def verified_views() -> Iterator[None]:
    Runner.verify_views = True
    yield
    Runner.verify_views = False
