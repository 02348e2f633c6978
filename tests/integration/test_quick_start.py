"""The README's quick start, as a platform engineer with their own tools would run it: their own
Pulumi CLI, their own login, a kind cluster. Stand-ins, since this machine has none of those: the
CLI is a copy of the workbench's (outside its cache, so the project cannot tell it from an
installed one) with a fresh PULUMI_HOME in which the Kubernetes plugin is installed from a file
(where the real CLI would download it); the "kind" cluster is the local control plane under a
kubeconfig whose context is named kind-kind; `pulumi login --local` writes under a HOME of the
test's. The toolchain cache is an empty directory: nothing may be built.

The README's lines as tools/lib/quick_start.py reads them (the CI job on kind runs the same),
but for `kind create cluster` (the cluster is there) and one added line that gives the stack a
namespace and node ports of its own on the shared cluster.
Then `tools/up --external` and `tools/down --external` with the same CLI: nothing built either."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.integration.cluster import KUBECONFIG, get_json
from tests.stack_files import ROOT
from tools.lib import quick_start

pytestmark = pytest.mark.integration
WORKBENCH_CLI = ("pulumi", "pulumi-language-python", "pulumi-language-python-exec")


def _standin_cli(bin_dir: Path) -> Path:
    """The workbench's CLI and language host (with its runner script), copied out of its cache."""
    found = shutil.which("pulumi")
    assert found, "no pulumi on PATH: tools/test puts the workbench's there"
    cli = Path(found).resolve()
    host = (cli.parent / "pulumi-language-python").resolve()
    bin_dir.mkdir()
    for source in (cli, host, host.parent / "pulumi-language-python-exec"):
        shutil.copy2(source, bin_dir / source.name)
    return cli.parent


def _path_without_the_workbench(bin_dir: Path) -> str:
    """PATH with the stand-in CLI first and nothing of the workbench's cache or our .venv."""
    cache = os.environ["VOTING_APP_CACHE"]
    kept = [
        entry
        for entry in os.environ["PATH"].split(os.pathsep)
        if entry and not entry.startswith(cache) and not entry.startswith(str(ROOT))
    ]
    return os.pathsep.join([str(bin_dir), *kept])


def _kind_kubeconfig(path: Path) -> None:
    """The local control plane's kubeconfig, its one context renamed to kind's default."""
    document = yaml.safe_load(KUBECONFIG.read_text())
    for context in document["contexts"]:
        context["name"] = "kind-kind"
    document["current-context"] = "kind-kind"
    path.write_text(yaml.safe_dump(document))


def test_the_readme_quick_start_and_tools_up_external_with_your_own_cli(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    workbench_bin = _standin_cli(tmp_path / "bin")
    home, cache = tmp_path / "home", tmp_path / "empty-cache"
    home.mkdir()
    cache.mkdir()
    kubeconfig = tmp_path / "kubeconfig"
    _kind_kubeconfig(kubeconfig)
    namespace = f"qs-{os.getpid()}"
    env = {
        "PATH": _path_without_the_workbench(tmp_path / "bin"),
        "HOME": str(home),
        "PULUMI_HOME": str(home / ".pulumi"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_SKIP_CONFIRMATIONS": "true",
        "KUBECONFIG": str(kubeconfig),
        "VOTING_APP_CACHE": str(cache),
        "VOTING_APP_TEST_RUN": os.environ.get("VOTING_APP_TEST_RUN", ""),
    }
    provider = Path(os.environ["PULUMI_HOME"]) / "plugins"
    (plugin,) = provider.glob("resource-kubernetes-v*/pulumi-resource-kubernetes")
    version = plugin.parent.name.removeprefix("resource-kubernetes-")
    install = ["pulumi", "plugin", "install", "resource", "kubernetes", version, "--file"]
    subprocess.run([*install, str(plugin)], env=env, check=True, capture_output=True)

    own_namespace = (
        f"pulumi config set namespace {namespace} && "
        "pulumi config set --path vote.exposure.nodePort 30314 && "
        "pulumi config set --path result.exposure.nodePort 30315"
    )
    lines = quick_start.adapted(
        quick_start.readme_lines((ROOT / "README.md").read_text()),
        {
            "kind create cluster": lambda _: [],
            "pulumi config set --path cluster.type kind": lambda line: [line, own_namespace],
        },
    )
    started = time.monotonic()
    run = subprocess.run(
        ["bash", "-c", quick_start.script(lines)],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    quick_start_seconds = time.monotonic() - started
    said = run.stdout + run.stderr
    assert run.returncode == 0, said[-4000:]
    assert "http://localhost:30314" in run.stdout, said[-3000:]
    assert re.search(r"Resources:\s+- \d+ deleted", run.stdout), said[-3000:]
    assert (clone / ".venv" / "bin" / "python").exists()
    assert (clone / "policy" / "venv" / "bin" / "python").exists()

    started = time.monotonic()
    up = subprocess.run(
        [str(clone / "tools" / "up"), "--external"],
        cwd=clone,
        env={**env, "PULUMI_CONFIG_PASSPHRASE": "voting-app-dev"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    up_seconds = time.monotonic() - started
    assert up.returncode == 0, (up.stdout + up.stderr)[-4000:]
    assert "==> Pulumi: your CLI" in up.stdout
    assert "vote:   http://localhost:30314" in up.stdout
    assert get_json("deployment", "vote", "--namespace", namespace)["spec"]["replicas"] == 1
    down = subprocess.run(
        [str(clone / "tools" / "down"), "--external"],
        cwd=clone,
        env={**env, "PULUMI_CONFIG_PASSPHRASE": "voting-app-dev"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert down.returncode == 0, (down.stdout + down.stderr)[-4000:]
    # Nothing of the workbench was built or used: its cache is as empty as it was.
    assert sorted(path.name for path in cache.iterdir()) == []
    print(
        f"\nquick start ({len(lines)} lines, the CLI copied from {workbench_bin}):"
        f" {quick_start_seconds:.0f} s; tools/up --external {up_seconds:.0f} s"
    )
