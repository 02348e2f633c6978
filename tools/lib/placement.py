"""A real-node stack's pods back on the real node: what `tools/up` does before its rollout wait
when it finds pods of its stack on a simulated node.

    python -m tools.lib.placement STACK [--context CONTEXT] [--timeout S]

How they get there: the local cluster has kwok's simulated nodes beside the real one, and
`workbench/real-node/node schedule` says which of them take new pods (the others cordoned).
When the real node stops under a control plane that keeps running (`workbench/real-node/node
stop`: the end of tools/test, the end-to-end suite's own stop), its Node object is deleted and
the simulated nodes take new pods again. The pod garbage collector deletes the pods bound to the
node that is gone (40 to 80 s later: its quarantine), and their ReplicaSets start them again on a
simulated node, where kwok reports them Running though no container runs. A later start of the
real node cordons the simulated nodes, which holds back only new pods: those stay, and nothing of
the stack changed for `pulumi up` to see.

So each pod of the stack's namespace bound to a node that is not the real node is deleted (its
ReplicaSet or StatefulSet starts it again, on the real node now), and this waits until the old
pods are gone and as many pods of each of their controllers are bound to the real node as there
were before; it says so on the terminal. A pod that no controller would start again is named and
left where it is. The containers' start is tools/lib/ready.py's wait, which follows.
Run with the environment of tools/up: `kubectl` on PATH and KUBECONFIG set.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tools.lib.ready import POLL_SECONDS, Kubectl, error_of, get_json, kubectl_in, progress
from tools.lib.stack_state import outputs
from workbench import settings

# Selects the real node (kwok's simulated nodes carry no such label).
REAL = settings.REAL_NODE_SELECTOR
MOVE_TIMEOUT = 180.0


@dataclass(frozen=True)
class Pod:
    name: str
    uid: str
    node: str | None  # None while it waits for the scheduler
    controller: str | None  # "kind/name" of the controller that starts it again, if any
    leaving: bool  # deleted, on its way out

    @classmethod
    def of(cls, item: dict[str, Any]) -> Pod:
        metadata = item["metadata"]
        controller = next(
            (
                f"{owner['kind'].lower()}/{owner['name']}"
                for owner in metadata.get("ownerReferences") or []
                if owner.get("controller")
            ),
            None,
        )
        return cls(
            metadata["name"],
            metadata["uid"],
            item.get("spec", {}).get("nodeName") or None,
            controller,
            "deletionTimestamp" in metadata,
        )


def _listed(kubectl: Kubectl, *args: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get_json(kubectl, *args)["items"]
    return items


def real_nodes(kubectl: Kubectl) -> set[str]:
    return {node["metadata"]["name"] for node in _listed(kubectl, "nodes", "--selector", REAL)}


def pods(kubectl: Kubectl, namespace: str) -> list[Pod]:
    return [Pod.of(item) for item in _listed(kubectl, "pods", "--namespace", namespace)]


def misplaced(found: Iterable[Pod], real: set[str]) -> list[Pod]:
    """The pods bound to a node other than the real node(s), not already on their way out."""
    return [
        pod for pod in found if pod.node is not None and pod.node not in real and not pod.leaving
    ]


def bound_per_controller(found: Iterable[Pod], real: set[str] | None = None) -> Counter[str]:
    """Per controller, how many of its pods are bound to a node (to one of `real`, if given) and
    not on their way out."""
    return Counter(
        pod.controller
        for pod in found
        if pod.controller is not None
        and pod.node is not None
        and (real is None or pod.node in real)
        and not pod.leaving
    )


def wanted_on_real_node(found: Iterable[Pod], moved: Iterable[Pod]) -> Counter[str]:
    """Per controller of a moved pod, how many of its pods the real node must hold for the move
    to be done: as many as were bound to any node before it."""
    bound = bound_per_controller(found)
    return Counter({pod.controller: bound[pod.controller] for pod in moved if pod.controller})


def still_to_move(
    now: Iterable[Pod], old: set[str], wanted: Counter[str], real: set[str]
) -> list[str]:
    """What the move still waits for: old pods (by uid) not gone yet, and controllers with fewer
    pods bound to the real node than `wanted`. Empty when it is done."""
    found = list(now)
    waiting = []
    going = sum(1 for pod in found if pod.uid in old)
    if going:
        waiting.append(f"{going} old pod{'s' if going > 1 else ''} still going")
    on_real = bound_per_controller(found, real)
    waiting += [
        f"{controller} {on_real[controller]} of {count} on the real node"
        for controller, count in sorted(wanted.items())
        if on_real[controller] < count
    ]
    return waiting


def move_to_real_node(
    kubectl: Kubectl,
    namespace: str,
    timeout: float = MOVE_TIMEOUT,
    say: Callable[[str], None] = print,
) -> float | None:
    """Moves the pods of `namespace` found on a node other than the real one to the real node;
    the seconds it took, or None when every pod was where it belongs. Raises RuntimeError when
    there is no real node, or the move does not finish within `timeout`."""
    real = real_nodes(kubectl)
    if not real:
        raise RuntimeError(
            "no real node in the cluster: workbench/control-plane/cluster start --real-node"
        )
    found = pods(kubectl, namespace)
    away = misplaced(found, real)
    if not away:
        return None
    movable = [pod for pod in away if pod.controller is not None]
    nodes = ", ".join(sorted({pod.node for pod in away if pod.node is not None}))
    say(
        f"==> {len(away)} pod{'s' if len(away) > 1 else ''} of {namespace} found on simulated"
        f" nodes ({nodes}), placed there while the real node was away: deleted, for their"
        " controllers to start them again on the real node"
    )
    for pod in away:
        if pod.controller is None:
            say(f"    left: pod {pod.name} (no controller would start it again)")
    if not movable:
        return None
    start = time.monotonic()
    wanted = wanted_on_real_node(found, movable)
    deleted = kubectl(
        "delete", "pods", "--namespace", namespace, "--wait=false", *(pod.name for pod in movable)
    )
    if deleted.returncode != 0:
        raise RuntimeError(f"cannot delete the pods on simulated nodes: {error_of(deleted)}")
    old = {pod.uid for pod in movable}
    said, said_at = "", start
    while True:
        waiting = still_to_move(pods(kubectl, namespace), old, wanted, real)
        elapsed = time.monotonic() - start
        if not waiting:
            say(f"    on the real node ({elapsed:.1f} s)")
            return elapsed
        line = ", ".join(waiting)
        if elapsed > timeout:
            raise RuntimeError(
                f"the pods of {namespace} are not back on the real node after {elapsed:.0f} s:"
                f" {line} (kubectl get pods --namespace {namespace} -o wide, and their events)"
            )
        said, said_at = progress(say, elapsed, line, said, said_at)
        time.sleep(POLL_SECONDS)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--context")
    parser.add_argument("--timeout", type=float, default=MOVE_TIMEOUT)
    args = parser.parse_args(argv)
    namespace = outputs(args.stack)["namespace"]
    try:
        move_to_real_node(kubectl_in(args.context), namespace, args.timeout)
    except RuntimeError as error:
        print(f"tools/up: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
