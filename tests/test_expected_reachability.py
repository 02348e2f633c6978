"""The reachability matrix the end-to-end test expects (tests/e2e/reachability.py), derived from
the traffic graph, held to the one written there by hand: an edge added to or dropped from
TRAFFIC_GRAPH fails here, on every machine, not only where the real node runs."""

from __future__ import annotations

import pytest

from components.app.traffic import OUTSIDE, TRAFFIC_GRAPH, Edge
from tests.e2e.reachability import (
    DNS,
    NODE,
    SHIPPED,
    SHIPPED_MATRIX,
    expected_matrix,
    parse_matrix,
)
from tests.e2e.real_node import UNITS
from tests.stack_files import ROOT

TARGETS = ("db", "redis", "result", "vote")  # the units with a Service


def test_the_matrix_derived_from_the_traffic_graph_is_the_one_written_by_hand() -> None:
    assert expected_matrix(TRAFFIC_GRAPH, UNITS, TARGETS) == SHIPPED_MATRIX


def test_the_hand_written_matrix_has_every_source_and_target() -> None:
    assert list(SHIPPED_MATRIX) == [*UNITS, OUTSIDE, NODE]
    for source, row in SHIPPED_MATRIX.items():
        assert list(row) == [*TARGETS, DNS], source
    # The six edges, and nothing else from a unit.
    opened = {
        Edge(source, target)
        for source, row in SHIPPED_MATRIX.items()
        for target, allowed in row.items()
        if allowed and target != DNS and source != NODE
    }
    assert len(opened) == 6


def test_an_edge_more_or_less_changes_the_derived_matrix() -> None:
    more = expected_matrix((*TRAFFIC_GRAPH, Edge("vote", "db")), UNITS, TARGETS)
    assert more != SHIPPED_MATRIX
    assert more["vote"]["db"]
    less = expected_matrix(TRAFFIC_GRAPH[1:], UNITS, TARGETS)
    assert less != SHIPPED_MATRIX


def test_the_documented_matrix_is_the_hand_written_one() -> None:
    documented = (ROOT / "docs" / "testing.md").read_text()
    indented = "\n".join(f"    {line}" for line in SHIPPED.strip().splitlines())
    assert indented in documented


@pytest.mark.parametrize("cell", ["maybe", "yes yes"])
def test_a_malformed_row_is_refused(cell: str) -> None:
    with pytest.raises(ValueError, match="row 'vote': expected yes/no"):
        parse_matrix(f"from \\ to  db     dns\nvote       {cell}  no\n")
