"""The main job on the real node as a person runs it (`tools/up`, `tools/up --prod`), in a copy of
the project: its own stack files and file backend, a namespace of its own and node ports
allocated (VOTING_APP_NAMESPACE: beside a person's own deployment), the checkout's tools,
workbench and local cluster."""

from __future__ import annotations

import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.cluster import delete_namespaces, get_json, live
from tests.integration.main_job import MainJob
from tests.stack_files import ROOT
from tools.lib.local_stack import STACKS, LocalStack
from tools.lib.project_copy import StackConfig, copy_program, edit_stack_config, link_workbench
from workbench import settings

# A line of tools/up: "vote:   http://127.0.100.1  (answered in 0.0 s)".
URL_LINE = re.compile(r"^(vote|result): +(\S+)  \(answered in ([\d.]+) s\)$", re.MULTILINE)
# How long tools/up waited for the rollouts after `pulumi up`.
ROLLED_OUT = re.compile(r"rolled out \(([\d.]+) s\)")


@dataclass
class MainJobOnNode:
    job: MainJob
    stack: LocalStack
    args: tuple[str, ...]  # tools/up's (and tools/down's) options for the stack
    output: str = ""  # what the first tools/up printed
    took: float = 0.0

    @property
    def namespace(self) -> str:
        return self.job.namespace

    def up(self) -> tuple[str, float]:
        """`tools/up` (again): its output and how long it took; it must succeed."""
        started = time.monotonic()
        run = self.job.run(*self.args, timeout=900, VOTING_APP_NAMESPACE=self.namespace)
        assert run.returncode == 0, run.stdout[-4000:]
        return run.stdout, time.monotonic() - started

    def down(self) -> None:
        ran = subprocess.run(
            [str(self.job.project / "tools" / "down"), *self.args],
            cwd=self.job.project,
            env=self.job.env(VOTING_APP_NAMESPACE=self.namespace),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert ran.returncode == 0, (ran.stdout + ran.stderr)[-3000:]

    def backup(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`tools/backup` (stdout and stderr together) on the stack, as a person runs it."""
        return subprocess.run(
            [str(self.job.project / "tools" / "backup"), *self.args, *args],
            cwd=self.job.project,
            env=self.job.env(VOTING_APP_NAMESPACE=self.namespace),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=900,
            check=False,
        )

    def get(self, *args: str) -> Any:
        return get_json(*args, "--namespace", self.namespace)

    def pods(self, unit: str) -> list[dict[str, Any]]:
        return live(self.get("pods", "-l", f"app.kubernetes.io/name={unit}")["items"])

    def urls(self) -> dict[str, str]:
        return {unit: url for unit, url, _ in URL_LINE.findall(self.output)}

    def edit(self, change: Callable[[StackConfig], None]) -> None:
        """Change the committed stack file the main job's stack is written from."""
        edit_stack_config(self.job.project, self.stack.source, change)


@contextmanager
def main_job_on_node(
    source: str, workdir: Path, edit: Callable[[StackConfig], None] | None = None
) -> Iterator[MainJobOnNode]:
    """`tools/up` of the real-node stack made from `source` (dev: `local`, prod: `local-prod`)
    from empty, `edit` applied to the copy's stack file first; `tools/down` and the namespace
    deleted afterwards (prod keeps it and its claim on destroy; the node's volume is freed)."""
    stack = STACKS[source]
    project = workdir / "project"
    project.mkdir()
    copy_program(ROOT, project, [source])
    link_workbench(project)
    if edit is not None:
        edit_stack_config(project, source, edit)
    namespace = f"it-{stack.name}-{secrets.token_hex(3)}"
    # Stack local is tools/up with no option at all, which MainJob must not read as its default.
    options = ("--prod",) if source == "prod" else ()
    job = MainJob(project, namespace, stack.name, settings.PASSPHRASES[source], options)
    app = MainJobOnNode(job, stack, options)
    try:
        app.output, app.took = app.up()
        yield app
    finally:
        try:
            app.down()
        finally:
            delete_namespaces(namespace)
