"""ServiceStatefulSet: the same pods as ServiceDeployment, each with a claim of its own."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.units.args import ServiceDeploymentArgs
from components.units.service_deployment import ServiceDeployment
from components.units.service_stateful_set import ServiceStatefulSet
from components.units.specs import ClaimVolume, EmptyDirVolume, Recreate, RollingUpdate
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
