"""The harness's promise that no process outlives a test (tests/conftest.py), held by inner pytest
runs of small tests that leave, end or are allowed to leave a process: a test that passed but left
one fails, a process left by a session fixture fails the run, and nothing is left either way."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.processes import MARK, marked
from tests.stack_files import ROOT

# Each test leaves (or ends) a `sleep` of its own length, to be found by it.
TESTS = """
import subprocess

import pytest


def _leave(seconds):
    # A command that returns normally and leaves a child running, as a CLI can leave a plugin.
    subprocess.run(["bash", "-c", f"sleep {seconds} >/dev/null 2>&1 &"], check=True)


def test_leaves_a_child():
    _leave(301)


def test_ends_its_child():
    child = subprocess.Popen(["sleep", "302"])
    child.terminate()
    child.wait()


def test_a_child_that_ends_by_itself_is_not_left():
    _leave(0.3)


@pytest.mark.leaves_processes(reason="the inner test says why")
def test_allowed_with_a_reason():
    _leave(303)


@pytest.mark.leaves_processes
def test_allowed_without_a_reason():
    pass


def test_fails_and_leaves():
    _leave(304)
    assert False, "the test's own failure"
"""

SESSION_FIXTURE_LEAVES = """
import subprocess

import pytest


@pytest.fixture(scope="session")
def server():
    subprocess.run(["bash", "-c", "sleep 305 >/dev/null 2>&1 &"], check=True)


def test_uses_it(server):
    pass
"""


def _start(directory: Path, source: str) -> subprocess.Popen[str]:
    """pytest on `source` with the project's harness (tests/conftest.py) as a plugin."""
    directory.mkdir()
    (directory / "test_inner.py").write_text(source)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            "-s",
            f"--junitxml={directory / 'report.xml'}",
            str(directory),
        ],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """Test name -> (what went wrong: failure, error or "", with its message)."""
    found = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        problems = [child for child in case if child.tag in ("failure", "error")]
        found[case.attrib["name"]] = (
            ",".join(child.tag for child in problems),
            " ".join(child.attrib.get("message", "") for child in problems),
        )
    return found


def test_a_passing_test_that_leaves_a_process_fails_and_a_run_that_leaves_one_fails(
    tmp_path: Path,
) -> None:
    ours = os.environ[MARK]  # the inner runs' processes carry marks below this test's own
    tests = _start(tmp_path / "tests", TESTS)
    session = _start(tmp_path / "session", SESSION_FIXTURE_LEAVES)
    tests_output, _ = tests.communicate(timeout=120)
    session_output, _ = session.communicate(timeout=120)

    outcomes = _outcomes(tmp_path / "tests" / "report.xml")
    assert tests.returncode == 1, tests_output
    left, message = outcomes["test_leaves_a_child"]
    assert left == "error", tests_output
    assert "1 processes outlived test_leaves_a_child, which passed" in message, message
    assert "sleep 301" in message, message
    assert outcomes["test_ends_its_child"] == ("", "")
    assert outcomes["test_a_child_that_ends_by_itself_is_not_left"] == ("", "")
    assert outcomes["test_allowed_with_a_reason"] == ("", "")
    assert "(leaves_processes: the inner test says why)" in tests_output
    assert "sleep 303" in tests_output
    unexplained, message = outcomes["test_allowed_without_a_reason"]
    assert unexplained == "error"
    assert "@pytest.mark.leaves_processes needs a reason" in message, message
    # Its own failure says what went wrong; what it left is ended, not blamed as well.
    failed, message = outcomes["test_fails_and_leaves"]
    assert failed == "failure"
    assert "the test's own failure" in message, message

    assert session.returncode == 1, session_output
    assert _outcomes(tmp_path / "session" / "report.xml") == {"test_uses_it": ("", "")}
    assert "1 processes outlived the test run (now ended; the run fails)" in session_output
    assert "sleep 305" in session_output

    assert marked(lambda mark: mark.startswith(f"{ours}/")) == []
