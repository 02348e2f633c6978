"""What every test run shares: no process a test starts outlives it, and a SIGTERM of the run
(a CI cancel, `timeout`) tears down like Ctrl-C instead of killing pytest mid-fixture."""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import sys
from collections.abc import Iterator
from types import FrameType

import pytest

from tests.processes import MARK, end_marked, of_run

# This pytest's own mark, below the one tools/test gives the whole run (which it checks after each
# suite): a pytest ends only what it started, never a suite running beside it.
RUN = "/".join(
    part for part in (os.environ.get(MARK), f"pytest-{os.getpid()}-{secrets.token_hex(3)}") if part
)
_tests = itertools.count(1)


def _interrupted(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def pytest_configure(config: pytest.Config) -> None:  # noqa: ARG001 (pytest's hook signature)
    os.environ[MARK] = RUN
    signal.signal(signal.SIGTERM, _interrupted)
    # Run in the background by a script (tools/test), pytest starts with SIGINT ignored, and every
    # process it starts would inherit that: Ctrl-C would not reach a tools/up under test, and
    # bash cannot even trap a signal ignored at its start. Handled here, it is default again in
    # every child.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_unconfigure(config: pytest.Config) -> None:  # noqa: ARG001
    """After every fixture's teardown: end what any fixture of the run left."""
    ended = end_marked(of_run(RUN))
    for process in ended:
        print(f"ended a process the test run left: {process}", file=sys.stderr)


@pytest.fixture(autouse=True)
def _ends_its_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that runs the CLI, kubectl or a load loop: what it started is ended when it ends,
    passed or failed. Set up before and torn down after the test's own function fixtures;
    processes of module and session fixtures keep the run's mark and are theirs to end."""
    if not any(request.node.get_closest_marker(tier) for tier in ("integration", "e2e")):
        yield
        return
    mark = f"{RUN}/{next(_tests)}"
    os.environ[MARK] = mark
    try:
        yield
    finally:
        os.environ[MARK] = RUN
        for process in end_marked(lambda found: found == mark):
            print(f"\nended a process {request.node.name} left: {process}", file=sys.stderr)
