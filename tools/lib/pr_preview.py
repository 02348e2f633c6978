"""Pull-request preview: what the working tree would change against the base ref, deployed for real.

Run through tools/pr-preview, which sets up the offline environment first. For each stack (dev
and prod, side by side) it deploys the base ref's program with that stack's config to a throwaway
stack on the local cluster (prod's load balancers simulated, as in the integration tests),
previews the working tree against it with `pulumi preview --diff` (policy pack included), prints
the diffs, writes them as Markdown for a PR comment (one heading per stack, and which stacks have
no change), and deletes what it made. No cloud account or secret is needed: the stacks'
passphrases are public (docs/operations.md).

It drives the Pulumi CLI itself, one call per step (create the stack, deploy, preview): the
Automation API would add five more calls per stack (version checks, stack selects, the outputs and
the history after the update), about 2 s that the preview does not use.

The clean-up deletes each throwaway namespace (every object of a base lives in it) and lets the
cluster finish removing its contents in the background, and drops the throwaway state with its
temporary directory: a `pulumi destroy` would wait for each object to be gone first, about 10 s
that tell the pull request nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from tools.lib.project_copy import (
    LOCAL_CONTEXT,
    LOCAL_KUBECONFIG,
    PROGRAM_FILES,
    copy_program,
    edit_stack_config,
    link_virtualenv,
    point_at_local_cluster,
)
from workbench import settings

ROOT = Path(__file__).resolve().parents[2]

STACKS = settings.PASSPHRASES  # stack -> its (public) passphrase
MARKER = "<!-- voting-app-pr-preview -->"


def export_ref(repo: Path, ref: str, stack: str, destination: Path) -> None:
    """The program files and the stack's config of `ref`, as committed."""
    archive = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "archive",
            "--format=tar",
            ref,
            *PROGRAM_FILES,
            f"Pulumi.{stack}.yaml",
        ],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")


class PreviewError(Exception):
    """A Pulumi step failed: which one, for which stack, and the end of what it said."""


def pulumi(stack: str, project: Path, backend: Path, kubeconfig: Path, *args: str) -> str:
    """Runs `pulumi ARGS --stack STACK` in `project` against the throwaway backend; its stdout."""
    result = subprocess.run(
        ["pulumi", *args, "--stack", stack, "--non-interactive"],
        cwd=project,
        env={
            **os.environ,
            "PULUMI_BACKEND_URL": f"file://{backend}",
            "PULUMI_CONFIG_PASSPHRASE": STACKS[stack],
            "KUBECONFIG": str(kubeconfig),
            # Enables --event-log, as the Automation API does for its own calls.
            "PULUMI_DEBUG_COMMANDS": "true",
        },
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        said = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise PreviewError(f"{stack}: pulumi {' '.join(args[:2])} failed ({project.name}):\n{said}")
    return result.stdout


def change_summary(event_log: Path) -> dict[str, int]:
    """Resources per kind of step (same, create, update, ...), from the preview's summary event."""
    for line in event_log.read_text().splitlines():
        summary = json.loads(line).get("summaryEvent")
        if summary is not None:
            return dict(summary.get("resourceChanges") or {})
    raise PreviewError(f"no summary event in {event_log}")


@dataclass(frozen=True)
class StackPreview:
    stack: str
    diff: str  # what `pulumi preview --diff` printed
    change_summary: dict[str, int]

    @property
    def changes(self) -> dict[str, int]:
        return {kind: n for kind, n in self.change_summary.items() if kind != "same"}

    @property
    def summary(self) -> str:
        changes = ", ".join(f"{n} to {kind}" for kind, n in sorted(self.changes.items()))
        return changes or "no changes"


def preview_stack(
    stack: str, args: argparse.Namespace, temp: Path, say: Callable[[str], None]
) -> StackPreview:
    """Deploy the base with `stack`'s config, preview the working tree against it, clean up."""
    namespace = f"pr-preview-{stack}-{secrets.token_hex(3)}"
    root = temp / stack
    base_dir, head_dir, backend = root / "base", root / "head", root / "state"
    for directory in (base_dir, head_dir, backend):
        directory.mkdir(parents=True)
    export_ref(args.repo, args.base, stack, base_dir)
    link_virtualenv(base_dir)
    copy_program(args.repo, head_dir, [stack])
    for project in (base_dir, head_dir):
        # The same edits on both sides cancel out of the diff.
        edit_stack_config(
            project,
            stack,
            lambda config: point_at_local_cluster(config, namespace, None, args.context),
        )
    start = time.perf_counter()
    try:
        say(f"==> {stack}: deploying {args.base} to a throwaway stack (namespace {namespace})")
        pulumi(stack, base_dir, backend, args.kubeconfig, "stack", "init")
        pulumi(
            stack,
            base_dir,
            backend,
            args.kubeconfig,
            "up",
            "--yes",
            "--skip-preview",
            "--suppress-progress",
        )
        deployed = time.perf_counter()
        say(f"==> {stack}: base deployed in {deployed - start:.1f} s; previewing the working tree")
        events = root / "preview-events.jsonl"
        diff = pulumi(
            stack,
            head_dir,
            backend,
            args.kubeconfig,
            "preview",
            "--diff",
            "--suppress-progress",
            "--policy-pack",
            str(head_dir / "policy"),
            "--event-log",
            str(events),
        )
        say(f"==> {stack}: previewed in {time.perf_counter() - deployed:.1f} s")
    finally:
        say(f"==> {stack}: deleting namespace {namespace}; the cluster empties it")
        delete_namespace(namespace, args)
    return StackPreview(stack, diff, change_summary(events))


def delete_namespace(namespace: str, args: argparse.Namespace) -> None:
    subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(args.kubeconfig),
            "--context",
            args.context,
            "delete",
            "namespace",
            namespace,
            "--ignore-not-found",
            "--wait=false",
        ],
        check=True,
        capture_output=True,
    )


def markdown(base: str, previews: list[StackPreview], seconds: float) -> str:
    unchanged = [p.stack for p in previews if not p.changes]
    lines = [
        MARKER,
        f"### `pulumi preview --diff` against `{base}`",
        "",
        "; ".join(f"**{p.stack}**: {p.summary}" for p in previews)
        + f" ({seconds:.0f} s on the local cluster, each base deployed for real)",
        "",
    ]
    if unchanged:
        lines += [f"No change to {', '.join(unchanged)}.", ""]
    for p in previews:
        if not p.changes:
            continue
        lines += [
            f"#### {p.stack}: {p.summary} ({p.change_summary.get('same', 0)} unchanged)",
            "",
            "<details><summary>diff</summary>",
            "",
            "```diff",
            p.diff.strip(),
            "```",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="main", help="the ref to compare with (default: main)")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout to preview")
    parser.add_argument("--markdown", type=Path, help="also write the comment to this file")
    parser.add_argument("--kubeconfig", type=Path, default=LOCAL_KUBECONFIG)
    parser.add_argument("--context", default=LOCAL_CONTEXT)
    args = parser.parse_args()

    start = time.perf_counter()
    # The stacks side by side: each its own namespace, backend and Pulumi processes.
    with (
        tempfile.TemporaryDirectory(prefix="pr-preview-") as temp,
        ThreadPoolExecutor(max_workers=len(STACKS)) as pool,
    ):
        futures = [
            pool.submit(preview_stack, stack, args, Path(temp), lambda m: print(m, flush=True))
            for stack in STACKS
        ]
        try:
            previews = [future.result() for future in futures]
        except PreviewError as error:
            print(f"tools/pr-preview: {error}", file=sys.stderr)
            return 1

    seconds = time.perf_counter() - start
    for p in previews:
        print(f"==> {p.stack}: {p.summary}")
        print(p.diff)
    if args.markdown:
        args.markdown.write_text(markdown(args.base, previews, seconds))
        print(f"==> wrote {args.markdown}")
    print(f"pr preview wall time: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
