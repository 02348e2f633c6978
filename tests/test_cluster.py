"""The cluster a stack targets (components/cluster/): where a LoadBalancer gets an address, and
the provider pinned to the stack's context or rendering manifests instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.cluster.provider import cluster_provider
from components.cluster.target import (
    ClusterConfig,
    ClusterType,
    RenderSecrets,
    load_balancer_problem,
)
from tests.mocks import run_with_mocks, unwrap


def test_a_cluster_without_load_balancers_says_where_they_work() -> None:
    assert load_balancer_problem(ClusterType.KIND) == (
        "a kind cluster gives a LoadBalancer Service no address (use NodePort); LoadBalancer"
        " works on kwok, minikube, docker-desktop, cloud"
    )
    for kind in (ClusterType.KWOK, ClusterType.MINIKUBE, ClusterType.DOCKER_DESKTOP):
        assert load_balancer_problem(kind) is None


def cluster_config(
    kind: ClusterType,
    *,
    context: str,
    kubeconfig: str | None = None,
    render_yaml_to: str | None = None,
) -> ClusterConfig:
    return ClusterConfig(
        kind,
        context=context,
        kubeconfig=kubeconfig,
        node_address="localhost",
        render_yaml_to=render_yaml_to,
        render_secrets=RenderSecrets.REFERENCE,
    )


def provider_inputs(cluster: ClusterConfig) -> dict[str, Any]:
    mocks = run_with_mocks(lambda: cluster_provider("cluster", cluster))
    (provider,) = mocks.of_type("pulumi:providers:kubernetes")
    inputs: dict[str, Any] = unwrap(provider.inputs)
    return inputs


@pytest.mark.parametrize(
    ("kubeconfig", "environment", "read"),
    [
        (None, None, None),
        ("/etc/kube/team.yaml", None, "/etc/kube/team.yaml"),
        # Unset, the SDK reads $KUBECONFIG (and the provider ~/.kube/config without it).
        (None, "/home/me/.kube/other", "/home/me/.kube/other"),
        ("/etc/kube/team.yaml", "/home/me/.kube/other", "/etc/kube/team.yaml"),
    ],
)
def test_the_provider_is_pinned_to_the_context_and_the_kubeconfig(
    monkeypatch: pytest.MonkeyPatch, kubeconfig: str | None, environment: str | None, read: str
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    if environment is not None:
        monkeypatch.setenv("KUBECONFIG", environment)
    cluster = cluster_config(ClusterType.CLOUD, context="team-prod", kubeconfig=kubeconfig)
    inputs = provider_inputs(cluster)
    assert inputs["context"] == "team-prod"
    assert inputs.get("kubeconfig") == read
    assert "renderYamlToDirectory" not in inputs


@pytest.mark.parametrize("environment", [None, "/home/me/.kube/config"])
def test_a_provider_that_renders_manifests_contacts_no_cluster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, environment: str | None
) -> None:
    """Whatever $KUBECONFIG says: the provider refuses a kubeconfig beside
    renderYamlToDirectory, and the SDK fills an unset one in from $KUBECONFIG."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    if environment is not None:
        monkeypatch.setenv("KUBECONFIG", environment)
    cluster = cluster_config(
        ClusterType.KIND, context="kind-kind", render_yaml_to=str(tmp_path / "manifests")
    )
    inputs = provider_inputs(cluster)
    assert inputs["renderYamlToDirectory"] == str(tmp_path / "manifests")
    assert "context" not in inputs
    assert not inputs.get("kubeconfig")
