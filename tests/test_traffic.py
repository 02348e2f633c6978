"""The traffic graph's policy derivation on its own, including the mistakes it refuses."""

from __future__ import annotations

import pytest

from components.specs import ContainerPort
from components.traffic import OUTSIDE, Edge, Endpoint, policy_spec

ENDPOINTS = {
    "web": Endpoint(selector={"app": "web"}, port=ContainerPort(80)),
    "cache": Endpoint(selector={"app": "cache"}, port=ContainerPort(6379, "redis")),
    "batch": Endpoint(selector={"app": "batch"}, port=None),
}
GRAPH = (Edge(OUTSIDE, "web"), Edge("web", "cache"), Edge("batch", "cache"))


def test_a_unit_that_dials_nobody_gets_no_egress_at_all() -> None:
    spec = policy_spec("cache", GRAPH, ENDPOINTS)
    assert spec.egress == []
    assert spec.policy_types == ["Ingress", "Egress"]
    assert len(spec.ingress) == 2


def test_a_unit_that_nobody_dials_gets_no_ingress() -> None:
    spec = policy_spec("batch", GRAPH, ENDPOINTS)
    assert spec.ingress == []
    # One rule per dialled peer, plus cluster DNS to resolve its name.
    assert len(spec.egress) == 2


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        ((Edge("web", "nowhere"),), "unknown target 'nowhere'"),
        ((Edge("ghost", "web"),), "unknown source 'ghost'"),
        ((Edge("web", "batch"),), "'batch' receives connections but listens on no port"),
    ],
)
def test_impossible_graphs_are_refused(graph: tuple[Edge, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        policy_spec("web", graph, ENDPOINTS)
