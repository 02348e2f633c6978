"""ServiceStatefulSet: the same pods as ServiceDeployment, each with a claim of its own."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.units.args import ServiceDeploymentArgs
from components.units.service_deployment import ServiceDeployment
from components.units.service_stateful_set import ServiceStatefulSet
from components.units.specs import (
    Autoscaling,
    ClaimVolume,
    EmptyDirVolume,
    Recreate,
    RollingUpdate,
)
from tests.mocks import VotingMocks, run_with_mocks, unwrap
from tests.test_service_deployment import web_args

STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DATA = ClaimVolume(name="data", mount_path="/data", size="5Gi", storage_class="fast")


def store_args(**overrides: Any) -> ServiceDeploymentArgs:
    base = {
        "replicas": 1,
        "update_strategy": Recreate(),
        "volumes": (DATA, EmptyDirVolume(name="tmp", mount_path="/tmp")),
    }
    return web_args(**(base | overrides))


def build(component: type[ServiceDeployment] | type[ServiceStatefulSet], args: Any) -> VotingMocks:
    def program() -> None:
        component("store", args)

    return run_with_mocks(program)


def only(mocks: VotingMocks, typ: str) -> dict[str, Any]:
    (resource,) = mocks.of_type(typ)
    plain: dict[str, Any] = unwrap(resource.inputs)
    return plain


def test_the_pods_are_those_of_a_service_deployment_but_for_the_claim() -> None:
    args = store_args()
    stateful = only(build(ServiceStatefulSet, args), STATEFUL_SET)["spec"]["template"]
    deployed = only(build(ServiceDeployment, args), DEPLOYMENT)["spec"]["template"]
    # One pod template function: labels, containers, probes, security are the same.
    assert stateful["metadata"] == deployed["metadata"]
    assert stateful["spec"]["containers"] == deployed["spec"]["containers"]
    assert stateful["spec"]["securityContext"] == deployed["spec"]["securityContext"]
    # The only difference: the claim volume comes from the template, not from a named claim.
    assert [v["name"] for v in deployed["spec"]["volumes"]] == ["data", "tmp"]
    assert [v["name"] for v in stateful["spec"]["volumes"]] == ["tmp"]
    assert {k: v for k, v in stateful["spec"].items() if k != "volumes"} == {
        k: v for k, v in deployed["spec"].items() if k != "volumes"
    }


def test_each_pod_gets_a_claim_that_outlives_the_stateful_set() -> None:
    mocks = build(ServiceStatefulSet, store_args())
    spec = only(mocks, STATEFUL_SET)["spec"]
    (template,) = spec["volumeClaimTemplates"]
    assert template["metadata"]["name"] == "data"
    assert template["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast",
        "resources": {"requests": {"storage": "5Gi"}},
    }
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}
    assert "serviceName" not in spec
    assert mocks.of_type("kubernetes:core/v1:PersistentVolumeClaim") == []
    service = only(mocks, "kubernetes:core/v1:Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == spec["selector"]["matchLabels"]
    account = only(mocks, "kubernetes:core/v1:ServiceAccount")
    assert spec["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    (component,) = mocks.of_type("voting:index:ServiceStatefulSet")
    assert component.custom is False


def test_a_stateful_set_cannot_surge() -> None:
    mocks = VotingMocks()
    with pytest.raises(ValueError, match="update_strategy must be Recreate"):
        run_with_mocks(
            lambda: ServiceStatefulSet("store", store_args(update_strategy=RollingUpdate())),
            mocks=mocks,
        )
    assert mocks.registered == []


def test_the_service_name_is_an_output_as_for_a_deployment() -> None:
    seen: dict[str, Any] = {}

    def program() -> pulumi.Output[None]:
        unit = ServiceStatefulSet("store", store_args())
        assert unit.service_name is not None
        return unit.service_name.apply(lambda name: seen.__setitem__("name", name))

    run_with_mocks(program)
    assert seen == {"name": "store"}


# What the unit hands on: its options to every object, its labels to each claim, its replica
# count or autoscaler, its outputs.


def test_the_unit_s_dependencies_reach_every_object_it_creates() -> None:
    def program() -> None:
        first = pulumi.CustomResource("test:index:Thing", "first")
        ServiceStatefulSet("store", store_args(), pulumi.ResourceOptions(depends_on=[first]))

    mocks = run_with_mocks(program)
    (first,) = (urn for urn in mocks.urns if urn.endswith("::first"))
    children = [urn for urn in mocks.urns if "ServiceStatefulSet$kubernetes:" in urn]
    assert {urn.split("$")[-1].split("::")[0] for urn in children} == {
        STATEFUL_SET,
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ServiceAccount",
    }
    for urn in children:
        assert first in mocks.dependencies[urn], urn


def test_each_claim_carries_the_unit_s_labels() -> None:
    mocks = build(ServiceStatefulSet, store_args())
    (template,) = only(mocks, STATEFUL_SET)["spec"]["volumeClaimTemplates"]
    assert template["metadata"]["labels"] == {
        "app.kubernetes.io/name": "store",
        "app.kubernetes.io/instance": "team-a",
        "app.kubernetes.io/component": "web",
        "app.kubernetes.io/part-of": "voting-app",
        "app.kubernetes.io/managed-by": "pulumi",
    }


@pytest.mark.parametrize(
    ("replicas", "declared", "ignored"),
    [(1, 1, {}), (3, 3, {}), (Autoscaling(2, 4), 2, {"store": ["spec.replicas"]})],
)
def test_the_stateful_set_declares_the_unit_s_replicas_or_starts_at_the_autoscaler_s_minimum(
    replicas: Any, declared: int, ignored: dict[str, list[str]]
) -> None:
    """Under an autoscaler the count is sent at creation only: no update resets its choice."""
    mocks = build(ServiceStatefulSet, store_args(replicas=replicas))
    assert only(mocks, STATEFUL_SET)["spec"]["replicas"] == declared
    assert mocks.ignored_changes(STATEFUL_SET) == ignored


def test_the_autoscaler_scales_the_stateful_set() -> None:
    mocks = build(ServiceStatefulSet, store_args(replicas=Autoscaling(2, 4)))
    target = only(mocks, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")["spec"]
    assert target["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": "store",
    }


def test_the_component_s_outputs_name_its_stateful_set_and_service() -> None:
    mocks = build(ServiceStatefulSet, store_args())
    (urn,) = (urn for urn in mocks.urns if urn.endswith("voting:index:ServiceStatefulSet::store"))
    assert mocks.component_outputs[urn] == {"stateful_set_name": "store", "service_name": "store"}


def test_the_refusal_of_a_surge_says_why() -> None:
    with pytest.raises(
        ValueError, match="stops each pod before it starts its replacement, and cannot surge"
    ):
        run_with_mocks(
            lambda: ServiceStatefulSet("store", store_args(update_strategy=RollingUpdate()))
        )
