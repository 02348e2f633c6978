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
from tests.integration.cluster import delete_namespaces, get_json, kubectl
from tests.stack_files import ROOT
from tests.waiting import wait_until
from workbench import settings

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


def test_a_start_without_room_on_the_disk_names_it() -> None:
    """Asked for more free space than the disk has, a start fails at once naming the disk, before
    it changes anything (the running node stays healthy)."""
    started = subprocess.run(
        [NODE, "start"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "VOTING_APP_NODE_MIN_FREE_PERCENT": "101"},
    )
    assert started.returncode == 1, started.stdout + started.stderr
    assert "GiB are free on /" in started.stderr, started.stderr
    assert "a start needs 101%" in started.stderr, started.stderr


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


def _volumes() -> dict[str, tuple[str, str | None, bool]]:
    """The node's static volumes: name -> (phase, bound claim, on its way out)."""
    found = get_json("pv", "-l", settings.REAL_NODE_SELECTOR)["items"]
    return {
        volume["metadata"]["name"]: (
            volume["status"]["phase"],
            (volume["spec"].get("claimRef") or {}).get("name"),
            "deletionTimestamp" in volume["metadata"],
        )
        for volume in found
    }


CLAIMED = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: kept, namespace: NAMESPACE}
spec:
  storageClassName: CLASS
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: holder, namespace: NAMESPACE}
spec:
  containers:
    - {name: holder, image: IMAGE, volumeMounts: [{name: data, mountPath: /data}]}
  volumes: [{name: data, persistentVolumeClaim: {claimName: kept}}]
"""


def test_a_killed_kubelet_restarts_the_node_and_its_volumes_stay(images: dict[str, str]) -> None:
    """The kubelet gone, the supervisor stops containerd too: the health check names it, the next
    start restarts the whole node, and the node's volumes come back as they were: a bound one
    still bound to its claim, none left on its way out, none missing."""
    namespace = "it-node-volumes"
    before = _volumes()
    kubectl("create", "namespace", namespace)
    try:
        manifest = (
            CLAIMED.replace("NAMESPACE", namespace)
            .replace("CLASS", settings.LOCAL_STORAGE_CLASS)
            .replace("IMAGE", images["redis"])
        )
        kubectl("apply", "-f", "-", input=manifest)
        kubectl("wait", "pod/holder", "-n", namespace, "--for=condition=Ready", "--timeout=100s")
        bound = {name for name, (_, claim, _) in _volumes().items() if claim == "kept"}
        assert len(bound) == 1, _volumes()
        (kubelet,) = _pids(f"kubelet --config {node_env()['NODE_DIR']}")
        os.kill(kubelet, signal.SIGKILL)
        wait_until(
            "the health check to name the kubelet", lambda: "kubelet:" in _health().stdout, 60
        )
        _restored_by_a_start("kubelet")
        after = _volumes()
        assert set(after) == set(before), (before, after)
        assert not [name for name, (_, _, leaving) in after.items() if leaving], after
        assert {name for name, (_, claim, _) in after.items() if claim == "kept"} == bound, after
        print(f"volumes after the restart: {sorted(after.items())}")
    finally:
        delete_namespaces(namespace)
        # A start gives the volume, its claim gone, back to the tests after this one.
        _run(CLUSTER, "start", "--real-node")
