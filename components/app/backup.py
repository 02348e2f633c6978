"""The db's backups: `pg_dump` (custom format) on a schedule into a claim of their own, the
newest `keep` kept; and the restore of a named one into the running db by the same pod.

One shell script does the three things a backup pod does (`backup`, `list`, `restore NAME`): the
CronJob runs it with `backup`; tools/backup (tools/lib/backups.py) runs the CronJob's own pod
template as a Job with `list` or `restore NAME`. So a restore runs with exactly the backup's
image, hardening, claim, credentials and labels, and the one traffic-graph edge that lets
backups reach the db (components/app/traffic.py, BACKUP_EDGES) lets restores reach it too.

The script is POSIX sh and calls only what both the official postgres image (alpine, busybox)
and a Debian PostgreSQL image have: pg_dump, pg_restore, date, ls, grep, sort, tail, mv, rm, wc.
"""

from __future__ import annotations

import re
from enum import StrEnum

import pulumi

from components.app.db import SCAN_EXCEPTIONS as DB_SCAN_EXCEPTIONS
from components.app.db import SECRET_NAME, SERVICE_NAME, DbArgs, DbBackup
from components.app.pods import DATA_STORE_SECURITY, TMP, pull_policy_exceptions
from components.units.args import ServiceDeploymentArgs
from components.units.scheduled_job import ScheduledJobArgs
from components.units.specs import (
    ClaimVolume,
    EnvSpec,
    Exposure,
    ExposureType,
    SecretKeyRef,
)

# The unit's name: its CronJob, ServiceAccount and claim (`db-backup-data`), its pods' label, and
# its source in the traffic graph.
BACKUP = "db-backup"
ROLE = "backup"
MOUNT_PATH = "/backups"
DATABASE = "postgres"
# A backup's file name: the time it was taken (UTC), so that names sort by age.
DUMP_NAME = re.compile(r"votes-[0-9]{8}T[0-9]{6}Z\.dump", re.ASCII)
LATEST = "latest"
# How long a run waits for the db to answer before it fails. A new pod's first connections may
# be refused for a few seconds, until the NetworkPolicy enforcer has seen the pod (kube-router
# on the real node refused every connection of a pod that dialled at once); a db that is
# restarting takes longer.
DB_WAIT_SECONDS = 60


class Action(StrEnum):
    """The script's first argument."""

    BACKUP = "backup"
    LIST = "list"
    RESTORE = "restore"


_NAMES = f"ls -1 | grep -E '^{DUMP_NAME.pattern}$' | sort"
# $1 is the action, $2 a restore's backup name (or `latest`). Written with the partial name
# first and renamed when whole, so a run that dies never leaves a file that looks like a backup.
SCRIPT = f"""set -eu
cd "$BACKUP_DIR"
wait_for_db() {{
  waited=0
  until pg_isready --quiet; do
    if [ "$waited" -ge "$DB_WAIT_SECONDS" ]; then
      echo "$0: the db at $PGHOST did not answer in $DB_WAIT_SECONDS s" >&2
      pg_isready >&2 || true
      return 1
    fi
    if [ "$waited" -eq 0 ]; then echo "$0: waiting for the db at $PGHOST"; fi
    sleep 1
    waited=$((waited + 1))
  done
}}
case "${{1:-}}" in
  {Action.BACKUP})
    name="votes-$(date -u +%Y%m%dT%H%M%SZ).dump"
    if [ -e "$name" ]; then echo "db-backup: $name exists already" >&2; exit 1; fi
    rm -f .partial-*
    wait_for_db
    pg_dump --format=custom --file=".partial-$name"
    mv ".partial-$name" "$name"
    echo "db-backup: wrote $name ($(wc -c <"$name") bytes)"
    {_NAMES} -r | tail -n +$((KEEP + 1)) | while read -r old; do
      rm -f -- "$old"
      echo "db-backup: removed $old (the newest $KEEP are kept)"
    done
    ;;
  {Action.LIST})
    {_NAMES}
    ;;
  {Action.RESTORE})
    name="${{2:-}}"
    if [ "$name" = {LATEST} ]; then name=$({_NAMES} | tail -n 1); fi
    if [ -z "$name" ] || [ ! -f "$name" ]; then
      there=$({_NAMES} | tr '\\n' ' ')
      echo "db-restore: no backup '${{2:-}}' in $BACKUP_DIR; there are: ${{there:-none}}" >&2
      exit 1
    fi
    wait_for_db
    pg_restore --clean --if-exists --single-transaction --no-owner --exit-on-error \\
      --dbname="$PGDATABASE" "$name"
    echo "db-restore: restored $name"
    ;;
  *)
    echo "usage: {Action.BACKUP} | {Action.LIST} | {Action.RESTORE} NAME|{LATEST}" >&2
    exit 2
    ;;
esac
"""


def command(action: str, *arguments: str) -> tuple[str, ...]:
    """The container's args for `action`: the script, run by the image's entrypoint (the official
    postgres image's, like ours, runs any command that is not `postgres` as it is)."""
    return ("sh", "-c", SCRIPT, BACKUP, action, *arguments)


def job_args(
    backup: DbBackup,
    db: DbArgs,
    namespace: pulumi.Input[str],
    instance: str,
) -> ScheduledJobArgs:
    """The CronJob: the db's image (its pg_dump matches the server), hardened like the db, with
    the db's credentials by secretKeyRef."""
    pod = ServiceDeploymentArgs(
        namespace=namespace,
        image=db.image,
        image_pull_policy=db.image_pull_policy,
        role=ROLE,
        instance=instance,
        args=command(Action.BACKUP),
        env=EnvSpec(
            plain={
                "PGHOST": SERVICE_NAME,
                "PGDATABASE": DATABASE,
                "BACKUP_DIR": MOUNT_PATH,
                "KEEP": str(backup.keep),
                "DB_WAIT_SECONDS": str(DB_WAIT_SECONDS),
                # libpq looks for ~/.pgpass: a home on the writable /tmp.
                "HOME": TMP.mount_path,
            },
            from_secrets={
                "PGUSER": SecretKeyRef(SECRET_NAME, "username"),
                "PGPASSWORD": SecretKeyRef(SECRET_NAME, "password"),
            },
        ),
        volumes=(
            ClaimVolume(
                name="data",
                mount_path=MOUNT_PATH,
                size=backup.size,
                storage_class=backup.storage_class,
                retain_on_delete=db.storage.retain_on_delete,
            ),
            TMP,
        ),
        security=DATA_STORE_SECURITY,
        exposure=Exposure(ExposureType.NONE),
        object_name=BACKUP,
        scan_exceptions={
            **DB_SCAN_EXCEPTIONS,
            **pull_policy_exceptions(db.image, db.image_pull_policy),
        },
    )
    return ScheduledJobArgs(pod=pod, schedule=backup.schedule)
