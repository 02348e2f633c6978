"""The README's main-job command (`tools/up --simulated`, the dev stack on the local control plane)
run for real, in a copy of the project: its own stack files, its own file backend (`.state/` of
the copy), a namespace and node ports of its own, and the checkout's tools, virtualenvs and
local cluster (linked). A developer's own `tools/up` deployment is never touched."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.cluster import APP_KINDS, destroying, get_json, kubectl, require_cluster
from tests.stack_files import ROOT
from tools.lib.project_copy import (
    StackConfig,
    copy_program,
    edit_stack_config,
    link_workbench,
    point_at_local_cluster,
)
from workbench import settings

PASSPHRASE = settings.PASSPHRASES["dev"]
PART_OF = "app.kubernetes.io/part-of=voting-app"
# The main job's fixed node ports (a developer's tools/up holds the stack file's own).
MAIN_JOB_PORTS = {"vote": 30124, "result": 30125}


@dataclass
class MainJob:
    project: Path
    namespace: str
    stack: str = "dev"
    passphrase: str = PASSPHRASE
    # tools/up's (and tools/down's) options when a call names none: the simulated dev stack.
    options: tuple[str, ...] = ("--simulated",)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"))
        }
        return {**env, "PULUMI_CONFIG_PASSPHRASE": self.passphrase, **extra}

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """`tools/up ARGS` (default: the job's options) in the background, in a process group of its
        own (so a signal reaches it, the CLI and its plugins, as a terminal's Ctrl-C or a CI
        cancel does)."""
        return subprocess.Popen(
            [str(self.project / "tools" / "up"), *(args or self.options)],
            cwd=self.project,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def run(self, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
        process = self.start(*args, **env)
        output, _ = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(process.args, process.returncode, output, "")

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The Pulumi CLI on the copy's stack (`stack init` names it itself), as tools/up sets it
        up."""
        stack = () if args[:2] == ("stack", "init") else ("--stack", self.stack)
        script = (
            'source workbench/lib.sh && pulumi_offline_env && export KUBECONFIG="$LOCAL_KUBECONFIG"'
            ' && exec pulumi "$@"'
        )
        return subprocess.run(
            ["bash", "-c", script, "pulumi", *args, *stack, "--non-interactive"],
            cwd=self.project,
            env=self.env(ROOT=str(self.project)),
            check=check,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def state(self) -> dict[str, Any]:
        exported: dict[str, Any] = json.loads(self.pulumi("stack", "export").stdout)
        return exported

    def state_objects(self) -> dict[tuple[str, str], int]:
        """(kind, name) -> how many resources of the state declare it."""
        counts: dict[tuple[str, str], int] = {}
        for resource in self.state()["deployment"].get("resources") or []:
            if not resource["type"].startswith("kubernetes:") or "providers" in resource["type"]:
                continue
            kind = resource["type"].rsplit(":", 1)[-1]
            name = (resource.get("outputs") or {}).get("metadata", {}).get("name")
            counts[(kind, name)] = counts.get((kind, name), 0) + 1
        return counts

    def cluster_objects(self) -> set[tuple[str, str]]:
        """(kind, name) of every object of the app in the cluster: its labels, its namespace."""
        found: set[tuple[str, str]] = set()
        namespaces = get_json("namespaces", "-l", PART_OF)["items"]
        for namespace in namespaces:
            if namespace["metadata"]["name"] == self.namespace:
                found.add(("Namespace", self.namespace))
        if not found:
            return found
        listed = get_json(",".join(APP_KINDS), "--namespace", self.namespace)["items"]
        for item in listed:
            if item.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/part-of") == (
                "voting-app"
            ):
                found.add((item["kind"], item["metadata"]["name"]))
        return found

    def converged(self, preview: bool = True) -> None:
        """Every object the state declares exists once, every labelled object in the cluster is
        in the state, nothing is pending, and (with `preview`) a preview sees no change."""
        state = self.state_objects()
        twice = {key: count for key, count in state.items() if count != 1}
        assert not twice, f"declared more than once in the state: {twice}"
        assert not self.state()["deployment"].get("pending_operations")
        in_cluster = self.cluster_objects()
        assert set(state) == in_cluster, (
            f"orphans (in the cluster, not the state): {in_cluster - set(state)};"
            f" missing (in the state, not the cluster): {set(state) - in_cluster}"
        )
        if preview:
            seen = self.pulumi("preview", "--expect-no-changes", check=False)
            assert seen.returncode == 0, seen.stdout[-2000:] + seen.stderr[-2000:]

    def destroy(self) -> None:
        """The README's teardown, `tools/down --simulated`: nothing of the app is left."""
        with destroying(self.namespace, self.project):
            down = subprocess.run(
                [str(self.project / "tools" / "down"), "--simulated"],
                cwd=self.project,
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=600,
            )
        assert down.returncode == 0, (down.stdout + down.stderr)[-3000:]
        assert "==> stack dev destroyed" in down.stdout, down.stdout[-2000:]
        assert self.cluster_objects() == set()


@dataclass
class Running:
    """A run started in the background (MainJob.start), its output read line by line as it comes,
    so that a test can act at a moment the run shows (a line it printed), not at a guessed time."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # time.monotonic() of each line
    _seen: threading.Condition = field(default_factory=threading.Condition)
    _ended: bool = False
    _reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._seen:
                self.lines.append(line)
                self.arrived.append(time.monotonic())
                self._seen.notify_all()
        with self._seen:
            self._ended = True
            self._seen.notify_all()

    @property
    def output(self) -> str:
        with self._seen:
            return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], count: int = 1, timeout: float = 600) -> str:
        """Until `count` lines of the output matched `pattern`; the last of them. Fails, with
        the output so far, when the run's output ends or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                matched = [line for line in self.lines if pattern.search(line)]
                if len(matched) >= count:
                    return matched[count - 1]
                left = deadline - time.monotonic()
                if self._ended or left <= 0:
                    said = "ended" if self._ended else f"still running after {timeout:.0f} s"
                    raise AssertionError(
                        f"the run {said} before {count} lines matched {pattern.pattern!r}:\n"
                        + "".join(self.lines)[-3000:]
                    )
                self._seen.wait(left)

    def arrival(self, pattern: re.Pattern[str]) -> float | None:
        """When the first line matching `pattern` was read (time.monotonic()), if one was."""
        with self._seen:
            pairs = zip(self.lines, self.arrived, strict=True)
            return next((at for line, at in pairs if pattern.search(line)), None)

    def finish(self, timeout: float | None = None) -> str:
        """The whole output once the run has ended (raises TimeoutExpired if it does not)."""
        self.process.wait(timeout=timeout)
        assert self._reader is not None
        self._reader.join(timeout=30)
        return self.output


def interrupt(run: Running, sig: signal.Signals, grace: float = 60) -> tuple[str, list[str]]:
    """Interrupt the run as its runner would. SIGKILL goes to every process of the run's session:
    the CLI and its plugins, which Pulumi starts in process groups of their own (so a terminal's
    Ctrl-C reaches only the CLI), die at once and nothing can clean up. SIGINT and SIGTERM go to
    the run's process group, as a terminal or a CI cancel sends them; what is left after `grace`
    is killed. Either way no process of the run outlives this call. Returns the run's output and
    the commands of the processes that outlived the run by 30 s and had to be killed."""
    process = run.process
    if sig is signal.SIGKILL:
        for _ in range(50):  # again, for a plugin the CLI was starting as the first round hit
            if not (pids := session(process.pid)):
                break
            for pid in pids:
                _kill(pid)
            time.sleep(0.1)
    else:
        os.killpg(process.pid, sig)
    try:
        output = run.finish(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output = run.finish()
    return output, with_session_gone(process.pid)


def session(sid: int) -> list[int]:
    """The processes of session `sid` (the run's, see MainJob.start): a plugin whose CLI died
    is re-parented but keeps its session."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        # After "(comm)": state, ppid, pgrp, session.
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _kill(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def with_session_gone(sid: int, timeout: float = 30) -> list[str]:
    """Wait until no process of the session is left (plugins end after the CLI); kill what is
    still there after `timeout` and return their commands."""
    deadline = time.monotonic() + timeout
    while (left := session(sid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    killed = []
    for pid in left:
        try:
            killed.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
        _kill(pid)
    return killed


@contextmanager
def main_job_copy(
    workdir: Path,
    edit: Callable[[StackConfig], None] | None = None,
    ports: Mapping[str, int] | None = MAIN_JOB_PORTS,
) -> Iterator[MainJob]:
    """The copy, its dev stack pointed at its own namespace and at `ports` (None: allocated)."""
    require_cluster()
    project = workdir / "project"
    project.mkdir()
    copy_program(ROOT, project, ["dev", "prod"])
    link_workbench(project)
    namespace = f"it-main-{secrets.token_hex(3)}"

    def config(values: StackConfig) -> None:
        point_at_local_cluster(values, namespace, ports)
        if edit is not None:
            edit(values)

    edit_stack_config(project, "dev", config)
    job = MainJob(project, namespace)
    try:
        yield job
    finally:
        job.pulumi("cancel", "--yes", check=False)
        with destroying(namespace, project):
            job.pulumi("destroy", "--yes", "--skip-preview", "--refresh", check=False)
        kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false", check=False)
