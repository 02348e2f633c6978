"""The stand-ins' Postgres client (workbench/images/fixtures/pgwire.py) against a real PostgreSQL 15
on loopback: it does exactly what the stock worker's Npgsql 3.1.3 does, trust, cleartext and md5,
and refuses SCRAM the way it does. Debian's PostgreSQL 15 server binaries, run as nobody."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack_files import ROOT

sys.path.insert(0, str(ROOT / "workbench" / "images" / "fixtures"))
from pgwire import AuthenticationNotSupported, Connection, PgError, literal

pytestmark = pytest.mark.e2e
PG_BIN = Path("/usr/lib/postgresql/15/bin")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
PASSWORD = "it's-a-secret"
# One role per authentication method, each allowed in only by that method (pg_hba.conf).
ROLES = {"trusty": "trust", "clear": "password", "hashed": "md5", "modern": "scram-sha-256"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    if not (PG_BIN / "postgres").exists():
        raise RuntimeError(f"no PostgreSQL 15 at {PG_BIN}: tools/test installs postgresql-15")
    # Not pytest's tmp_path: nobody must be able to reach it.
    work = Path(tempfile.mkdtemp(prefix="voting-app-pgwire-"))
    data, sockets = work / "data", work / "sockets"
    sockets.mkdir()
    os.chown(work, 65534, 65534)
    os.chown(sockets, 65534, 65534)
    subprocess.run(
        [*NOBODY, PG_BIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    hba = "".join(f"host all {role} 127.0.0.1/32 {method}\n" for role, method in ROLES.items())
    (data / "pg_hba.conf").write_text("local all all trust\n" + hba)
    port = free_port()
    process = subprocess.Popen(
        [
            *NOBODY,
            PG_BIN / "postgres",
            "-D",
            data,
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-c",
            f"unix_socket_directories={sockets}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            ready = subprocess.run(
                [PG_BIN / "pg_isready", "-h", "127.0.0.1", "-p", str(port)], capture_output=True
            )
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        sql = "".join(
            f"SET password_encryption = '{'md5' if method == 'md5' else 'scram-sha-256'}';"
            f"CREATE ROLE {role} LOGIN PASSWORD {literal(PASSWORD)};"
            for role, method in ROLES.items()
        )
        subprocess.run(
            [PG_BIN / "psql", "-h", sockets, "-p", str(port), "-U", "postgres", "-c", sql],
            check=True,
            capture_output=True,
        )
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def connect(port: int, user: str, password: str | None) -> Connection:
    return Connection("127.0.0.1", port, user=user, password=password)


def test_trust_needs_no_password(server: int) -> None:
    with connect(server, "trusty", None) as db:
        assert db.query("SELECT 1, NULL") == [("1", None)]


@pytest.mark.parametrize("user", ["clear", "hashed"])
def test_cleartext_and_md5_log_in_with_the_password(server: int, user: str) -> None:
    with connect(server, user, PASSWORD) as db:
        assert db.query(f"SELECT {literal(PASSWORD)}") == [(PASSWORD,)]
    with pytest.raises(PgError, match="password authentication failed"):
        connect(server, user, "wrong")
    with pytest.raises(PgError, match="none is configured"):
        connect(server, user, None)


def test_scram_is_refused_as_the_stock_worker_refuses_it(server: int) -> None:
    with pytest.raises(AuthenticationNotSupported) as raised:
        connect(server, "modern", PASSWORD)
    assert str(raised.value) == "Authentication method not supported (Received: 10)"


def test_a_failed_query_reports_the_servers_error_and_the_session_goes_on(server: int) -> None:
    with connect(server, "trusty", None) as db:
        with pytest.raises(PgError, match="does not exist"):
            db.query("SELECT * FROM no_such_table")
        assert db.query("SELECT 2") == [("2",)]
