"""`pulumi up` for real, through the Automation API, against the local control plane.

Real: etcd, kube-apiserver (validation, admission, defaulting), kube-controller-manager,
kube-scheduler, the Pulumi CLI and the Kubernetes provider, and MetalLB's controller giving
prod's LoadBalancer Services their addresses. Simulated by kwok: nodes, pods becoming Ready (no
container runs) and volume binding; without the real node nothing answers on those addresses.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi.automation as auto
import pytest

from tests.integration.cluster import APP_KINDS, get_json, kubectl, require_cluster
from tests.integration.workspace import TEST_NODE_PORTS, StackUnderTest, throwaway_stack
from tests.waiting import wait_until
from workbench import settings

pytestmark = pytest.mark.integration
UNITS = {"vote", "result", "worker", "redis", "db"}
# MetalLB's pool on the local cluster (workbench/settings.env).
LOAD_BALANCER_POOL = ipaddress.ip_network(settings.LOAD_BALANCER_ADDRESSES)


@dataclass
class Deployed:
    test: StackUnderTest
    first_up: auto.UpResult

    @property
    def namespace(self) -> str:
        return self.test.namespace

    def get(self, *args: str) -> Any:
        return get_json(*args, "--namespace", self.namespace)


@pytest.fixture(scope="module", params=["dev", "prod"])
def deployed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    require_cluster()
    workdir: Path = tmp_path_factory.mktemp(request.param)
    with throwaway_stack(request.param, workdir) as test:
        deployed = Deployed(test, test.up())
        # A new autoscaled Deployment starts at the autoscaler's minimum (the wait holds that,
        # and lets the HPA controller's first pass, every 15 s, go by before tests read counts).
        wait_until("every autoscaled unit at its minimum", lambda: _at_minimum(deployed), 90, 2)
        yield deployed


def _at_minimum(deployed: Deployed) -> bool:
    targets = _deployments(deployed)
    return all(
        targets[hpa["spec"]["scaleTargetRef"]["name"]]["spec"]["replicas"]
        >= hpa["spec"].get("minReplicas", 1)
        for hpa in deployed.get("horizontalpodautoscalers")["items"]
    )


def _deployments(deployed: Deployed) -> dict[str, Any]:
    return {d["metadata"]["name"]: d for d in deployed.get("deployments")["items"]}


def _assert_available(deployed: Deployed) -> dict[str, Any]:
    """Every Deployment Available at its count, every StatefulSet Ready at its current revision;
    returns both, by name."""
    stateful_sets = {s["metadata"]["name"]: s for s in deployed.get("statefulsets")["items"]}
    for name, stateful_set in stateful_sets.items():
        status = stateful_set["status"]
        assert status.get("readyReplicas") == stateful_set["spec"]["replicas"], (name, status)
        assert status.get("currentRevision") == status.get("updateRevision"), (name, status)
    deployments = _deployments(deployed)
    for name, deployment in deployments.items():
        status, wanted = deployment["status"], deployment["spec"]["replicas"]
        assert status.get("availableReplicas") == wanted, (name, status)
        assert status.get("updatedReplicas") == wanted, (name, status)
        conditions = {c["type"]: c["status"] for c in status["conditions"]}
        assert conditions["Available"] == "True", name
    return deployments | stateful_sets


def test_up_makes_every_deployment_available_without_skip_await(deployed: Deployed) -> None:
    assert deployed.first_up.summary.result == "succeeded"
    workloads = _assert_available(deployed)
    assert set(workloads) == UNITS
    for deployment in workloads.values():
        annotations = deployment["metadata"].get("annotations", {})
        assert "pulumi.com/skipAwait" not in annotations


def test_services_have_their_names_types_and_ready_endpoints(deployed: Deployed) -> None:
    services = {s["metadata"]["name"]: s for s in deployed.get("services")["items"]}
    web_type = "NodePort" if deployed.test.name == "dev" else "LoadBalancer"
    assert {name: s["spec"]["type"] for name, s in services.items()} == {
        "vote": web_type,
        "result": web_type,
        "redis": "ClusterIP",
        "db": "ClusterIP",
    }
    pods = deployed.get("pods")["items"]
    for name, service in services.items():
        selector = service["spec"]["selector"]
        ready_pod_ips = {
            pod["status"]["podIP"]
            for pod in pods
            if selector.items() <= pod["metadata"]["labels"].items()
            and any(
                c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"]
            )
        }
        assert ready_pod_ips, name
        slices = deployed.get("endpointslices", "--selector", f"kubernetes.io/service-name={name}")
        endpoint_ips = {
            address
            for endpoint_slice in slices["items"]
            for endpoint in endpoint_slice.get("endpoints") or []
            if endpoint["conditions"].get("ready")
            for address in endpoint["addresses"]
        }
        assert endpoint_ips == ready_pod_ips, name


def test_exported_urls_match_the_live_services(deployed: Deployed) -> None:
    outputs = deployed.test.stack.outputs()
    assert outputs["namespace"].value == deployed.namespace
    for unit in ("vote", "result"):
        service = deployed.get("service", unit)
        url = outputs[f"{unit}_url"].value
        if deployed.test.name == "dev":
            node_port = service["spec"]["ports"][0]["nodePort"]
            assert 30000 <= node_port <= 32767
            assert node_port == TEST_NODE_PORTS[unit]
            assert url == f"http://localhost:{node_port}"
        else:
            (ingress,) = service["status"]["loadBalancer"]["ingress"]
            assert ipaddress.ip_address(ingress["ip"]) in LOAD_BALANCER_POOL, ingress
            assert url == f"http://{ingress['ip']}"


def test_state_and_outputs_hold_no_plaintext_password(deployed: Deployed) -> None:
    state = deployed.test.state_text()
    assert state, "the file backend holds no state"
    assert deployed.test.password not in state
    assert '"ciphertext"' in state
    outputs = {name: output.value for name, output in deployed.test.stack.outputs().items()}
    assert deployed.test.password not in json.dumps(outputs)


def test_a_second_up_changes_nothing(deployed: Deployed) -> None:
    result = deployed.test.up()
    assert set(result.summary.resource_changes or {}) == {"same"}


def test_a_config_change_previews_exactly_that_change_and_rolls_out(deployed: Deployed) -> None:
    test = deployed.test
    before = _deployments(deployed)["vote"]
    if test.name == "dev":
        test.stack.set_config("voting-app:optionA", auto.ConfigValue(value="Tacos"))
    else:
        # prod's vote is autoscaled: a higher minimum is a change of its autoscaler only.
        test.edit_config(
            lambda config: config["voting-app:vote"]["autoscaling"].update(minReplicas=4)
        )

    preview = test.preview()
    changes = {kind: count for kind, count in preview.change_summary.items() if kind != "same"}
    assert changes == {"update": 1}, preview.change_summary
    if test.name == "dev":
        assert "kubernetes:apps/v1:Deployment" in preview.stdout
        assert "Tacos" in preview.stdout
    else:
        assert "kubernetes:autoscaling/v2:HorizontalPodAutoscaler" in preview.stdout
        assert "minReplicas" in preview.stdout

    result = test.up()
    assert {k: v for k, v in (result.summary.resource_changes or {}).items() if k != "same"} == {
        "update": 1
    }
    after = _assert_available(deployed)["vote"]
    assert after["spec"]["strategy"]["type"] == "RollingUpdate"
    assert after["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    if test.name == "dev":
        env = {
            e["name"]: e.get("value")
            for e in after["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["OPTION_A"] == "Tacos"
        assert after["metadata"]["generation"] > before["metadata"]["generation"]
        # A rolling update: a new ReplicaSet took over and the old one was scaled to zero.
        replica_sets = deployed.get("replicasets", "--selector", "app.kubernetes.io/name=vote")[
            "items"
        ]
        assert sorted(rs["spec"]["replicas"] for rs in replica_sets) == [
            0,
            after["spec"]["replicas"],
        ]
    else:
        assert before["spec"]["replicas"] == 3
        # The real HPA controller raises the count to the new minimum (no metrics needed for
        # that); Pulumi sends the count only at creation, so the next up changes nothing and
        # scales nothing back.
        wait_until(
            "vote at the autoscaler's new minimum",
            lambda: _deployments(deployed)["vote"]["spec"]["replicas"] == 4,
            90,
            2,
        )
        again = test.up()
        assert set(again.summary.resource_changes or {}) == {"same"}
        assert _deployments(deployed)["vote"]["spec"]["replicas"] == 4


def test_refresh_sees_drift_and_up_restores_the_declared_state(deployed: Deployed) -> None:
    stack = deployed.test.stack
    declared = _deployments(deployed)["worker"]["spec"]["replicas"]
    kubectl(
        "scale",
        "deployment",
        "worker",
        f"--replicas={declared + 2}",
        "--namespace",
        deployed.namespace,
    )
    kubectl("delete", "service", "result", "--namespace", deployed.namespace)

    refresh = stack.refresh(suppress_progress=True)
    drift = refresh.summary.resource_changes or {}
    assert drift.get("update", 0) >= 1, drift
    assert drift.get("delete", 0) == 1, drift

    result = deployed.test.up()
    changes = result.summary.resource_changes or {}
    assert changes.get("create") == 1, changes
    assert changes.get("update", 0) >= 1, changes
    assert _assert_available(deployed)["worker"]["spec"]["replicas"] == declared
    assert deployed.get("service", "result")["metadata"]["name"] == "result"


def test_destroy_leaves_nothing_behind_but_what_prod_keeps(deployed: Deployed) -> None:
    """dev: the namespace and every object of the app go. prod (db.storage.retainOnDelete):
    the namespace and the db's claim stay, and nothing else of the app."""
    deployed.test.destroy()
    gone = kubectl("get", "namespace", deployed.namespace, check=False)
    selector = (
        f"app.kubernetes.io/part-of=voting-app,app.kubernetes.io/instance={deployed.namespace}"
    )
    leftovers = get_json(
        ",".join((*APP_KINDS, "pods", "replicasets.apps")),
        "--all-namespaces",
        "--selector",
        selector,
    )["items"]
    if deployed.test.name == "dev":
        assert gone.returncode != 0
        assert "NotFound" in gone.stderr
        assert leftovers == []
    else:
        assert gone.returncode == 0, gone.stderr
        kept = {(item["kind"], item["metadata"]["name"]) for item in leftovers}
        # The db's claim, and its backups' (kept with it: db.backup follows db.storage).
        claims = {"data-db-0", "db-backup-data"}
        assert kept == {("PersistentVolumeClaim", claim) for claim in claims}, kept


def test_a_load_balancer_on_a_kind_stack_is_refused_at_preview(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """kind gives a LoadBalancer no address: the config refuses it by key before the provider or
    the policy pack (which holds code-built apps to the same table) sees anything."""
    require_cluster()
    with throwaway_stack("dev", tmp_path_factory.mktemp("policy")) as test:

        def on_kind_with_a_load_balancer(config: dict[str, Any]) -> None:
            config["voting-app:cluster"]["type"] = "kind"
            config["voting-app:vote"].update(exposure={"type": "LoadBalancer"})

        test.edit_config(on_kind_with_a_load_balancer)
        with pytest.raises(auto.CommandError) as failed:
            test.preview()
        output = str(failed.value)
        assert "voting-app:vote.exposure.type" in output
        assert "a kind cluster gives a LoadBalancer Service no address" in output
        assert test.stack.outputs() == {}
