"""Which cluster a stack deploys to: its kind, its kube context, and the defaults for both.

Plain data, without the Pulumi SDK: tools/preflight checks a stack file with it before anything
is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# On a stack's namespace: what kind of cluster the stack targets (the policy pack reads it).
CLUSTER_TYPE_LABEL = "voting-app/cluster-type"


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


# Kubernetes' default NodePort range (kube-apiserver --service-node-port-range).
KUBERNETES_NODE_PORTS = (30000, 32767)
# The project's local control plane stops below its own components' ports, which kwokctl counts
# down from 32767 (the workbench's settings.env says the same; a unit test holds the two equal).
NODE_PORT_RANGES: dict[ClusterType, tuple[int, int]] = {ClusterType.KWOK: (30000, 32699)}


def node_port_range(cluster_type: ClusterType) -> tuple[int, int]:
    """The NodePort range of a cluster of this type."""
    return NODE_PORT_RANGES.get(cluster_type, KUBERNETES_NODE_PORTS)


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
