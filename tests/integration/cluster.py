"""The local control plane as the integration tests see it: kubectl with its own kubeconfig."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from tests.processes import end, working_in
from tools.lib.deletion import read_namespace, watched
from tools.lib.project_copy import LOCAL_CONTEXT, LOCAL_KUBECONFIG, ROOT

# Every kind of object the program creates inside its namespace.
APP_KINDS = (
    "deployments.apps",
    "statefulsets.apps",
    "horizontalpodautoscalers.autoscaling",
    "resourcequotas",
    "limitranges",
    "services",
    "serviceaccounts",
    "secrets",
    "configmaps",
    "networkpolicies.networking.k8s.io",
    "poddisruptionbudgets.policy",
    "persistentvolumeclaims",
)
KUBECONFIG = Path(os.environ.get("VOTING_APP_KUBECONFIG", LOCAL_KUBECONFIG))
CONTEXT = LOCAL_CONTEXT


def kubectl(
    *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(KUBECONFIG), "--context", CONTEXT, *args],
        check=check,
        capture_output=True,
        input=input,
        text=True,
        timeout=120,
    )


def get_json(*args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def require_cluster() -> None:
    """Fail (never skip) when the local cluster is not healthy: every test that needs it fails at
    once with the same message (the check runs once per session), rather than running into its
    own timeout (a namespace deletion hangs forever while the metrics API is down)."""
    problem = _cluster_problem()
    if problem:
        raise RuntimeError(problem)


@cache
def _cluster_problem() -> str | None:
    """None when the cluster is healthy; else what is wrong. A component that died is restarted
    once by `workbench/control-plane/cluster start`, as a developer would."""
    if KUBECONFIG != LOCAL_KUBECONFIG:
        # Another cluster (VOTING_APP_KUBECONFIG): only its API server can be checked.
        if kubectl("get", "--raw", "/readyz", check=False).returncode == 0:
            return None
        return f"no cluster answers through {KUBECONFIG}"
    if not KUBECONFIG.exists():
        return (
            f"no local cluster ({KUBECONFIG} is missing): run tools/test, or"
            " workbench/control-plane/cluster start"
        )
    health = _cluster_command("health")
    if health.returncode == 0:
        return None
    started = _cluster_command("start")
    health = _cluster_command("health")
    if health.returncode == 0:
        return None
    return (
        "the local cluster is not healthy, and its start could not restore it:\n"
        f"{health.stdout.strip()}\n{started.stderr.strip()[-3000:]}"
    )


def _cluster_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "workbench" / "control-plane" / "cluster"), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


def live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pods that are not on their way out (no deletionTimestamp)."""
    return [pod for pod in pods if "deletionTimestamp" not in pod["metadata"]]


@contextmanager
def destroying(namespace: str, project: Path) -> Iterator[None]:
    """A block that deletes `namespace` (a `pulumi destroy` of the stack in `project`): when the
    API server says the namespace cannot go, or it is still there after 5 minutes, the Pulumi
    processes working in `project` are ended and the block fails with the reason
    (tools/lib/deletion.py), instead of waiting for the provider's own timeout."""
    with watched(kubectl, namespace, lambda: end(working_in(project))):
        yield


def delete_namespaces(name: str) -> None:
    """Delete namespace `name` and any `name-<suffix>` (copies of the app), and wait for them to
    go, bounded and failing with the reason (tools/lib/deletion.py). For what a test's destroy
    leaves on purpose: a stack that keeps its db's data keeps its namespace."""
    found = [
        item["metadata"]["name"]
        for item in get_json("namespaces")["items"]
        if item["metadata"]["name"] == name or item["metadata"]["name"].startswith(f"{name}-")
    ]
    for namespace in found:
        stopped = threading.Event()
        with watched(kubectl, namespace, stopped.set):
            kubectl("delete", "namespace", namespace, "--wait=false")
            while read_namespace(kubectl, namespace) is not None and not stopped.wait(1):
                pass
