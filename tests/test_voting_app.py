"""VotingApp built directly from args, outside any stack file."""

from __future__ import annotations

from typing import Any

import pulumi

from components.cluster import ClusterType
from components.specs import Exposure, ExposureType
from components.voting_app import VotingApp
from components.voting_app_args import VotingAppArgs, WebUnitArgs
from tests.mocks import VotingMocks, run_with_mocks, unwrap


def build(args: VotingAppArgs) -> tuple[VotingMocks, dict[str, Any]]:
    outputs: dict[str, Any] = {}

    def program() -> pulumi.Output[None]:
        app = VotingApp("voting", args)
        return pulumi.Output.all(
            namespace=app.namespace_name, vote=app.vote_url, result=app.result_url
        ).apply(outputs.update)

    return run_with_mocks(program), outputs


def test_cluster_ip_web_units_get_in_cluster_urls() -> None:
    cluster_ip = Exposure(ExposureType.CLUSTER_IP)
    args = VotingAppArgs(
        namespace="team",
        db_password=pulumi.Output.secret("pw"),
        vote=WebUnitArgs(image="example/vote:1", exposure=cluster_ip),
        result=WebUnitArgs(image="example/result:1", exposure=cluster_ip),
    )
    mocks, outputs = build(args)
    assert outputs == {
        "namespace": "team",
        "vote": "http://vote.team.svc.cluster.local",
        "result": "http://result.team.svc.cluster.local",
    }
    services = {
        unwrap(s.inputs)["metadata"]["name"]: s for s in mocks.of_type("kubernetes:core/v1:Service")
    }
    assert {name: s.inputs["spec"]["type"] for name, s in services.items()} == dict.fromkeys(
        ("vote", "result", "redis", "db"), "ClusterIP"
    )


def test_the_namespace_records_the_cluster_type_and_pod_security() -> None:
    args = VotingAppArgs(
        namespace="team", db_password=pulumi.Output.secret("pw"), cluster_type=ClusterType.CLOUD
    )
    mocks, _ = build(args)
    (namespace,) = mocks.of_type("kubernetes:core/v1:Namespace")
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["voting-app/cluster-type"] == "cloud"
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_defaults_make_a_working_single_replica_app() -> None:
    mocks, outputs = build(VotingAppArgs(namespace="team", db_password=pulumi.Output.secret("pw")))
    deployments = mocks.of_type("kubernetes:apps/v1:Deployment")
    assert sorted(d.inputs["metadata"]["name"] for d in deployments) == [
        "db",
        "redis",
        "result",
        "vote",
        "worker",
    ]
    assert all(d.inputs["spec"]["replicas"] == 1 for d in deployments)
    assert mocks.of_type("kubernetes:policy/v1:PodDisruptionBudget") == []
    # Default exposure is NodePort with allocated ports (the mocks allocate from 31500).
    assert outputs["vote"].startswith("http://localhost:315")
