"""What the derived NetworkPolicies open, rule by rule: the peer's pods and the port dialled, and
the cluster DNS for whoever dials."""

from __future__ import annotations

from typing import Any

from components.app.traffic import OUTSIDE, Edge, Endpoint, egress_spec, ingress_spec
from components.units.specs import ContainerPort

ENDPOINTS = {
    "web": Endpoint(selector={"app": "web"}, port=ContainerPort(80)),
    "cache": Endpoint(selector={"app": "cache"}, port=ContainerPort(6379, "redis")),
}
GRAPH = (Edge(OUTSIDE, "web"), Edge("web", "cache"))


def ports(rule: Any) -> list[tuple[str, int]]:
    return [(port.protocol, port.port) for port in rule.ports]


def test_egress_opens_the_peer_s_pods_on_its_port_and_the_cluster_dns() -> None:
    spec = egress_spec("web", GRAPH, ENDPOINTS)
    assert spec is not None
    assert spec.pod_selector.match_labels == {"app": "web"}
    to_cache, dns = spec.egress
    (peer,) = to_cache.to
    assert peer.pod_selector.match_labels == {"app": "cache"}
    assert peer.namespace_selector is None
    assert ports(to_cache) == [("TCP", 6379)]
    (resolver,) = dns.to
    assert resolver.namespace_selector.match_labels == {
        "kubernetes.io/metadata.name": "kube-system"
    }
    assert resolver.pod_selector.match_labels == {"k8s-app": "kube-dns"}
    assert ports(dns) == [("UDP", 53), ("TCP", 53)]


def test_ingress_admits_each_source_s_pods_on_the_unit_s_own_port() -> None:
    cache = ingress_spec("cache", GRAPH, ENDPOINTS)
    assert cache is not None
    assert cache.pod_selector.match_labels == {"app": "cache"}
    (from_web,) = cache.ingress
    (peer,) = from_web.from_
    assert peer.pod_selector.match_labels == {"app": "web"}
    assert ports(from_web) == [("TCP", 6379)]
    web = ingress_spec("web", GRAPH, ENDPOINTS)
    assert web is not None
    (from_anywhere,) = web.ingress
    assert ports(from_anywhere) == [("TCP", 80)]
