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


# The name each local tool gives a cluster by default, and the context it writes for it into the
# kubeconfig: kind `kind-<name>`, minikube `<profile>`, Docker Desktop `docker-desktop`, and the
# project's local control plane `kwok-<name>`. A cloud cluster has no default: its stack names
# its context.
DEFAULT_NAMES: dict[ClusterType, str] = {
    ClusterType.KWOK: "voting-app",
    ClusterType.KIND: "kind",
    ClusterType.MINIKUBE: "minikube",
}
_CONTEXT_OF_NAME = {
    ClusterType.KWOK: "kwok-{}",
    ClusterType.KIND: "kind-{}",
    ClusterType.MINIKUBE: "{}",
}
DEFAULT_CONTEXTS: dict[ClusterType, str] = {
    **{kind: _CONTEXT_OF_NAME[kind].format(name) for kind, name in DEFAULT_NAMES.items()},
    ClusterType.DOCKER_DESKTOP: "docker-desktop",
}


def named_types() -> list[ClusterType]:
    """The types whose cluster has a name of its own (`cluster.name`)."""
    return list(DEFAULT_NAMES)


def default_context(cluster_type: ClusterType, name: str | None = None) -> str | None:
    """The context the tool of `cluster_type` writes for a cluster called `name` (its default
    name when None); None for a cloud cluster, which has no default."""
    if name is not None and cluster_type in _CONTEXT_OF_NAME:
        return _CONTEXT_OF_NAME[cluster_type].format(name)
    return DEFAULT_CONTEXTS.get(cluster_type)


def default_names_described() -> str:
    """What an absent `cluster.name` means, type by type, as the configuration reference says."""
    return ", ".join(f"{kind} {name}" for kind, name in DEFAULT_NAMES.items())


def default_contexts_described() -> str:
    """What an absent `cluster.context` means, type by type, as the configuration reference
    says."""
    described = []
    for kind in ClusterType:
        if kind in _CONTEXT_OF_NAME:
            described.append(f"{kind} {_CONTEXT_OF_NAME[kind].format('<name>')}")
        elif kind in DEFAULT_CONTEXTS:
            described.append(f"{kind} {DEFAULT_CONTEXTS[kind]}")
        else:
            described.append(f"required for {kind}")
    return "the context the type's tool writes: " + ", ".join(described)


# How a LoadBalancer Service gets an address on each type of cluster. A type that is not here
# gives it none: on kind it stays <pending>, and `pulumi up` waits for it until it times out.
LOAD_BALANCERS: dict[ClusterType, str] = {
    ClusterType.KWOK: "a loopback address from MetalLB's controller, answered on the real node",
    ClusterType.MINIKUBE: "with `minikube tunnel` running, on the tunnel's address",
    ClusterType.DOCKER_DESKTOP: "Docker Desktop answers on localhost",
    ClusterType.CLOUD: "the cloud's load balancer",
}


def load_balancer_problem(cluster_type: ClusterType) -> str | None:
    """Why a LoadBalancer Service cannot work on a cluster of this type, or None when it can."""
    if cluster_type in LOAD_BALANCERS:
        return None
    allowed = ", ".join(str(kind) for kind in LOAD_BALANCERS)
    return (
        f"a {cluster_type} cluster gives a LoadBalancer Service no address (use NodePort);"
        f" LoadBalancer works on {allowed}"
    )


# Kubernetes' default NodePort range (kube-apiserver --service-node-port-range).
KUBERNETES_NODE_PORTS = (30000, 32767)
# The project's local control plane stops below its own components' ports, which kwokctl counts
# down from 32767 (the workbench's settings.env says the same; a unit test holds the two equal).
NODE_PORT_RANGES: dict[ClusterType, tuple[int, int]] = {ClusterType.KWOK: (30000, 32699)}


def node_port_range(cluster_type: ClusterType) -> tuple[int, int]:
    """The NodePort range of a cluster of this type."""
    return NODE_PORT_RANGES.get(cluster_type, KUBERNETES_NODE_PORTS)


class RenderSecrets(StrEnum):
    """What a render to files (`render_yaml_to`) does with a Secret's value."""

    # The Secret is not written; the manifests refer to it, and whoever applies them creates it.
    REFERENCE = "reference"
    # Written as the provider renders it: the value in plain text (base64) in the files.
    PLAINTEXT = "plaintext"


@dataclass(frozen=True)
class ClusterConfig:
    """The target cluster, as the stack config says it (the config reader applies the defaults:
    docs/configuration.md).

    type: kwok (the project's local control plane), kind, minikube, docker-desktop or cloud.
    context: the kubeconfig context (`default_context` gives each type's own).
    kubeconfig: path of the kubeconfig file; None reads $KUBECONFIG or ~/.kube/config.
    node_address: host used in NodePort URLs.
    render_yaml_to: None, or a directory: the provider writes every object's manifest there
      instead of deploying it (no cluster is contacted). Used to scan and dry-run the manifests.
    render_secrets: with render_yaml_to, whether a Secret's value is written to the files.
    """

    type: ClusterType
    context: str
    kubeconfig: str | None
    node_address: str
    render_yaml_to: str | None
    render_secrets: RenderSecrets

    @property
    def is_cloud(self) -> bool:
        return self.type is ClusterType.CLOUD
