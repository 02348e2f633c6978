"""tools/up, tools/down and tools/pr-preview with --external (your own CLI and cluster), as far
as they run without either: without a CLI they stop at once, naming what is missing and how to
install it, and build nothing; and tools/down watches a namespace's deletion on the stack's own
cluster.

They run in a copy of the project (its program and stack file; this checkout's tools, workbench
and .venv linked) whose toolchain cache is an empty directory. Where a CLI must answer, small
stand-ins for `pulumi` and `kubectl` record what they are asked: these tests hold what the
commands ask and of which cluster, not what a cluster does (the integration test of the quick
start runs both commands with a real CLI on a real API server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import yaml

from tools.lib.project_copy import copy_program, link_workbench

# Bounds a run that, broken, would start building the toolchain (about 25 minutes).
BOUND_SECONDS = 60


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    copy_program(Path(__file__).resolve().parent.parent, project, ["dev"])
    link_workbench(project)
    return project


def _path_without_pulumi() -> str:
    """PATH without any directory that holds a `pulumi` (the workbench's, or one installed)."""
    kept = [
        entry
        for entry in os.environ["PATH"].split(os.pathsep)
        if entry and not (Path(entry) / "pulumi").exists()
    ]
    return os.pathsep.join(kept)


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs `command` in a process group of its own, ended whole if it outlives the bound."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=BOUND_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _env(tmp_path: Path, path: str) -> dict[str, str]:
    cache = tmp_path / "empty-cache"
    cache.mkdir(exist_ok=True)
    return {**os.environ, "PATH": path, "VOTING_APP_CACHE": str(cache), "HOME": str(tmp_path)}


def test_external_without_a_cli_fails_at_once_naming_what_to_install(tmp_path: Path) -> None:
    project = _project(tmp_path)
    env = _env(tmp_path, _path_without_pulumi())
    for command, not_done in (
        ("up", "deployed"),
        ("down", "destroyed"),
        ("pr-preview", "previewed"),
    ):
        result = _run([str(project / "tools" / command), "--external"], env)
        said = result.stdout + result.stderr
        assert result.returncode == 2, said[-2000:]
        assert f"tools/{command}: --external needs your own Pulumi CLI at or above" in said
        assert "there is none on PATH" in said
        assert "curl -fsSL https://get.pulumi.com | sh" in said
        assert f"or run tools/{command} without --external" in said
        assert f"Nothing was {not_done}" in said
        # Nothing was built, set up or started: the toolchain's cache (where a build writes its
        # logs) is as empty as it was, and no virtualenv was made.
        assert list((tmp_path / "empty-cache").iterdir()) == [], said[-2000:]
        assert "==>" not in said, said[-2000:]


def _stand_in(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + script)
    path.chmod(0o755)


def test_tools_down_watches_the_deletion_on_the_stack_s_own_cluster(tmp_path: Path) -> None:
    """The stack names its kubeconfig (and, by its type kind, the context kind-kind); KUBECONFIG
    and its current context point elsewhere. The watch must ask the stack's cluster."""
    project = _project(tmp_path)
    stack_kubeconfig = tmp_path / "stack-kubeconfig"
    stack_file = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"]["voting-app:cluster"] = {"type": "kind", "kubeconfig": str(stack_kubeconfig)}
    stack_file.write_text(yaml.safe_dump(document))
    # A file backend that holds stack dev with its namespace deployed.
    backend = tmp_path / "state"
    stacks = backend / ".pulumi" / "stacks" / "voting-app"
    stacks.mkdir(parents=True)
    root = {"type": "pulumi:pulumi:Stack", "outputs": {"namespace": "voting-dev"}}
    (stacks / "dev.json").write_text(json.dumps({"checkpoint": {"latest": {"resources": [root]}}}))
    bin_dir, asked = tmp_path / "bin", tmp_path / "kubectl-asked"
    bin_dir.mkdir()
    # The destroy lasts past the watch's first read (every 2 s); the namespace then reads as gone.
    _stand_in(
        bin_dir,
        "pulumi",
        "case $1 in version) echo v9.0.0 ;; destroy) sleep 3 ;; *) exit 1 ;; esac\n",
    )
    _stand_in(bin_dir, "kubectl", f'echo "$*" >>"{asked}"\n')
    env = {
        **_env(tmp_path, os.pathsep.join([str(bin_dir), _path_without_pulumi()])),
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "KUBECONFIG": str(tmp_path / "someone-elses-kubeconfig"),
    }
    result = _run([str(project / "tools" / "down"), "--external"], env)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said[-2000:]
    assert "destroying stack dev (namespace voting-dev)" in said
    calls = asked.read_text().splitlines()
    assert calls, said
    expected = f"--kubeconfig {stack_kubeconfig} --context kind-kind get namespace voting-dev"
    assert all(call.startswith(expected) for call in calls), calls
