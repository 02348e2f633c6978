"""The production features, proven with the real scheduler, controller manager and quota admission
of the local control plane (pods SIMULATED by kwok, and so is their cpu use): spreading over nodes
and zones, the autoscaler scaling vote under load and back, the derived quota at its largest
scale, and moving db to a StatefulSet.

One stack serves the first three (dev, on nodes of the test's own in two zones): vote autoscaled
from 2 to 4 pods, spreading required over nodes and zones.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cluster import get_json, kubectl, live, require_cluster
from tests.integration.workspace import StackUnderTest, throwaway_stack
from tests.quantities import millicores, size_bytes
from tests.waiting import wait_until
from tools.lib.project_copy import StackConfig

pytestmark = pytest.mark.integration

ZONE = "topology.kubernetes.io/zone"
# The test's nodes: two zones of two nodes, managed by kwok like the cluster's own.
ZONED_NODES = {
    "it-zone-a-1": "zone-a",
    "it-zone-a-2": "zone-a",
    "it-zone-b-1": "zone-b",
    "it-zone-b-2": "zone-b",
}
VOTE_SCALE = {
    "minReplicas": 2,
    "maxReplicas": 4,
    "cpuUtilization": 50,
    "scaleDownStabilizationSeconds": 15,
}
# kwok reports a pod's cpu use from this annotation (workbench/control-plane/cluster); pods
# without it use 1m.
USAGE = "kwok.x-k8s.io/usage-cpu"


def _node(name: str, zone: str, address: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                "kwok.x-k8s.io/node": "fake",
                "metrics.k8s.io/resource-metrics-path": f"/metrics/nodes/{name}/metrics/resource",
            },
            "labels": {"kubernetes.io/hostname": name, ZONE: zone, "type": "kwok"},
        },
        "status": {"addresses": [{"type": "InternalIP", "address": address}]},
    }


@pytest.fixture(scope="module")
def zoned_nodes() -> Iterator[dict[str, str]]:
    require_cluster()
    for number, (name, zone) in enumerate(ZONED_NODES.items()):
        kubectl("apply", "-f", "-", input=json.dumps(_node(name, zone, f"127.0.0.{101 + number}")))
    kubectl("wait", "--for=condition=Ready", *(f"node/{n}" for n in ZONED_NODES), "--timeout=60s")
    try:
        yield ZONED_NODES
    finally:
        kubectl("delete", "node", *ZONED_NODES, "--ignore-not-found", "--wait=false", check=False)


def _autoscaled_and_spread(config: StackConfig) -> None:
    vote = config["voting-app:vote"]
    vote.pop("replicas", None)
    vote["autoscaling"] = dict(VOTE_SCALE)
    config["voting-app:spread"] = {"hostname": "DoNotSchedule", "zone": "DoNotSchedule"}


@dataclass
class App:
    test: StackUnderTest
    zones: dict[str, str]  # the nodes of the test, and their zones

    @property
    def namespace(self) -> str:
        return self.test.namespace

    def pods(self, unit: str) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/name={unit}"
        return live(get_json("pods", "--namespace", self.namespace, "-l", selector)["items"])

    def replicas(self, unit: str) -> int:
        deployment = get_json("deployment", unit, "--namespace", self.namespace)
        return int(deployment["spec"]["replicas"])


@pytest.fixture(scope="module")
def app(zoned_nodes: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    workdir: Path = tmp_path_factory.mktemp("production")
    with throwaway_stack("dev", workdir, edit=_autoscaled_and_spread) as test:
        test.up()
        yield App(test, zoned_nodes)


def _placement(pods: list[dict[str, Any]]) -> dict[str, str]:
    """pod -> the node the scheduler bound it to."""
    return {pod["metadata"]["name"]: pod["spec"].get("nodeName", "") for pod in pods}


def _assert_spread(app: App, placement: dict[str, str]) -> Counter[str]:
    nodes = list(placement.values())
    assert all(nodes), f"unscheduled: {placement}"
    # Required zone spread: only nodes with a zone label qualify, and the zones differ by <= 1.
    assert set(nodes) <= set(app.zones), placement
    zones = Counter(app.zones[node] for node in nodes)
    assert max(zones.values()) - min(zones.get(z, 0) for z in set(app.zones.values())) <= 1, zones
    # Required node spread: no node has two while a zoned node has none.
    per_node = Counter(nodes)
    assert max(per_node.values()) - min(per_node.get(n, 0) for n in app.zones) <= 1, per_node
    return zones


def test_the_scheduler_spreads_vote_over_zones_and_nodes(app: App) -> None:
    # A new Deployment under an autoscaler starts with one pod (it declares no count); the
    # autoscaler's first pass (every 15 s) raises it to the minimum.
    least = VOTE_SCALE["minReplicas"]
    wait_until("the autoscaler's minimum", lambda: len(app.pods("vote")) == least, 60, 5)
    placement = _placement(app.pods("vote"))
    assert len(placement) == VOTE_SCALE["minReplicas"]
    zones = _assert_spread(app, placement)
    print(f"\nvote at its minimum: {placement} (per zone {dict(zones)})")


def test_the_autoscaler_scales_vote_up_under_load_and_back_down(app: App) -> None:
    """SIMULATED load: every vote pod reports 150m of cpu (three times its 50m request, six times
    the 25m the autoscaler aims at), so the real HPA controller scales to the maximum; then 1m,
    and it scales back to the minimum after its 15 s scale-down window."""
    started = time.monotonic()
    counts: list[tuple[int, int]] = []

    def under_load(cpu: str, done: Callable[[int], bool]) -> Callable[[], bool]:
        """`done` of vote's replicas, read once after each pass that gives every vote pod `cpu`
        of simulated use: the count recorded is the one judged (the autoscaler may move between
        two reads)."""

        def load_then_check() -> bool:
            # New pods get the same load as they appear (bounded: one pass per 5 s).
            for pod in app.pods("vote"):
                if pod["metadata"].get("annotations", {}).get(USAGE) != cpu:
                    kubectl(
                        "annotate",
                        "pod",
                        pod["metadata"]["name"],
                        f"{USAGE}={cpu}",
                        "--overwrite",
                        "--namespace",
                        app.namespace,
                        check=False,
                    )
            replicas = app.replicas("vote")
            counts.append((round(time.monotonic() - started), replicas))
            return done(replicas)

        return load_then_check

    top = VOTE_SCALE["maxReplicas"]
    at_top = under_load("150m", lambda replicas: replicas == top)
    wait_until("scale up to the maximum", at_top, 240, 5)
    wait_until("every pod scheduled", lambda: len(app.pods("vote")) == top, 60, 5)
    placement = _placement(app.pods("vote"))
    zones = _assert_spread(app, placement)
    print(f"\nvote at its maximum: {placement} (per zone {dict(zones)})")
    bottom = VOTE_SCALE["minReplicas"]
    at_bottom = under_load("1m", lambda replicas: replicas == bottom)
    wait_until("scale down to the minimum", at_bottom, 240, 5)
    print(f"vote replicas over time (s, replicas): {counts}")
    assert max(count for _, count in counts) == top
    assert counts[-1][1] == bottom
    # Pulumi declared no count: an up now changes nothing and does not touch the scale.
    result = app.test.up()
    assert set(result.summary.resource_changes or {}) == {"same"}
    assert app.replicas("vote") == bottom


def _quota(app: App) -> dict[str, Any]:
    quota: dict[str, Any] = get_json("resourcequota", "app-quota", "--namespace", app.namespace)
    return dict(quota["status"])


def _extra_pod(name: str) -> dict[str, Any]:
    """A pod outside the app that sets no resources: the LimitRange gives it the smallest unit's."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [{"name": "extra", "image": "example/extra:1"}],
        },
    }


def test_at_its_largest_scale_the_app_rolls_out_and_the_quota_refuses_more(app: App) -> None:
    def at_maximum(config: StackConfig) -> None:
        config["voting-app:vote"]["autoscaling"]["minReplicas"] = VOTE_SCALE["maxReplicas"]
        config["voting-app:optionA"] = "Tacos"  # and roll every vote pod out at that scale

    app.test.edit_config(at_maximum)
    app.test.up()  # awaits the rollout: every new pod Ready, every Deployment Available
    top = VOTE_SCALE["maxReplicas"]
    wait_until("vote at its new minimum", lambda: app.replicas("vote") == top, 120, 3)

    status = _quota(app)
    limits = get_json("limitrange", "app-limits", "--namespace", app.namespace)["spec"]
    (bounds,) = limits["limits"]
    per_pod = {
        "pods": 1.0,
        "requests.cpu": millicores(bounds["defaultRequest"]["cpu"]),
        "requests.memory": size_bytes(bounds["defaultRequest"]["memory"]),
        "limits.cpu": millicores(bounds["default"]["cpu"]),
        "limits.memory": size_bytes(bounds["default"]["memory"]),
    }

    def free(key: str) -> float:
        parse = millicores if key.endswith("cpu") else size_bytes if "memory" in key else float
        return parse(status["hard"][key]) - parse(status["used"][key])

    fits = min(int(free(key) // need) for key, need in per_pod.items())
    print(
        f"\nquota at vote's maximum: used {status['used']}, hard {status['hard']};"
        f" room for {fits} pod(s) of the LimitRange's default size"
    )
    names = [f"extra-{number}" for number in range(fits + 1)]
    try:
        for name in names[:-1]:
            kubectl(
                "apply", "--namespace", app.namespace, "-f", "-", input=json.dumps(_extra_pod(name))
            )
        refused = kubectl(
            "apply",
            "--namespace",
            app.namespace,
            "-f",
            "-",
            input=json.dumps(_extra_pod(names[-1])),
            check=False,
        )
        assert refused.returncode != 0
        assert "exceeded quota: app-quota" in refused.stderr, refused.stderr
        print(f"pod {fits + 1} refused: {refused.stderr.strip()}")
    finally:
        kubectl(
            "delete",
            "pod",
            *names,
            "--namespace",
            app.namespace,
            "--ignore-not-found",
            "--wait=false",
            check=False,
        )


def test_switching_db_to_a_stateful_set_previews_what_it_does(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    require_cluster()

    def claim_storage(config: StackConfig) -> None:
        config["voting-app:db"]["storage"] = {"type": "persistentVolumeClaim", "size": "1Gi"}

    workdir: Path = tmp_path_factory.mktemp("stateful")
    # Node ports of its own: the module's other stack may still be deployed.
    ports = {"vote": 30144, "result": 30145}
    with throwaway_stack("dev", workdir, node_ports=ports, edit=claim_storage) as test:
        test.up()
        namespace = test.namespace
        service_uid = get_json("service", "db", "--namespace", namespace)["metadata"]["uid"]
        test.edit_config(lambda config: config["voting-app:db"].update(workload="StatefulSet"))

        preview = test.preview()
        changes = {kind: n for kind, n in preview.change_summary.items() if kind != "same"}
        # + StatefulSet db; - Deployment db, - claim db-data; the Service and account stay.
        assert changes == {"create": 1, "delete": 2}, preview.change_summary
        for line in (
            "kubernetes:apps/v1:StatefulSet",
            "kubernetes:apps/v1:Deployment",
            "kubernetes:core/v1:PersistentVolumeClaim",
        ):
            assert line in preview.stdout, preview.stdout
        assert "replace" not in preview.stdout

        test.up()
        kubectl("rollout", "status", "statefulset/db", "--namespace", namespace, "--timeout=120s")
        assert get_json("service", "db", "--namespace", namespace)["metadata"]["uid"] == service_uid
        claims = {c["metadata"]["name"] for c in get_json("pvc", "--namespace", namespace)["items"]}
        assert claims == {"data-db-0"}
        assert (
            kubectl("get", "deployment", "db", "--namespace", namespace, check=False).returncode
            != 0
        )
