"""The real node's parts, killed right after a start, are named by its health check and restored by
the next `workbench/control-plane/cluster start --real-node`; never a silent hang. Runs before
test_stop_leaves_nothing (files run in name order), on the suite's own node."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.real_node import node_env
from tests.stack_files import ROOT
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e
CLUSTER = str(ROOT / "workbench" / "control-plane" / "cluster")
NODE = str(ROOT / "workbench" / "real-node" / "node")


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def _health() -> subprocess.CompletedProcess[str]:
    return _run(NODE, "health")


def _restored_by_a_start(component: str) -> None:
    started = _run(CLUSTER, "start", "--real-node")
    said = started.stdout + started.stderr
    assert started.returncode == 0, said[-3000:]
    assert _health().stdout.strip() == "healthy"
    print(f"\n{component} killed: the health check named it; the next start restored it")


def _pids(pattern: str) -> list[int]:
    found = _run("pgrep", "-f", pattern)
    return [int(pid) for pid in found.stdout.split()]


@pytest.mark.usefixtures("images")
def test_a_killed_kube_router_is_named_and_restored() -> None:
    assert _health().stdout.strip() == "healthy"
    pid = int(Path(node_env()["NODE_DIR"], "kube-router.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    health = wait_until("the health check to notice", lambda: _health().returncode == 1, 30)
    assert health
    assert "kube-router:" in _health().stdout
    _restored_by_a_start("kube-router")
    assert int(Path(node_env()["NODE_DIR"], "kube-router.pid").read_text()) != pid


@pytest.mark.usefixtures("images")
def test_a_killed_coredns_is_named_or_restored() -> None:
    """The kubelet restarts a killed container by itself (within its back-off): the check names
    CoreDNS while it is down, and the start waits until it answers again."""
    (pid,) = _pids("coredns -conf")
    os.kill(pid, signal.SIGKILL)
    named = wait_until(
        "the health check to name CoreDNS (or CoreDNS back already)",
        lambda: "coredns:" in _health().stdout or _pids("coredns -conf") not in ([], [pid]),
        30,
    )
    assert named
    _restored_by_a_start("coredns")
    assert _pids("coredns -conf") not in ([], [pid])
