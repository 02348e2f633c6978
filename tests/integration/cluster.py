"""The local control plane as the integration tests see it: kubectl with its own kubeconfig."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tools.project_copy import LOCAL_CONTEXT, LOCAL_KUBECONFIG

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
    """Fail (never skip) when the cluster is missing: tools/test starts it."""
    if not KUBECONFIG.exists() or kubectl("get", "--raw", "/readyz", check=False).returncode:
        raise RuntimeError(
            f"no local cluster answers through {KUBECONFIG}: run tools/test, or tools/cluster start"
        )


def live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pods that are not on their way out (no deletionTimestamp)."""
    return [pod for pod in pods if "deletionTimestamp" not in pod["metadata"]]
