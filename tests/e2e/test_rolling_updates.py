"""Zero-downtime rolling updates, measured: while a steady, bounded stream of requests goes to the
exported URL (this machine's NodePort, through kube-proxy), a config change rolls the unit's pods
with `up`; no request may fail (no connection refused or reset, no timeout, no 5xx)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.load import FAILURES, RequestLoop
from tests.e2e.real_node import OnRealNode, deployed_on_real_node, http
from tests.waiting import wait_until
from tools.lib.project_copy import StackConfig

pytestmark = pytest.mark.e2e
QUIET = 3.0  # seconds of requests before and after the rollout


@pytest.fixture(scope="module")
def app(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[OnRealNode]:
    workdir: Path = tmp_path_factory.mktemp("e2e-rollouts")
    with deployed_on_real_node("dev", workdir, images, {"vote": 30234, "result": 30235}) as app:
        yield app


def _pod_uids(app: OnRealNode, unit: str) -> set[str]:
    return {pod["metadata"]["uid"] for pod in app.pods(unit)}


def _roll(app: OnRealNode, unit: str, change: Callable[[StackConfig], None]) -> RequestLoop:
    """Change the config and `up` while the loop runs; the unit's pods must all be new after."""
    url = app.outputs[f"{unit}_url"]
    assert http(url)[0] == 200, f"{unit} does not answer before the rollout"
    before = _pod_uids(app, unit)
    with RequestLoop(url) as loop:
        time.sleep(QUIET)
        started = time.monotonic()
        app.test.edit_config(change)
        app.test.up()
        rollout = time.monotonic() - started
        # `up` returns once the new pods are Ready; the old ones are still draining then. The
        # requests go on until they are gone, and a little after.
        wait_until(f"{unit}'s old pods gone", lambda: not before & _pod_uids(app, unit), 60)
        gone = time.monotonic() - started
        time.sleep(QUIET)
    assert _pod_uids(app, unit), f"{unit} has no pods"
    print(f"\n{unit} rollout: `up` {rollout:.1f}s, old pods gone after {gone:.1f}s; {loop}")
    # The loop kept sending all along: no thread ended, as many requests as its rate allows.
    assert not loop.problems(), loop.problems()
    return loop


def test_changing_option_a_rolls_vote_without_a_failed_request(app: OnRealNode) -> None:
    option = f"Cats-{secrets.token_hex(2)}"

    def change(config: StackConfig) -> None:
        config["voting-app:optionA"] = option

    loop = _roll(app, "vote", change)
    assert option in http(app.outputs["vote_url"])[1]
    assert not loop.failed, f"{FAILURES}: {loop.failed}"


def test_a_new_result_pod_template_rolls_result_without_a_failed_request(app: OnRealNode) -> None:
    def change(config: StackConfig) -> None:
        limits = config["voting-app:result"]["resources"]["limits"]
        limits["memory"] = "160Mi" if limits["memory"] != "160Mi" else "144Mi"

    loop = _roll(app, "result", change)
    assert not loop.failed, f"{FAILURES}: {loop.failed}"
