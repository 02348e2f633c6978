"""Runs last: starting the real node again changes nothing, and stopping it leaves nothing of it
on the machine."""

from __future__ import annotations

import subprocess

import pytest

from tests.stack_files import ROOT

pytestmark = pytest.mark.e2e
NODE = str(ROOT / "workbench" / "real-node" / "node")


def _supervisor() -> str:
    return (ROOT / ".cluster" / "node" / "supervisor.pid").read_text().strip()


def test_starting_the_running_node_again_changes_nothing() -> None:
    before = _supervisor()
    again = subprocess.run([NODE, "start"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert _supervisor() == before


def test_stopping_the_real_node_leaves_nothing_behind() -> None:
    # No process, cgroup, KUBE-/CNI- netfilter rule, bridge or veth, changed sysctl, mount-point
    # directory or registry of the node's (mounts lived only in its own mount namespace).
    stopped = subprocess.run([NODE, "stop"], capture_output=True, text=True, timeout=300)
    assert stopped.returncode == 0, stopped.stderr
    left = subprocess.run([NODE, "leftovers"], capture_output=True, text=True, timeout=60)
    print(left.stdout)
    assert left.returncode == 0, f"left on the machine:\n{left.stdout}"
    assert "nothing of the real node is left" in left.stdout
