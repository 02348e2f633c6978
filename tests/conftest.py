"""What every test run shares: a process a test leaves running fails that test, a process the run
leaves fails the run (both are ended either way), and a SIGTERM of the run (a CI cancel,
`timeout`) tears down like Ctrl-C instead of killing pytest mid-fixture."""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import sys
from collections.abc import Generator, Iterator
from types import FrameType

import pytest

from tests.processes import MARK, Process, end_marked, of_run, still_running

# This pytest's own mark, below the one tools/test gives the whole run (which it checks after each
# suite): a pytest ends only what it started, never a suite running beside it.
RUN = "/".join(
    part for part in (os.environ.get(MARK), f"pytest-{os.getpid()}-{secrets.token_hex(3)}") if part
)
# The one way for a test to let its processes outlive it without failing: the marker, with the
# reason the test cannot end them itself.
LEAVES_PROCESSES = "leaves_processes"
_tests = itertools.count(1)
_failed = pytest.StashKey[bool]()


def _interrupted(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{LEAVES_PROCESSES}(reason): what the test starts may still run when it returns (the"
        " harness ends it without failing the test); the reason says why the test cannot",
    )
    os.environ[MARK] = RUN
    signal.signal(signal.SIGTERM, _interrupted)
    # Run in the background by a script (tools/test), pytest starts with SIGINT ignored, and every
    # process it starts would inherit that: Ctrl-C would not reach a tools/up under test, and
    # bash cannot even trap a signal ignored at its start. Handled here, it is default again in
    # every child.
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remembers a test whose setup or body failed: what it left running is ended, not blamed
    (the failure already says what went wrong)."""
    report = yield
    if report.when in ("setup", "call") and report.failed:
        item.stash[_failed] = True
    return report


def _reason_to_leave(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker(LEAVES_PROCESSES)
    if marker is None:
        return None
    reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
    if not isinstance(reason, str) or not reason.strip():
        pytest.fail(f"@pytest.mark.{LEAVES_PROCESSES} needs a reason", pytrace=False)
    return reason


def _listed(processes: list[Process]) -> str:
    return "\n".join(f"  {process}" for process in processes)


@pytest.fixture(autouse=True)
def _ends_its_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    """What a test started and left running is ended when it ends. A test that passed but left
    something running (a command that returned and left a plugin or a child behind) fails with a
    teardown error naming it, unless it is marked `leaves_processes` with its reason. Set up
    before and torn down after the test's own function fixtures (their teardown ends theirs);
    processes of module and session fixtures keep the run's mark, checked when the run ends."""
    reason = _reason_to_leave(request.node)
    mark = f"{RUN}/{next(_tests)}"
    os.environ[MARK] = mark
    try:
        yield
    finally:
        os.environ[MARK] = RUN
    name = request.node.name

    def ours(found: str) -> bool:
        return found == mark

    if request.node.stash.get(_failed, False) or reason is not None:
        # Not blamed: ended at once.
        if ended := end_marked(ours):
            why = f" ({LEAVES_PROCESSES}: {reason})" if reason is not None else ""
            print(f"\nended what {name} left running{why}:\n{_listed(ended)}", file=sys.stderr)
        return
    if left := still_running(ours):
        ended = end_marked(ours) or left
        pytest.fail(
            f"{len(ended)} processes outlived {name}, which passed (now ended; a test ends what"
            f" it starts, or says why it cannot with @pytest.mark.{LEAVES_PROCESSES}(reason=...)):"
            f"\n{_listed(ended)}",
            pytrace=False,
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After every fixture's teardown (pytest's runner tears the session down first): what the
    run's module and session fixtures left running is ended, and fails the run."""
    if not still_running(of_run(RUN)):
        return
    ended = end_marked(of_run(RUN))
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    title = f"{len(ended)} processes outlived the test run (now ended; the run fails)"
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        print(f"{title}:\n{_listed(ended)}", file=sys.stderr)
        return
    reporter.write_sep("=", title, red=True)
    reporter.write_line(_listed(ended))
