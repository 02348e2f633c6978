"""The traffic graph's policy derivation on its own, including the mistakes it refuses."""

from __future__ import annotations

import pytest

from components.app.traffic import OUTSIDE, Edge, Endpoint, egress_spec, ingress_spec
from components.units.specs import ContainerPort

ENDPOINTS = {
    "web": Endpoint(selector={"app": "web"}, port=ContainerPort(80)),
    "cache": Endpoint(selector={"app": "cache"}, port=ContainerPort(6379, "redis")),
    "batch": Endpoint(selector={"app": "batch"}, port=None),
}
GRAPH = (Edge(OUTSIDE, "web"), Edge("web", "cache"), Edge("batch", "cache"))


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
