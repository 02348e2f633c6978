"""The worker's window, measured on loopback: what a worker SIGKILLed mid-stream loses, with the
stock worker's contract (pop, then insert: the stand-in's WORKER_CONTRACT=pop) and with the
stand-in's reliable queue (its default). Real redis-server 7.0 and PostgreSQL 15 (Debian's, run
as nobody on free loopback ports), the stand-in worker (workbench/images/fixtures/worker.py) as
a subprocess, a steady stream of votes of distinct voters pushed as the vote image pushes them.

Among the kills, one lands while the worker holds a vote for sure: the db is stopped, the worker
takes a vote and cannot write it, and is killed then. With the reliable contract the worker
comes back under another name after that kill (a deleted pod), so its list is recovered by
another worker once its liveness key expires; after the other kills, under its own name (a
container restarted in its pod). No cluster: it is in the e2e suite for its servers, which
tools/test provides (postgresql-15, and workbench/images/redis-binary)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.stack_files import ROOT

sys.path.insert(0, str(ROOT / "workbench" / "images" / "fixtures"))
from pgwire import Connection, PgError
from resp import Redis

pytestmark = pytest.mark.e2e
FIXTURES = ROOT / "workbench" / "images" / "fixtures"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
CACHE = Path(
    os.environ.get("VOTING_APP_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "voting-app"
)
REDIS_ROOT = CACHE / "redis-binary"
VOTES_PER_SECOND = 300
# A short liveness for the test: a deleted worker's votes are taken back within two of these.
LIVENESS_SECONDS = 2
RANDOM_KILLS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(what: str, check: Callable[[], bool], seconds: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            tail = (
                "".join(f"\n  {line}" for line in log.read_text().splitlines()[-10:]) if log else ""
            )
            raise TimeoutError(f"{what}: not within {seconds:.0f}s{tail}")
        time.sleep(0.02)


class Postgres:
    """PostgreSQL 15 as nobody, on a free loopback port; stopped and started again on it."""

    def __init__(self, work: Path) -> None:
        self.data, self.sockets = work / "pg", work / "pg-sockets"
        self.sockets.mkdir()
        os.chown(self.sockets, 65534, 65534)
        subprocess.run(
            [*NOBODY, PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust"],
            check=True,
            capture_output=True,
        )
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # Restarted by a test, it stays the module's (tests/conftest.py ends at a test's end what
        # carries that test's mark): the environment of the module's fixture, mark included.
        self.env = dict(os.environ)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *NOBODY,
                PG_BIN / "postgres",
                "-D",
                self.data,
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-c",
                f"unix_socket_directories={self.sockets}",
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for("PostgreSQL ready", self._ready, 30)

    def _ready(self) -> bool:
        try:
            Connection("127.0.0.1", self.port).close()
        except (OSError, ConnectionError, PgError):  # PgError: still starting up
            return False
        return True

    def stop(self) -> None:
        if self.process is not None:
            # SIGINT: the fast shutdown, which also ends the worker's session at once.
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)
            self.process = None

    def query(self, sql: str) -> list[tuple[str | None, ...]]:
        with Connection("127.0.0.1", self.port) as db:
            return db.query(sql)


@dataclass
class Servers:
    work: Path
    redis_port: int
    db: Postgres

    def redis(self) -> Redis:
        return Redis("127.0.0.1", self.redis_port)


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    redis_server = REDIS_ROOT / "usr" / "bin" / "redis-server"
    if not (PG_BIN / "postgres").exists():
        raise RuntimeError(f"no PostgreSQL 15 at {PG_BIN}: tools/test installs postgresql-15")
    if not redis_server.exists():
        raise RuntimeError(
            f"no redis-server at {redis_server}: workbench/images/redis-binary unpacks Debian's"
            " there (tools/test runs it)"
        )
    # Not pytest's tmp_path: nobody must be able to reach it.
    work = Path(tempfile.mkdtemp(prefix="voting-app-worker-window-"))
    os.chown(work, 65534, 65534)
    redis_port = free_port()
    # As the redis image runs it for the dev stack: in memory only. As this user, not nobody: the
    # cache may be under a home nobody cannot enter, and redis, unlike PostgreSQL, runs as root.
    redis = subprocess.Popen(
        [
            redis_server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(redis_port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            work,
        ],
        env={**os.environ, "LD_LIBRARY_PATH": str(REDIS_ROOT / "usr/lib/x86_64-linux-gnu")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = Postgres(work)
    try:
        found = Servers(work, redis_port, db)
        wait_for("redis ready", lambda: _answers(found), 30)
        db.start()
        yield found
    finally:
        db.stop()
        redis.terminate()
        redis.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def _answers(servers: Servers) -> bool:
    try:
        client = servers.redis()
    except OSError:
        return False
    try:
        return client.command("PING") == "PONG"
    finally:
        client.close()


@dataclass
class Worker:
    """The stand-in worker, started and SIGKILLed again and again; each run logs to a file."""

    servers: Servers
    contract: str
    name: str = "worker-a"
    runs: int = 0
    kills: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=Path)

    def start(self) -> None:
        self.runs += 1
        self.log = self.servers.work / f"worker-{self.contract}-{self.runs}.log"
        env = {
            **os.environ,
            "WORKER_CONTRACT": self.contract,
            "WORKER_TEST_REDIS": f"127.0.0.1:{self.servers.redis_port}",
            "WORKER_TEST_DB": f"127.0.0.1:{self.servers.db.port}",
            "WORKER_TEST_NAME": self.name,
            "WORKER_LIVENESS_SECONDS": str(LIVENESS_SECONDS),
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, FIXTURES / "worker.py"], env=env, stdout=out, stderr=out
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def moved_back(self) -> int:
        """Votes its runs moved back to `votes` from processing lists (the reliable contract)."""
        logs = self.servers.work.glob(f"worker-{self.contract}-*.log")
        return sum(
            int(line.split()[1])
            for log in logs
            for line in log.read_text().splitlines()
            if line.startswith("Moved ")
        )


class Stream:
    """Votes pushed as the vote image pushes them (RPUSH), each by a voter of its own, at a
    steady rate until stopped."""

    def __init__(self, servers: Servers) -> None:
        self.servers = servers
        self.pushed: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._push)

    def _push(self) -> None:
        redis = self.servers.redis()
        started = time.monotonic()
        while not self.stopping.is_set():
            voter = f"voter-{len(self.pushed):05d}"
            vote = json.dumps({"voter_id": voter, "vote": "ab"[len(self.pushed) % 2]})
            redis.command("RPUSH", "votes", vote)
            self.pushed.append(voter)
            pause = started + len(self.pushed) / VOTES_PER_SECOND - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        redis.close()

    def __enter__(self) -> Stream:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)


# In one step (a script runs atomically): a vote moved from one list to another while they were
# counted one by one could be missed.
COUNT_QUEUED = """
local total = 0
for _, key in ipairs(redis.call('KEYS', 'votes*')) do
  if redis.call('TYPE', key).ok == 'list' then total = total + redis.call('LLEN', key) end
end
return total
"""


def _queued(servers: Servers) -> int:
    """Votes in `votes` and in every processing list."""
    redis = servers.redis()
    try:
        total = redis.command("EVAL", COUNT_QUEUED, "0")
        assert isinstance(total, int)
        return total
    finally:
        redis.close()


def _rows(servers: Servers) -> set[str]:
    try:
        return {row[0] or "" for row in servers.db.query("SELECT id FROM votes")}
    except PgError:  # no table yet: the worker makes it
        return set()


def _held_vote(worker: Worker) -> str:
    """The voter whose vote the worker took and could not write: the last one it processed."""
    processing = [line for line in worker.lines() if line.startswith("Processing vote")]
    return processing[-1].rsplit("'", 2)[-2]


@pytest.mark.parametrize("contract", ["pop", "reliable"])
def test_what_a_sigkilled_worker_loses(servers: Servers, contract: str) -> None:
    flush = servers.redis()
    flush.command("FLUSHALL")
    flush.close()
    servers.db.query("DROP TABLE IF EXISTS votes")
    worker = Worker(servers, contract)
    worker.start()
    with Stream(servers) as stream:
        for _ in range(RANDOM_KILLS - 1):
            time.sleep(0.4)
            worker.kill()  # wherever it is in its loop: a container restarted in its pod
            worker.start()
        # The held vote: the db goes, the worker takes the next vote and waits with it.
        time.sleep(0.4)
        servers.db.stop()
        wait_for(
            "the worker holding a vote it cannot write",
            lambda: "Waiting for db" in worker.log.read_text(),
            30,
            worker.log,
        )
        held = _held_vote(worker)
        worker.kill()
        servers.db.start()
        if contract == "reliable":
            worker.name = "worker-b"  # a deleted pod's successor: another name
        worker.start()
        time.sleep(0.4)
        worker.kill()
        worker.start()
        time.sleep(0.4)
    pushed = set(stream.pushed)
    # Done when nothing is queued nor held and the table has stopped growing.
    seen: list[tuple[int, int]] = []

    def settled() -> bool:
        seen.append((_queued(servers), len(_rows(servers))))
        return len(seen) > 25 and len(set(seen[-25:])) == 1 and seen[-1][0] == 0

    # What is still queued then counts as lost below, with its count.
    with contextlib.suppress(TimeoutError):
        wait_for("every vote taken", settled, 4 * LIVENESS_SECONDS + 20)
    assert worker.process is not None
    worker.process.terminate()
    worker.process.wait(timeout=10)
    rows = _rows(servers)
    lost = sorted(pushed - rows)
    print(
        f"\nWORKER_CONTRACT={contract}: {len(pushed)} votes pushed at {VOTES_PER_SECOND}/s,"
        f" {worker.kills} SIGKILLs mid-stream (one while it held a vote), {len(rows)}"
        f" rows, {len(lost)} lost: {lost}; the held vote ({held}) "
        + ("counted" if held in rows else "lost")
        + (f"; {worker.moved_back()} moved back from processing lists" if contract != "pop" else "")
    )
    assert rows <= pushed, "rows of voters never pushed"
    if contract == "pop":
        # Pop, then insert: the vote taken and not yet written is only in the process.
        assert held in lost, "the vote held at the kill survived a pop-then-insert worker?"
        assert len(lost) <= worker.kills, "more than the one vote in flight lost per kill"
    else:
        assert lost == [], (
            f"{len(lost)} of {len(pushed)} votes lost to {worker.kills} SIGKILLs of the reliable"
            f" worker ({_queued(servers)} still queued or held in redis)"
        )
