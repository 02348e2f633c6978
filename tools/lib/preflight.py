"""The main job's checks before it changes anything: each failure is one short message that names
the cause and the fix, and exit status 2, with nothing created in the cluster or the state.

    python -m tools.lib.preflight stack-file Pulumi.dev.yaml
        prints the cluster type and context
    python -m tools.lib.preflight cluster CONTEXT
        the context exists and its API answers (kubeconfig from KUBECONFIG or ~/.kube)
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from components.cluster.kubeconfig import contexts, kubeconfig_files, missing_context
from components.cluster.target import ClusterType, default_context


class PreflightError(Exception):
    """What is wrong and what to do, for a person."""


def stack_file(path: Path) -> tuple[str, str]:
    """(cluster type, kube context) from a stack file that must be valid YAML with a config map.
    The context is the one the program will use (its default per type when unset), or empty when
    the config names none: the program's own config check then says what is missing."""
    if not path.exists():
        raise PreflightError(f"{path.name} does not exist: create it (docs/configuration.md)")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise PreflightError(
            f"{path.name} is not valid YAML{where}: {problem}. Fix the file (git diff {path.name}"
            " shows what changed); nothing was deployed"
        ) from None
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise PreflightError(
            f"{path.name} has no `config:` mapping; see Pulumi.dev.yaml for the shape"
        )
    cluster = config.get("voting-app:cluster")
    cluster = cluster if isinstance(cluster, dict) else {}
    kind = str(cluster.get("type", ""))
    name = cluster.get("name")
    default = (
        default_context(ClusterType(kind), str(name) if name else None)
        if kind in set(ClusterType)
        else None
    )
    return kind, str(cluster.get("context") or default or "")


def cluster(context: str) -> str:
    """The context's server URL, once the context is known and its API server answers."""
    missing = missing_context(context)
    if missing is not None:
        raise PreflightError(f"kube {missing} (voting-app:cluster.context); nothing was deployed")
    server = contexts(kubeconfig_files())[context]
    if shutil.which("kubectl") is None:
        return server  # nothing to ask it with: the deploy itself will find out
    answer = subprocess.run(
        ["kubectl", "--context", context, "--request-timeout=5s", "get", "--raw", "/readyz"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if answer.returncode != 0:
        reason = (answer.stderr.strip().splitlines() or ["no answer"])[-1].rstrip(".?")
        raise PreflightError(
            f"the cluster of context {context!r} ({server}) does not answer: {reason}. Start it"
            " (the local one: workbench/control-plane/cluster start), or check the network and"
            " KUBECONFIG; nothing was deployed"
        )
    return server


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 2 and argv[0] == "stack-file":
            print("\n".join(stack_file(Path(argv[1]))))
        elif len(argv) == 2 and argv[0] == "cluster":
            cluster(argv[1])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except PreflightError as error:
        print(f"tools/up: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    # Interrupted, it only stops: nothing was changed, and no traceback is worth showing.
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    sys.exit(main(sys.argv[1:]))
