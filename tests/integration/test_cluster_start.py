"""The local control plane's start, from nothing, in a cluster of its own (a second kwokctl
cluster beside the suite's, in a temporary directory, on ports kwokctl picks): each start ends
healthy (the API server ready, every component's process alive, the metrics API Available, the
simulated nodes Ready, MetalLB's controller running) or fails naming the component; a component
that dies right after a start is restored by the next start, or named by the health check; and a
stop leaves nothing (`cluster leftovers`).

kwokctl starts every component at once, so one that dials the API server before it listens may
die on the spot: metrics-server did, on a fresh machine, and then every namespace deletion hung.
One start here has an API server that is deliberately slow to come up (a wrapper that waits
before it runs the real binary), which makes that race certain."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.stack_files import ROOT

pytestmark = pytest.mark.integration
CLUSTER = str(ROOT / "workbench" / "control-plane" / "cluster")
STARTS_IN_A_ROW = 3
API_SERVER_DELAY_SECONDS = 15


@dataclass
class OwnCluster:
    directory: Path
    name: str

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "VOTING_APP_CLUSTER_DIR": str(self.directory),
            "VOTING_APP_CLUSTER_NAME": self.name,
            **extra,
        }

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLUSTER, *args],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=600,
        )

    def pid_file(self, binary: str) -> Path:
        if binary == "metallb-controller":  # run beside kwokctl's components, not by it
            return self.directory / "metallb.pid"
        return self.directory / "kwok" / "clusters" / self.name / "pids" / f"{binary}.pid"

    def processes(self) -> list[str]:
        """The processes of this cluster still running (their command lines name its directory)."""
        found = subprocess.run(
            ["pgrep", "-a", "-f", str(self.directory)], capture_output=True, text=True
        )
        return found.stdout.splitlines()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[OwnCluster]:
    cluster = OwnCluster(tmp_path / "cluster", f"start-test-{os.getpid()}")
    try:
        yield cluster
    finally:
        cluster.run("stop")


def _started(cluster: OwnCluster, **extra: str) -> tuple[float, str]:
    started = time.monotonic()
    result = cluster.run("start", **extra)
    took = time.monotonic() - started
    said = result.stdout + result.stderr
    assert result.returncode == 0, said[-3000:]
    health = cluster.run("health")
    assert health.returncode == 0, f"start succeeded, yet: {health.stdout}{health.stderr}"
    assert health.stdout.strip() == "healthy"
    return took, said


def test_a_cluster_started_from_nothing_is_healthy_every_time(own_cluster: OwnCluster) -> None:
    figures = []
    for attempt in range(1, STARTS_IN_A_ROW + 1):
        took, said = _started(own_cluster)
        restarts = said.count("==> not healthy; restart ")
        figures.append(f"{took:.1f}s ({restarts} restarts)")
        stopped = own_cluster.run("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert own_cluster.processes() == [], f"start {attempt}: left running after the stop"
        left = own_cluster.run("leftovers")
        assert left.returncode == 0, f"start {attempt}: left after the stop:\n{left.stdout}"
    print(f"\n{STARTS_IN_A_ROW} starts from nothing, each healthy: {', '.join(figures)}")


def test_a_slow_api_server_does_not_leave_a_dead_component(
    own_cluster: OwnCluster, tmp_path: Path
) -> None:
    real = _kube_bin() / "kube-apiserver"
    slow = tmp_path / "slow-bin" / "kube-apiserver"
    slow.parent.mkdir()
    slow.write_text(f'#!/bin/sh\nsleep {API_SERVER_DELAY_SECONDS}\nexec "{real}" "$@"\n')
    slow.chmod(0o755)
    took, said = _started(own_cluster, VOTING_APP_KUBE_APISERVER_BINARY=str(slow))
    print(
        f"\nAPI server {API_SERVER_DELAY_SECONDS}s late: healthy after {took:.1f}s,"
        f" {said.count('==> not healthy; restart ')} restarts; said:\n"
        + "\n".join(line for line in said.splitlines() if "restart" in line or ": " in line)
    )


@pytest.mark.parametrize("component", ["metrics-server", "metallb-controller"])
def test_a_dead_component_is_named_then_restored(own_cluster: OwnCluster, component: str) -> None:
    _started(own_cluster)
    pid = int(own_cluster.pid_file(component).read_text())
    os.kill(pid, signal.SIGKILL)
    health = own_cluster.run("health")
    assert health.returncode == 1
    assert f"{component}: its process is not running" in health.stdout
    took, said = _started(own_cluster)
    assert f"{component}: its process is not running" in said
    assert int(own_cluster.pid_file(component).read_text()) != pid
    print(f"\n{component} killed: health named it; the next start restored it in {took:.1f}s")


def _kube_bin() -> Path:
    found = subprocess.run(
        ["bash", "-c", f'source "{ROOT}/workbench/lib.sh" && tool_dir kubernetes'],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(found.stdout.strip()) / "bin"
