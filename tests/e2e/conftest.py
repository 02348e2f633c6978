"""What every end-to-end module shares: the real node, checked once, and its test images."""

from __future__ import annotations

import pytest

from tests.e2e.real_node import build_images
from tests.integration.cluster import get_json, require_cluster
from workbench.settings import REAL_NODE_SELECTOR

# The files that stop the real node run last, in this order, whatever their names: every test
# before them needs the node as tools/test started it (with it stopped, new pods go to the
# simulated nodes, where a rollout "succeeds" with nothing running). test_local_dev stops it
# and has tools/up start it again; test_stop_leaves_nothing stops it for good.
LAST = ("test_local_dev.py", "test_stop_leaves_nothing.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: LAST.index(item.path.name) + 1 if item.path.name in LAST else 0)


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    require_cluster()
    nodes = get_json("nodes", "-l", REAL_NODE_SELECTOR)["items"]
    if not nodes:
        raise RuntimeError(
            "no real node: tools/test starts it (workbench/control-plane/cluster start --real-node)"
        )
    return build_images()
