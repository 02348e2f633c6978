"""A plain `pulumi up` (the Automation API, no tools/up) reports a workload created or updated
only once it has rolled out, on the real node: every pod not on its way out is of the
workload's current template and Ready, as many as it wants. An old pod that is terminating
(draining) is allowed: it is out of the Service's endpoints.

Each workload is judged from a listing of the pods taken the moment Pulumi reports that
workload done (its step's outputs event), and again when `up` returns. The first matters: `up`
returns with the slowest of the workloads it changed, which hides one reported done early.
Three units change together, as a config change does: vote and result (Deployments: OPTION_A,
result's memory limit) and db, here a StatefulSet (its memory limit). They go to new templates,
back to the first, and to the new ones again: the last two return to templates whose ReplicaSet
(or revision) still exists, where the provider's own Deployment wait could take the old pods
for the new (docs/operations.md, "What a plain `pulumi up` waits for"). The first `up`, which
creates everything, is judged the same way. Each step prints how long Pulumi took over each
workload and when its new pods became Ready, relative to that moment (the kubelet's times, to
the second).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pulumi.automation import EngineEvent, OpType

from tests.e2e.real_node import NODE_NAME, OnRealNode, with_images
from tests.integration.cluster import live
from tests.integration.workspace import POLICY_PACK, throwaway_stack
from tests.waiting import wait_until
from tools.lib.project_copy import StackConfig

pytestmark = pytest.mark.e2e

# unit -> the kind of its workload in this test's stack (db made a StatefulSet below).
WORKLOADS = {
    "vote": "deployment",
    "result": "deployment",
    "worker": "deployment",
    "redis": "deployment",
    "db": "statefulset",
}
WORKLOAD_TYPES = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")
NODE_PORTS = {"vote": 30244, "result": 30245}
# Each changed unit's two templates: the value of the one field the test changes.
TEMPLATES: dict[str, tuple[str, str]] = {
    "vote": ("Cats", "Lynxes"),
    "result": ("256Mi", "240Mi"),
    "db": ("256Mi", "240Mi"),
}
# New, back to the first, new again: the last two are rollbacks.
SEQUENCE = (1, 0, 1)
# How long the new pods may take to be Ready after a failed check, to say how late they were.
LATE_BOUND = 180.0


def _set_templates(which: int) -> Callable[[StackConfig], None]:
    def edit(config: StackConfig) -> None:
        config["voting-app:optionA"] = TEMPLATES["vote"][which]
        for unit in ("result", "db"):
            config[f"voting-app:{unit}"]["resources"]["limits"]["memory"] = TEMPLATES[unit][which]

    return edit


def _stack(images: dict[str, str]) -> Callable[[StackConfig], None]:
    def edit(config: StackConfig) -> None:
        with_images(images)(config)
        config["voting-app:db"]["workload"] = "StatefulSet"
        _set_templates(0)(config)

    return edit


@dataclass
class Snapshot:
    """The pods as listed at one moment (epoch seconds)."""

    at: float
    pods: list[dict[str, Any]]


@dataclass
class Up:
    """One `pulumi up`: when each workload was reported done, and the pods then and at the end."""

    started: float
    done: dict[str, Snapshot] = field(default_factory=dict)
    returned: Snapshot | None = None


def _up(app: OnRealNode) -> Up:
    """`pulumi up` (as the tests' StackUnderTest.up: the project's policy pack), listing the pods
    as each workload's step reports its outputs."""
    up = Up(time.time())

    def on_event(event: EngineEvent) -> None:
        outputs = event.res_outputs_event
        if outputs is None or outputs.metadata.type not in WORKLOAD_TYPES:
            return
        if outputs.metadata.op not in (OpType.CREATE, OpType.UPDATE):
            return
        unit = outputs.metadata.urn.rsplit("::", 1)[1].removeprefix("voting-app-")
        up.done[unit] = Snapshot(time.time(), app.get("pods")["items"])

    app.test.stack.up(policy_packs=[POLICY_PACK], suppress_progress=True, on_event=on_event)
    up.returned = Snapshot(time.time(), app.get("pods")["items"])
    return up


@dataclass
class Created:
    app: OnRealNode
    up: Up


@pytest.fixture(scope="module")
def created(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Created]:
    workdir: Path = tmp_path_factory.mktemp("e2e-up-returns")
    with throwaway_stack("dev", workdir, node_ports=NODE_PORTS, edit=_stack(images)) as test:
        app = OnRealNode(test, {})
        yield Created(app, _up(app))


@dataclass
class Judged:
    unit: str
    wanted: int
    current: list[dict[str, Any]]  # live pods of the workload's current template
    stale: list[dict[str, Any]]  # live pods of an older template

    def problem(self) -> str | None:
        not_ready = [pod["metadata"]["name"] for pod in self.current if _ready_at(pod) is None]
        # On a simulated node a pod is Ready with nothing running: no test of a rollout.
        elsewhere = [pod for pod in self.current if pod["spec"].get("nodeName") != NODE_NAME]
        if elsewhere:
            return f"{len(elsewhere)} pod(s) of the current template not on the real node"
        if self.stale:
            return f"{len(self.stale)} pod(s) of an older template still running"
        if len(self.current) != self.wanted:
            return f"{len(self.current)} of {self.wanted} pods of the current template"
        if not_ready:
            return f"pods of the current template not Ready: {', '.join(not_ready)}"
        return None


def _container_template(container: dict[str, Any]) -> tuple[Any, ...]:
    """What a template change here touches in a container: image, env, resources."""
    return container["image"], container.get("env"), container.get("resources")


def _judge(app: OnRealNode, unit: str, pods: list[dict[str, Any]]) -> Judged:
    """`pods` against the unit's workload as it is now (its template is the one `up` wrote)."""
    workload = app.get(WORKLOADS[unit], unit)
    (template,) = workload["spec"]["template"]["spec"]["containers"]
    wanted = _container_template(template)
    mine = [p for p in live(pods) if p["metadata"]["labels"].get("app.kubernetes.io/name") == unit]
    current = [p for p in mine if _container_template(p["spec"]["containers"][0]) == wanted]
    stale = [p for p in mine if p not in current]
    return Judged(unit, workload["spec"]["replicas"], current, stale)


def _ready_at(pod: dict[str, Any]) -> float | None:
    """When the pod became Ready (epoch seconds, to the second), or None if it is not."""
    for condition in pod["status"].get("conditions") or []:
        if condition["type"] == "Ready" and condition["status"] == "True":
            return datetime.fromisoformat(condition["lastTransitionTime"]).timestamp()
    return None


def _ready_times(judged: Judged, moment: float) -> str:
    times = [
        f"{pod['metadata']['name']} Ready {ready - moment:+.0f} s"
        for pod in judged.current
        if (ready := _ready_at(pod)) is not None
    ]
    return ", ".join(times) or "no pod of the current template Ready"


def _late(app: OnRealNode, unit: str, moment: float) -> str:
    """After a failed check: when the unit's new pods did become Ready, relative to `moment`."""

    def settled() -> Judged | None:
        judged = _judge(app, unit, app.get("pods")["items"])
        return judged if judged.problem() is None else None

    try:
        judged = wait_until(f"{unit} rolled out", settled, LATE_BOUND)
    except AssertionError as error:
        return str(error)
    return _ready_times(judged, moment)


def _failures(app: OnRealNode, up: Up, units: tuple[str, ...], what: str) -> list[str]:
    """Each unit judged when Pulumi reported it done and when `up` returned; printed."""
    assert up.returned is not None
    print(f"\n{what}: `up` returned after {up.returned.at - up.started:.1f} s")
    failures = []
    for unit in units:
        assert unit in up.done, f"{what}: Pulumi reported no create or update of {unit}"
        for moment, snapshot in (("reported done", up.done[unit]), ("`up` returned", up.returned)):
            judged = _judge(app, unit, snapshot.pods)
            problem = judged.problem()
            print(
                f"  {unit} {moment} at {snapshot.at - up.started:.1f} s:"
                f" {problem or 'rolled out'}; {_ready_times(judged, snapshot.at)}"
            )
            if problem:
                late = _late(app, unit, snapshot.at)
                print(f"    afterwards: {late}")
                failures.append(f"{what}, {unit} {moment}: {problem}; afterwards: {late}")
    return failures


def test_every_workload_is_rolled_out_when_the_first_up_reports_it_created(
    created: Created,
) -> None:
    failures = _failures(created.app, created.up, tuple(WORKLOADS), "create")
    assert not failures, "; ".join(failures)


def test_a_changed_workload_is_rolled_out_when_up_reports_it_updated(created: Created) -> None:
    app = created.app
    failures = []
    for step, which in enumerate(SEQUENCE):
        app.test.edit_config(_set_templates(which))
        what = f"templates {which} ({'a rollback' if step else 'new'})"
        failures += _failures(app, _up(app), tuple(TEMPLATES), what)
    assert not failures, "; ".join(failures)
