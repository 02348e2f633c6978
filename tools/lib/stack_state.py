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


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("urls", "namespace"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        found = outputs(argv[1])
    except subprocess.CalledProcessError as error:
        said = (error.stderr or "").strip().splitlines() or [str(error)]
        print(f"no outputs of stack {argv[1]}: {said[-1]}", file=sys.stderr)
        return 1
    if argv[0] == "namespace":
        print(found.get("namespace", ""))
        return 0
    print(f"vote:   {found['vote_url']}")
    print(f"result: {found['result_url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
