"""The rules of the policy pack as plain functions over Kubernetes object properties.

Each returns the violation messages for what it is given (empty when compliant), so the rules are
tested without an engine and served by __main__.py without logic of their own.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from components.cluster.target import CLUSTER_TYPE_LABEL, ClusterType, load_balancer_problem
from components.units.quantities import is_pinned_image

WEB_ROLE = "web"
SECRET_LIKE_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.I
)
# Objects that live outside any namespace; every other kind must name a namespace of its own.
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}
WORKLOAD_TEMPLATE_PATHS = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}

Resource = tuple[str, Mapping[str, Any]]


def _dig(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def containers(resource_type: str, props: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every container (init containers included) of a workload; nothing for other kinds."""
    path = WORKLOAD_TEMPLATE_PATHS.get(resource_type)
    pod = _dig(props, *path) if path else None
    if not isinstance(pod, Mapping):
        return
    for field in ("initContainers", "containers"):
        yield from pod.get(field) or []


def _name(container: Mapping[str, Any]) -> str:
    return str(container.get("name", "?"))


def pinned_images(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    return [
        f"container {_name(c)}: image {c.get('image')!r} is not pinned to a tag or digest "
        "(untagged and :latest are refused)"
        for c in containers(resource_type, props)
        if not is_pinned_image(str(c.get("image") or ""))
    ]


def requests_and_limits(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    messages = []
    for container in containers(resource_type, props):
        for kind in ("requests", "limits"):
            given = _dig(container, "resources", kind) or {}
            missing = [r for r in ("cpu", "memory") if not given.get(r)]
            if missing:
                messages.append(f"container {_name(container)}: no {kind} for {', '.join(missing)}")
    return messages


def readiness_probes(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    return [
        f"container {_name(c)} serves a port but has no readinessProbe"
        for c in containers(resource_type, props)
        if c.get("ports") and not c.get("readinessProbe")
    ]


def no_literal_secrets(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    return [
        f"container {_name(c)}: env {e.get('name')} looks like a secret but is a literal value; "
        "use valueFrom.secretKeyRef"
        for c in containers(resource_type, props)
        for e in c.get("env") or []
        if "value" in e and SECRET_LIKE_NAME.search(str(e.get("name", "")))
    ]


def not_in_default_namespace(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    kind = resource_type.rsplit(":", 1)[-1]
    if not resource_type.startswith("kubernetes:") or kind in CLUSTER_SCOPED_KINDS:
        return []
    namespace = _dig(props, "metadata", "namespace")
    if namespace in (None, "", "default"):
        return [f"{kind} {_dig(props, 'metadata', 'name')} would land in the default namespace"]
    return []


def no_privilege_escalation(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    return [
        f"container {_name(c)} must set securityContext.allowPrivilegeEscalation: false"
        for c in containers(resource_type, props)
        if _dig(c, "securityContext", "allowPrivilegeEscalation") is not False
    ]


def fixed_node_ports(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != "kubernetes:core/v1:Service":
        return []
    return [
        f"Service {_dig(props, 'metadata', 'name')} fixes nodePort {int(port['nodePort'])}: "
        "it must be free on every node of the cluster"
        for port in _dig(props, "spec", "ports") or []
        if port.get("nodePort")
    ]


def cluster_types(resources: Sequence[Resource]) -> set[str]:
    """The cluster types that the stack's Namespaces declare (VotingApp labels its namespace)."""
    return {
        str(_dig(props, "metadata", "labels", CLUSTER_TYPE_LABEL))
        for resource_type, props in resources
        if resource_type == "kubernetes:core/v1:Namespace"
    }


def load_balancers_with_an_address(resources: Sequence[Resource]) -> list[str]:
    """A LoadBalancer Service on a stack whose cluster type gives it no address
    (components/cluster/target.py: the same table the config check reads)."""
    problems = [
        problem
        for cluster_type in cluster_types(resources)
        if (problem := _load_balancer_problem(cluster_type)) is not None
    ]
    if not problems:
        return []
    return [
        f"Service {_dig(props, 'metadata', 'name')} is a LoadBalancer: {problems[0]}"
        for resource_type, props in resources
        if resource_type == "kubernetes:core/v1:Service"
        and _dig(props, "spec", "type") == "LoadBalancer"
    ]


def _load_balancer_problem(cluster_type: str) -> str | None:
    if cluster_type not in ClusterType._value2member_map_:
        return f"the stack's cluster type {cluster_type!r} is not one the project knows"
    return load_balancer_problem(ClusterType(cluster_type))


def _admits_every_address(cidr: object) -> bool:
    """A range of prefix length 0 (0.0.0.0/0, ::/0, however written): the same as none at all."""
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False


def load_balancers_open_to_everyone_on_cloud(resources: Sequence[Resource]) -> list[str]:
    """A LoadBalancer Service on a cloud stack that any address on the internet may connect to:
    no loadBalancerSourceRanges, or one that admits every source."""
    if "cloud" not in cluster_types(resources):
        return []
    messages = []
    for resource_type, props in resources:
        if (
            resource_type != "kubernetes:core/v1:Service"
            or _dig(props, "spec", "type") != "LoadBalancer"
        ):
            continue
        ranges = _dig(props, "spec", "loadBalancerSourceRanges") or []
        everyone = [cidr for cidr in ranges if _admits_every_address(cidr)]
        if ranges and not everyone:
            continue
        why = f"source ranges that include {everyone[0]}" if everyone else "no source ranges"
        messages.append(
            f"Service {_dig(props, 'metadata', 'name')} is a LoadBalancer on a cloud stack with "
            f"{why}: every address on the internet can connect. Set its unit's "
            "exposure.sourceRanges to the networks that need it (its NetworkPolicy follows)"
        )
    return messages


HPA_TYPE = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


SCALABLE_KINDS = {"Deployment", "StatefulSet", "ReplicaSet"}
WorkloadKey = tuple[str, str, str]


Workload = tuple[WorkloadKey, Mapping[str, Any], Mapping[str, Any]]


def _workloads(resources: Sequence[Resource]) -> Iterator[Workload]:
    """Every workload: its (namespace, kind, name), its properties and its pod spec."""
    for resource_type, props in resources:
        path = WORKLOAD_TEMPLATE_PATHS.get(resource_type)
        if path is not None:
            kind = resource_type.rsplit(":", 1)[-1]
            key = (
                str(_dig(props, "metadata", "namespace")),
                kind,
                str(_dig(props, "metadata", "name")),
            )
            pod = _dig(props, *path)
            yield key, props, pod if isinstance(pod, Mapping) else {}


def pod_counts(resources: Sequence[Resource]) -> dict[WorkloadKey, tuple[int, int]]:
    """Each scalable workload -> the fewest and the most pods it runs: its replicas, or the range
    of the HorizontalPodAutoscaler that targets it (a workload under one declares no count)."""
    ranges = {
        (
            str(_dig(props, "metadata", "namespace")),
            str(_dig(props, "spec", "scaleTargetRef", "kind")),
            str(_dig(props, "spec", "scaleTargetRef", "name")),
        ): (_dig(props, "spec", "minReplicas") or 1, _dig(props, "spec", "maxReplicas") or 1)
        for resource_type, props in resources
        if resource_type == HPA_TYPE
    }
    counts = {}
    for key, props, _ in _workloads(resources):
        if key[1] in SCALABLE_KINDS:
            replicas = _dig(props, "spec", "replicas") or 1
            counts[key] = ranges.get(key) or (replicas, replicas)
    return counts


def web_tier_redundant_on_cloud(resources: Sequence[Resource]) -> list[str]:
    if "cloud" not in cluster_types(resources):
        return []
    counts = pod_counts(resources)
    return [
        f"web {key[1]} {key[2]} can run a single replica on a cloud stack"
        for key, props, _ in _workloads(resources)
        if key in counts
        and _dig(props, "spec", "template", "metadata", "labels", "app.kubernetes.io/component")
        == WEB_ROLE
        and counts[key][0] < 2
    ]


def spread_when_replicated(resources: Sequence[Resource]) -> list[str]:
    """A workload that can run more than one pod without topology spread constraints."""
    counts = pod_counts(resources)
    return [
        f"{key[1]} {key[2]} can run {counts[key][1]} pods but has no topologySpreadConstraints: "
        "they may all land on one node (set voting-app:spread)"
        for key, _, pod in _workloads(resources)
        if key in counts and counts[key][1] > 1 and not pod.get("topologySpreadConstraints")
    ]


HOST_AUTH_VARIABLE = "POSTGRES_HOST_AUTH_METHOD"


def trust_auth_on_cloud(resources: Sequence[Resource]) -> list[str]:
    """A Postgres container told to trust every network client, on a cloud stack."""
    if "cloud" not in cluster_types(resources):
        return []
    return [
        f"{resource_type.rsplit(':', 1)[-1]} {_dig(props, 'metadata', 'name')}: container "
        f"{_name(c)} trusts every network client ({HOST_AUTH_VARIABLE}=trust) on a cloud stack; "
        "only the NetworkPolicies keep other pods out. Set db.clientAuth to scram-sha-256 (or "
        "md5) together with worker and result images whose Postgres client sends the password "
        "(the stock kodekloud images cannot)"
        for resource_type, props in resources
        for c in containers(resource_type, props)
        for e in c.get("env") or []
        if e.get("name") == HOST_AUTH_VARIABLE and e.get("value") == "trust"
    ]


def own_service_accounts(resources: Sequence[Resource]) -> list[str]:
    """Every workload runs as a ServiceAccount of its own: named, not `default`, not shared."""
    messages = []
    users: dict[tuple[str, str], list[str]] = {}
    for (namespace, kind, name), _, pod in _workloads(resources):
        workload = f"{kind} {name}"
        account = pod.get("serviceAccountName") or "default"
        if account == "default":
            messages.append(
                f"{workload} runs as its namespace's default ServiceAccount; give it one of its "
                "own (no token mounted, no role bound unless it calls the API)"
            )
        else:
            users.setdefault((namespace, str(account)), []).append(workload)
    messages += [
        f"ServiceAccount {account} is shared by {' and '.join(workloads)}: give each its own, so "
        "a role bound for one never reaches the other"
        for (_, account), workloads in users.items()
        if len(workloads) > 1
    ]
    return messages
