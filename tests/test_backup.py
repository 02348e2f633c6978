"""The backup pod: its script run for real by a POSIX sh (dash, and busybox's sh as in the official
postgres alpine image) against stand-ins for pg_dump and pg_restore, and the pod that runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from components.app.backup import (
    BACKUP,
    DUMP_NAME,
    MOUNT_PATH,
    SCRIPT,
    Action,
    command,
    job_args,
)
from components.app.db import SECRET_NAME, DbArgs, DbBackup, DbStorage, StorageType
from components.app.pods import DATA_STORE_SECURITY, TMP
from components.units.specs import (
    ClaimVolume,
    ExposureType,
    PullPolicy,
    SecretKeyRef,
)

BUSYBOX = shutil.which("busybox")
# What the image's `sh` is: Debian's dash, or busybox's ash (the postgres alpine image) with
# nothing but busybox's applets on PATH.
SHELLS = [
    "dash",
    # tools/test installs busybox; only a bare `tools/test --unit` elsewhere may lack it.
    pytest.param(
        "busybox",
        marks=pytest.mark.skipif(BUSYBOX is None, reason="busybox not installed (tools/test does)"),
    ),
]
STAMP = "20261207T120000Z"
OLDER = [f"votes-2026120{day}T0{hour}0000Z.dump" for day in (1, 2, 3) for hour in (1, 2)]

# Stand-ins, written with the shell's builtins only (busybox's PATH has no coreutils): each
# records its arguments, one a line, and its working directory.
PG_DUMP = """#!/bin/sh
printf '%s\\n' "$PWD" "$@" >"$CALLS/pg_dump"
for argument; do
  case $argument in --file=*) file=${argument#--file=} ;; esac
done
printf 'dump of %s\\n' "$PGDATABASE" >"$file"
[ -z "${PG_DUMP_FAILS:-}" ] || exit 3
"""
PG_RESTORE = """#!/bin/sh
printf '%s\\n' "$PWD" "$@" >"$CALLS/pg_restore"
"""
# The db answers after PG_ISREADY_AFTER calls (none: at once); each call is a line.
PG_ISREADY = """#!/bin/sh
printf '%s\\n' "$*" >>"$CALLS/pg_isready"
while read -r _; do calls=$((${calls:-0} + 1)); done <"$CALLS/pg_isready"
[ "$calls" -gt "${PG_ISREADY_AFTER:-0}" ]
"""
DATE = """#!/bin/sh
printf '%s\\n' "$@" >"$CALLS/date"
printf '%s\\n' "$STAMP"
"""


@dataclass
class Pod:
    """A backup pod's filesystem and environment, and a way to run the script in it."""

    shell: str
    tmp: Path
    backups: Path
    calls: Path
    path: str

    def run(self, *arguments: str, keep: int = 3, **env: str) -> subprocess.CompletedProcess[str]:
        shell = [BUSYBOX or "busybox", "sh"] if self.shell == "busybox" else ["dash"]
        # The container's args, as the image's entrypoint runs them (none at all: no action).
        words = command(*arguments) if arguments else ("sh", "-c", SCRIPT, BACKUP)
        return subprocess.run(
            [*shell, *words[1:]],
            env={
                "PATH": self.path,
                "BACKUP_DIR": str(self.backups),
                "KEEP": str(keep),
                "PGDATABASE": "postgres",
                "CALLS": str(self.calls),
                "HOME": str(self.tmp),
                "PGHOST": "db",
                "DB_WAIT_SECONDS": "3",
                **env,
            },
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def pin_date(self, stamp: str = STAMP) -> None:
        """`date` answers `stamp`, whatever it is asked."""
        pinned = self.tmp / "pinned"
        pinned.mkdir(exist_ok=True)
        _executable(pinned / "date", DATE.replace("$STAMP", stamp))
        self.path = f"{pinned}:{self.path}"

    def called(self, program: str) -> list[str]:
        return (self.calls / program).read_text().splitlines()

    def names(self) -> list[str]:
        return sorted(path.name for path in self.backups.iterdir())


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture(params=SHELLS)
def pod(request: pytest.FixtureRequest, tmp_path: Path) -> Pod:
    fakes, backups, calls = tmp_path / "fakes", tmp_path / "backups", tmp_path / "calls"
    for directory in (fakes, backups, calls):
        directory.mkdir()
    _executable(fakes / "pg_dump", PG_DUMP)
    _executable(fakes / "pg_restore", PG_RESTORE)
    _executable(fakes / "pg_isready", PG_ISREADY)
    if request.param == "busybox":
        assert BUSYBOX is not None
        applets = tmp_path / "busybox"
        applets.mkdir()
        listed = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
        for applet in listed.stdout.split():
            (applets / applet).symlink_to(BUSYBOX)
        path = f"{fakes}:{applets}"
    else:
        path = f"{fakes}:{os.environ['PATH']}"
    return Pod(request.param, tmp_path, backups, calls, path)


def test_a_backup_is_written_under_its_utc_time_and_nothing_else_is_left(pod: Pod) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    done = pod.run(Action.BACKUP)
    after = datetime.now(UTC)
    assert done.returncode == 0, done.stderr
    (name,) = pod.names()
    assert DUMP_NAME.fullmatch(name), name
    taken = datetime.strptime(name, "votes-%Y%m%dT%H%M%SZ.dump").replace(tzinfo=UTC)
    assert before <= taken <= after
    assert (pod.backups / name).read_text() == "dump of postgres\n"
    assert done.stdout == f"db-backup: wrote {name} (17 bytes)\n"
    # pg_dump ran in the backups' directory, in its custom format, into a partial name first.
    assert pod.called("pg_dump") == [
        str(pod.backups),
        "--format=custom",
        f"--file=.partial-{name}",
    ]


def test_the_stamp_is_asked_of_date_in_utc(pod: Pod) -> None:
    pod.pin_date()
    done = pod.run(Action.BACKUP)
    assert done.returncode == 0, done.stderr
    assert pod.called("date") == ["-u", "+%Y%m%dT%H%M%SZ"]
    assert pod.names() == [f"votes-{STAMP}.dump"]


def test_a_partial_dump_of_an_earlier_run_is_cleared(pod: Pod) -> None:
    (pod.backups / ".partial-votes-20261201T000000Z.dump").write_text("half")
    done = pod.run(Action.BACKUP)
    assert done.returncode == 0, done.stderr
    assert not [name for name in pod.names() if name.startswith(".partial-")]
    assert len(pod.names()) == 1


def test_only_the_newest_keep_are_kept(pod: Pod) -> None:
    for name in OLDER:
        (pod.backups / name).write_text("old")
    # Files that are not backups are none of the script's business.
    others = ["notes.txt", "votes-20261201T010000Z.dump.bak", "votes-latest.dump"]
    for name in others:
        (pod.backups / name).write_text("other")
    pod.pin_date()
    done = pod.run(Action.BACKUP, keep=3)
    assert done.returncode == 0, done.stderr
    newest = f"votes-{STAMP}.dump"
    assert pod.names() == sorted([*OLDER[-2:], newest, *others])
    removed = [line for line in done.stdout.splitlines() if "removed" in line]
    assert removed == [
        f"db-backup: removed {name} (the newest 3 are kept)" for name in reversed(OLDER[:-2])
    ]


def test_a_keep_larger_than_what_there_is_removes_nothing(pod: Pod) -> None:
    for name in OLDER:
        (pod.backups / name).write_text("old")
    pod.pin_date()
    done = pod.run(Action.BACKUP, keep=24)
    assert done.returncode == 0, done.stderr
    assert pod.names() == sorted([*OLDER, f"votes-{STAMP}.dump"])
    assert "removed" not in done.stdout


def test_a_backup_never_overwrites_one_of_the_same_second(pod: Pod) -> None:
    name = f"votes-{STAMP}.dump"
    (pod.backups / name).write_text("the first")
    pod.pin_date()
    done = pod.run(Action.BACKUP)
    assert done.returncode == 1
    assert done.stderr == f"db-backup: {name} exists already\n"
    assert (pod.backups / name).read_text() == "the first"
    assert not (pod.calls / "pg_dump").exists()


def test_a_failed_dump_leaves_nothing_that_looks_like_a_backup(pod: Pod) -> None:
    for name in OLDER:
        (pod.backups / name).write_text("old")
    pod.pin_date()
    done = pod.run(Action.BACKUP, keep=1, PG_DUMP_FAILS="1")
    assert done.returncode != 0
    assert f"votes-{STAMP}.dump" not in pod.names()
    # Nor are the older ones pruned for a backup that was never made.
    assert [name for name in pod.names() if DUMP_NAME.fullmatch(name)] == OLDER
    assert "wrote" not in done.stdout


def test_list_prints_the_backups_oldest_first(pod: Pod) -> None:
    for name in reversed(OLDER):
        (pod.backups / name).write_text("old")
    (pod.backups / "notes.txt").write_text("other")
    (pod.backups / ".partial-votes-20261204T000000Z.dump").write_text("half")
    done = pod.run(Action.LIST)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == OLDER


def test_list_of_no_backups_prints_nothing(pod: Pod) -> None:
    done = pod.run(Action.LIST)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_restore_of_a_named_backup_replaces_the_db_with_it(pod: Pod) -> None:
    for name in OLDER:
        (pod.backups / name).write_text("old")
    done = pod.run(Action.RESTORE, OLDER[2], PGDATABASE="votes")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"db-restore: restored {OLDER[2]}\n"
    called = pod.called("pg_restore")
    assert called[0] == str(pod.backups)
    assert called[-1] == OLDER[2]
    assert set(called[1:-1]) >= {
        "--clean",
        "--if-exists",
        "--single-transaction",
        "--exit-on-error",
        "--dbname=votes",
    }


def test_restore_latest_picks_the_newest(pod: Pod) -> None:
    for name in reversed(OLDER):
        (pod.backups / name).write_text("old")
    done = pod.run(Action.RESTORE, "latest")
    assert done.returncode == 0, done.stderr
    assert pod.called("pg_restore")[-1] == OLDER[-1]


@pytest.mark.parametrize("asked", ["votes-20261231T000000Z.dump", "notes.txt", ""])
def test_restore_of_what_is_not_there_fails_naming_what_is(pod: Pod, asked: str) -> None:
    for name in OLDER[:2]:
        (pod.backups / name).write_text("old")
    done = pod.run(Action.RESTORE, asked)
    assert done.returncode == 1
    assert done.stderr == (
        f"db-restore: no backup '{asked}' in {pod.backups}; there are: {OLDER[0]} {OLDER[1]} \n"
    )
    assert not (pod.calls / "pg_restore").exists()


def test_restore_latest_of_no_backups_fails_saying_there_are_none(pod: Pod) -> None:
    done = pod.run(Action.RESTORE, "latest")
    assert done.returncode == 1
    assert done.stderr == f"db-restore: no backup 'latest' in {pod.backups}; there are: none\n"
    assert not (pod.calls / "pg_restore").exists()


@pytest.mark.parametrize("action", [(), ("dump",), ("BACKUP",), ("",)])
def test_an_unknown_action_exits_2_with_the_usage(pod: Pod, action: tuple[str, ...]) -> None:
    done = pod.run(*action)
    assert done.returncode == 2
    assert done.stderr == "usage: backup | list | restore NAME|latest\n"
    assert pod.names() == []


@pytest.mark.parametrize(
    ("name", "matches"),
    [
        ("votes-20261207T120000Z.dump", True),
        ("votes-20261207T120000Z.dump.bak", False),
        ("votes-20261207T1200Z.dump", False),
        ("votes-2026120\u0667T120000Z.dump", False),
        ("old-votes-20261207T120000Z.dump", False),
    ],
)
def test_a_backup_s_name_is_its_utc_stamp(name: str, matches: bool) -> None:
    assert (DUMP_NAME.fullmatch(name) is not None) is matches


# The pod that runs the script: the db's image, reaching the db by its Service with the db's
# credentials by reference, writing to a claim of its own.


def test_the_container_s_args_run_the_script_under_its_name() -> None:
    assert command(Action.RESTORE, "latest") == ("sh", "-c", SCRIPT, BACKUP, "restore", "latest")
    assert command(Action.LIST) == ("sh", "-c", SCRIPT, "db-backup", "list")


def test_the_pod_runs_the_script_with_backup() -> None:
    pod = job_args(DbBackup(), DbArgs(), "team", "team").pod
    assert pod.args == ("sh", "-c", SCRIPT, BACKUP, "backup")
    assert pod.object_name == BACKUP == "db-backup"
    assert pod.exposure.type is ExposureType.NONE
    assert pod.port is None


def test_the_pod_s_environment_names_the_db_and_takes_the_credentials_by_reference() -> None:
    pod = job_args(DbBackup(keep=7), DbArgs(), "team", "team").pod
    assert dict(pod.env.plain) == {
        "PGHOST": "db",
        "PGDATABASE": "postgres",
        "BACKUP_DIR": "/backups",
        "KEEP": "7",
        "DB_WAIT_SECONDS": "60",
        "HOME": "/tmp",
    }
    assert dict(pod.env.from_secrets) == {
        "PGUSER": SecretKeyRef(SECRET_NAME, "username"),
        "PGPASSWORD": SecretKeyRef(SECRET_NAME, "password"),
    }
    assert SECRET_NAME == "db-credentials"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("postgres:15.8-alpine", None),
        ("example/postgres:16.4", PullPolicy.ALWAYS),
        ("example/postgres:16.4", PullPolicy.NEVER),
    ],
)
def test_the_pod_runs_the_db_s_image_as_the_db_pulls_it(
    image: str, policy: PullPolicy | None
) -> None:
    db = DbArgs(image=image, image_pull_policy=policy)
    args = job_args(DbBackup(), db, "team", "team")
    assert args.pod.image == image
    assert args.pod.image_pull_policy is policy
    assert args.pod.security == DATA_STORE_SECURITY
    assert args.schedule == "0 * * * *"
    assert ("CKV_K8S_15" in args.pod.scan_exceptions) is (policy is not PullPolicy.ALWAYS)


@pytest.mark.parametrize("retained", [True, False])
def test_the_backups_claim_is_kept_exactly_when_the_db_s_is(retained: bool) -> None:
    db = DbArgs(
        storage=DbStorage(type=StorageType.PERSISTENT_VOLUME_CLAIM, retain_on_delete=retained)
    )
    backup = DbBackup(schedule="@daily", keep=2, size="5Gi", storage_class="slow")
    args = job_args(backup, db, "team", "team")
    assert args.schedule == "@daily"
    assert args.pod.volumes == (
        ClaimVolume(
            name="data",
            mount_path=MOUNT_PATH,
            size="5Gi",
            storage_class="slow",
            retain_on_delete=retained,
        ),
        TMP,
    )


@pytest.mark.parametrize("action", [(Action.BACKUP,), (Action.RESTORE, "latest")])
def test_a_run_waits_for_the_db_to_answer_first(pod: Pod, action: tuple[str, ...]) -> None:
    """A new pod's first connections may be refused until the NetworkPolicy enforcer has seen
    it: the run asks until the db answers, then goes on."""
    if action[0] == Action.RESTORE:
        pod.backups.joinpath(OLDER[0]).write_text("dump")
    done = pod.run(*action, PG_ISREADY_AFTER="1")
    assert done.returncode == 0, done.stderr
    assert pod.called("pg_isready") == ["--quiet"] * 2
    assert "waiting for the db at db" in done.stdout


@pytest.mark.parametrize("action", [(Action.BACKUP,), (Action.RESTORE, "latest")])
def test_a_db_that_never_answers_fails_the_run_and_writes_nothing(
    pod: Pod, action: tuple[str, ...]
) -> None:
    if action[0] == Action.RESTORE:
        pod.backups.joinpath(OLDER[0]).write_text("dump")
    done = pod.run(*action, PG_ISREADY_AFTER="1000", DB_WAIT_SECONDS="1")
    assert done.returncode != 0
    assert "the db at db did not answer in 1 s" in done.stderr
    assert not (pod.calls / "pg_dump").exists()
    assert not (pod.calls / "pg_restore").exists()
    assert [name for name in pod.names() if name != OLDER[0]] == []
