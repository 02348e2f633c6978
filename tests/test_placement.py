"""tools/lib/placement.py without a cluster: which pods of a real-node stack it moves back to the
real node, what it says, and when its wait is over (a kubectl that plays the controllers)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

import pytest

from tools.lib import placement
from workbench import settings

REAL = settings.NODE_NAME
SIMULATED = "node-000000"


def _pod(
    name: str, node: str | None, controller: str | None = "ReplicaSet/vote-1", uid: str = ""
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "uid": uid or f"uid-{name}"}
    if controller is not None:
        kind, owner = controller.split("/")
        metadata["ownerReferences"] = [{"kind": kind, "name": owner, "controller": True}]
    return {"metadata": metadata, "spec": {"nodeName": node} if node else {}}


@dataclass
class Cluster:
    """The pods of one namespace and the nodes. A deleted pod is listed once more on its way
    out, then gone; its controller's new pod is bound to the real node `delay` listings later
    (as a ReplicaSet and the scheduler would)."""

    pods: list[dict[str, Any]]
    delay: int = 1
    real_nodes: tuple[str, ...] = (REAL,)
    deleted: list[str] = field(default_factory=list)
    _due: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _gone: set[str] = field(default_factory=set)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        if args[:2] == ("get", "nodes"):
            assert args[2:] == ("--selector", settings.REAL_NODE_SELECTOR, "-o", "json"), args
            nodes = [{"metadata": {"name": name}} for name in self.real_nodes]
            return subprocess.CompletedProcess(args, 0, json.dumps({"items": nodes}), "")
        if args[:2] == ("get", "pods"):
            self.pods = [pod for pod in self.pods if pod["metadata"]["name"] not in self._gone]
            self._gone = {
                p["metadata"]["name"] for p in self.pods if "deletionTimestamp" in p["metadata"]
            }
            self._due = [(left - 1, pod) for left, pod in self._due]
            self.pods += [pod for left, pod in self._due if left <= 0]
            self._due = [(left, pod) for left, pod in self._due if left > 0]
            return subprocess.CompletedProcess(args, 0, json.dumps({"items": self.pods}), "")
        if args[:2] == ("delete", "pods"):
            names = [arg for arg in args[2:] if not arg.startswith("-") and arg != "ns"]
            self.deleted += names
            for pod in [pod for pod in self.pods if pod["metadata"]["name"] in names]:
                # Listed once more on its way out, then gone.
                pod["metadata"]["deletionTimestamp"] = "2026-12-07T00:00:00Z"
                owner = pod["metadata"]["ownerReferences"][0]
                new = _pod(
                    f"{pod['metadata']['name']}-new", REAL, f"{owner['kind']}/{owner['name']}"
                )
                self._due.append((self.delay, new))
            return subprocess.CompletedProcess(args, 0, "", "")
        raise AssertionError(f"unexpected kubectl {args}")


def _move(cluster: Cluster, timeout: float = 5) -> tuple[float | None, list[str]]:
    said: list[str] = []
    took = placement.move_to_real_node(cluster, "ns", timeout=timeout, say=said.append)
    return took, said


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placement, "POLL_SECONDS", 0.01)


def test_pods_on_the_real_node_or_waiting_for_one_are_left_alone() -> None:
    cluster = Cluster([_pod("vote-a", REAL), _pod("worker-a", None, "ReplicaSet/worker-1")])
    assert _move(cluster) == (None, [])
    assert cluster.deleted == []


def test_pods_on_a_simulated_node_are_deleted_and_waited_for_on_the_real_node() -> None:
    cluster = Cluster(
        [
            _pod("vote-a", SIMULATED),
            _pod("vote-b", REAL),
            _pod("db-0", "node-000001", "StatefulSet/db"),
        ],
        delay=3,
    )
    took, said = _move(cluster)
    assert cluster.deleted == ["vote-a", "db-0"]
    assert took is not None
    assert said[0] == (
        "==> 2 pods of ns found on simulated nodes (node-000000, node-000001), placed there while"
        " the real node was away: deleted, for their controllers to start them again on the real"
        " node"
    )
    # The wait names what it waits for, then says it is over.
    assert said[1] == (
        "    waiting (0 s): 2 old pods still going, replicaset/vote-1 1 of 2 on the real node,"
        " statefulset/db 0 of 1 on the real node"
    )
    assert said[-1].startswith("    on the real node (")
    nodes = {pod["metadata"]["name"]: pod["spec"]["nodeName"] for pod in cluster.pods}
    assert nodes == {"vote-b": REAL, "vote-a-new": REAL, "db-0-new": REAL}


def test_a_pod_without_a_controller_is_named_and_left() -> None:
    cluster = Cluster([_pod("probe", SIMULATED, controller=None)])
    took, said = _move(cluster)
    assert took is None
    assert cluster.deleted == []
    assert said[1] == "    left: pod probe (no controller would start it again)"


def test_a_pod_already_on_its_way_out_is_not_deleted_again() -> None:
    leaving = _pod("vote-a", SIMULATED)
    leaving["metadata"]["deletionTimestamp"] = "2026-12-07T00:00:00Z"
    assert _move(Cluster([leaving])) == (None, [])


def test_a_move_that_does_not_finish_names_what_it_waited_for() -> None:
    cluster = Cluster([_pod("vote-a", SIMULATED)], delay=10**6)
    with pytest.raises(RuntimeError, match=r"replicaset/vote-1 0 of 1 on the real node"):
        _move(cluster, timeout=0.05)


def test_without_a_real_node_nothing_is_deleted() -> None:
    cluster = Cluster([_pod("vote-a", SIMULATED)], real_nodes=())
    with pytest.raises(RuntimeError, match="no real node"):
        _move(cluster)
    assert cluster.deleted == []
