"""tools/backup's logic (tools/lib/backups.py) against a kubectl that answers from memory: the Job
it makes from the CronJob, what it refuses before anything runs, and how it reads a Job's end.
The Jobs running for real, and a restore drill, are the real node's (tests/e2e/test_local_prod.py).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from components.app.backup import BACKUP, Action, command
from tools.lib import backups

NAMESPACE = "voting-x"
LABELS = {"app.kubernetes.io/name": BACKUP, "app.kubernetes.io/instance": NAMESPACE}


def cron_job(args: list[str] | None = None) -> dict[str, Any]:
    container = {"name": BACKUP, "image": "db:1", "args": args or list(command(Action.BACKUP))}
    return {
        "metadata": {"name": BACKUP, "namespace": NAMESPACE},
        "spec": {
            "jobTemplate": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "backoffLimit": 2,
                    "template": {
                        "metadata": {"labels": LABELS},
                        "spec": {"containers": [container], "restartPolicy": "Never"},
                    },
                },
            }
        },
    }


class FakeKubectl:
    """Answers get cronjob / create / get job / get pods / logs; records every call."""

    def __init__(self, cron: dict[str, Any] | None, ends: str = "Complete") -> None:
        self.cron = cron
        self.ends = ends
        self.calls: list[tuple[str, ...]] = []
        self.created: list[dict[str, Any]] = []

    def __call__(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        if args[:2] == ("get", "cronjob"):
            if self.cron is None:
                return self._answer(1, "", 'Error from server (NotFound): cronjobs "db-backup"')
            return self._answer(0, json.dumps(self.cron))
        if args[0] == "create":
            assert input is not None
            self.created.append(json.loads(input))
            return self._answer(0, "job created")
        if args[:2] == ("get", "job"):
            condition = {"type": self.ends, "status": "True"}
            return self._answer(0, json.dumps({"status": {"conditions": [condition]}}))
        if args[:2] == ("get", "pods"):
            pod = {
                "metadata": {"name": "p1", "creationTimestamp": "2026-12-07T00:00:00Z"},
                "status": {"phase": "Succeeded"},
            }
            return self._answer(0, json.dumps({"items": [pod]}))
        if args[0] == "logs":
            return self._answer(0, "db-backup: wrote votes-20261207T000000Z.dump (10 bytes)\n")
        raise AssertionError(f"unexpected kubectl {args}")

    @staticmethod
    def _answer(code: int, out: str, err: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(["kubectl"], code, out, err)


def test_a_restore_is_the_cron_job_s_pod_with_the_restore_action() -> None:
    job = backups.job_from(cron_job(), "db-backup-restore-1", command(Action.RESTORE, "latest"))
    assert job["kind"] == "Job"
    assert job["metadata"]["name"] == "db-backup-restore-1"
    assert job["metadata"]["namespace"] == NAMESPACE
    # The CronJob's labels: what the backup's NetworkPolicy edge to the db selects.
    assert job["metadata"]["labels"] == LABELS
    assert job["spec"]["template"]["metadata"]["labels"] == LABELS
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"][-2:] == ["restore", "latest"]
    assert container["image"] == "db:1"
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600
    assert job["spec"]["backoffLimit"] == 2


def test_a_cron_job_that_runs_another_script_is_refused() -> None:
    older = cron_job(["sh", "-c", "pg_dump > /backups/x", BACKUP, "backup"])
    with pytest.raises(backups.RefusedError, match="runs another script than this checkout's"):
        backups.job_from(older, "x", command(Action.LIST))


@pytest.mark.parametrize(
    "name", [None, "", "votes.dump", "../votes-20261207T000000Z.dump", "votes-2026.dump", "Latest"]
)
def test_a_restore_names_a_backup_or_latest(name: str | None) -> None:
    with pytest.raises(backups.RefusedError, match="expected a backup's name"):
        backups.arguments_of("restore", name)


def test_the_actions_map_to_the_script_s() -> None:
    assert backups.arguments_of("now", None)[-1] == "backup"
    assert backups.arguments_of("list", None)[-1] == "list"
    named = backups.arguments_of("restore", "votes-20261207T231500Z.dump")
    assert named[-2:] == ("restore", "votes-20261207T231500Z.dump")


def test_a_job_s_end_is_read_from_its_conditions() -> None:
    assert backups.job_state({"status": {}}) is None
    suspended = {"status": {"conditions": [{"type": "Suspended", "status": "True"}]}}
    assert backups.job_state(suspended) is None
    not_yet = {"status": {"conditions": [{"type": "Failed", "status": "False"}]}}
    assert backups.job_state(not_yet) is None
    done = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert backups.job_state(done) == "Complete"


@pytest.mark.parametrize(("ends", "status"), [("Complete", 0), ("Failed", 1)])
def test_run_creates_one_job_and_says_how_it_ended(ends: str, status: int) -> None:
    kubectl = FakeKubectl(cron_job(), ends)
    said: list[str] = []
    assert backups.run(kubectl, NAMESPACE, "now", say=said.append) == status
    (job,) = kubectl.created
    assert job["metadata"]["name"].startswith("db-backup-now-")
    assert any("db-backup: wrote votes-" in line for line in said)
    assert said[-1].startswith("==> now done" if status == 0 else "==> now failed")


def test_a_stack_without_backups_is_refused_before_anything_runs() -> None:
    kubectl = FakeKubectl(None)
    with pytest.raises(backups.RefusedError, match="has no CronJob db-backup"):
        backups.run(kubectl, NAMESPACE, "list", say=lambda _: None)
    assert kubectl.created == []


def test_a_restore_without_yes_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    status = backups.main(["--namespace", NAMESPACE, "restore", "latest"])
    assert status == 2
    assert "add --yes" in capsys.readouterr().err


def test_a_backup_name_on_list_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    status = backups.main(["--namespace", NAMESPACE, "list", "votes-20261207T231500Z.dump"])
    assert status == 2
    assert "list takes no backup name" in capsys.readouterr().err
