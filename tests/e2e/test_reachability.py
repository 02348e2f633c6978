"""The NetworkPolicies enforced for real (kube-router on the real node): the app's pods reach
exactly the edges of TRAFFIC_GRAPH (the matrix written by hand in reachability.py), and a graph
with an edge missing breaks the app visibly."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.app.traffic import TRAFFIC_GRAPH
from tests.e2e.reachability import (
    NODE,
    SHIPPED_MATRIX,
    expected_matrix,
    format_matrix,
    is_open,
    observe_from_node,
    observe_from_pod,
    probe_pods,
    targets_of,
)
from tests.e2e.real_node import (
    UNITS,
    OnRealNode,
    deployed_on_real_node,
    has_voter,
    http,
    results,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def app(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[OnRealNode]:
    workdir: Path = tmp_path_factory.mktemp("e2e-reachability")
    with deployed_on_real_node("dev", workdir, images, {"vote": 30224, "result": 30225}) as app:
        yield app


def test_the_pods_reach_exactly_the_edges_of_the_traffic_graph(
    app: OnRealNode, images: dict[str, str]
) -> None:
    targets = targets_of(app)
    # Every unit that is dialed has a Service to dial, and nothing else has one.
    assert set(targets.services) == {edge.target for edge in TRAFFIC_GRAPH}
    expected = expected_matrix(TRAFFIC_GRAPH, UNITS, sorted(targets.services))
    # The derivation agrees with the matrix written by hand, which the observation must match.
    assert expected == SHIPPED_MATRIX
    with probe_pods(app, UNITS, images["vote"]) as pods:
        observed = {source: observe_from_pod(pod, targets) for source, pod in pods.items()}
    observed[NODE] = observe_from_node(targets)
    print(f"\nobserved reachability (ClusterIP:port of each Service; dns = {targets.dns_name}):")
    print(format_matrix({source: observed[source] for source in SHIPPED_MATRIX}))
    assert set(observed) == set(SHIPPED_MATRIX)
    assert all(set(observed[source]) == set(row) for source, row in SHIPPED_MATRIX.items())
    wrong = [
        f"{source} -> {target}: expected {'open' if allowed else 'closed'}, saw {seen}"
        for source, row in SHIPPED_MATRIX.items()
        for target, allowed in row.items()
        if is_open(seen := observed[source][target]) != allowed
    ]
    assert not wrong, "\n".join(wrong)


def test_a_graph_missing_the_vote_to_redis_edge_stops_votes_being_counted(
    app: OnRealNode,
) -> None:
    """The graph matters: drop vote -> redis from the program's graph (as a careless edit
    would), `up`, and a vote is no longer taken; put it back, `up`, and it is counted."""
    (edge,) = [edge for edge in TRAFFIC_GRAPH if edge.source == "vote"]
    traffic = Path(app.test.stack.workspace.work_dir) / "components" / "app" / "traffic.py"
    original = traffic.read_text()
    declaration = f'    Edge("{edge.source}", "{edge.target}"),\n'
    assert original.count(declaration) == 1, f"{declaration!r} not found in {traffic}"
    vote_url, result_url = app.outputs["vote_url"], app.outputs["result_url"]
    before = wait_until("result counts", lambda: results(result_url), timeout=60)
    voter = f"e2e-{secrets.token_hex(4)}"
    try:
        traffic.write_text(original.replace(declaration, ""))
        app.test.up()
        started = time.monotonic()
        status, _ = http(vote_url, {"vote": "a"}, timeout=15, cookie=f"voter_id={voter}")
        failed_after = time.monotonic() - started
        # Give a vote that did get through time to be counted: none must have.
        time.sleep(10)
        print(
            f"\nwithout {edge}: POST / answered {status or 'no HTTP status'} after"
            f" {failed_after:.1f}s;"
            f" counts stayed {results(result_url)}"
        )
        assert status != 200, "the vote page took a vote it cannot have queued"
        assert results(result_url) == before
        assert not has_voter(app, voter)
    finally:
        traffic.write_text(original)
        app.test.up()
    status, _ = http(vote_url, {"vote": "a"}, cookie=f"voter_id={voter}")
    assert status == 200
    wait_until("the vote counted once the edge is back", lambda: has_voter(app, voter), 60)
    expected = {**before, "a": before["a"] + 1}
    assert wait_until("counts", lambda: results(result_url) == expected, 30)
