"""The traffic graph's policy derivation on its own, including the mistakes it refuses."""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s
import pytest

from components.app.traffic import (
    OUTSIDE,
    TRAFFIC_GRAPH,
    Edge,
    Endpoint,
    egress_spec,
    ingress_spec,
    traffic_graph,
)
from components.units.specs import ContainerPort

ENDPOINTS = {
    "web": Endpoint(selector={"app": "web"}, port=ContainerPort(80)),
    "cache": Endpoint(selector={"app": "cache"}, port=ContainerPort(6379, "redis")),
    "batch": Endpoint(selector={"app": "batch"}, port=None),
}
GRAPH = (Edge(OUTSIDE, "web"), Edge("web", "cache"), Edge("batch", "cache"))
# kube-system's kube-dns, as every egress policy names it: (namespace labels, pod labels).
DNS_PEER = ({"kubernetes.io/metadata.name": "kube-system"}, {"k8s-app": "kube-dns"})
DNS_PORTS = [("UDP", 53), ("TCP", 53)]
Rule = tuple[list[tuple[dict[str, str] | None, dict[str, str]]] | None, list[tuple[str, int]]]


def _labels(selector: k8s.meta.v1.LabelSelectorArgs | None) -> Any:
    return None if selector is None else selector.match_labels


def _plain(spec: k8s.networking.v1.NetworkPolicySpecArgs | None) -> tuple[Any, Any, list[Rule]]:
    """A spec as (policy types, its pods' labels, [(peers, ports) per rule]); a peer as its
    (namespace labels, pod labels), `None` peers for a rule that admits every source."""
    assert spec is not None
    rules: list[Rule] = []
    for rule in spec.ingress or spec.egress or []:
        peers = (
            rule.from_
            if isinstance(rule, k8s.networking.v1.NetworkPolicyIngressRuleArgs)
            else rule.to
        )
        rules.append(
            (
                None
                if peers is None
                else [
                    (_labels(peer.namespace_selector), _labels(peer.pod_selector)) for peer in peers
                ],
                [(port.protocol, port.port) for port in rule.ports],
            )
        )
    return spec.policy_types, _labels(spec.pod_selector), rules


# Every policy of GRAPH over ENDPOINTS, written out by hand.
@pytest.mark.parametrize(
    ("spec", "unit", "expected"),
    [
        (ingress_spec, "web", (["Ingress"], {"app": "web"}, [(None, [("TCP", 80)])])),
        (
            ingress_spec,
            "cache",
            (
                ["Ingress"],
                {"app": "cache"},
                [
                    ([(None, {"app": "web"})], [("TCP", 6379)]),
                    ([(None, {"app": "batch"})], [("TCP", 6379)]),
                ],
            ),
        ),
        (
            egress_spec,
            "web",
            (
                ["Egress"],
                {"app": "web"},
                [([(None, {"app": "cache"})], [("TCP", 6379)]), ([DNS_PEER], DNS_PORTS)],
            ),
        ),
        (
            egress_spec,
            "batch",
            (
                ["Egress"],
                {"app": "batch"},
                [([(None, {"app": "cache"})], [("TCP", 6379)]), ([DNS_PEER], DNS_PORTS)],
            ),
        ),
    ],
)
def test_each_policy_selects_its_unit_and_opens_exactly_its_peers_ports(
    spec: Any, unit: str, expected: tuple[Any, Any, list[Rule]]
) -> None:
    assert _plain(spec(unit, GRAPH, ENDPOINTS)) == expected


def test_a_unit_that_dials_nobody_gets_no_egress_policy() -> None:
    assert egress_spec("cache", GRAPH, ENDPOINTS) is None
    spec = ingress_spec("cache", GRAPH, ENDPOINTS)
    assert spec is not None
    assert spec.policy_types == ["Ingress"]
    assert len(spec.ingress) == 2


def test_a_unit_that_nobody_dials_gets_no_ingress_policy() -> None:
    assert ingress_spec("batch", GRAPH, ENDPOINTS) is None
    spec = egress_spec("batch", GRAPH, ENDPOINTS)
    assert spec is not None
    assert spec.policy_types == ["Egress"]
    # One rule per dialled peer, plus cluster DNS to resolve its name.
    assert len(spec.egress) == 2


def test_each_policy_covers_one_direction_only() -> None:
    """An enforcer that runs a policy's rules for both directions must not see web's
    admit-everyone ingress rule when web's own pods dial out (kube-router, k3s)."""
    ingress = ingress_spec("web", GRAPH, ENDPOINTS)
    egress = egress_spec("web", GRAPH, ENDPOINTS)
    assert ingress is not None
    assert egress is not None
    assert ingress.egress is None
    assert egress.ingress is None
    (admit_all,) = ingress.ingress
    assert admit_all.from_ is None


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        ((Edge("web", "nowhere"),), "unknown target 'nowhere'"),
        ((Edge("ghost", "web"),), "unknown source 'ghost'"),
        ((Edge("web", "batch"),), "'batch' receives connections but listens on no port"),
    ],
)
def test_impossible_graphs_are_refused(graph: tuple[Edge, ...], message: str) -> None:
    for spec in (ingress_spec, egress_spec):
        with pytest.raises(ValueError, match=message):
            spec("web", graph, ENDPOINTS)


# An app's graph: the shipped one, and with db.backup one edge more, written out by hand.


def test_an_app_without_backups_has_the_shipped_graph() -> None:
    assert traffic_graph(backup=False) == TRAFFIC_GRAPH


def test_backups_add_exactly_their_edge_to_the_db() -> None:
    with_backups = traffic_graph(backup=True)
    assert set(with_backups) - set(TRAFFIC_GRAPH) == {Edge("db-backup", "db")}
    assert set(TRAFFIC_GRAPH) <= set(with_backups)
    assert len(with_backups) == len(TRAFFIC_GRAPH) + 1
