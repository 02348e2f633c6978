"""The database unit, all in one place: its arguments, how PostgreSQL authenticates its clients,
where it keeps its data, and the unit arguments, Secret and ConfigMap content that follow.

One setting (`db.clientAuth`) decides three things that must agree: the `host` line of the
pg_hba.conf the server reads on every start, `POSTGRES_HOST_AUTH_METHOD` (which the official
image's entrypoint reads when it initialises an empty data directory), and, for md5, an init
script that stores the password as an MD5 hash (PostgreSQL 14+ stores a SCRAM verifier by
default, and then asks an md5 client for SCRAM anyway).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

import pulumi

from components.app.pods import (
    DATA_STORE_SCAN_EXCEPTIONS,
    DATA_STORE_SECURITY,
    TMP,
    exec_probe,
    pull_policy_exceptions,
)
from components.units.args import ServiceDeploymentArgs
from components.units.specs import (
    ClaimVolume,
    ConfigMapVolume,
    ContainerPort,
    EmptyDirVolume,
    EnvSpec,
    Exec,
    Exposure,
    ExposureType,
    Probe,
    PullPolicy,
    Recreate,
    Resources,
    SecretKeyRef,
    Volume,
)

IMAGE = "postgres:15.8-alpine"
# The stock worker and result images hard-code this user (and the database `postgres`).
USER = "postgres"
SECRET_NAME = "db-credentials"
# The stock images dial the db by this host name: its Service's name.
SERVICE_NAME = "db"
DATA_PATH = "/var/lib/postgresql/data"
PORT = ContainerPort(number=5432, name="postgres")
# The credentials reach the container only by secretKeyRef, never copied into the pod spec.
SCAN_EXCEPTIONS = {
    **DATA_STORE_SCAN_EXCEPTIONS,
    "CKV_K8S_35": "the design passes credentials by secretKeyRef, never copied into the pod "
    "spec; the Secret stays the one place that holds them",
}


class ClientAuth(StrEnum):
    """The pg_hba.conf method for connections over the network (every peer pod), strongest
    first."""

    SCRAM_SHA_256 = "scram-sha-256"
    MD5 = "md5"
    TRUST = "trust"


# PostgreSQL's own default since 14, and the only method here that neither sends a replayable
# hash nor lets a client in without the password: the default unless a client image is known to
# be unable to do it (components/app/db_clients.py, `default_client_auth`).
STRONGEST_CLIENT_AUTH = ClientAuth.SCRAM_SHA_256


class StorageType(StrEnum):
    """Where Postgres keeps its data."""

    EMPTY_DIR = "emptyDir"
    PERSISTENT_VOLUME_CLAIM = "persistentVolumeClaim"


@dataclass(frozen=True)
class DbStorage:
    """type: default emptyDir (lost with the pod). size: default 1Gi (claim size, or emptyDir cap).
    storage_class: default None, the cluster's default StorageClass (claims only).
    retain_on_delete: default False. True (claims only): `pulumi destroy` leaves the votes in the
      cluster: the claim, and the namespace around it, whose deletion would delete every claim in
      it (Pulumi's `retainOnDelete`). The next `up` adopts both. docs/operations.md says how to
      delete them deliberately.
    """

    type: StorageType = StorageType.EMPTY_DIR
    size: str = "1Gi"
    storage_class: str | None = None
    retain_on_delete: bool = False


MOST_BACKUPS_KEPT = 1000


@dataclass(frozen=True)
class DbBackup:
    """db.backup: the votes dumped on a schedule into the claim `db-backup-data`
    (components/app/backup.py).

    schedule: when, in cron's notation and UTC; default `0 * * * *` (hourly: a lost db loses at
      most the votes of the last hour, once a backup is restored).
    keep: how many of the newest backups are kept, 1 to MOST_BACKUPS_KEPT; default 24. Older
      ones are deleted by the run that makes a newer one.
    size: the claim's size; default 1Gi. storage_class: default None, the cluster's default
      StorageClass.
    The claim is kept on `pulumi destroy` when db.storage.retainOnDelete is (prod).
    """

    schedule: str = "0 * * * *"
    keep: int = 24
    size: str = "1Gi"
    storage_class: str | None = None


class Credentials(StrEnum):
    """Where the Secret `db-credentials` (the user and the password the db and its clients read)
    comes from."""

    # The app creates it from db_password, kept encrypted in the state.
    CREATED = "created"
    # Someone else puts it in the namespace (kubectl, a secrets operator): the app only refers to
    # it, and never holds the password.
    REFERENCED = "referenced"


class DbWorkload(StrEnum):
    """What runs the db pod."""

    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"


@dataclass(frozen=True)
class DbArgs:
    """db: PostgreSQL, one pod.

    image_pull_policy: default None, Kubernetes' own (IfNotPresent for a pinned tag).
    client_auth: how network clients (worker, result) log in. Default None: the strongest
      method that every client image known to the project can use
      (`db_clients.default_client_auth`): scram-sha-256, or trust with the stock worker and
      result images, which can do nothing else. A method a known client cannot use is refused.
    workload: default Deployment (with a separate claim `db-data` when storage is a claim).
      StatefulSet: the claim comes from a volumeClaimTemplate (`data-db-0`) and outlives the
      StatefulSet; the Service is still `db`.
    credentials: default CREATED, the Secret `db-credentials` made from the app's db_password.
      REFERENCED: the app does not create it (a render to files, a secrets operator); it must
      exist in the namespace, with the keys `username` and `password`, before the db starts.
    backup: default None, no backups. A `DbBackup`: pg_dump on a schedule into a claim of its
      own, restored by tools/backup (components/app/backup.py).
    """

    image: str = IMAGE
    image_pull_policy: PullPolicy | None = None
    resources: Resources = Resources()
    storage: DbStorage = DbStorage()
    client_auth: ClientAuth | None = None
    workload: DbWorkload = DbWorkload.DEPLOYMENT
    credentials: Credentials = Credentials.CREATED
    backup: DbBackup | None = None


CONFIG_DIR = "/etc/postgresql/voting-app"
HBA_FILE = "pg_hba.conf"
INIT_DIR = "/docker-entrypoint-initdb.d"
MD5_INIT_SCRIPT = "10-store-password-as-md5.sql"


def hba_conf(auth: ClientAuth) -> str:
    """The whole pg_hba.conf: the pod's own socket and loopback trusted (probes and the image's
    init scripts use them), every network client by `auth`."""
    return (
        f"# Written by voting-app from db.clientAuth = {auth.value}; read on every start\n"
        "# (postgres -c hba_file=...), so a change takes effect with the next db pod.\n"
        "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
        "local   all       all                 trust\n"
        "host    all       all   127.0.0.1/32  trust\n"
        "host    all       all   ::1/128       trust\n"
        f"host    all       all   all           {auth.value}\n"
    )


# psql 15's \getenv reads the password from the container's environment (from the Secret), so
# it is never written into the ConfigMap. Run once, when the image initialises an empty PGDATA.
MD5_PASSWORD_SQL = (
    "-- Written by voting-app for db.clientAuth = md5: store the superuser's password as an MD5\n"
    "-- hash, which md5 authentication needs (PostgreSQL 14+ stores SCRAM by default).\n"
    "\\getenv password POSTGRES_PASSWORD\n"
    "SET password_encryption = 'md5';\n"
    "ALTER ROLE CURRENT_USER PASSWORD :'password';\n"
)


def config_files(auth: ClientAuth) -> dict[str, str]:
    """The files of the db's ConfigMap: pg_hba.conf, and the md5 init script when it is needed."""
    files = {HBA_FILE: hba_conf(auth)}
    if auth is ClientAuth.MD5:
        files[MD5_INIT_SCRIPT] = MD5_PASSWORD_SQL
    return files


def server_args(auth: ClientAuth) -> tuple[str, ...]:
    """The container's args (the image's entrypoint runs them): postgres with our pg_hba.conf."""
    args: tuple[str, ...] = ("postgres", "-c", f"hba_file={CONFIG_DIR}/{HBA_FILE}")
    if auth is ClientAuth.MD5:
        # Passwords changed later (ALTER ROLE ... PASSWORD) are stored as MD5 too.
        args += ("-c", "password_encryption=md5")
    return args


def content_name(prefix: str, files: dict[str, str]) -> str:
    """`<prefix>-<hash of the files>`: a new name whenever the content changes, so the pods that
    mount it are rolled, as kustomize's configMapGenerator does."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{files[name]}\0".encode())
    return f"{prefix}-{digest.hexdigest()[:10]}"


def secret_data(password: pulumi.Output[str]) -> dict[str, pulumi.Input[str]]:
    """The Secret `db-credentials`: the user the stock images dial with, and the password."""
    return {"username": USER, "password": pulumi.Output.secret(password)}


def unit_args(
    db: DbArgs,
    client_auth: ClientAuth,
    namespace: pulumi.Input[str],
    instance: str,
    config_map: pulumi.Input[str],
) -> ServiceDeploymentArgs:
    """The db unit: postgres with our pg_hba.conf for `client_auth` (from ConfigMap `config_map`),
    its credentials
    from the Secret, its data where `db.storage` says, probes that allow a slow first start."""
    ready = ("pg_isready", "--username", USER, "--dbname", "postgres")
    return ServiceDeploymentArgs(
        namespace=namespace,
        image=db.image,
        image_pull_policy=db.image_pull_policy,
        role="database",
        instance=instance,
        args=server_args(client_auth),
        port=PORT,
        env=EnvSpec(
            plain={
                # A subdirectory: a new volume's root may hold lost+found, which initdb refuses.
                "PGDATA": f"{DATA_PATH}/pgdata",
                # Read by the image when it initialises PGDATA (with trust it accepts an empty
                # password); our pg_hba.conf enforces the same on every start.
                "POSTGRES_HOST_AUTH_METHOD": client_auth.value,
            },
            from_secrets={
                "POSTGRES_USER": SecretKeyRef(SECRET_NAME, "username"),
                "POSTGRES_PASSWORD": SecretKeyRef(SECRET_NAME, "password"),
            },
        ),
        resources=db.resources,
        readiness_probe=exec_probe(ready, failure_threshold=3),
        liveness_probe=exec_probe(ready, failure_threshold=6),
        startup_probe=_startup_probe(ready),
        volumes=(
            _data_volume(db.storage),
            EmptyDirVolume(name="run", mount_path="/var/run/postgresql", size_limit="16Mi"),
            TMP,
            *_config_volumes(client_auth, config_map),
        ),
        update_strategy=Recreate(),
        security=DATA_STORE_SECURITY,
        exposure=Exposure(ExposureType.CLUSTER_IP),
        service_name=SERVICE_NAME,
        scan_exceptions={
            **SCAN_EXCEPTIONS,
            **pull_policy_exceptions(db.image, db.image_pull_policy),
        },
    )


# A first start runs initdb and a socket-only server before postgres listens on TCP: allow it
# up to 2 minutes, then hand over to the readiness and liveness probes.
def _startup_probe(command: tuple[str, ...]) -> Probe:
    return Probe(
        check=Exec(command), initial_delay_seconds=0, period_seconds=2, failure_threshold=60
    )


def _data_volume(storage: DbStorage) -> Volume:
    if storage.type is StorageType.PERSISTENT_VOLUME_CLAIM:
        return ClaimVolume(
            name="data",
            mount_path=DATA_PATH,
            size=storage.size,
            storage_class=storage.storage_class,
            retain_on_delete=storage.retain_on_delete,
        )
    return EmptyDirVolume(name="data", mount_path=DATA_PATH, size_limit=storage.size)


def _config_volumes(auth: ClientAuth, config_map: pulumi.Input[str]) -> tuple[Volume, ...]:
    volumes: tuple[Volume, ...] = (
        ConfigMapVolume(
            name="config", mount_path=CONFIG_DIR, config_map=config_map, items={HBA_FILE: HBA_FILE}
        ),
    )
    if auth is ClientAuth.MD5:
        volumes += (
            ConfigMapVolume(
                name="init",
                mount_path=INIT_DIR,
                config_map=config_map,
                items={MD5_INIT_SCRIPT: MD5_INIT_SCRIPT},
            ),
        )
    return volumes
