"""What the main job checks after `pulumi up` and before it prints a URL: every workload rolled
out, and every URL answering.

    python -m tools.lib.ready STACK [--context CONTEXT] [--urls | --no-urls REASON]
                                    [--rollout-timeout S] [--url-timeout S]

1. Rollouts, as `kubectl rollout status` judges them: every Deployment and StatefulSet of the
   stack's namespace has its current spec observed, all its pods updated and available, and no
   old pod left. The units make `pulumi up` wait for their rollouts too (pulumi.com/waitFor,
   docs/operations.md "What a plain `pulumi up` waits for"); this holds tools/up to it
   independently, whatever the program it deploys, and says so on the terminal as it waits.
2. With --urls, each of the stack's URLs is fetched (GET) until it answers with a status below
   400, and only then printed. Without it, the URLs are printed with REASON.

Both waits are bounded; a unit that does not get there fails the run (exit 1) with a message
naming it, its state and where to look. Progress goes to the terminal while it waits.
Run with the environment of tools/up: `kubectl` on PATH and KUBECONFIG set.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from tools.lib.stack_state import outputs

ROLLOUT_TIMEOUT = 300.0
URL_TIMEOUT = 60.0
POLL_SECONDS = 1.0
# How often a wait that changes nothing says it is still waiting.
PROGRESS_SECONDS = 10.0
WEB_UNITS = ("vote", "result")


def rollout_problem(workload: Mapping[str, Any]) -> str | None:
    """Why `workload` (a Deployment or StatefulSet as the API returns it) has not rolled out, or
    None when it has: kubectl rollout status's rules."""
    spec, status = workload.get("spec", {}), workload.get("status", {})
    metadata = workload.get("metadata", {})
    if status.get("observedGeneration", 0) < metadata.get("generation", 0):
        return "its controller has not seen the latest spec yet"
    wanted = spec.get("replicas", 1)
    if workload.get("kind") == "StatefulSet":
        ready = status.get("readyReplicas", 0)
        if ready < wanted:
            return f"{ready} of {wanted} pods ready"
        updated = status.get("updatedReplicas", 0)
        if status.get("updateRevision") != status.get("currentRevision") and updated < wanted:
            return f"{updated} of {wanted} pods updated"
        return None
    for condition in status.get("conditions") or []:
        if condition.get("reason") == "ProgressDeadlineExceeded":
            return f"its rollout failed: {condition.get('message', '').strip()}"
    updated = status.get("updatedReplicas", 0)
    if updated < wanted:
        return f"{updated} of {wanted} pods updated"
    total = status.get("replicas", 0)
    if total > updated:
        return f"{total - updated} old pods still to stop"
    available = status.get("availableReplicas", 0)
    if available < updated:
        return f"{available} of {updated} updated pods available"
    return None


def _failed_rollout(problem: str) -> bool:
    return problem.startswith("its rollout failed")


Kubectl = Callable[..., subprocess.CompletedProcess[str]]
# What kubectl says when the API server does not answer (a restart, a network blip): waited out.
UNREACHABLE = (
    "The connection to the server",
    "connection refused",
    "Unable to connect",
    "i/o timeout",
    "TLS handshake timeout",
    "ServiceUnavailable",
    "EOF",
)


class UnreachableError(RuntimeError):
    """The API server did not answer."""


def kubectl_in(context: str | None) -> Kubectl:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        where = ["--context", context] if context else []
        return subprocess.run(
            ["kubectl", *where, *args], capture_output=True, text=True, timeout=60, check=False
        )

    return run


def error_of(ran: subprocess.CompletedProcess[str]) -> str:
    """What a kubectl that failed said: the last line of its stderr."""
    return (ran.stderr.strip().splitlines()[-1:] or ["no output"])[0]


def get_json(kubectl: Kubectl, *args: str) -> dict[str, Any]:
    """`kubectl get ARGS -o json`, parsed; a RuntimeError with kubectl's error when it fails."""
    ran = kubectl("get", *args, "-o", "json")
    if ran.returncode != 0:
        raise RuntimeError(f"kubectl get {' '.join(args)}: {error_of(ran)}")
    found: dict[str, Any] = json.loads(ran.stdout)
    return found


def workloads(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    listed = kubectl("get", "deployments,statefulsets", "--namespace", namespace, "-o", "json")
    if listed.returncode != 0:
        said = error_of(listed)
        error = UnreachableError if any(s in said for s in UNREACHABLE) else RuntimeError
        raise error(f"cannot list the workloads of {namespace}: {said}")
    items: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    return items


def wait_for_rollouts(
    kubectl: Kubectl,
    namespace: str,
    timeout: float = ROLLOUT_TIMEOUT,
    say: Callable[[str], None] = print,
) -> float:
    """Waits until every workload of `namespace` has rolled out; the seconds it took. Raises
    RuntimeError naming every workload that did not within `timeout`, or whose rollout failed.
    An API server that does not answer is waited for within the same bound."""
    start = time.monotonic()
    said, said_at = "", start
    while True:
        elapsed = time.monotonic() - start
        try:
            listed = workloads(kubectl, namespace)
        except UnreachableError as error:
            if elapsed > timeout:
                raise RuntimeError(
                    f"the cluster stopped answering during the update ({error}). Nothing is"
                    " lost: start it again (the local one: workbench/control-plane/cluster"
                    " start) and run tools/up again"
                ) from error
            said, said_at = progress(say, elapsed, "the API server does not answer", said, said_at)
            time.sleep(POLL_SECONDS)
            continue
        pending = {
            f"{item['kind'].lower()}/{item['metadata']['name']}": problem
            for item in listed
            if (problem := rollout_problem(item)) is not None
        }
        if not pending:
            return elapsed
        failed = {name: problem for name, problem in pending.items() if _failed_rollout(problem)}
        if failed or elapsed > timeout:
            named = "; ".join(f"{name}: {problem}" for name, problem in (failed or pending).items())
            raise RuntimeError(
                f"not rolled out after {elapsed:.0f} s: {named}"
                f" (kubectl describe --namespace {namespace} <workload>, and its pods' events)"
            )
        line = ", ".join(f"{name} {problem}" for name, problem in sorted(pending.items()))
        said, said_at = progress(say, elapsed, line, said, said_at)
        time.sleep(POLL_SECONDS)


def progress(
    say: Callable[[str], None], elapsed: float, line: str, said: str, said_at: float
) -> tuple[str, float]:
    """Says `line` when it differs from the last one said, or that one is PROGRESS_SECONDS old."""
    now = time.monotonic()
    if line != said or now - said_at >= PROGRESS_SECONDS:
        say(f"    waiting ({elapsed:.0f} s): {line}")
        return line, now
    return said, said_at


def fetch(url: str, timeout: float = 5) -> str | None:
    """GET `url`: None when it answered with a status below 400, else what went wrong."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return None
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}" if error.code >= 400 else None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return str(reason)


def wait_for_url(
    unit: str,
    url: str,
    timeout: float = URL_TIMEOUT,
    get: Callable[[str], str | None] = fetch,
    say: Callable[[str], None] = print,
) -> float:
    """Waits until `url` answers; the seconds it took. Raises RuntimeError naming the unit, its
    URL and the last error when it does not within `timeout`."""
    start = time.monotonic()
    said_at = start
    while True:
        problem = get(url)
        elapsed = time.monotonic() - start
        if problem is None:
            return elapsed
        if elapsed > timeout:
            raise RuntimeError(
                f"{unit} does not answer at {url} after {elapsed:.0f} s (last: {problem});"
                f" its pods: kubectl get pods -l app.kubernetes.io/name={unit}"
            )
        if time.monotonic() - said_at >= PROGRESS_SECONDS:
            say(f"    waiting ({elapsed:.0f} s) for {unit} at {url}: {problem}")
            said_at = time.monotonic()
        time.sleep(POLL_SECONDS / 2)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--context")
    check = parser.add_mutually_exclusive_group(required=True)
    check.add_argument("--urls", action="store_true", help="print each URL once it answers")
    check.add_argument("--no-urls", metavar="REASON", help="print the URLs unchecked, with why")
    parser.add_argument("--rollout-timeout", type=float, default=ROLLOUT_TIMEOUT)
    parser.add_argument("--url-timeout", type=float, default=URL_TIMEOUT)
    args = parser.parse_args(argv)
    found = outputs(args.stack)
    namespace = found["namespace"]
    try:
        print(f"==> waiting for every workload of {namespace} to roll out")
        took = wait_for_rollouts(kubectl_in(args.context), namespace, args.rollout_timeout)
        print(f"    rolled out ({took:.1f} s)")
        lines = []
        for unit in WEB_UNITS:
            url = found[f"{unit}_url"]
            if args.urls:
                took = wait_for_url(unit, url, args.url_timeout)
                lines.append(f"{unit + ':':7} {url}  (answered in {took:.1f} s)")
            else:
                lines.append(f"{unit + ':':7} {url}  ({args.no_urls})")
    except RuntimeError as error:
        print(f"tools/up: {error}", file=sys.stderr)
        return 1
    print()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
