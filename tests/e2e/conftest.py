"""What every end-to-end module shares: the real node, checked once, and its test images."""

from __future__ import annotations

import pytest

from tests.e2e.real_node import build_images
from tests.integration.cluster import get_json, require_cluster
from workbench.settings import REAL_NODE_SELECTOR


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    require_cluster()
    nodes = get_json("nodes", "-l", REAL_NODE_SELECTOR)["items"]
    if not nodes:
        raise RuntimeError(
            "no real node: tools/test starts it (workbench/control-plane/cluster start --real-node)"
        )
    return build_images()
