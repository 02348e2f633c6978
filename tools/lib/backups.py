"""tools/backup's work: list, take and restore the db's backups (db.backup,
components/app/backup.py) in a deployed stack's namespace.

    python -m tools.lib.backups --namespace NS [--context C] list
    python -m tools.lib.backups --namespace NS [--context C] now
    python -m tools.lib.backups --namespace NS [--context C] restore NAME|latest --yes

Each runs the stack's own CronJob `db-backup` once, as a Job made from its job template: the same
image, hardening, claim, credentials and labels (so the traffic graph's backup edge admits it to
the db, and nothing else does), with the script's action (`list`, `backup` or `restore NAME`) as
its arguments. It waits for the Job, saying so every few seconds, then prints the pod's log.
A restore replaces every vote in the db by the backup's, in one transaction (pg_restore --clean
--single-transaction): a failed restore changes nothing. `--yes` says that is meant.

Exit status: 0 done; 1 the Job failed (its log is printed); 2 refused before anything ran (no
backups in the stack, a name that is not a backup's, no --yes). Needs `kubectl` on PATH and its
KUBECONFIG (tools/backup sets both up for the local stacks).
"""

from __future__ import annotations

import argparse
import copy
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from components.app.backup import BACKUP, DUMP_NAME, LATEST, Action, command
from tools.lib.ready import POLL_SECONDS, Kubectl, error_of, get_json, progress

JOB_TIMEOUT = 600.0
# A finished Job (and its pod, with its log) stays this long for a look with kubectl.
KEPT_SECONDS = 3600


class RefusedError(Exception):
    """Nothing was run: exit status 2, with this message."""


def job_from(cron_job: dict[str, Any], name: str, args: Sequence[str]) -> dict[str, Any]:
    """A Job of `cron_job`'s template, named `name`, its one container given `args`. The template
    must be the one this checkout's program makes (it runs `command(backup)`): a CronJob deployed
    by another version would run another script with these arguments."""
    template = copy.deepcopy(cron_job["spec"]["jobTemplate"])
    (container,) = template["spec"]["template"]["spec"]["containers"]
    if container.get("args") != list(command(Action.BACKUP)):
        raise RefusedError(
            f"the CronJob {BACKUP} in {cron_job['metadata']['namespace']} runs another script "
            "than this checkout's (components/app/backup.py): deploy this checkout first "
            "(tools/up)"
        )
    container["args"] = list(args)
    metadata = template.get("metadata", {})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": cron_job["metadata"]["namespace"],
            "labels": metadata.get("labels", {}),
            # What `kubectl create job --from=cronjob/...` marks its Jobs with.
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
        },
        "spec": {**template["spec"], "ttlSecondsAfterFinished": KEPT_SECONDS},
    }


def arguments_of(action: str, backup: str | None) -> tuple[str, ...]:
    """The script's arguments for `action`; a restore's backup is a backup's name or `latest`."""
    if action == "now":
        return command(Action.BACKUP)
    if action == "list":
        return command(Action.LIST)
    if backup is None or not (backup == LATEST or DUMP_NAME.fullmatch(backup)):
        raise RefusedError(
            f"restore {backup!r}: expected a backup's name (votes-YYYYMMDDTHHMMSSZ.dump, as "
            f"`tools/backup list` prints them) or {LATEST}"
        )
    return command(Action.RESTORE, backup)


def job_state(job: dict[str, Any]) -> str | None:
    """`Complete` or `Failed` once the Job has finished, else None."""
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            state: str = condition["type"]
            return state
    return None


def _cron_job(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    ran = kubectl("get", "cronjob", BACKUP, "--namespace", namespace, "-o", "json")
    if ran.returncode != 0:
        if "NotFound" in ran.stderr:
            raise RefusedError(
                f"namespace {namespace} has no CronJob {BACKUP}: its stack has no backups "
                "(set voting-app:db.backup, docs/configuration.md; prod has it)"
            )
        raise RuntimeError(f"kubectl get cronjob {BACKUP}: {error_of(ran)}")
    found: dict[str, Any] = json.loads(ran.stdout)
    return found


def wait_for_job(
    kubectl: Kubectl,
    namespace: str,
    name: str,
    timeout: float = JOB_TIMEOUT,
    say: Callable[[str], None] = print,
) -> str:
    """Waits until Job `name` finished (its state) or `timeout` passed (TimeoutError)."""
    started = time.monotonic()
    said, said_at = "", 0.0
    while True:
        job = get_json(kubectl, "job", name, "--namespace", namespace)
        state = job_state(job)
        if state is not None:
            return state
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise TimeoutError(f"Job {name} has not finished after {timeout:.0f} s")
        status = job.get("status", {})
        line = f"Job {name}: {status.get('active', 0)} running, {status.get('failed', 0)} failed"
        said, said_at = progress(say, elapsed, line, said, said_at)
        time.sleep(POLL_SECONDS)


def _logs(kubectl: Kubectl, namespace: str, name: str) -> str:
    pods = get_json(kubectl, "pods", "--namespace", namespace, "-l", f"job-name={name}")
    texts = []
    for pod in sorted(pods["items"], key=lambda pod: pod["metadata"]["creationTimestamp"]):
        pod_name = pod["metadata"]["name"]
        ran = kubectl("logs", pod_name, "--namespace", namespace)
        texts.append(f"--- {pod_name} ({pod['status'].get('phase')})\n{ran.stdout}{ran.stderr}")
    return "".join(texts)


def run(
    kubectl: Kubectl,
    namespace: str,
    action: str,
    backup: str | None = None,
    timeout: float = JOB_TIMEOUT,
    say: Callable[[str], None] = print,
) -> int:
    """Runs `action` (list, now, restore) as a Job; its exit status (module docstring)."""
    args = arguments_of(action, backup)
    cron_job = _cron_job(kubectl, namespace)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = f"{BACKUP}-{action}-{stamp}-{secrets.token_hex(2)}"
    job = job_from(cron_job, name, args)
    started = time.monotonic()
    created = kubectl("create", "-f", "-", input=json.dumps(job))
    if created.returncode != 0:
        raise RuntimeError(f"kubectl create job {name}: {created.stderr.strip()}")
    say(f"==> {action}{f' {backup}' if backup else ''}: Job {name} in {namespace}")
    state = wait_for_job(kubectl, namespace, name, timeout, say)
    took = time.monotonic() - started
    say(_logs(kubectl, namespace, name).rstrip())
    if state != "Complete":
        say(f"==> {action} failed after {took:.1f} s: Job {name} (kept {KEPT_SECONDS} s)")
        return 1
    say(f"==> {action} done in {took:.1f} s")
    return 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="tools/backup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--context")
    parser.add_argument("--timeout", type=float, default=JOB_TIMEOUT)
    parser.add_argument("--yes", action="store_true", help="a restore replaces every vote")
    parser.add_argument("action", choices=("list", "now", "restore"))
    parser.add_argument("backup", nargs="?", help=f"restore: a backup's name, or {LATEST}")
    options = parser.parse_args(argv)
    try:
        if options.action != "restore" and options.backup is not None:
            raise RefusedError(f"{options.action} takes no backup name (got {options.backup!r})")
        if options.action == "restore" and not options.yes:
            arguments_of(options.action, options.backup)
            raise RefusedError(
                f"restore {options.backup} replaces every vote in the db of {options.namespace} "
                "by the backup's: add --yes to do it"
            )
        return run(
            kubectl_with_input(options.context),
            options.namespace,
            options.action,
            options.backup,
            options.timeout,
        )
    except RefusedError as refused:
        print(f"tools/backup: {refused}", file=sys.stderr)
        return 2


def kubectl_with_input(context: str | None) -> Kubectl:
    """kubectl in `context` (None: KUBECONFIG's current one), which may be given stdin."""

    def call(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        where = ["--context", context] if context else []
        return subprocess.run(
            ["kubectl", *where, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return call


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
