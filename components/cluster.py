"""Which cluster a stack deploys to, and the explicit provider that targets it.

A stack never falls back to whatever kube context happens to be current: the provider is always
given the context its config names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pulumi_kubernetes as k8s


class ClusterType(StrEnum):
    """What kind of cluster a stack targets."""

    KWOK = "kwok"
    KIND = "kind"
    MINIKUBE = "minikube"
    DOCKER_DESKTOP = "docker-desktop"
    CLOUD = "cloud"


# The context each local tool writes into the kubeconfig by default. A cloud cluster has none:
# its stack must name one.
DEFAULT_CONTEXTS: dict[ClusterType, str] = {
    ClusterType.KWOK: "kwok-voting-app",
    ClusterType.KIND: "kind-kind",
    ClusterType.MINIKUBE: "minikube",
    ClusterType.DOCKER_DESKTOP: "docker-desktop",
}


@dataclass(frozen=True)
class ClusterConfig:
    """The target cluster.

    type: kwok (the project's local control plane), kind, minikube, docker-desktop or cloud.
    context: the kubeconfig context; default per type (see DEFAULT_CONTEXTS), required for cloud.
    kubeconfig: path of the kubeconfig file; default None reads $KUBECONFIG or ~/.kube/config.
    node_address: host used in NodePort URLs; default `localhost`.
    render_yaml_to: default None. A directory: the provider writes every object's manifest there
      instead of deploying it (no cluster is contacted). Used to scan and dry-run the manifests.
    """

    type: ClusterType
    context: str
    kubeconfig: str | None = None
    node_address: str = "localhost"
    render_yaml_to: str | None = None

    @property
    def is_cloud(self) -> bool:
        return self.type is ClusterType.CLOUD


def cluster_provider(name: str, cluster: ClusterConfig) -> k8s.Provider:
    """The Kubernetes provider for `cluster`, pinned to its context (or rendering manifests)."""
    if cluster.render_yaml_to is not None:
        return k8s.Provider(name, render_yaml_to_directory=cluster.render_yaml_to)
    return k8s.Provider(name, context=cluster.context, kubeconfig=cluster.kubeconfig)
