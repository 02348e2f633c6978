"""A stack's state as the file backend keeps it, read without starting the Pulumi CLI (each CLI
call costs 0.3 s or more before it does anything); any other backend through the CLI.

    python -m tools.lib.stack_state urls STACK        the app's URLs, from the stack's outputs
    python -m tools.lib.stack_state namespace STACK   its namespace (nothing when none is deployed)

Run with the Pulumi environment of workbench/lib.sh (`pulumi` on PATH, PULUMI_BACKEND_URL set).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT = "voting-app"


def pulumi(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pulumi", *args, "--non-interactive"],
        check=check,
        capture_output=True,
        text=True,
        timeout=600,
    )


def backend_dir() -> Path | None:
    url = os.environ.get("PULUMI_BACKEND_URL", "")
    if not url.startswith("file://"):
        return None
    return Path(url.removeprefix("file://").split("?")[0])


def checkpoint_file(stack: str) -> Path | None:
    """Where the file backend keeps the stack's state; None if it is not there (or the backend
    is not a file backend)."""
    backend = backend_dir()
    if backend is None:
        return None
    stacks = backend / ".pulumi" / "stacks" / PROJECT
    return next(
        (path for path in (stacks / f"{stack}.json", stacks / f"{stack}.json.gz") if path.exists()),
        None,
    )


def checkpoint(stack: str) -> dict[str, Any] | None:
    """The stack's deployment as the file backend keeps it (what `pulumi stack export` prints),
    None when not found there."""
    path = checkpoint_file(stack)
    if path is None:
        return None
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    deployment: dict[str, Any] = json.loads(data)["checkpoint"].get("latest") or {}
    return deployment


def outputs(stack: str) -> dict[str, Any]:
    """The stack's outputs (secret ones stay encrypted: the app's URLs are not secrets)."""
    deployment = checkpoint(stack)
    if deployment is None:
        printed = pulumi("stack", "output", "--stack", stack, "--json")
        found: dict[str, Any] = json.loads(printed.stdout)
        return found
    root: dict[str, Any] = next(
        (
            resource
            for resource in deployment.get("resources") or []
            if resource.get("type") == "pulumi:pulumi:Stack"
        ),
        {},
    )
    values: dict[str, Any] = root.get("outputs") or {}
    return values


def deployment(stack: str) -> dict[str, Any]:
    """The stack's deployment: from the file backend's checkpoint, else `pulumi stack export`;
    empty when there is no such stack."""
    found = checkpoint(stack)
    if found is not None:
        return found
    exported = pulumi("stack", "export", "--stack", stack, check=False)
    if exported.returncode != 0:
        return {}
    value: dict[str, Any] = json.loads(exported.stdout).get("deployment") or {}
    return value


def namespace(stack: str) -> str:
    """The namespace the stack deployed to; empty when nothing is deployed. The stack's output
    says, once an update has finished; after a first update that failed (the outputs are saved
    only when the program's run ends well) the objects it did create say, from the state."""
    found = outputs(stack).get("namespace")
    if found:
        return str(found)
    resources = deployment(stack).get("resources") or []
    for resource in resources:
        metadata = (resource.get("outputs") or {}).get("metadata") or {}
        if resource.get("type") == "kubernetes:core/v1:Namespace" and metadata.get("name"):
            return str(metadata["name"])
    for resource in resources:
        metadata = (resource.get("outputs") or {}).get("metadata") or {}
        if str(resource.get("type", "")).startswith("kubernetes:") and metadata.get("namespace"):
            return str(metadata["namespace"])
    return ""


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("urls", "namespace"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        if argv[0] == "namespace":
            print(namespace(argv[1]))
            return 0
        found = outputs(argv[1])
    except subprocess.CalledProcessError as error:
        said = (error.stderr or "").strip().splitlines() or [str(error)]
        print(f"no outputs of stack {argv[1]}: {said[-1]}", file=sys.stderr)
        return 1
    print(f"vote:   {found['vote_url']}")
    print(f"result: {found['result_url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
