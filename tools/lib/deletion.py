"""A namespace's deletion, watched: bounded, and failing at once with the API server's reason.

Kubernetes deletes a namespace's contents before the namespace itself, and cannot finish when
it cannot list every API group (an aggregated API such as metrics.k8s.io that does not answer)
or delete some object; it says so in the namespace's conditions and waits forever. Whatever of
ours waits for a namespace to go (a `pulumi destroy`, the tests' clean-ups) runs under a watch
that reads those conditions and stops the wait with the reason instead.

    python -m tools.lib.deletion [--timeout S] [--stack-file FILE] NAMESPACE -- COMMAND...
        runs COMMAND (a `pulumi destroy`, say) while watching NAMESPACE; if the namespace reports
        a deletion failure, or is still there S seconds (default 300) after COMMAND started
        deleting it, COMMAND is interrupted and the reason printed (exit 3). With --stack-file
        (the stack COMMAND destroys) it watches through that stack's own kubeconfig and context,
        the cluster its provider deletes from, whatever kubectl's current context is; else
        through --kubeconfig and --context
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tools.lib.preflight import PreflightError, stack_file

# Conditions with which the namespace controller says it cannot finish (status True).
FAILURES = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
)
# Conditions that only say what is still being removed: reported when the bound runs out.
PROGRESS = ("NamespaceContentRemaining", "NamespaceFinalizersRemaining")
DEFAULT_TIMEOUT = 300.0
POLL_SECONDS = 2.0

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


class DeletionStuckError(Exception):
    """A namespace that cannot be deleted, or not within the bound: which, and why."""


def _conditions(namespace: dict[str, Any], types: tuple[str, ...]) -> list[str]:
    return [
        f"{condition['type']}: {condition.get('message', '').strip()}"
        for condition in namespace.get("status", {}).get("conditions") or []
        if condition.get("type") in types and condition.get("status") == "True"
    ]


def failure(namespace: dict[str, Any]) -> str | None:
    """Why the namespace controller cannot finish deleting `namespace`, if it says it cannot."""
    found = _conditions(namespace, FAILURES)
    return "; ".join(found) if found else None


def read_namespace(kubectl: Kubectl, name: str) -> dict[str, Any] | None:
    """The namespace as the API server has it, or None when it is gone. A read that fails
    (the API server down for a moment) counts as still there."""
    result = kubectl("get", "namespace", name, "--ignore-not-found", "-o", "json", check=False)
    if result.returncode != 0:
        return {"status": {}, "_unread": result.stderr.strip()}
    if not result.stdout.strip():
        return None
    found: dict[str, Any] = json.loads(result.stdout)
    return found


@contextmanager
def watched(
    kubectl: Kubectl,
    name: str,
    stop: Callable[[], None],
    timeout: float = DEFAULT_TIMEOUT,
) -> Iterator[None]:
    """Run the block (which deletes namespace `name`, or waits for it to go) under a watch: when
    the namespace reports a failure, or has been Terminating for `timeout` seconds, `stop()` is
    called (it must end the block's wait) and DeletionStuckError is raised with the reason."""
    finished = threading.Event()
    reasons: list[str] = []

    def watch() -> None:
        terminating_for = 0.0
        while not finished.wait(POLL_SECONDS):
            namespace = read_namespace(kubectl, name)
            if namespace is None:
                return
            if "deletionTimestamp" not in namespace.get("metadata", {}):
                continue  # not being deleted yet
            reason = failure(namespace)
            terminating_for += POLL_SECONDS
            if reason is None and terminating_for >= timeout:
                remaining = "; ".join(_conditions(namespace, PROGRESS)) or "no condition says why"
                reason = f"still Terminating after {timeout:.0f} s ({remaining})"
            if reason is not None:
                reasons.append(f"namespace {name} cannot be deleted: {reason}")
                stop()
                return

    watcher = threading.Thread(target=watch, name=f"deletion-watch-{name}", daemon=True)
    watcher.start()
    try:
        yield
    except Exception as error:
        finished.set()
        watcher.join()
        if reasons:
            raise DeletionStuckError(reasons[0]) from error
        raise
    finished.set()
    watcher.join()
    if reasons:
        raise DeletionStuckError(reasons[0])


def kubectl_for(kubeconfig: str | None, context: str | None) -> Kubectl:
    def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["kubectl"]
        if kubeconfig:
            command += ["--kubeconfig", kubeconfig]
        if context:
            command += ["--context", context]
        return subprocess.run(
            [*command, *args], check=check, capture_output=True, text=True, timeout=60
        )

    return kubectl


def stack_target(path: Path) -> tuple[str | None, str]:
    """(kubeconfig, context) of the stack whose file is `path`, as its provider uses them:
    cluster.kubeconfig (None: $KUBECONFIG or ~/.kube/config, as kubectl reads them) and
    cluster.context, or the context its cluster type's tool writes."""
    _, context = stack_file(path)
    if not context:
        raise PreflightError(f"{path.name} names no cluster.context and its type has no default")
    cluster = yaml.safe_load(path.read_text())["config"].get("voting-app:cluster") or {}
    kubeconfig = cluster.get("kubeconfig")
    return (str(Path(str(kubeconfig)).expanduser()) if kubeconfig else None), context


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--context")
    parser.add_argument("--stack-file", type=Path)
    parser.add_argument("namespace")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no COMMAND after --")
    if args.stack_file:
        try:
            kubeconfig, args.context = stack_target(args.stack_file)
        except PreflightError as error:
            print(f"tools/down: {error}; nothing was destroyed", file=sys.stderr)
            return 2
        args.kubeconfig = kubeconfig or args.kubeconfig
    # The command's own process group: the interrupt reaches it and its children (Pulumi's
    # plugins have groups of their own and end with the CLI).
    process = subprocess.Popen(command, start_new_session=True)

    def interrupt() -> None:
        os.killpg(process.pid, signal.SIGINT)

    try:
        with watched(
            kubectl_for(args.kubeconfig, args.context), args.namespace, interrupt, args.timeout
        ):
            status = process.wait()
    except DeletionStuckError as stuck:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        print(f"{stuck}; the command was interrupted", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        os.killpg(process.pid, signal.SIGINT)
        return process.wait()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
