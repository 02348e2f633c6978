"""The vocabulary of a Deployment-plus-Service unit: small frozen value types.

Config parsing produces these and `ServiceDeployment` consumes them, so both speak one language.
Every field documents its default; nothing here touches Pulumi resources.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import pulumi


class ExposureType(StrEnum):
    """How a unit is reached: the Kubernetes Service `type`, or `None` for no Service at all."""

    NONE = "None"
    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"


# Where a NodePort is reached when nothing says otherwise: the machine the cluster runs on.
DEFAULT_NODE_ADDRESS = "localhost"


@dataclass(frozen=True)
class Exposure:
    """The Service in front of a unit.

    type: default `ClusterIP`; `None` creates no Service at all.
    node_port: only with `NodePort`; default None lets Kubernetes allocate one in the cluster's
      range (30000-32767 unless its API server says otherwise).
    node_address: the host at which a NodePort is reached, for the unit's URL; default
      `localhost`.
    source_ranges: only with `LoadBalancer`: the client networks (CIDRs, e.g. `203.0.113.0/24`)
      that may connect; the load balancer refuses every other source (and VotingApp's
      NetworkPolicy for the unit admits only these from outside). Default () admits every
      source.
    sticky_sessions: default False. True: the Service's session affinity is ClientIP, so that
      every connection from one client address goes to the same pod (kube-proxy keeps the choice
      for 3 hours of quiet): what a server that keeps sessions in its memory needs with more than
      one pod (socket.io's long-polling, whose session id only the pod that issued it knows).
      Needs a Service (not `None`).
    """

    type: ExposureType = ExposureType.CLUSTER_IP
    node_port: int | None = None
    node_address: str = DEFAULT_NODE_ADDRESS
    source_ranges: tuple[str, ...] = ()
    sticky_sessions: bool = False


class ServiceAwait(StrEnum):
    """What `pulumi up` waits for on a unit's Service before it calls the Service ready.

    ENDPOINTS: the Kubernetes provider's own wait: endpoints for the Service that have not
      changed for 10 s (the provider's fixed settle), and a LoadBalancer's address.
    ADDRESS: only a LoadBalancer's address (`pulumi.com/waitFor`); a ClusterIP or NodePort
      Service is not waited for (`pulumi.com/skipAwait`). The workload's own wait still holds
      `up` until every pod is Available; the endpoints follow its Ready pods within a second.
    """

    ENDPOINTS = "endpoints"
    ADDRESS = "address"


def node_port_problem(exposure: Exposure, allowed: tuple[int, int] | None = None) -> str | None:
    """What a node port must be that `exposure`'s is not, or None when it is fine: only with
    type NodePort, and within `allowed`, the cluster's NodePort range, when it is given."""
    if exposure.node_port is None:
        return None
    if exposure.type is not ExposureType.NODE_PORT:
        return "a node port only with type NodePort"
    if allowed is not None and not allowed[0] <= exposure.node_port <= allowed[1]:
        return f"an integer from {allowed[0]} to {allowed[1]}, the cluster's NodePort range"
    return None


SOURCE_RANGE_EXPECTED = (
    "an IPv4 or IPv6 network and its prefix length, in the shortest form, with no host bits set: "
    "e.g. 203.0.113.0/24, 198.51.100.7/32 or 2001:db8::/32"
)


def source_range_problem(text: str) -> str | None:
    """What is wrong with `text` as a source range (SOURCE_RANGE_EXPECTED), or None. Only the
    written form that Kubernetes and every load balancer read alike: a netmask (`/255.0.0.0`),
    a bare address, a zone index or another script's digits are refused, and so are host bits
    (`10.1.2.3/8`: was 10.0.0.0/8 meant, or the one address?)."""
    address, slash, prefix = text.partition("/")
    if not text.isascii() or not slash or not prefix.isdigit() or "%" in address:
        return "not a network address and a prefix length"
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return "not an IPv4 or IPv6 address with a prefix length it can have"
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped:
        return "an IPv4-mapped IPv6 network: write the IPv4 network"
    if network.network_address != ipaddress.ip_address(address):
        one = f"/{network.max_prefixlen}"
        return f"host bits set (the network of that prefix is {network}; one address is {one})"
    if str(network) != text:
        return f"not in its shortest form, {network}"
    return None


class PullPolicy(StrEnum):
    """When the kubelet asks the registry for a container's image."""

    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


def default_pull_policy(image: str) -> PullPolicy:
    """Kubernetes' own default: Always for an image tagged `:latest` or not tagged at all (and not
    pinned by digest), IfNotPresent for a pinned tag or digest."""
    if "@" in image:
        return PullPolicy.IF_NOT_PRESENT
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return PullPolicy.ALWAYS if tag in ("", "latest") else PullPolicy.IF_NOT_PRESENT


@dataclass(frozen=True)
class ComputeQuantities:
    """A cpu and memory pair in Kubernetes quantity notation, e.g. cpu `100m`, memory `128Mi`."""

    cpu: str
    memory: str


@dataclass(frozen=True)
class Resources:
    """Container requests and limits; both are always set so the scheduler and quota can plan.

    requests: default cpu 50m, memory 64Mi.
    limits: default cpu 250m, memory 128Mi.
    """

    requests: ComputeQuantities = ComputeQuantities(cpu="50m", memory="64Mi")
    limits: ComputeQuantities = ComputeQuantities(cpu="250m", memory="128Mi")


@dataclass(frozen=True)
class HttpGet:
    """Probe by HTTP GET; any 2xx/3xx answer passes. path: default `/`. The port is the unit's."""

    path: str = "/"


@dataclass(frozen=True)
class TcpSocket:
    """Probe by opening a TCP connection to the unit's port."""


@dataclass(frozen=True)
class Exec:
    """Probe by running a command inside the container; exit code 0 passes."""

    command: tuple[str, ...]


ProbeCheck = HttpGet | TcpSocket | Exec


@dataclass(frozen=True)
class Probe:
    """A readiness or liveness probe.

    check: how to probe (HttpGet, TcpSocket or Exec).
    initial_delay_seconds: default 5. period_seconds: default 10. timeout_seconds: default 3.
    failure_threshold: default 3 consecutive failures before the probe counts as failed.
    """

    check: ProbeCheck
    initial_delay_seconds: int = 5
    period_seconds: int = 10
    timeout_seconds: int = 3
    failure_threshold: int = 3


@dataclass(frozen=True)
class SecretKeyRef:
    """An environment variable taken from one key of a Secret, never copied into the pod spec."""

    secret_name: str
    key: str


@dataclass(frozen=True)
class EmptyDirVolume:
    """Scratch space that lives as long as the pod.

    size_limit: default None (bounded only by the node); set it to cap disk use.
    """

    name: str
    mount_path: str
    size_limit: str | None = None


@dataclass(frozen=True)
class ClaimVolume:
    """A PersistentVolumeClaim that the unit creates and mounts; its data outlives the pod.

    size: default `1Gi`. storage_class: default None uses the cluster's default class.
    retain_on_delete: default False. True: `pulumi destroy`, or a replacement, leaves the claim and
      its data in the cluster (Pulumi's `retainOnDelete`); delete it deliberately with kubectl.
    The access mode is ReadWriteOnce, which is why such units use the Recreate strategy.
    """

    name: str
    mount_path: str
    size: str = "1Gi"
    storage_class: str | None = None
    retain_on_delete: bool = False


@dataclass(frozen=True)
class ConfigMapVolume:
    """Files of a ConfigMap, mounted read-only.

    config_map: the ConfigMap's name (it may be an Output of the object that creates it).
    items: default None mounts every key as a file of its name; otherwise key -> file name, and
    only those keys are mounted.
    """

    name: str
    mount_path: str
    config_map: pulumi.Input[str]
    items: Mapping[str, str] | None = None


Volume = EmptyDirVolume | ClaimVolume | ConfigMapVolume


@dataclass(frozen=True)
class RollingUpdate:
    """Replace pods a few at a time; the defaults keep every old pod until a new one is Ready."""

    max_surge: int = 1
    max_unavailable: int = 0


@dataclass(frozen=True)
class Recreate:
    """Stop every old pod before starting new ones: for units whose volume must not be shared."""


UpdateStrategy = RollingUpdate | Recreate


@dataclass(frozen=True)
class Shutdown:
    """How a pod stops when it is replaced or removed.

    drain_seconds: the container keeps serving this long after its pod is told to stop, before
      it gets SIGTERM (a `preStop` sleep, Kubernetes 1.30+): the time kube-proxy on every node
      (and a load balancer) takes to stop sending it new connections once its endpoint goes.
      Default 0: SIGTERM at once, and connections that still arrive are refused.
    grace_seconds: from the stop request to SIGKILL (`terminationGracePeriodSeconds`), the drain
      included; default 30, Kubernetes' own. Must leave time after the drain.
    """

    drain_seconds: int = 0
    grace_seconds: int = 30


@dataclass(frozen=True)
class SecurityProfile:
    """Pod and container security context.

    Always applied: seccomp RuntimeDefault, no privilege escalation, every capability dropped,
    no service account token mounted. The rest depends on what the image tolerates:
    run_as_user / run_as_group / fs_group: default None keeps the image's user.
    run_as_non_root: default False; set True only when the image runs as a non-root user.
    read_only_root_filesystem: default True; writable paths come from EmptyDirVolume.
    add_capabilities: default none; e.g. NET_BIND_SERVICE for a root process binding port 80.
    """

    run_as_user: int | None = None
    run_as_group: int | None = None
    fs_group: int | None = None
    run_as_non_root: bool = False
    read_only_root_filesystem: bool = True
    add_capabilities: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerPort:
    """The port a unit listens on. name: used as the Service targetPort, so the two cannot drift."""

    number: int
    name: str = "http"


@dataclass(frozen=True)
class EnvSpec:
    """Environment of the container. plain: literal values. from_secrets: values by secretKeyRef."""

    plain: Mapping[str, str] = field(default_factory=dict)
    from_secrets: Mapping[str, SecretKeyRef] = field(default_factory=dict)


@dataclass(frozen=True)
class Autoscaling:
    """A HorizontalPodAutoscaler that sets the unit's replica count from its pods' cpu use.

    min_replicas / max_replicas: the range the autoscaler keeps the count in (1 <= min <= max).
    cpu_utilization: the average cpu use the autoscaler aims at, in percent of the pods' cpu
      request (1-100); default 70.
    scale_down_stabilization_seconds: how long the autoscaler keeps a higher count after the
      load drops, so a short lull does not remove pods; default 300, Kubernetes' own.
    The workload is created with min_replicas pods, so it starts at the minimum rather than at
    Kubernetes' default of one; after that the autoscaler owns the count: no update sends it again
    (see `left_to_the_autoscaler`), so none resets what the autoscaler chose.
    """

    min_replicas: int
    max_replicas: int
    cpu_utilization: int = 70
    scale_down_stabilization_seconds: int = 300


# A unit runs a fixed number of pods, or as many as its autoscaler decides within a range.
Scale = int | Autoscaling


def declared_replicas(scale: Scale) -> int:
    """The count a workload declares: the fixed one, or the autoscaler's minimum, which it is
    created with."""
    return scale if isinstance(scale, int) else scale.min_replicas


def left_to_the_autoscaler(scale: Scale) -> list[str]:
    """The workload's fields that no update sends again (Pulumi's ignoreChanges): under an
    autoscaler, its count. The provider then sends the count the cluster has while Pulumi still
    owns the field, and leaves it out once the autoscaler has changed it (server-side apply
    moved the field to the autoscaler), so no update resets the autoscaler's choice."""
    return ["spec.replicas"] if isinstance(scale, Autoscaling) else []


def replica_range(scale: Scale) -> tuple[int, int]:
    """The fewest and the most pods a unit runs (outside a rollout)."""
    if isinstance(scale, Autoscaling):
        return scale.min_replicas, scale.max_replicas
    return scale, scale


class WhenUnsatisfiable(StrEnum):
    """What the scheduler does when a pod cannot be placed within the spread's skew."""

    DO_NOT_SCHEDULE = "DoNotSchedule"
    SCHEDULE_ANYWAY = "ScheduleAnyway"


HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"
ZONE_TOPOLOGY = "topology.kubernetes.io/zone"


@dataclass(frozen=True)
class Spread:
    """How the pods of a unit that can run more than one spread over nodes and zones.

    hostname: across nodes (`kubernetes.io/hostname`); default ScheduleAnyway: the scheduler
      prefers another node but never leaves a pod pending for it. None: no constraint.
    zone: across zones (`topology.kubernetes.io/zone`); default None. Only where the nodes carry
      the label (cloud clusters do): with DoNotSchedule, a node without it takes none of the
      unit's pods.
    max_skew: the most that any node's (zone's) count of the unit's pods may exceed the
      least-loaded one's; default 1.
    Each rollout's pods are spread among themselves (`matchLabelKeys: [pod-template-hash]`), so
    the old pods on their way out do not skew where the new ones go.
    """

    hostname: WhenUnsatisfiable | None = WhenUnsatisfiable.SCHEDULE_ANYWAY
    zone: WhenUnsatisfiable | None = None
    max_skew: int = 1

    def constraints(self) -> list[tuple[str, WhenUnsatisfiable]]:
        """(topology key, when unsatisfiable) of each constraint, hostname first."""
        keys = ((HOSTNAME_TOPOLOGY, self.hostname), (ZONE_TOPOLOGY, self.zone))
        return [(key, when) for key, when in keys if when is not None]
