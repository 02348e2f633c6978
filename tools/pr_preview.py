"""Pull-request preview: what the working tree would change against the base ref, deployed for real.

Run through tools/pr-preview, which sets up the offline environment first. It deploys the base
ref's program (its dev stack config) to a throwaway stack on the local cluster, previews the
working tree against it with `pulumi preview --diff` (policy pack included), prints the diff,
writes it as Markdown for a PR comment, and destroys what it made. No cloud account or secret is
needed: the dev stack's passphrase is public (README).
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import pulumi.automation as auto

# Run as a script, this file has tools/ on sys.path.
from project_copy import (
    LOCAL_CONTEXT,
    LOCAL_KUBECONFIG,
    PROGRAM_FILES,
    copy_program,
    edit_stack_config,
    link_virtualenv,
    point_at_local_cluster,
)

ROOT = Path(__file__).resolve().parent.parent

STACK = "dev"
PASSPHRASE = "voting-app-dev"
PROGRAM = (*PROGRAM_FILES, f"Pulumi.{STACK}.yaml")
MARKER = "<!-- voting-app-pr-preview -->"


def export_ref(repo: Path, ref: str, destination: Path) -> None:
    """The program files of `ref`, as committed."""
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", ref, *PROGRAM],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")


def workspace(project: Path, backend: Path, kubeconfig: Path) -> auto.Stack:
    options = auto.LocalWorkspaceOptions(
        work_dir=str(project),
        env_vars={
            "PULUMI_BACKEND_URL": f"file://{backend}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "KUBECONFIG": str(kubeconfig),
        },
        pulumi_command=auto.PulumiCommand(skip_version_check=True),
    )
    return auto.create_or_select_stack(STACK, work_dir=str(project), opts=options)


def markdown(base: str, preview: auto.PreviewResult, seconds: float) -> str:
    changes = {kind: count for kind, count in preview.change_summary.items() if kind != "same"}
    summary = ", ".join(f"{count} to {kind}" for kind, count in sorted(changes.items()))
    return "\n".join(
        [
            MARKER,
            f"### `pulumi preview --diff` of the dev stack against `{base}`",
            "",
            f"**{summary or 'no changes'}** "
            f"({preview.change_summary.get('same', 0)} unchanged; {seconds:.0f} s on the local "
            "cluster, base deployed for real)",
            "",
            "<details><summary>diff</summary>",
            "",
            "```diff",
            preview.stdout.strip(),
            "```",
            "</details>",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="main", help="the ref to compare with (default: main)")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout to preview")
    parser.add_argument("--markdown", type=Path, help="also write the comment to this file")
    parser.add_argument("--kubeconfig", type=Path, default=LOCAL_KUBECONFIG)
    parser.add_argument("--context", default=LOCAL_CONTEXT)
    args = parser.parse_args()

    start = time.perf_counter()
    namespace = f"pr-preview-{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="pr-preview-") as temp:
        base_dir, head_dir, backend = Path(temp, "base"), Path(temp, "head"), Path(temp, "state")
        for directory in (base_dir, head_dir, backend):
            directory.mkdir()
        export_ref(args.repo, args.base, base_dir)
        link_virtualenv(base_dir)
        copy_program(args.repo, head_dir, [STACK])
        for project in (base_dir, head_dir):
            # The same edits on both sides cancel out of the diff.
            edit_stack_config(
                project,
                STACK,
                lambda config: point_at_local_cluster(config, namespace, None, args.context),
            )

        base = workspace(base_dir, backend, args.kubeconfig)
        print(f"==> deploying {args.base} to a throwaway stack (namespace {namespace})", flush=True)
        try:
            base.up(suppress_progress=True)
            head = workspace(head_dir, backend, args.kubeconfig)
            print("==> previewing the working tree against it", flush=True)
            preview = head.preview(
                diff=True, suppress_progress=True, policy_packs=[str(head_dir / "policy")]
            )
        finally:
            print("==> cleaning up", flush=True)
            base.destroy(suppress_progress=True)

    seconds = time.perf_counter() - start
    print(preview.stdout)
    if args.markdown:
        args.markdown.write_text(markdown(args.base, preview, seconds))
        print(f"==> wrote {args.markdown}")
    print(f"pr preview wall time: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
