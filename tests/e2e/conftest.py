"""What every end-to-end module shares: the real node, checked once, and its test images; the
order the modules run in; and, when tools/test runs some of them beside the others, the wait of
the modules that need the node to themselves."""

from __future__ import annotations

import fcntl
import os
import time

import pytest

from tests.e2e.real_node import build_images
from tests.e2e.terminal import tell
from tests.integration.cluster import get_json, require_cluster
from workbench.settings import REAL_NODE_SELECTOR

# The files that stop the real node run last, in this order, whatever their names: every test
# before them needs the node as tools/test started it (with it stopped, new pods go to the
# simulated nodes, where a rollout "succeeds" with nothing running). test_local_dev stops it
# and has tools/up start it again; test_stop_leaves_nothing stops it for good.
LAST = ("test_local_dev.py", "test_stop_leaves_nothing.py")
# tools/test runs these in a pytest of their own, beside the others (most of their time is
# waiting for pods to come back), and holds the lock BESIDE_LOCK names for as long as they run.
BESIDE = ("test_faults.py",)
# What cannot share the node with them, and runs after they have ended: a second prod (the
# node's 2 cores carry one at its most), measurements of zero dropped requests and of the
# autoscaler, node components killed, the node stopped.
ALONE = (
    "test_local_prod.py",
    "test_reusable_and_kept.py",
    "test_rolling_updates.py",
    "test_node_health.py",
    *LAST,
)
BESIDE_LOCK = "VOTING_APP_E2E_BESIDE_LOCK"


def run_order(file_name: str) -> int:
    """Where a module's tests go: the others first, then ALONE's (LAST's in their order)."""
    if file_name in LAST:
        return len(ALONE) + LAST.index(file_name)
    return 1 if file_name in ALONE else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: run_order(item.path.name))


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    require_cluster()
    nodes = get_json("nodes", "-l", REAL_NODE_SELECTOR)["items"]
    if not nodes:
        raise RuntimeError(
            "no real node: tools/test starts it (workbench/control-plane/cluster start --real-node)"
        )
    return build_images()


_waited: list[float] = []


@pytest.fixture(autouse=True, scope="module")
def node_to_itself(request: pytest.FixtureRequest) -> None:
    """An ALONE module waits (once per session) until the modules beside have ended, when
    tools/test runs some beside: their pytest holds the lock until it exits."""
    path = os.environ.get(BESIDE_LOCK)
    if path and request.path.name in ALONE and not _waited:
        tell(request.config, f"\nwaiting for {', '.join(BESIDE)} beside to end (lock {path})")
        started = time.monotonic()
        with open(path, "rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
        _waited.append(time.monotonic() - started)
        tell(request.config, f"waited {_waited[0]:.0f} s for them")
