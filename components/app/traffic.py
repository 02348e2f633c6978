"""The voting app's traffic graph, and the NetworkPolicies derived from it.

The graph is declared once; policies are computed from it, never written per unit, so the allowed
connections are exactly the edges: nothing more, nothing less.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi_kubernetes as k8s

from components.app.backup import BACKUP
from components.units.specs import ContainerPort

OUTSIDE = "outside"


@dataclass(frozen=True)
class Edge:
    """`source` opens connections to `target`'s port. `source` may be OUTSIDE the namespace."""

    source: str
    target: str


TRAFFIC_GRAPH: tuple[Edge, ...] = (
    Edge("vote", "redis"),
    Edge("worker", "redis"),
    Edge("worker", "db"),
    Edge("result", "db"),
    Edge(OUTSIDE, "vote"),
    Edge(OUTSIDE, "result"),
)
# An app with db.backup has these too: its pods (the scheduled dumps, and the restores that
# tools/backup runs as the same pods) dial the db like its other clients.
BACKUP_EDGES: tuple[Edge, ...] = (Edge(BACKUP, "db"),)


def traffic_graph(*, backup: bool) -> tuple[Edge, ...]:
    """The edges of an app: TRAFFIC_GRAPH, and BACKUP_EDGES when it has backups."""
    return TRAFFIC_GRAPH + (BACKUP_EDGES if backup else ())


@dataclass(frozen=True)
class Endpoint:
    """What a policy needs to know of a unit: the labels that select its pods, its port, and
    whom an edge from OUTSIDE into it admits.

    outside: the networks (CIDRs) that an OUTSIDE edge into the unit admits, the load
      balancer's source ranges; default () admits every source.
    """

    selector: Mapping[str, str]
    port: ContainerPort | None
    outside: tuple[str, ...] = ()


# Units dial their peers by Service name, so whoever dials needs the cluster DNS.
CLUSTER_DNS_PEER = k8s.networking.v1.NetworkPolicyPeerArgs(
    namespace_selector=k8s.meta.v1.LabelSelectorArgs(
        match_labels={"kubernetes.io/metadata.name": "kube-system"}
    ),
    pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
)
CLUSTER_DNS_PORTS = [
    k8s.networking.v1.NetworkPolicyPortArgs(protocol=protocol, port=53)
    for protocol in ("UDP", "TCP")
]
CLUSTER_DNS = k8s.networking.v1.NetworkPolicyEgressRuleArgs(
    to=[CLUSTER_DNS_PEER], ports=CLUSTER_DNS_PORTS
)


def _port_of(
    unit: str, endpoints: Mapping[str, Endpoint]
) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    port = endpoints[unit].port
    if port is None:
        raise ValueError(f"traffic graph: {unit!r} receives connections but listens on no port")
    return [k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port.number)]


def _peer(unit: str, endpoints: Mapping[str, Endpoint]) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(endpoints[unit].selector))
    )


def _sources(
    edge: Edge, endpoints: Mapping[str, Endpoint]
) -> list[k8s.networking.v1.NetworkPolicyPeerArgs] | None:
    """Who an edge admits: its source unit's pods; from OUTSIDE, the target's networks, or every
    source (no `from`) when it names none."""
    if edge.source != OUTSIDE:
        return [_peer(edge.source, endpoints)]
    networks = endpoints[edge.target].outside
    if not networks:
        return None
    return [
        k8s.networking.v1.NetworkPolicyPeerArgs(
            ip_block=k8s.networking.v1.IPBlockArgs(cidr=network)
        )
        for network in networks
    ]


def check_graph(edges: Sequence[Edge], endpoints: Mapping[str, Endpoint]) -> None:
    """Every edge joins known units and ends at a port; nothing dials OUTSIDE (egress beyond DNS
    stays closed)."""
    for edge in edges:
        if edge.target not in endpoints:
            raise ValueError(f"traffic graph: unknown target {edge.target!r} in {edge}")
        if edge.source != OUTSIDE and edge.source not in endpoints:
            raise ValueError(f"traffic graph: unknown source {edge.source!r} in {edge}")
        _port_of(edge.target, endpoints)


def _selecting(unit: str, endpoints: Mapping[str, Endpoint]) -> k8s.meta.v1.LabelSelectorArgs:
    return k8s.meta.v1.LabelSelectorArgs(match_labels=dict(endpoints[unit].selector))


# Ingress and egress are separate policies. An enforcer that runs all of a policy's rules for
# both directions of a selected pod (kube-router's, also k3s's built-in one) would otherwise let
# a unit that admits every source (an OUTSIDE edge) reach the other pods of its own unit, which
# its egress does not allow (the real node's reachability test shows it).


def ingress_spec(
    unit: str, edges: Sequence[Edge], endpoints: Mapping[str, Endpoint]
) -> k8s.networking.v1.NetworkPolicySpecArgs | None:
    """Who may connect to `unit`: one rule per edge into it. None when nothing dials it (the
    default deny then holds)."""
    check_graph(edges, endpoints)
    ingress = [
        k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=_sources(edge, endpoints), ports=_port_of(unit, endpoints)
        )
        for edge in edges
        if edge.target == unit
    ]
    if not ingress:
        return None
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=_selecting(unit, endpoints), policy_types=["Ingress"], ingress=ingress
    )


def egress_spec(
    unit: str, edges: Sequence[Edge], endpoints: Mapping[str, Endpoint]
) -> k8s.networking.v1.NetworkPolicySpecArgs | None:
    """Whom `unit` may connect to: one rule per edge out of it, plus the cluster DNS to find them
    by name. None when it dials nobody (the default deny then holds, DNS included)."""
    check_graph(edges, endpoints)
    egress = [
        k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[_peer(edge.target, endpoints)], ports=_port_of(edge.target, endpoints)
        )
        for edge in edges
        if edge.source == unit
    ]
    if not egress:
        return None
    egress.append(CLUSTER_DNS)
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=_selecting(unit, endpoints), policy_types=["Egress"], egress=egress
    )


DEFAULT_DENY = k8s.networking.v1.NetworkPolicySpecArgs(
    pod_selector=k8s.meta.v1.LabelSelectorArgs(),
    policy_types=["Ingress", "Egress"],
)
