"""The README's main job, `tools/up` (stack `local`: dev's config with the test images), from empty
on the real node, in a copy of the project beside a person's own deployment: it prints each URL
only once the URL has answered, and how long its waits after `pulumi up` took. Then what
`tools/test` does to the node at its end (a stop under the control plane it keeps), and
`tools/up` again: the stack back on the real node, its URLs answering."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.main_job_on_node import ROLLED_OUT, URL_LINE, MainJobOnNode, main_job_on_node
from tests.e2e.real_node import NODE_NAME, UNITS, http
from tests.integration.cluster import kubectl
from tests.stack_files import ROOT
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e
CLUSTER = str(ROOT / "workbench" / "control-plane" / "cluster")
NODE = str(ROOT / "workbench" / "real-node" / "node")
# tools/up's line when it moves pods back (tools/lib/placement.py).
MOVED = "found on simulated nodes"


@pytest.fixture(scope="module")
def app(
    images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MainJobOnNode]:
    del images  # built, and the real node checked, by the session's fixture
    with main_job_on_node("dev", tmp_path_factory.mktemp("local-dev")) as deployed:
        yield deployed


def _nodes(app: MainJobOnNode) -> dict[str, list[str | None]]:
    """unit -> the nodes its live pods are bound to (None: not scheduled)."""
    return {unit: [pod["spec"].get("nodeName") for pod in app.pods(unit)] for unit in UNITS}


def _urls_answer(output: str, app: MainJobOnNode) -> dict[str, str]:
    printed = {unit: url for unit, url, _ in URL_LINE.findall(output)}
    assert set(printed) == {"vote", "result"}, output[-3000:]
    for unit, url in printed.items():
        service = app.get("service", unit)
        assert url == f"http://localhost:{service['spec']['ports'][0]['nodePort']}", url
        assert http(url)[0] == 200, (unit, url)
    return printed


def test_tools_up_prints_urls_that_answered(app: MainJobOnNode) -> None:
    printed = {unit: (url, took) for unit, url, took in URL_LINE.findall(app.output)}
    _urls_answer(app.output, app)
    rolled = ROLLED_OUT.search(app.output)
    assert rolled, app.output[-3000:]
    assert MOVED not in app.output
    print(
        f"\ntools/up (stack local) from empty: {app.took:.0f} s; after pulumi up, rollouts"
        f" {rolled.group(1)} s, then "
        + ", ".join(f"{unit} {url} answered in {took} s" for unit, (url, took) in printed.items())
    )


def _replaced_on_simulated_nodes(app: MainJobOnNode, before: set[str]) -> bool:
    """None of the pods `before` (uids) is left, and each unit's pod is bound to a node other
    than the real one."""
    pods = [pod for unit in UNITS for pod in app.pods(unit)]
    if {pod["metadata"]["uid"] for pod in pods} & before:
        return False
    nodes = _nodes(app)
    return all(
        placed and None not in placed and NODE_NAME not in placed for placed in nodes.values()
    )


def test_after_the_node_stops_and_starts_tools_up_brings_the_stack_back(
    app: MainJobOnNode,
) -> None:
    """README command 1, command 2's end, command 1 again. tools/test stops the real node at its
    end and keeps the control plane: the pod garbage collector deletes the pods of the node that
    is gone, and their ReplicaSets start them on the simulated nodes, which the stop made
    schedulable. The next tools/up starts the node again and brings every pod back to it."""
    before = {pod["metadata"]["uid"] for unit in UNITS for pod in app.pods(unit)}
    assert all(nodes == [NODE_NAME] for nodes in _nodes(app).values()), _nodes(app)
    try:
        stopped = subprocess.run([NODE, "stop"], capture_output=True, text=True, timeout=300)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        # The pod garbage collector deletes the pods of a node that is gone, with no grace
        # period, 40 to 80 s after (its quarantine); the test deletes them so at once.
        kubectl(
            "delete", "pods", "--all", "--namespace", app.namespace, "--force",
            "--grace-period=0", "--wait=false",
        )  # fmt: skip
        # What the finding saw after tools/test: every pod of the stack started again on a
        # simulated node, where kwok reports it Running.
        wait_until(
            "every pod of the stack replaced on a simulated node",
            lambda: _replaced_on_simulated_nodes(app, before),
            120,
            1,
        )
        output, took = app.up()
    except BaseException:
        # The rest of the suite needs the node (tools/up starts it when it gets that far).
        subprocess.run([CLUSTER, "start", "--real-node"], capture_output=True, timeout=900)
        raise
    assert MOVED in output, output[-3000:]
    _urls_answer(output, app)
    assert all(nodes == [NODE_NAME] for nodes in _nodes(app).values()), _nodes(app)
    moved = next(line for line in output.splitlines() if MOVED in line)
    print(f"\ntools/up after the node's stop and start: {took:.0f} s; {moved.strip()}")
