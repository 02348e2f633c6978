"""The reachability matrix of a deployed app: what NetworkPolicies derived from a traffic graph
should allow, and probes that measure what they do allow.

Sources are probe pods that carry each unit's selector labels (so every policy treats them as that
unit), a pod in a namespace of its own (OUTSIDE), and the node itself. Targets are the units'
Services (ClusterIP and port, the way the units dial each other), plus the cluster DNS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.app.traffic import OUTSIDE, Edge
from tests.e2e import probe
from tests.e2e.real_node import OnRealNode
from tests.integration.cluster import get_json, kubectl
from tests.waiting import wait_until
from workbench import settings

NODE = "node"
DNS = "dns"
# Each probe is bounded: a connection or DNS query not answered in this time counts as refused.
PROBE_TIMEOUT = 2.0
PROBE_SCRIPT = Path(probe.__file__).read_text()
PROBE_LIFETIME = 900  # seconds: a probe pod left behind by a killed test ends by itself

Matrix = dict[str, dict[str, bool]]

# The shipped graph's matrix, written by hand (not derived from TRAFFIC_GRAPH): the derivation
# below is held to it by a unit test (tests/test_expected_reachability.py), and what the probes
# observe on the real node by the end-to-end test. Rows: from; columns: to.
SHIPPED = """
from \\ to  db     redis  result  vote   dns
vote       no     yes    no      no     yes
result     yes    no     no      no     yes
worker     yes    yes    no      no     yes
redis      no     no     no      no     no
db         no     no     no      no     no
outside    no     no     yes     yes    yes
node       yes    yes    yes     yes    yes
"""


def parse_matrix(table: str) -> Matrix:
    """A matrix written as `format_matrix` prints it, with yes/no cells."""
    header, *rows = (line.split() for line in table.strip().splitlines())
    columns = header[3:]  # after "from \\ to"
    matrix: Matrix = {}
    for source, *cells in rows:
        if len(cells) != len(columns) or set(cells) - {"yes", "no"}:
            raise ValueError(f"row {source!r}: expected yes/no for each of {columns}, got {cells}")
        matrix[source] = dict(zip(columns, (cell == "yes" for cell in cells), strict=True))
    return matrix


SHIPPED_MATRIX = parse_matrix(SHIPPED)


def expected_matrix(edges: Sequence[Edge], units: Sequence[str], targets: Sequence[str]) -> Matrix:
    """What policies derived from `edges` allow, from each source to each target (and DNS):
    - a unit reaches a target only along an edge: its egress lists exactly its edges out, and
      the target's ingress its edges in (an edge from OUTSIDE admits every source, but the
      dialing unit's own egress still has to allow it);
    - a pod of another namespace (under no policy of its own) reaches the OUTSIDE edges' targets;
    - the node reaches everything: Kubernetes always allows traffic from a pod's node (the
      kubelet's probes come from there);
    - DNS: exactly the units with an edge out (they dial peers by name); OUTSIDE and the node
      are not under the app's policies."""
    matrix: Matrix = {}
    for unit in units:
        out = {edge.target for edge in edges if edge.source == unit}
        matrix[unit] = {target: target in out for target in targets} | {DNS: bool(out)}
    open_to_all = {edge.target for edge in edges if edge.source == OUTSIDE}
    matrix[OUTSIDE] = {target: target in open_to_all for target in targets} | {DNS: True}
    matrix[NODE] = dict.fromkeys(targets, True) | {DNS: True}
    return matrix


def format_matrix(observed: Mapping[str, Mapping[str, str]]) -> str:
    columns = list(next(iter(observed.values())))
    corner = "from \\ to"
    width = max(len(name) for name in [*observed, *columns, corner, probe.TIMEOUT]) + 2
    lines = [corner.ljust(width) + "".join(column.ljust(width) for column in columns)]
    for source, row in observed.items():
        cells = "".join(row[column].split(" (")[0].ljust(width) for column in columns)
        lines.append(source.ljust(width) + cells)
    return "\n".join(lines)


@dataclass(frozen=True)
class Targets:
    services: dict[str, tuple[str, int]]  # unit -> (ClusterIP, port)
    dns_name: str  # a Service's name in the cluster DNS

    def arguments(self) -> list[str]:
        return [
            str(PROBE_TIMEOUT),
            settings.SETTINGS["DNS_IP"],
            self.dns_name,
            *(f"{unit}={ip}:{port}" for unit, (ip, port) in self.services.items()),
        ]


def targets_of(app: OnRealNode) -> Targets:
    services = {
        service["metadata"]["name"]: (
            service["spec"]["clusterIP"],
            service["spec"]["ports"][0]["port"],
        )
        for service in app.get("services")["items"]
    }
    some_service = sorted(services)[0]
    return Targets(services, f"{some_service}.{app.namespace}.svc.cluster.local")


def probe_pod(
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    image: str,
    owner: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A pod that only waits, to exec probes from. Labelled as a unit, it is that unit to every
    NetworkPolicy; a controller reference (to `owner`) keeps the unit's ReplicaSet from adopting
    it, and a readiness gate nothing sets keeps it out of the unit's Service."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {**labels, "voting-app/probe": "true"},
    }
    if owner is not None:
        metadata["ownerReferences"] = [{**owner, "controller": True}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "readinessGates": [{"conditionType": "voting-app/never"}],
            "terminationGracePeriodSeconds": 1,
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10999,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "probe",
                    "image": image,
                    "command": ["python3", "-c", f"import time; time.sleep({PROBE_LIFETIME})"],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    # Small requests: the probes fit in the headroom the app's quota keeps for
                    # a rollout (components/app/footprint.py), which they use while they run.
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"cpu": "100m", "memory": "64Mi"},
                    },
                }
            ],
        },
    }


def _apply(document: Mapping[str, Any]) -> None:
    kubectl("apply", "-f", "-", input=json.dumps(document))


@contextmanager
def probe_pods(app: OnRealNode, units: Sequence[str], image: str) -> Iterator[dict[str, str]]:
    """Running probe pods, source -> "namespace/pod": one labelled as each unit, one in a namespace
    of its own (OUTSIDE). Everything is deleted afterwards."""
    outside = f"{app.namespace}-outside"
    anchor = f"{app.namespace}-probes"  # the probes' owner: deleting it collects them
    _apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": outside}})
    _apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": anchor, "namespace": app.namespace},
        }
    )
    config_map = app.get("configmap", anchor)
    owner = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": anchor,
        "uid": config_map["metadata"]["uid"],
    }
    pods: dict[str, str] = {}
    try:
        for unit in units:
            selector = app.get("deployment", unit)["spec"]["selector"]["matchLabels"]
            name = f"probe-as-{unit}"
            _apply(probe_pod(name, app.namespace, selector, image, owner))
            pods[unit] = f"{app.namespace}/{name}"
        _apply(probe_pod("probe-outside", outside, {}, image))
        pods[OUTSIDE] = f"{outside}/probe-outside"
        for pod in pods.values():
            wait_until(f"probe pod {pod} running", lambda pod=pod: _running(pod), timeout=120)
        yield pods
    finally:
        kubectl("delete", "namespace", outside, "--ignore-not-found", "--wait=false", check=False)
        here = ("--namespace", app.namespace)
        kubectl("delete", "configmap", anchor, *here, "--ignore-not-found", check=False)
        kubectl("delete", "pods", "-l", "voting-app/probe", *here, check=False)


def _running(pod: str) -> bool:
    namespace, name = pod.split("/")
    status = get_json("pod", "--namespace", namespace, name)["status"]
    statuses = status.get("containerStatuses") or []
    return bool(statuses) and "running" in statuses[0]["state"]


def observe_from_pod(pod: str, targets: Targets) -> dict[str, str]:
    namespace, name = pod.split("/")
    command = ("python3", "-", *targets.arguments())
    result = kubectl("exec", "-i", "-n", namespace, name, "--", *command, input=PROBE_SCRIPT)
    row: dict[str, str] = json.loads(result.stdout)
    return row


def observe_from_node(targets: Targets) -> dict[str, str]:
    return probe.probe(
        targets.services, settings.SETTINGS["DNS_IP"], targets.dns_name, PROBE_TIMEOUT
    )


def is_open(result: str) -> bool:
    return result == probe.OPEN
