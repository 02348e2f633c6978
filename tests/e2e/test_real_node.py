"""End to end on the real node: the shipped program, its pod specs unchanged but for the images
(test images built here: Debian's real redis-server and PostgreSQL 15, and stand-ins for vote,
worker and result, see workbench/images/), running as containers under their real security contexts,
probed for real, reached through kube-proxy, with NetworkPolicies enforced (kube-router). Nothing
here is simulated. The other modules: test_reachability (the traffic graph), test_rolling_updates
(zero downtime), test_faults (the prod stack under faults).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.app.db import ClientAuth
from tests.e2e.real_node import (
    NODE_NAME,
    OnRealNode,
    deployed_on_real_node,
    http,
    results,
)
from tests.stack_files import ROOT
from tests.waiting import wait_until
from tools.lib.project_copy import StackConfig

pytestmark = pytest.mark.e2e
VOTES = 20
SCRAM_REFUSED = "Authentication method not supported (Received: 10)"


@pytest.fixture(scope="module")
def dev(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[OnRealNode]:
    workdir: Path = tmp_path_factory.mktemp("e2e-dev")
    ports = {"vote": 30204, "result": 30205}
    with deployed_on_real_node("dev", workdir, images, ports) as app:
        yield app


def test_every_pod_runs_on_the_real_node_and_is_ready_through_real_probes(dev: OnRealNode) -> None:
    for unit in ("vote", "result", "worker", "redis", "db"):
        (pod,) = dev.pods(unit)
        assert pod["spec"]["nodeName"] == NODE_NAME, unit
        (status,) = pod["status"]["containerStatuses"]
        assert status["ready"] is True, (unit, status)
        assert "running" in status["state"], (unit, status)
        assert status["restartCount"] == 0, (unit, status)
    # The exec probes the pod specs declare (redis-cli ping, pg_isready) pass in the containers
    # when run by hand too; the kubelet ran them, and HTTP GET / on the web units, to get Ready.
    for unit in ("redis", "db"):
        (container,) = dev.get("deployment", unit)["spec"]["template"]["spec"]["containers"]
        command = container["readinessProbe"]["exec"]["command"]
        assert dev.exec(unit, *command).returncode == 0, (unit, command)


def _process_status(app: OnRealNode, unit: str) -> dict[str, str]:
    text = app.exec(unit, "cat", "/proc/1/status").stdout
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _writable_paths(app: OnRealNode, unit: str) -> list[str]:
    """Where the pod spec mounts an emptyDir: the only writable paths on a read-only root."""
    pod = app.get("deployment", unit)["spec"]["template"]["spec"]
    empty = {volume["name"] for volume in pod["volumes"] if "emptyDir" in volume}
    (container,) = pod["containers"]
    return [mount["mountPath"] for mount in container["volumeMounts"] if mount["name"] in empty]


def test_security_contexts_hold_inside_the_containers(dev: OnRealNode) -> None:
    for unit in ("redis", "db"):
        status = _process_status(dev, unit)
        assert status["Uid"].split()[0] == "10999", unit
        assert status["CapEff"].strip() == "0000000000000000", unit
    for unit in ("vote", "result", "worker", "redis", "db"):
        status = _process_status(dev, unit)
        assert status["NoNewPrivs"].strip() == "1", unit
        assert status["Seccomp"].strip() == "2", unit  # filter mode: RuntimeDefault in force
        written = dev.exec(unit, "touch", "/should-not-be-writable", check=False)
        assert written.returncode != 0, f"{unit}: the root filesystem is writable"
        for path in _writable_paths(dev, unit):
            assert dev.exec(unit, "touch", f"{path}/e2e-probe").returncode == 0, (unit, path)
    # vote and result run as root with NET_BIND_SERVICE alone (bit 10) to bind port 80.
    for unit in ("vote", "result"):
        assert _process_status(dev, unit)["CapEff"].strip() == "0000000000000400", unit


def test_redis_and_db_resolve_by_name_inside_the_pods(dev: OnRealNode) -> None:
    services = {s["metadata"]["name"]: s for s in dev.get("services")["items"]}
    lookup = "import socket; print(socket.gethostbyname('redis'), socket.gethostbyname('db'))"
    for unit in ("vote", "worker", "result"):
        redis_ip, db_ip = dev.exec(unit, "python3", "-c", lookup).stdout.split()
        assert redis_ip == services["redis"]["spec"]["clusterIP"], unit
        assert db_ip == services["db"]["spec"]["clusterIP"], unit


def test_the_smoke_check_of_the_github_job_counts_votes_on_the_page(dev: OnRealNode) -> None:
    """tools/lib/smoke, as the end-to-end job on kind runs it against the stock images: here
    against the stand-ins, which speak the stock result server's socket.io."""
    smoke = subprocess.run(
        [
            *(sys.executable, "-m", "tools.lib.smoke"),
            *("--vote-url", dev.outputs["vote_url"], "--result-url", dev.outputs["result_url"]),
            *("--votes", "10", "--timeout", "60"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(f"\n{smoke.stdout.strip()}")
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "socket.io scores" in smoke.stdout


def test_votes_posted_to_the_exported_vote_url_appear_at_the_exported_result_url(
    dev: OnRealNode,
) -> None:
    vote_url, result_url = dev.outputs["vote_url"], dev.outputs["result_url"]
    assert vote_url.startswith("http://localhost:302")
    status, page = http(vote_url)
    assert status == 200
    assert "Cats" in page
    assert "Dogs" in page
    before = wait_until("result counts", lambda: results(result_url), timeout=60)
    cast = {"a": 0, "b": 0}
    for n in range(VOTES):  # each request without a cookie is a new voter
        choice = "a" if n % 3 else "b"
        status, _ = http(vote_url, {"vote": choice})
        assert status == 200, n
        cast[choice] += 1
    expected = {key: before[key] + cast[key] for key in cast}
    counted = wait_until(
        f"{VOTES} votes counted", lambda: results(result_url) == expected and expected, 60
    )
    print(f"\n{VOTES} votes posted through the vote NodePort, counted: {counted}")
    status, page = http(result_url)
    assert status == 200
    assert f">{expected['a']}<" in page


def _set_client_auth(auth: ClientAuth) -> Any:
    def edit(config: StackConfig) -> None:
        config["voting-app:db"]["clientAuth"] = auth.value

    return edit


def test_the_worker_cannot_log_in_when_the_db_asks_for_scram(
    images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The test that would have caught the stock worker against Postgres 15: the stand-in worker
    has the stock worker's limits, and the shipped setting (trust) is what makes it work."""
    workdir: Path = tmp_path_factory.mktemp("e2e-scram")
    ports = {"vote": 30214, "result": 30215}
    with deployed_on_real_node(
        "dev", workdir, images, ports, edit=_set_client_auth(ClientAuth.SCRAM_SHA_256)
    ) as app:
        seen = {"log": ""}

        def crashed_for_scram() -> bool:
            (pod,) = app.pods("worker")
            (status,) = pod["status"]["containerStatuses"]
            if status["restartCount"] == 0:
                return False
            # The ended container's log, once the kubelet serves it (it has answered "unable to
            # retrieve container logs" for one), or the next container's, which ends the same way.
            seen["log"] = app.logs("worker", previous=True) + app.logs("worker")
            return SCRAM_REFUSED in seen["log"]

        try:
            wait_until("the worker to die refusing SCRAM, and restart", crashed_for_scram, 90)
        except AssertionError as error:
            raise AssertionError(f"{error}; its last log: {seen['log']!r}") from None
        status, _ = http(app.outputs["vote_url"], {"vote": "a"})
        assert status == 200
        # result uses the same limited client: it cannot read the counts either.
        assert results(app.outputs["result_url"]) is None
