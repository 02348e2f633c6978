"""The prod stack for real on the node, through the main job as a person runs it (`tools/up
--prod`, in a copy of the project with a namespace of its own): its LoadBalancer Services get
loopback addresses from MetalLB that answer through kube-proxy, votes cast there are counted,
its disruption budgets hold against the eviction API, a rollback is waited for, and its
autoscaler acts on the pods' real cpu use under a bounded load from this machine.

One change to prod's config here, said where it is made: vote's scale-down stabilization is 30 s
instead of 300 s, so that the scale-in is seen within the test (prod keeps 300 s).
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.load import FAILURES, RequestLoop
from tests.e2e.main_job_on_node import ROLLED_OUT, URL_LINE, MainJobOnNode, main_job_on_node
from tests.e2e.real_node import http, ready, results, votes_in_db
from tests.e2e.terminal import tell
from tests.integration.cluster import kubectl
from tests.quantities import millicores
from tests.waiting import wait_until
from tools.lib.project_copy import StackConfig
from workbench import settings

pytestmark = pytest.mark.e2e
POOL = ipaddress.ip_network(settings.LOAD_BALANCER_ADDRESSES)
WEB_UNITS = ("vote", "result")
SCALE_DOWN_SECONDS = 30
VOTES = 20
# The load: this many threads on this machine, each sending the next GET as soon as the last is
# answered, for at most LOAD_LIMIT seconds; what 2 cores carry beside the node and the pods.
LOAD_WORKERS = 3
LOAD_LIMIT = 420.0
# A step of Pulumi's output that changes an object (its refresh steps say "refresh").
CHANGE_STEP = re.compile(r"^ [+~-]+ +kubernetes:\S+ \S+ (creating|updating|replacing|deleting) ")


LocalProd = MainJobOnNode  # tools/up --prod's stack local-prod, as the tests see it


def _slower_scale_down_seen(config: StackConfig) -> None:
    config["voting-app:vote"]["autoscaling"]["scaleDownStabilizationSeconds"] = SCALE_DOWN_SECONDS


@pytest.fixture(scope="module")
def local_prod(
    images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalProd]:
    del images  # built, and the real node checked, by the session's fixture
    workdir: Path = tmp_path_factory.mktemp("e2e-local-prod")
    with main_job_on_node("prod", workdir, _slower_scale_down_seen) as app:
        yield app


# --- load balancers and votes ------------------------------------------------------------------


def test_load_balancer_addresses_answer_when_up_returns(local_prod: LocalProd) -> None:
    """Pulumi's own Service await was satisfied by a real address (nothing skips it), and the URLs
    tools/up printed had answered before it printed them."""
    printed = {unit: (url, float(took)) for unit, url, took in URL_LINE.findall(local_prod.output)}
    assert set(printed) == set(WEB_UNITS), local_prod.output[-3000:]
    rolled = ROLLED_OUT.search(local_prod.output)
    assert rolled, local_prod.output[-3000:]
    lines = [f"\ntools/up --prod from empty: {local_prod.took:.0f} s"]
    lines.append(f"  after pulumi up: rollouts waited {rolled.group(1)} s")
    for unit in WEB_UNITS:
        service = local_prod.get("service", unit)
        assert service["spec"]["type"] == "LoadBalancer"
        (ingress,) = service["status"]["loadBalancer"]["ingress"]
        address = ipaddress.ip_address(ingress["ip"])
        assert address in POOL, ingress
        url, took = printed[unit]
        assert url == f"http://{address}", url
        status, body = http(url)
        assert status == 200, (unit, url, status)
        lines.append(
            f"  {unit}: LoadBalancer {address}:80 -> {url} answered {status}"
            f" ({len(body)} bytes); tools/up's URL check waited {took} s"
        )
    assert "Cats vs Dogs" in http(printed["vote"][0])[1]
    print("\n".join(lines))


# The Deployment controller's event for each scale-up of a ReplicaSet ("from N" is newer wording).
SCALED_UP = re.compile(r"^Scaled up replica set \S+ (?:from \d+ )?to (\d+)$")


def test_the_autoscaled_units_start_at_the_autoscaler_s_minimum(local_prod: LocalProd) -> None:
    """Created at the minimum (then left to the autoscaler): no scale-up of their Deployments,
    the first included, went to fewer pods than the minimum, as one to Kubernetes' default of
    one pod, raised by the autoscaler's first pass, would. Runs before this module's rollouts,
    whose new ReplicaSets are scaled up a pod at a time."""
    for unit in WEB_UNITS:
        least = local_prod.get("horizontalpodautoscaler", unit)["spec"]["minReplicas"]
        selector = f"involvedObject.kind=Deployment,involvedObject.name={unit}"
        events = local_prod.get("events", "--field-selector", selector)["items"]
        targets = [
            int(found.group(1))
            for event in events
            if (found := SCALED_UP.match(event.get("message", "")))
        ]
        assert targets, [event.get("message") for event in events]
        assert min(targets) >= least, (unit, least, targets)
        print(f"\n{unit}: its autoscaler's minimum {least}; its scale-ups went to {targets}")


def test_votes_cast_through_the_load_balancer_are_counted(local_prod: LocalProd) -> None:
    urls = local_prod.urls()
    before = wait_until("result's API answers", lambda: results(urls["result"]), 60)
    for n in range(VOTES):
        voter = f"e2e-{secrets.token_hex(5)}"
        status, _ = http(urls["vote"], {"vote": "ab"[n % 2]}, cookie=f"voter_id={voter}")
        assert status == 200, f"vote {n}: status {status}"
    wanted = {"a": before["a"] + VOTES // 2, "b": before["b"] + VOTES // 2}
    counted = wait_until(
        f"{VOTES} votes counted", lambda: (found := results(urls["result"])) == wanted and found, 60
    )
    print(f"\n{VOTES} votes cast at {urls['vote']}, counted at {urls['result']}: {counted}")


# --- backups and a restore drill ----------------------------------------------------------------

WROTE = re.compile(r"^db-backup: wrote (votes-\S+\.dump) ", re.MULTILINE)
DRILL_VOTES = 6  # cast before the backup, and again after it


def _voters(app: LocalProd) -> dict[str, str] | None:
    """The votes table, voter -> choice, read in the db itself (None when it cannot answer)."""
    return votes_in_db(app.namespace, "statefulset/db")


def _cast(app: LocalProd, count: int) -> dict[str, str]:
    """`count` new voters' votes through the load balancer, each counted in the db."""
    cast = {f"drill-{secrets.token_hex(5)}": "ab"[n % 2] for n in range(count)}
    for voter, choice in cast.items():
        status, _ = http(app.urls()["vote"], {"vote": choice}, cookie=f"voter_id={voter}")
        assert status == 200, (voter, status)
    wait_until(
        f"{count} votes in the db",
        lambda: (rows := _voters(app)) is not None and cast.items() <= rows.items(),
        60,
    )
    return cast


def test_a_restore_drill_brings_back_the_votes_of_the_backup(
    local_prod: LocalProd, request: pytest.FixtureRequest
) -> None:
    """Votes cast, a backup taken (tools/backup now, the stack's own CronJob pod), more votes
    cast, the votes table dropped, the backup restored (tools/backup restore): the db holds
    exactly the votes of the backup, result's totals agree, and the app counts new votes again.
    Recovery point: the backup (the votes cast after it are lost, as they must be); recovery
    time: from the restore's start to result's totals agreeing."""
    _cast(local_prod, DRILL_VOTES)
    taken = local_prod.backup("now")
    assert taken.returncode == 0, taken.stdout[-3000:]
    wrote = WROTE.search(taken.stdout)
    assert wrote, taken.stdout[-3000:]
    at_backup = _voters(local_prod)
    assert at_backup, "the db answers"
    listed = local_prod.backup("list")
    assert listed.returncode == 0, listed.stdout[-3000:]
    assert wrote.group(1) in listed.stdout.splitlines(), listed.stdout[-3000:]
    after = _cast(local_prod, DRILL_VOTES)

    dropped = kubectl(
        "exec", "--namespace", local_prod.namespace, "db-0", "--",
        "psql", "-U", "postgres", "-c", "DROP TABLE votes",
    )  # fmt: skip
    assert "DROP TABLE" in dropped.stdout
    refused = local_prod.backup("restore", wrote.group(1))
    assert refused.returncode == 2, refused.stdout[-2000:]
    assert "add --yes" in refused.stdout, refused.stdout[-2000:]

    started = time.monotonic()
    restored = local_prod.backup("restore", wrote.group(1), "--yes")
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert f"db-restore: restored {wrote.group(1)}" in restored.stdout
    assert _voters(local_prod) == at_backup
    totals = {choice: list(at_backup.values()).count(choice) for choice in "ab"}
    wait_until(
        "result's totals to be the backup's",
        lambda: results(local_prod.urls()["result"]) == totals,
        60,
    )
    recovery = time.monotonic() - started
    # The app goes on: the worker writes new votes into the restored table.
    again = _cast(local_prod, 2)
    rows = _voters(local_prod)
    assert rows is not None
    assert rows.items() >= (at_backup | again).items()
    assert not after.keys() & rows.keys()
    tell(
        request.config,
        f"\nrestore drill: {len(at_backup)} votes in backup {wrote.group(1)};"
        f" {len(after)} cast after it, then the table dropped; restored: {len(at_backup)}"
        f" votes back, the {len(after)} after the backup lost (recovery point: the backup);"
        f" recovery time {recovery:.1f} s (tools/backup restore to result's totals)",
    )


# --- disruption budgets -------------------------------------------------------------------------


def _evict(namespace: str, pod: str) -> subprocess.CompletedProcess[str]:
    """An eviction through the API (what `kubectl drain` sends): allowed or refused by the pod's
    disruption budget."""
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod, "namespace": namespace},
    }
    path = f"/api/v1/namespaces/{namespace}/pods/{pod}/eviction"
    return kubectl("create", "--raw", path, "-f", "-", input=json.dumps(eviction), check=False)


def _ready_pods(app: LocalProd, unit: str) -> list[dict[str, Any]]:
    return [pod for pod in app.pods(unit) if ready(pod)]


@pytest.mark.parametrize("unit", WEB_UNITS)
def test_evictions_are_refused_exactly_when_they_would_break_the_budget(
    local_prod: LocalProd, unit: str
) -> None:
    budget = local_prod.get("poddisruptionbudget", unit)
    assert budget["spec"]["maxUnavailable"] == 1
    least = local_prod.get("horizontalpodautoscaler", unit)["spec"]["minReplicas"]
    wait_until(
        f"{least} {unit} pods Ready", lambda: len(_ready_pods(local_prod, unit)) >= least, 120
    )
    wait_until(
        f"{unit}'s budget allows one disruption",
        lambda: local_prod.get("poddisruptionbudget", unit)["status"]["disruptionsAllowed"] == 1,
        60,
    )
    first, second = (pod["metadata"]["name"] for pod in _ready_pods(local_prod, unit)[:2])
    allowed = _evict(local_prod.namespace, first)
    assert allowed.returncode == 0, allowed.stderr
    refused = _evict(local_prod.namespace, second)
    assert refused.returncode != 0
    assert "TooManyRequests" in refused.stderr, refused.stderr
    assert "disruption budget" in refused.stderr, refused.stderr
    # The replacement Ready, the budget allows one again: the same pod may now go.
    wait_until(
        f"{unit}'s budget allows one disruption again",
        lambda: local_prod.get("poddisruptionbudget", unit)["status"]["disruptionsAllowed"] == 1,
        120,
    )
    again = _evict(local_prod.namespace, second)
    assert again.returncode == 0, again.stderr
    wait_until(
        f"{least} {unit} pods Ready", lambda: len(_ready_pods(local_prod, unit)) >= least, 120
    )
    print(
        f"\n{unit} (budget maxUnavailable 1, {least} pods): evict {first}: allowed;"
        f" evict {second} at once: refused ({refused.stderr.strip().splitlines()[-1]});"
        f" after the replacement was Ready: allowed"
    )


# --- a rollback is waited for --------------------------------------------------------------------


def _not_rolled_out(app: LocalProd) -> list[str]:
    """Every pod that is not Ready, or not of its workload's current template, and every
    workload short of its pods."""
    problems = []
    for unit in ("vote", "result", "worker", "redis", "db"):
        workload = app.get("deployments,statefulsets", "--field-selector", f"metadata.name={unit}")
        (item,) = workload["items"]
        pods = app.pods(unit)
        wanted = item["spec"].get("replicas", 1)
        if len(pods) != wanted:
            problems.append(f"{unit}: {len(pods)} pods, {wanted} wanted")
        if item["kind"] == "Deployment":
            current = _current_template_hash(app, item)
            problems += [
                f"{unit}: pod {pod['metadata']['name']} of an old template"
                for pod in pods
                if pod["metadata"]["labels"].get("pod-template-hash") != current
            ]
        problems += [
            f"{unit}: pod {pod['metadata']['name']} not Ready" for pod in pods if not ready(pod)
        ]
    return problems


def _current_template_hash(app: LocalProd, deployment: dict[str, Any]) -> str:
    """The pod-template-hash of the Deployment's ReplicaSet of its current revision."""
    revision = deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    name = deployment["metadata"]["name"]
    for replica_set in app.get("replicasets", "-l", f"app.kubernetes.io/name={name}")["items"]:
        annotations = replica_set["metadata"].get("annotations", {})
        if annotations.get("deployment.kubernetes.io/revision") == revision:
            label: str = replica_set["metadata"]["labels"]["pod-template-hash"]
            return label
    raise AssertionError(f"{name}: no ReplicaSet of revision {revision}")


def test_a_reverted_change_is_rolled_out_when_up_returns(local_prod: LocalProd) -> None:
    """A change, then its revert: the revert goes back to templates whose ReplicaSets still
    exist, which the provider's Deployment await can take as done too early (docs/operations.md,
    "When `up` returns"). tools/up waits for the rollout itself."""
    original = json.loads(json.dumps(local_prod.get("deployment", "vote")["spec"]["template"]))

    def change(config: StackConfig) -> None:
        config["voting-app:optionA"] = "Tacos"

    def revert(config: StackConfig) -> None:
        config["voting-app:optionA"] = "Cats"

    local_prod.edit(change)
    _, forward = local_prod.up()
    assert _not_rolled_out(local_prod) == []
    local_prod.edit(revert)
    output, back = local_prod.up()
    problems = _not_rolled_out(local_prod)
    assert problems == [], f"when tools/up returned: {problems}"
    assert local_prod.get("deployment", "vote")["spec"]["template"] == original
    waited = [line.strip() for line in output.splitlines() if line.strip().startswith("waiting")]
    rolled = ROLLED_OUT.search(output)
    assert rolled, output[-3000:]
    print(
        f"\nchange: tools/up {forward:.0f} s; revert: tools/up {back:.0f} s, of which"
        f" {rolled.group(1)} s waiting for rollouts after pulumi up returned"
        + "".join(f"\n  {line}" for line in waited)
    )


# --- autoscaling under real load -----------------------------------------------------------------


def _pod_cpu(app: LocalProd, unit: str) -> dict[str, float]:
    """Each pod's cpu use in millicores, as metrics-server reads it from the real kubelet."""
    path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{app.namespace}/pods"
    listed = json.loads(kubectl("get", "--raw", path).stdout)["items"]
    return {
        item["metadata"]["name"]: millicores(item["containers"][0]["usage"]["cpu"])
        for item in listed
        if item["metadata"].get("labels", {}).get("app.kubernetes.io/name") == unit
    }


@dataclass
class Sample:
    at: float
    replicas: int
    ready: int
    utilization: int | None

    def __str__(self) -> str:
        cpu = "-" if self.utilization is None else f"{self.utilization}%"
        return f"{self.at:6.0f} s  {self.replicas} pods ({self.ready} Ready), cpu {cpu}"


def _sample(app: LocalProd, started: float) -> Sample:
    hpa = app.get("horizontalpodautoscaler", "vote")
    metrics = hpa.get("status", {}).get("currentMetrics") or [{}]
    utilization = metrics[0].get("resource", {}).get("current", {}).get("averageUtilization")
    pods = app.pods("vote")
    return Sample(
        time.monotonic() - started,
        app.get("deployment", "vote")["spec"]["replicas"],
        sum(ready(pod) for pod in pods),
        utilization,
    )


def test_vote_scales_out_under_real_load_and_back_without_a_failed_request(
    local_prod: LocalProd,
) -> None:
    hpa = local_prod.get("horizontalpodautoscaler", "vote")["spec"]
    least, most = hpa["minReplicas"], hpa["maxReplicas"]
    url = local_prod.urls()["vote"]
    idle = wait_until(
        "vote's pods in the metrics API", lambda: _pod_cpu(local_prod, "vote"), 120, 5
    )
    wait_until(f"vote at {least} pods", lambda: _sample(local_prod, 0).replicas == least, 300, 5)
    samples: list[Sample] = []
    started = time.monotonic()

    def record() -> Sample:
        samples.append(_sample(local_prod, started))
        return samples[-1]

    with RequestLoop(url, rate=None, workers=LOAD_WORKERS, limit=LOAD_LIMIT) as load:
        wait_until(
            "vote scaled out, every pod Ready",
            lambda: (now := record()).replicas > least and now.ready == now.replicas,
            240,
            5,
        )
        out_at = samples[-1]
        # A following `up` changes nothing and leaves the autoscaler's count alone.
        again, _ = local_prod.up()
        after_up = record()
    assert after_up.replicas >= out_at.replicas, (out_at, after_up)
    # `up --refresh` counts the statuses its refresh found changed as updates; what it sent to
    # the cluster is in the steps it names (creating, updating, replacing, deleting).
    sent = [line for line in again.splitlines() if CHANGE_STEP.search(line)]
    assert sent == [], sent
    load_stopped = time.monotonic() - started
    with RequestLoop(url) as probe:
        wait_until(
            f"vote back at {least} pods, the others gone",
            lambda: record().replicas == least and len(local_prod.pods("vote")) == least,
            300,
            5,
        )
        time.sleep(3)
    failed = load.failed + probe.failed
    print(
        f"\nvote (autoscaled {least}-{most} at 70% of 100m; idle, its pods used"
        f" {', '.join(f'{cpu:.1f}m' for cpu in sorted(idle.values()))} cpu) under"
        f" {LOAD_WORKERS} looping GETs from this machine at {url}, stopped at"
        f" {load_stopped:.0f} s; replicas over time:\n"
        + "\n".join(f"  {sample}" for sample in samples)
        + f"\nunder load: {load}\nduring the scale-in: {probe}\ntools/up at {out_at.replicas}"
        f" pods: nothing changed, {after_up.replicas} pods after it"
    )
    # Both loops kept sending all along: no thread ended, as many requests as the time allows.
    assert not load.problems() + probe.problems(), load.problems() + probe.problems()
    assert not failed, f"{FAILURES}: {failed}"
