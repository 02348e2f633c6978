"""What the end-to-end tests need of the real node: its test images, stacks deployed to it with
those images, and plain HTTP and kubectl to look at what runs."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.cluster import get_json, kubectl, live
from tests.integration.workspace import StackUnderTest, throwaway_stack
from tests.stack_files import ROOT
from tests.waiting import wait_until
from tools.lib.project_copy import StackConfig
from workbench import settings

UNITS = ("vote", "result", "worker", "redis", "db")
NODE_NAME = settings.NODE_NAME
# Written by workbench/real-node/node start: the node's paths (KEY='value' lines).
NODE_ENV = ROOT / ".cluster" / "node" / "node.env"


def build_images() -> dict[str, str]:
    """The test images (built or found in the cache), unit -> reference."""
    result = subprocess.run(
        [str(ROOT / "workbench" / "images" / "build"), *UNITS],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        timeout=1800,
    )
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def with_images(images: Mapping[str, str]) -> Callable[[StackConfig], None]:
    def edit(config: StackConfig) -> None:
        for unit in UNITS:
            config.setdefault(f"voting-app:{unit}", {})["image"] = images[unit]

    return edit


@dataclass
class OnRealNode:
    test: StackUnderTest
    outputs: dict[str, Any]
    # unit -> `kind/name` of its workload, looked up once (exec and logs run in polling loops).
    _workloads: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def namespace(self) -> str:
        return self.test.namespace

    def get(self, *args: str) -> Any:
        return get_json(*args, "--namespace", self.namespace)

    def pods(self, unit: str) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/name={unit}"
        pods: list[dict[str, Any]] = self.get("pods", "-l", selector)["items"]
        return pods

    def live_pods(self, unit: str) -> list[dict[str, Any]]:
        """The unit's pods that are not on their way out."""
        return live(self.pods(unit))

    def workload(self, unit: str) -> str:
        """`deployment/<unit>`, or `statefulset/<unit>` where the stack runs it so (prod's db)."""
        if unit not in self._workloads:
            selector = f"metadata.name={unit}"
            (found,) = self.get("deployments,statefulsets", "--field-selector", selector)["items"]
            self._workloads[unit] = f"{found['kind'].lower()}/{unit}"
        return self._workloads[unit]

    def exec(
        self, unit: str, *command: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        target = self.workload(unit)
        return kubectl("exec", "--namespace", self.namespace, target, "--", *command, check=check)

    def logs(self, unit: str, previous: bool = False) -> str:
        args = ["logs", "--namespace", self.namespace, self.workload(unit)]
        return kubectl(*args, *(["--previous"] if previous else []), check=False).stdout


@contextmanager
def deployed_on_real_node(
    stack: str,
    workdir: Path,
    images: Mapping[str, str],
    node_ports: Mapping[str, int],
    edit: Callable[[StackConfig], None] | None = None,
) -> Iterator[OnRealNode]:
    """The stack file's config with the test images, deployed with `up` (the program as it is)."""

    def config(values: StackConfig) -> None:
        with_images(images)(values)
        if edit is not None:
            edit(values)

    with throwaway_stack(stack, workdir, node_ports=node_ports, edit=config) as test:
        result = test.up()
        outputs = {key: value.value for key, value in result.outputs.items()}
        app = OnRealNode(test, outputs)
        wait_until("every autoscaled unit at its minimum, Ready", lambda: _at_minimum(app), 120)
        # A stopped node sends new pods to the simulated nodes, where rollouts pass with nothing
        # running: what follows would not be end to end.
        elsewhere = {
            pod["metadata"]["name"]: pod["spec"].get("nodeName")
            for unit in UNITS
            for pod in app.live_pods(unit)
            if pod["spec"].get("nodeName") != NODE_NAME
        }
        assert not elsewhere, f"pods not on the real node {NODE_NAME}: {elsewhere}"
        yield app


def _at_minimum(app: OnRealNode) -> bool:
    """An autoscaled Deployment starts with one pod; its autoscaler raises it to the minimum."""
    for hpa in app.get("horizontalpodautoscalers")["items"]:
        target = hpa["spec"]["scaleTargetRef"]["name"]
        least = hpa["spec"].get("minReplicas", 1)
        ready_pods = [pod for pod in app.pods(target) if ready(pod)]
        if len(ready_pods) < least:
            return False
    return True


def http(
    url: str, data: Mapping[str, str] | None = None, timeout: float = 5, cookie: str = ""
) -> tuple[int, str]:
    """GET (or POST a form to) `url` on this machine; the status and body, or 0 on no answer."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return 0, ""


def results(result_url: str) -> dict[str, int] | None:
    status, body = http(f"{result_url}/api/results")
    return json.loads(body) if status == 200 else None


def votes_in_db(namespace: str, db_workload: str) -> dict[str, str] | None:
    """The votes table, voter -> choice, read with psql inside the db's container
    (`db_workload`: `kind/name`); None when the db cannot answer."""
    found = kubectl(
        "exec", "--namespace", namespace, db_workload, "--",
        "psql", "-U", "postgres", "-tAF", "\t", "-c", "SELECT id, vote FROM votes",
        check=False,
    )  # fmt: skip
    if found.returncode != 0:
        return None
    return dict(line.split("\t") for line in found.stdout.splitlines() if "\t" in line)


def has_voter(app: OnRealNode, voter: str) -> bool:
    """The voter's row is in the db (read with psql inside the db container)."""
    query = f"SELECT vote FROM votes WHERE id = '{voter}'"
    found = app.exec("db", "psql", "-U", "postgres", "-tAc", query, check=False)
    return found.returncode == 0 and found.stdout.strip() in ("a", "b")


def node_env() -> dict[str, str]:
    """The real node's settings as workbench/real-node/node wrote them (KEY='value' lines)."""
    pairs = (line.split("=", 1) for line in NODE_ENV.read_text().splitlines() if "=" in line)
    return {key: value.strip("'") for key, value in pairs}


def container_host_pid(pod: dict[str, Any]) -> int:
    """The host PID of the pod's (only) container's main process, from the node's runtime."""
    node = node_env()
    (status,) = pod["status"]["containerStatuses"]
    container_id = status["containerID"].removeprefix("containerd://")
    inspected = subprocess.run(
        [
            node["CRICTL"],
            "--runtime-endpoint",
            f"unix://{node['CONTAINERD_SOCKET']}",
            "inspect",
            container_id,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    pid: int = json.loads(inspected.stdout)["info"]["pid"]
    return pid


def ready(pod: dict[str, Any]) -> bool:
    statuses = pod["status"].get("containerStatuses") or []
    return bool(statuses) and all(status["ready"] for status in statuses)
