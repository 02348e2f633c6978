"""Pull-request preview: what the working tree would change against the base ref, deployed for real.

Run through tools/pr-preview, which sets up the offline environment first (or, with --external,
uses your own CLI and cluster: a CI runner's kind). For each stack of --stacks (dev and prod, side
by side) it deploys the base ref's program with that stack's config to a throwaway stack on the
cluster (prod's load balancers simulated on the local one), previews the working tree against it
with `pulumi preview --diff` (policy pack included), and deletes what it made; for each
--live-stack it previews the working tree against that stack as it runs (a real prod, where the
repository has its credentials). It prints the diffs and writes them as Markdown for a PR comment
(one heading per stack, and which stacks have no change), cut to fit GitHub's limits. No cloud
account or secret is needed for the throwaway stacks: their passphrases are public
(docs/operations.md).

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
    StackConfig,
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
    against: str = "its base, deployed for real to a throwaway stack"

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
            lambda config: retarget(config, namespace, args),
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


def retarget(config: StackConfig, namespace: str, args: argparse.Namespace) -> None:
    """The stack's config on the preview's cluster, in a namespace of its own, node ports
    allocated; with --cluster-type, that type too (kind on a CI runner)."""
    point_at_local_cluster(config, namespace, None, args.context)
    if args.cluster_type:
        config["voting-app:cluster"]["type"] = args.cluster_type


def preview_live(stack: str, args: argparse.Namespace, temp: Path) -> StackPreview:
    """The working tree previewed against the live stack `stack` of the ambient backend (its
    secrets and cluster credentials are the caller's): what merging would do to it."""
    events = temp / f"{stack}-live-events.jsonl"
    result = subprocess.run(
        [
            *("pulumi", "preview", "--diff", "--suppress-progress", "--non-interactive"),
            *("--stack", stack, "--policy-pack", str(args.repo / "policy")),
            *("--event-log", str(events)),
        ],
        cwd=args.repo,
        env={**os.environ, "PULUMI_DEBUG_COMMANDS": "true"},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        said = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise PreviewError(f"{stack}: pulumi preview of the live stack failed:\n{said}")
    return StackPreview(stack, result.stdout, change_summary(events), "the live stack")


def delete_namespace(namespace: str, args: argparse.Namespace) -> None:
    subprocess.run(
        [
            *("kubectl", "--context", args.context),
            *("delete", "namespace", namespace, "--ignore-not-found", "--wait=false"),
        ],
        check=True,
        capture_output=True,
        # KUBECONFIG may list several files (the CI runner's kind and a live prod's).
        env={**os.environ, "KUBECONFIG": str(args.kubeconfig)},
    )


def markdown(base: str, previews: list[StackPreview], seconds: float, where: str) -> str:
    unchanged = [p.stack for p in previews if not p.changes]
    against = "; ".join(f"{p.stack} against {p.against}" for p in previews)
    lines = [
        MARKER,
        f"### `pulumi preview --diff` against `{base}`",
        "",
        "; ".join(f"**{p.stack}**: {p.summary}" for p in previews) + f" ({seconds:.0f} s {where})",
        "",
        f"<sub>{against}.</sub>",
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


# GitHub refuses a comment longer than 65,536 characters, and a step summary over 1 MiB.
COMMENT_LIMIT = 65_536
SUMMARY_LIMIT = 1_048_576


def fit(text: str, limit: int, *, in_bytes: bool = False) -> str:
    """`text` if it fits `limit` (characters, or UTF-8 bytes); else cut at a line, the open code
    fence and <details> closed, and a note saying so."""

    def size(value: str) -> int:
        return len(value.encode()) if in_bytes else len(value)

    if size(text) <= limit:
        return text
    unit = "bytes" if in_bytes else "characters"
    note = (
        f"\n\n> :warning: Cut to fit GitHub's limit of {limit:,} {unit}: the job's log has the"
        " whole preview.\n"
    )
    # The most the closers can take: a fence and every <details> left open.
    reserve = size(note) + size("\n```") + size("\n</details>") * text.count("<details>")
    kept = text
    while size(kept) > limit - reserve:
        over = size(kept) - (limit - reserve)
        kept = kept[: len(kept) - max(over, 1)]
    kept = kept[: kept.rfind("\n")] if "\n" in kept else kept
    closers = ""
    if sum(1 for line in kept.splitlines() if line.startswith("```")) % 2:
        closers += "\n```"
    closers += "\n</details>" * (kept.count("<details>") - kept.count("</details>"))
    return kept + closers + note


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="main", help="the ref to compare with (default: main)")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout to preview")
    parser.add_argument(
        "--stacks",
        default=",".join(STACKS),
        help="the stacks whose base is deployed to a throwaway stack (default: dev,prod; none: '')",
    )
    parser.add_argument(
        "--live-stack",
        action="append",
        default=[],
        help="also preview against this live stack of the current backend (repeatable)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the comment to this file")
    parser.add_argument("--comment-limit", type=int, default=COMMENT_LIMIT)
    parser.add_argument(
        "--summary", type=Path, help="also append the comment to this file, cut to 1 MiB"
    )
    parser.add_argument("--kubeconfig", type=Path, default=LOCAL_KUBECONFIG)
    parser.add_argument("--context", default=LOCAL_CONTEXT)
    parser.add_argument(
        "--cluster-type", help="the throwaway stacks' cluster.type (default: the stack's own)"
    )
    args = parser.parse_args()
    throwaway = [stack for stack in args.stacks.split(",") if stack]
    unknown = [stack for stack in throwaway if stack not in STACKS]
    if unknown:
        parser.error(f"--stacks: unknown {unknown}; known: {list(STACKS)}")

    start = time.perf_counter()
    say = lambda message: print(message, flush=True)  # noqa: E731 - one line, one use
    # The stacks side by side: each its own namespace, backend and Pulumi processes.
    with (
        tempfile.TemporaryDirectory(prefix="pr-preview-") as temp,
        ThreadPoolExecutor(max_workers=max(1, len(throwaway) + len(args.live_stack))) as pool,
    ):
        futures = [pool.submit(preview_stack, stack, args, Path(temp), say) for stack in throwaway]
        futures += [pool.submit(preview_live, stack, args, Path(temp)) for stack in args.live_stack]
        try:
            previews = [future.result() for future in futures]
        except PreviewError as error:
            print(f"tools/pr-preview: {error}", file=sys.stderr)
            return 1

    seconds = time.perf_counter() - start
    for p in previews:
        print(f"==> {p.stack}: {p.summary}")
        print(p.diff)
    where = (
        f"on {args.cluster_type or 'the local'} cluster ({args.context})"
        if throwaway
        else "against the live stack only"
    )
    comment = markdown(args.base, previews, seconds, where)
    if args.markdown:
        args.markdown.write_text(fit(comment, args.comment_limit))
        print(f"==> wrote {args.markdown}")
    if args.summary:
        with args.summary.open("a") as summary:
            summary.write(fit(comment, SUMMARY_LIMIT, in_bytes=True) + "\n")
        print(f"==> appended to {args.summary}")
    print(f"pr preview wall time: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
