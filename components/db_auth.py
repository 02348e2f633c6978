"""How PostgreSQL authenticates its clients, and what the db pod is given to enforce it.

One setting (`db.clientAuth`) decides three things that must agree: the `host` line of the
pg_hba.conf the server reads on every start, `POSTGRES_HOST_AUTH_METHOD` (which the official
image's entrypoint reads when it initialises an empty data directory), and, for md5, an init
script that stores the password as an MD5 hash (PostgreSQL 14+ stores a SCRAM verifier by
default, and then asks an md5 client for SCRAM anyway).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum


class ClientAuth(StrEnum):
    """The pg_hba.conf method for connections over the network (every peer pod)."""

    SCRAM_SHA_256 = "scram-sha-256"
    MD5 = "md5"
    TRUST = "trust"


# PostgreSQL's own default since 14, and the only method here that neither sends a replayable
# hash nor lets a client in without the password. Images whose clients cannot do it (the stock
# worker and result, see components/db_clients.py) are refused with it, by key: a stack that uses
# them says `trust` explicitly.
DEFAULT_CLIENT_AUTH = ClientAuth.SCRAM_SHA_256

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


def db_config_files(auth: ClientAuth) -> dict[str, str]:
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
