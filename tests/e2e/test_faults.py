"""Faults on the prod stack (3 vote, 2 worker, 3 result pods, the db and redis's queue on claims),
for real on the node: what survives a db pod deleted, postgres killed, redis deleted, a hung
container and pods deleted. Votes are cast at the vote URL the stack exports (its load balancer's
address, MetalLB's on loopback, answered by kube-proxy); what is counted is read from the db
itself and from result's API.

Each vote is cast by its own voter id (the `voter_id` cookie), so a vote counted twice, or lost,
shows as a row too many or too few.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.load import VoteLoop
from tests.e2e.real_node import (
    OnRealNode,
    container_host_pid,
    deployed_on_real_node,
    http,
    ready,
    results,
    votes_in_db,
)
from tests.e2e.terminal import tell
from tests.integration.cluster import get_json, kubectl
from tests.waiting import wait_until
from tools.lib.project_copy import StackConfig
from tools.lib.smoke import engine_io_packets, scores_in

pytestmark = pytest.mark.e2e
VOTES = 10  # per batch
CHOICES = ("a", "b")


def totals_of(rows: dict[str, str]) -> dict[str, int]:
    """What result's API should say for these rows of the votes table."""
    counts = Counter(rows.values())
    return {choice: counts[choice] for choice in CHOICES}


@pytest.fixture(scope="module")
def prod(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[OnRealNode]:
    workdir: Path = tmp_path_factory.mktemp("e2e-prod")

    def known_counts(config: StackConfig) -> None:
        # prod's autoscalers pinned to their minimum: the faults meet known counts, whatever the
        # real cpu use (test_production_features.py proves the autoscaling itself).
        for unit in ("vote", "result"):
            scale = config[f"voting-app:{unit}"]["autoscaling"]
            scale["maxReplicas"] = scale["minReplicas"]

    with deployed_on_real_node("prod", workdir, images, {}, edit=known_counts) as app:
        yield app


class Ballot:
    """Votes cast through the vote URL and what the db and result make of them."""

    def __init__(self, app: OnRealNode) -> None:
        self.app = app
        self.vote_url = app.outputs["vote_url"]
        self.result_url = app.outputs["result_url"]
        self.cast: dict[str, str] = {}  # voter id -> choice, every vote this test cast

    def vote(self, count: int = VOTES) -> list[str]:
        """`count` new voters; each POST must be taken (200)."""
        voters = []
        for n in range(count):
            voter, choice = f"e2e-{secrets.token_hex(5)}", CHOICES[n % 2]
            status, _ = http(self.vote_url, {"vote": choice}, cookie=f"voter_id={voter}")
            assert status == 200, f"vote {n} of {count}: status {status}"
            self.cast[voter] = choice
            voters.append(voter)
        return voters

    def rows(self) -> dict[str, str] | None:
        """The votes table as the db has it, voter -> choice (None if the db cannot answer)."""
        return votes_in_db(self.app.namespace, self.app.workload("db"))

    def counted(self, voters: list[str]) -> int:
        rows = self.rows() or {}
        return sum(1 for voter in voters if rows.get(voter) == self.cast[voter])

    def all_counted(self, within: float = 90) -> dict[str, str]:
        """Every vote cast so far is in the db exactly once, and result's totals agree."""

        def check() -> dict[str, str] | None:
            rows = self.rows()
            if rows is None or any(rows.get(v) != c for v, c in self.cast.items()):
                return None
            return rows

        rows = wait_until(f"all {len(self.cast)} votes counted", check, within)
        totals = wait_until(
            "result's totals to match the db",
            lambda: (t := results(self.result_url)) == totals_of(rows) and t,
            30,
        )
        assert sum(totals.values()) == len(rows)
        return rows


def _db_pod(app: OnRealNode) -> dict[str, Any]:
    (pod,) = app.live_pods("db")
    return pod


def _ready_db_endpoints(app: OnRealNode) -> int:
    slices = app.get("endpointslices", "-l", "kubernetes.io/service-name=db")["items"]
    return sum(
        1
        for piece in slices
        for endpoint in piece.get("endpoints") or []
        if endpoint["conditions"].get("ready")
    )


def _wait_db_ready(app: OnRealNode, within: float = 120) -> None:
    wait_until("the db Ready again", lambda: _ready_db_endpoints(app) == 1, within)


def _through_db_outage(
    app: OnRealNode, ballot: Ballot
) -> tuple[list[str], int, float, dict[str, str]]:
    """Votes cast while the db is down (queued in redis; the worker retries until the db is
    back): how many were counted at once, how long after they all were, and the table then."""
    during = ballot.vote()
    counted_then = ballot.counted(during)
    started = time.monotonic()
    _wait_db_ready(app)
    rows = ballot.all_counted()
    return during, counted_then, time.monotonic() - started, rows


def test_the_db_claim_keeps_every_vote_when_the_db_pod_is_deleted(prod: OnRealNode) -> None:
    (claim,) = prod.get("persistentvolumeclaims", "-l", "app.kubernetes.io/name=db")["items"]
    assert claim["status"]["phase"] == "Bound"
    volume = get_json("persistentvolume", claim["spec"]["volumeName"])
    assert "local" in volume["spec"], "a real local volume on the node, not a simulated one"
    assert " /var/lib/postgresql/data " in prod.exec("db", "cat", "/proc/mounts").stdout

    ballot = Ballot(prod)
    before = ballot.vote()
    ballot.all_counted()
    old = _db_pod(prod)
    # Only the pod goes, as on an eviction or a node drain: the claim stays.
    kubectl("delete", "pod", "-n", prod.namespace, old["metadata"]["name"], "--wait=false")
    wait_until("the db out of its Service", lambda: _ready_db_endpoints(prod) == 0, 60)
    during, counted_while_down, took, rows = _through_db_outage(prod, ballot)
    print(
        f"\ndb pod deleted: {len(before)} votes before, all kept; {len(during)} cast while it was"
        f" down ({counted_while_down} counted then), all counted {took:.0f}s after;"
        f" {len(rows)} rows for {len(ballot.cast)} voters, none twice"
    )
    assert counted_while_down == 0, "votes were counted while the db had no Ready pod"
    assert _db_pod(prod)["metadata"]["uid"] != old["metadata"]["uid"]


def test_postgres_killed_with_sigkill_loses_no_committed_vote(prod: OnRealNode) -> None:
    ballot = Ballot(prod)
    before = ballot.vote()
    ballot.all_counted()
    pod = _db_pod(prod)
    (status,) = pod["status"]["containerStatuses"]
    # The postmaster is the container's first process (the entrypoint execs it). From inside its
    # PID namespace SIGKILL cannot reach it: send it from the node, as the OOM killer would.
    os.kill(container_host_pid(pod), signal.SIGKILL)
    wait_until(
        "the db container restarted",
        lambda: (
            _db_pod(prod)["status"]["containerStatuses"][0]["restartCount"] > status["restartCount"]
        ),
        60,
    )
    during, _, took, rows = _through_db_outage(prod, ballot)
    print(
        f"\npostgres SIGKILLed: {len(before)} votes before kept (crash recovery from the WAL on"
        f" the claim); {len(during)} cast during the restart, counted {took:.0f}s after;"
        f" {len(rows)} rows in the table, none twice"
    )


def _scale(app: OnRealNode, unit: str, replicas: int) -> None:
    kubectl("scale", "-n", app.namespace, f"deployment/{unit}", f"--replicas={replicas}")
    wait_until(
        f"{unit} at {replicas} ready pods",
        lambda: sum(ready(pod) for pod in app.pods(unit)) == replicas == len(app.pods(unit)),
        120,
    )


def test_deleting_redis_keeps_the_votes_still_queued_in_it(prod: OnRealNode) -> None:
    """prod keeps redis's queue in an append-only file on a claim (redis.persistence): votes the
    worker has not taken yet are read back by the next redis pod, and counted once the worker
    takes them. (Without persistence, dev's default, every one of them was lost: 10 of 10.)"""
    (claim,) = prod.get("persistentvolumeclaims", "-l", "app.kubernetes.io/name=redis")["items"]
    assert claim["status"]["phase"] == "Bound"
    volume = get_json("persistentvolume", claim["spec"]["volumeName"])
    assert "local" in volume["spec"], "a real local volume on the node, not a simulated one"
    assert " /data " in prod.exec("redis", "cat", "/proc/mounts").stdout
    ballot = Ballot(prod)
    workers = prod.get("deployment", "worker")["spec"]["replicas"]
    _scale(prod, "worker", 0)  # nothing takes votes off the queue now
    try:
        queued = ballot.vote()
        length = int(prod.exec("redis", "redis-cli", "LLEN", "votes").stdout)
        assert length == len(queued)
        (old,) = prod.pods("redis")
        kubectl("delete", "pod", "-n", prod.namespace, old["metadata"]["name"])
        wait_until(
            "a new redis Ready",
            lambda: any(
                ready(pod) and pod["metadata"]["uid"] != old["metadata"]["uid"]
                for pod in prod.pods("redis")
            ),
            120,
        )
        kept = int(prod.exec("redis", "redis-cli", "LLEN", "votes").stdout)
    finally:
        _scale(prod, "worker", workers)
    after = ballot.vote(2)  # the app works again with the new redis
    wait_until(
        "the queued votes and the new ones counted",
        lambda: ballot.counted(queued) == len(queued) and ballot.counted(after) == len(after),
        60,
    )
    print(
        f"\nredis pod deleted with {length} votes queued: the new pod read back {kept}; all"
        f" {len(queued)} counted once the worker was back"
    )
    assert kept == length


def test_a_hung_vote_container_is_restarted_by_its_liveness_probe(prod: OnRealNode) -> None:
    pod = next(pod for pod in prod.pods("vote") if ready(pod))
    name = pod["metadata"]["name"]
    (container,) = pod["spec"]["containers"]
    probe = container["livenessProbe"]
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    # Failing from the first missed probe: threshold periods (each probe may also take its
    # timeout), then the kill, which a frozen process only obeys at SIGKILL, after the grace.
    limit = probe["periodSeconds"] * (probe["failureThreshold"] + 1) + probe["timeoutSeconds"]
    limit += grace
    earliest = probe["periodSeconds"] * (probe["failureThreshold"] - 1)
    (status,) = pod["status"]["containerStatuses"]
    # Freeze the process (as a deadlock would): it still holds its port but answers nothing.
    os.kill(container_host_pid(pod), signal.SIGSTOP)
    started = time.monotonic()

    def restarted() -> bool:
        now = get_json("pod", "-n", prod.namespace, name)
        (current,) = now["status"]["containerStatuses"]
        return bool(current["restartCount"] > status["restartCount"])

    wait_until(f"{name} restarted by its liveness probe", restarted, limit + 30, interval=2)
    took = time.monotonic() - started
    events = kubectl(
        "get",
        "events",
        "-n",
        prod.namespace,
        "--field-selector",
        f"involvedObject.name={name},reason=Unhealthy",
        "-o",
        "jsonpath={.items[*].message}",
    ).stdout
    print(
        f"\nvote container frozen: restarted after {took:.0f}s (liveness every"
        f" {probe['periodSeconds']}s, {probe['failureThreshold']} failures, timeout"
        f" {probe['timeoutSeconds']}s, grace {grace}s: expected {earliest}-{limit}s)"
    )
    assert "Liveness probe failed" in events
    assert earliest <= took <= limit
    pod_now = ("pod", "-n", prod.namespace, name)
    wait_until(f"{name} Ready again", lambda: ready(get_json(*pod_now)), 90)


def test_deleted_pods_are_replaced_and_the_counted_votes_stay(prod: OnRealNode) -> None:
    ballot = Ballot(prod)
    ballot.vote()
    counted = ballot.all_counted()
    replaced = {}
    for unit in ("vote", "worker", "result"):
        pod = prod.pods(unit)[0]
        kubectl("delete", "pod", "-n", prod.namespace, pod["metadata"]["name"], "--wait=false")
        replaced[unit] = pod["metadata"]["uid"]
    for unit, uid in replaced.items():
        replicas = prod.get("deployment", unit)["spec"]["replicas"]

        def back(unit: str = unit, uid: str = uid, replicas: int = replicas) -> bool:
            pods = prod.live_pods(unit)
            return uid not in {p["metadata"]["uid"] for p in pods} and sum(map(ready, pods)) == (
                replicas
            )

        wait_until(f"{unit} back to {replicas} Ready pods", back, 120)
    assert ballot.rows() == counted
    assert results(ballot.result_url) == totals_of(counted)
    ballot.vote(2)
    ballot.all_counted()


# --- result's live updates with several pods --------------------------------------------------
SESSIONS = 20  # socket.io sessions opened through result's load balancer
POLLS = 5  # polls of each, with its session id


def _socket_io_session(result_url: str) -> str | None:
    """One session of result's socket.io (Engine.IO 3, long-polling, as the stock page opens it):
    None when every poll got the scores, else what went wrong first."""
    base = f"{result_url}/socket.io/?EIO=3&transport=polling&b64=1"
    status, body = http(base)
    if status != 200:
        return f"handshake: HTTP {status} {body[:80]}"
    sid = json.loads(engine_io_packets(body, 3)[0][1:])["sid"]
    for poll in range(POLLS):
        status, body = http(f"{base}&sid={sid}")
        if status != 200:
            return f"poll {poll + 1} of {POLLS}: HTTP {status} {body[:80]}"
        if scores_in(engine_io_packets(body, 3)) is None:
            return f"poll {poll + 1} of {POLLS}: no scores in {body[:80]}"
    return None


def test_result_s_live_updates_keep_their_session_across_its_pods(prod: OnRealNode) -> None:
    """With 3 result pods behind its load balancer, every socket.io session opened through it
    keeps getting the scores: result's Service sends a client's polls to the pod that opened its
    session (ClientIP affinity), the only one that knows its id. Without the affinity most
    sessions lost their id at their first poll (400 "Session ID unknown")."""
    pods = _ready_pods(prod, "result")
    assert len(pods) == 3, [pod["metadata"]["name"] for pod in pods]
    assert prod.get("service", "result")["spec"]["sessionAffinity"] == "ClientIP"
    failed = {
        n: why for n in range(SESSIONS) if (why := _socket_io_session(Ballot(prod).result_url))
    }
    print(
        f"\n{SESSIONS} socket.io sessions of {POLLS} polls through result's load balancer,"
        f" 3 pods: {len(failed)} lost their session"
    )
    assert failed == {}, (
        f"{len(failed)} of {SESSIONS} sessions failed, e.g. {list(failed.values())[:3]}"
    )


# --- the fault table ------------------------------------------------------------------------------
# Each unit's pod deleted (as a drain or an eviction does), then separately its container's main
# process SIGKILLed from the node (as the OOM killer does), under a steady vote load from this
# machine: the votes vote took (answered 200) against the rows in the db once the unit is back,
# and the requests that failed. docs/operations.md ("What a fault loses") records the table.

FAULT_UNITS = ("vote", "result", "worker", "redis", "db")
FAULTS = ("delete", "SIGKILL")
LOAD_THREADS = 2  # each at RATE (tests/e2e/load.py): 10 votes a second in all
BEFORE_SECONDS = 2.0  # of load before the fault
AFTER_SECONDS = 3.0  # of load after the unit is back
COUNTED_WITHIN = 90.0  # for every vote taken to reach the db, once the load has stopped


@dataclass(frozen=True)
class FaultCell:
    unit: str
    fault: str
    taken: int  # votes vote answered 200
    lost: int  # of those, not in the db
    failed: int  # requests that got no 200
    back_seconds: float  # from the fault to the unit Ready again
    seconds: float  # how long the load ran

    def row(self) -> str:
        return (
            f"| {self.unit} | {self.fault} | {self.taken} | {self.lost} | {self.failed} |"
            f" {self.back_seconds:.0f} s |"
        )


FAULT_TABLE: dict[tuple[str, str], FaultCell] = {}


def _ready_pods(app: OnRealNode, unit: str) -> list[dict[str, Any]]:
    return [pod for pod in app.live_pods(unit) if ready(pod)]


def _restarts(pod: dict[str, Any]) -> int:
    (status,) = pod["status"]["containerStatuses"]
    count: int = status["restartCount"]
    return count


def _fault(app: OnRealNode, unit: str, fault: str) -> float:
    """`fault` on one Ready pod of `unit`; seconds until the unit has as many Ready pods as before
    (a deleted pod replaced; a killed container restarted in its pod and Ready)."""
    pods = _ready_pods(app, unit)
    assert pods, f"no Ready {unit} pod"
    pod, wanted = pods[0], len(pods)
    name, uid, restarts = pod["metadata"]["name"], pod["metadata"]["uid"], _restarts(pod)
    started = time.monotonic()
    if fault == "delete":
        kubectl("delete", "pod", "-n", app.namespace, name, "--wait=false")

        def back() -> bool:
            now = _ready_pods(app, unit)
            return uid not in {p["metadata"]["uid"] for p in now} and len(now) == wanted

    else:
        os.kill(container_host_pid(pod), signal.SIGKILL)

        def back() -> bool:
            now = {p["metadata"]["uid"]: p for p in _ready_pods(app, unit)}
            return uid in now and _restarts(now[uid]) > restarts and len(now) == wanted

    wait_until(f"{unit} back after {fault} of {name}", back, 180, interval=0.5)
    return time.monotonic() - started


def _missing(ballot: Ballot, taken: dict[str, str]) -> dict[str, str]:
    """The votes taken that the db does not hold (as cast), once they have had time to get there."""
    deadline = time.monotonic() + COUNTED_WITHIN
    while True:
        rows = ballot.rows()
        missing = {v: c for v, c in taken.items() if rows is None or rows.get(v) != c}
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(1)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("unit", FAULT_UNITS)
def test_a_fault_under_load_loses_no_vote_taken(prod: OnRealNode, unit: str, fault: str) -> None:
    ballot = Ballot(prod)
    with VoteLoop(ballot.vote_url, workers=LOAD_THREADS, limit=300) as load:
        time.sleep(BEFORE_SECONDS)
        back = _fault(prod, unit, fault)
        time.sleep(AFTER_SECONDS)
    assert not load.ended_early, load.ended_early
    assert load.sent >= load.least, str(load)
    missing = _missing(ballot, load.accepted)
    cell = FaultCell(
        unit, fault, len(load.accepted), len(missing), sum(load.failed.values()), back, load.seconds
    )
    FAULT_TABLE[unit, fault] = cell
    print(f"\n{unit} {fault}: {load}; back in {back:.1f} s; {cell.lost} of {cell.taken} lost")
    assert load.accepted, f"vote took no vote in {load.seconds:.0f} s: {dict(load.failed)}"
    assert not missing, f"{len(missing)} votes taken and lost, e.g. {list(missing.items())[:3]}"


def test_the_fault_table_has_every_cell(request: pytest.FixtureRequest) -> None:
    """Runs after the cells (file order): every one measured; the table written to the terminal
    (past pytest's capture, so that a passing run shows it too) for docs/operations.md."""
    assert set(FAULT_TABLE) == {(unit, fault) for unit in FAULT_UNITS for fault in FAULTS}
    header = (
        "| unit | fault | votes taken | lost | failed requests | back |\n|---|---|---|---|---|---|"
    )
    rows = [FAULT_TABLE[unit, fault].row() for unit in FAULT_UNITS for fault in FAULTS]
    tell(request.config, "\nthe fault table:\n" + "\n".join([header, *rows]))
