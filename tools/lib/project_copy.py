"""A throwaway copy of the Pulumi project that the CLI can run, pointed at the local cluster:
for the integration tests, PR previews and benchmarks."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from workbench import settings

ROOT = Path(__file__).resolve().parents[2]
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "components", "policy")
# Written by the local control plane's start: its own kubeconfig and its context.
LOCAL_KUBECONFIG = settings.CLUSTER_DIR / "kubeconfig"
LOCAL_CONTEXT = settings.LOCAL_CONTEXT
WEB_UNITS = ("vote", "result")

StackConfig = dict[str, Any]


def link_virtualenv(destination: Path) -> None:
    """The copy runs with this checkout's virtualenvs: the program's `.venv` (Pulumi.yaml) and the
    policy pack's `policy/venv` (PulumiPolicy.yaml)."""
    (destination / ".venv").symlink_to(ROOT / ".venv")
    if (destination / "policy").is_dir():
        (destination / "policy" / "venv").symlink_to(ROOT / "policy" / "venv")


# What a copy that runs the main job (tools/up) borrows from this checkout, as links: the tools,
# the workbench and its local cluster, the requirement pins.
WORKBENCH_FILES = (
    "tools",
    "workbench",
    ".cluster",
    ".venv-checkov",
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-checkov.txt",
)


def link_workbench(destination: Path) -> None:
    """The copy runs this checkout's tools/up, workbench and local cluster (its own stack files
    and, unless told otherwise, its own file backend `.state/`)."""
    for name in WORKBENCH_FILES:
        (destination / name).symlink_to(settings.CLUSTER_DIR if name == ".cluster" else ROOT / name)


def copy_program(source: Path, destination: Path, stacks: Iterable[str]) -> None:
    """The program and the given stacks' config files, as they are in `source`'s working tree."""
    for name in (*PROGRAM_FILES, *(f"Pulumi.{stack}.yaml" for stack in stacks)):
        path = source / name
        if path.is_dir():
            shutil.copytree(
                path, destination / name, ignore=shutil.ignore_patterns("__pycache__", "venv")
            )
        elif path.exists():
            shutil.copy2(path, destination / name)
    link_virtualenv(destination)


def edit_stack_config(project: Path, stack: str, edit: Callable[[StackConfig], None]) -> None:
    """Change a copy's stack file config in place, as a person editing it would."""
    stack_file = project / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(stack_file.read_text())
    edit(document["config"])
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))


def point_at_local_cluster(
    config: StackConfig,
    namespace: str,
    node_ports: Mapping[str, int] | None = None,
    context: str = LOCAL_CONTEXT,
) -> None:
    """The stack's own config, on the local cluster in a namespace of its own. A tools/up
    deployment may hold the stack's fixed node ports: they become `node_ports`, or are dropped
    (allocated by Kubernetes) when None."""
    config["voting-app:cluster"] = {**config["voting-app:cluster"], "context": context}
    config["voting-app:namespace"] = namespace
    for unit in WEB_UNITS:
        exposure = config.get(f"voting-app:{unit}", {}).get("exposure", {})
        if exposure.get("nodePort") is None:
            continue
        if node_ports is None:
            del exposure["nodePort"]
        else:
            exposure["nodePort"] = node_ports[unit]
