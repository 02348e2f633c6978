"""When the main job cannot go on, it says why in one line and how to fix it: no traceback, a
non-zero exit, and nothing changed in the cluster or the state. One test per row of the table in
docs/operations.md, "Checks before anything changes"; each runs the real `tools/up` in a copy of
the project."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.integration.cluster import kubectl
from tests.integration.main_job import MAIN_JOB_PORTS, MainJob, main_job_copy

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Row:
    cause: str
    args: tuple[str, ...]
    env: dict[str, str]
    prepare: Callable[[MainJob, Path], dict[str, str]] | None
    message: str  # the start of the line that says what is wrong


def _broken_yaml(job: MainJob, _: Path) -> dict[str, str]:
    stack_file = job.project / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text() + "  voting-app:optionA: [Cats\n")
    return {}


def _unknown_context(job: MainJob, _: Path) -> dict[str, str]:
    stack_file = job.project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"]["voting-app:cluster"]["context"] = "no-such-context"
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    return {}


def _unreachable(_: MainJob, tmp: Path) -> dict[str, str]:
    """A kubeconfig whose context is the stack's, at an address where nothing listens."""
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "nobody", "user": {"token": "not-a-token"}}],
                "contexts": [
                    {"name": "kwok-voting-app", "context": {"cluster": "gone", "user": "nobody"}}
                ],
                "current-context": "kwok-voting-app",
            }
        )
    )
    return {"KUBECONFIG": str(kubeconfig)}


ROWS = [
    Row(
        "a stack file that is not valid YAML",
        (),
        {},
        _broken_yaml,
        "tools/up: Pulumi.dev.yaml is not valid YAML at line",
    ),
    Row(
        "a kube context that does not exist",
        (),
        {},
        _unknown_context,
        "tools/up: kube context 'no-such-context'",
    ),
    Row(
        "an unreachable cluster",
        ("--stack", "dev", "--external"),
        {},
        _unreachable,
        "tools/up: the cluster of context 'kwok-voting-app' (https://127.0.0.1:1) does not answer",
    ),
    Row(
        "a missing passphrase",
        ("--stack", "prod", "--external"),
        {"PULUMI_CONFIG_PASSPHRASE": ""},
        None,
        "tools/up: set PULUMI_CONFIG_PASSPHRASE (or _FILE) for stack prod",
    ),
    Row(
        "a wrong passphrase",
        (),
        {"PULUMI_CONFIG_PASSPHRASE": "not-the-passphrase"},
        None,
        "tools/up: the passphrase for stack dev is wrong",
    ),
]


@pytest.fixture
def job(tmp_path: Path) -> Iterator[MainJob]:
    with main_job_copy(tmp_path) as job:
        yield job


@pytest.mark.parametrize("row", ROWS, ids=[row.cause for row in ROWS])
def test_the_main_job_names_the_cause_and_changes_nothing(
    row: Row, job: MainJob, tmp_path: Path
) -> None:
    env = {**row.env, **(row.prepare(job, tmp_path) if row.prepare else {})}
    result = job.run(*row.args, timeout=300, **env)
    lines = result.stdout.strip().splitlines()
    print(f"\n{row.cause}: exit {result.returncode}: {lines[-1] if lines else ''}")
    assert result.returncode == 2, result.stdout[-3000:]
    assert lines[-1].startswith(row.message), result.stdout[-3000:]
    assert "Traceback" not in result.stdout
    assert "KeyboardInterrupt" not in result.stdout
    # Nothing changed: no stack in the copy's backend, no namespace in the cluster.
    assert not list((job.project / ".state").rglob("*.json")), "the state was written"
    found = kubectl("get", "namespace", job.namespace, "--ignore-not-found", "-o", "name")
    assert found.stdout.strip() == ""


def test_a_missing_provider_plugin_is_installed_again(job: MainJob) -> None:
    # tools/test (and tools/up) set PULUMI_HOME: the plugins live there, one kubernetes version.
    plugins = Path(os.environ["PULUMI_HOME"]) / "plugins"
    (plugin,) = [path for path in plugins.glob("resource-kubernetes-v*") if path.is_dir()]
    shutil.rmtree(plugin)
    # The next tools/up puts it back (the same binary, from the toolchain's cache).
    result = job.run(timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "==> installing plugin resource kubernetes" in result.stdout
    job.converged()

    # The stack deployed, a rerun with a wrong passphrase: the update itself finds it (tools/up
    # checks nothing of its own on a rerun) before it reads the cluster or writes the state.
    checkpoint = job.project / ".state" / ".pulumi" / "stacks" / "voting-app" / "dev.json"
    before = checkpoint.read_bytes()
    result = job.run(timeout=300, PULUMI_CONFIG_PASSPHRASE="not-the-passphrase")
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 2, result.stdout[-3000:]
    assert lines[-1].startswith("tools/up: the passphrase for stack dev is wrong"), lines[-3:]
    assert checkpoint.read_bytes() == before, "the state was written"
    job.destroy()


def test_a_node_port_held_by_another_service_is_named(job: MainJob) -> None:
    """A fixed node port another Service of the cluster holds: the update fails, and tools/up
    names the Service that holds it."""
    holder = f"{job.namespace}-holder"
    kubectl("create", "namespace", holder)
    try:
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "squatter", "namespace": holder},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "nothing"},
                "ports": [{"port": 80, "nodePort": MAIN_JOB_PORTS["vote"]}],
            },
        }
        kubectl("apply", "-f", "-", input=json.dumps(service))
        result = job.run(timeout=600)
        lines = result.stdout.strip().splitlines()
        assert result.returncode != 0, result.stdout[-3000:]
        assert lines[-1].startswith(
            f"tools/up: node port {MAIN_JOB_PORTS['vote']} is taken by Service {holder}/squatter"
        ), result.stdout[-3000:]
    finally:
        kubectl("delete", "namespace", holder, "--wait=false", check=False)
    job.destroy()
