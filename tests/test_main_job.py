"""The main job's own logic, without a cluster: the real node's stack files it writes
(tools/lib/local_stack.py) and what it waits for before it prints a URL (tools/lib/ready.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.app.args import VotingAppArgs
from components.cluster.target import ClusterType
from components.stack.config import StackConfig, parse_stack_config
from components.units.quantities import cpu_millicores
from components.units.specs import ExposureType, ServiceAwait, replica_range
from tests.stack_files import ROOT, cli_config, stack_secret_keys
from tools.lib import local_stack, ready
from workbench import settings

IMAGES = {unit: f"localhost:5055/{unit}:test" for unit in ("vote", "result", "worker", "redis")}
# The real node: this machine's 2 cores (the kubelet reserves none), and CoreDNS's request there.
NODE_MILLICORES = 2000
_COREDNS = (ROOT / "workbench" / "real-node" / "coredns.yaml").read_text()
COREDNS_MILLICORES = cpu_millicores(re.findall(r"requests: \{cpu: (\w+)", _COREDNS)[0])


def _written(tmp_path: Path, source: str) -> tuple[dict[str, Any], StackConfig]:
    shutil.copy(ROOT / f"Pulumi.{source}.yaml", tmp_path)
    stack = local_stack.STACKS[source]
    local_stack.write(stack, IMAGES, tmp_path)
    values: dict[str, Any] = yaml.safe_load((tmp_path / stack.file).read_text())["config"]
    parsed = parse_stack_config(
        json.loads(json.dumps(cli_config(values))), stack_secret_keys(source), stack.name
    )
    return values, parsed


def _most_millicores(app: VotingAppArgs) -> float:
    """cpu requested with every unit at its most pods (outside a rollout)."""
    units = {"vote": app.vote, "result": app.result, "worker": app.worker}
    most = sum(
        replica_range(unit.replicas)[1] * cpu_millicores(unit.resources.requests.cpu)
        for unit in units.values()
    )
    return most + sum(cpu_millicores(unit.resources.requests.cpu) for unit in (app.redis, app.db))


def test_local_prod_is_prod_on_the_local_node(tmp_path: Path) -> None:
    values, parsed = _written(tmp_path, "prod")
    prod = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    assert parsed.cluster.type is ClusterType.KWOK
    assert parsed.cluster.context == settings.LOCAL_CONTEXT
    assert parsed.app.namespace == settings.LOCAL_PROD_NAMESPACE
    assert parsed.app.db.storage.storage_class == settings.LOCAL_STORAGE_CLASS
    for unit in ("vote", "result"):
        web = getattr(parsed.app, unit)
        assert web.exposure.type is ExposureType.LOAD_BALANCER
        assert web.image == IMAGES[unit]
        scale = values[f"voting-app:{unit}"]["autoscaling"]
        assert scale["minReplicas"] == prod[f"voting-app:{unit}"]["autoscaling"]["minReplicas"]
        assert scale["maxReplicas"] == settings.LOCAL_PROD_MAX_REPLICAS
    # What makes it prod stays prod's: the encrypted password, spread, the db's workload.
    for key in ("voting-app:dbPassword", "voting-app:spread"):
        assert values[key] == prod[key]
    assert values["voting-app:db"]["workload"] == prod["voting-app:db"]["workload"]
    assert values["voting-app:db"]["storage"]["retainOnDelete"] is True


def test_local_prod_at_its_most_fits_the_node_s_two_cores(tmp_path: Path) -> None:
    _, parsed = _written(tmp_path, "prod")
    assert _most_millicores(parsed.app) <= NODE_MILLICORES - COREDNS_MILLICORES
    # prod's own maximum would not fit: the cap is what makes it.
    values = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    prod = parse_stack_config(
        json.loads(json.dumps(cli_config(values))), stack_secret_keys("prod"), "prod"
    )
    assert _most_millicores(prod.app) > NODE_MILLICORES - COREDNS_MILLICORES


def test_local_stacks_leave_the_services_wait_to_tools_up(tmp_path: Path) -> None:
    """tools/up waits for every URL to answer, which the provider's endpoint settle cannot add to;
    the committed stacks, deployed by a person's own `pulumi up`, keep the provider's wait."""
    for source in ("dev", "prod"):
        committed = yaml.safe_load((ROOT / f"Pulumi.{source}.yaml").read_text())["config"]
        assert "voting-app:serviceAwait" not in committed
        _, parsed = _written(tmp_path, source)
        assert parsed.app.service_await is ServiceAwait.ADDRESS


def test_local_is_dev_with_its_own_node_ports(tmp_path: Path) -> None:
    _, parsed = _written(tmp_path, "dev")
    assert parsed.app.vote.exposure.node_port == settings.LOCAL_NODE_PORTS["vote"]
    assert parsed.app.result.exposure.node_port == settings.LOCAL_NODE_PORTS["result"]
    assert parsed.app.vote.image == IMAGES["vote"]


def test_a_deployment_beside_a_person_s_has_its_own_namespace_and_node_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOTING_APP_NAMESPACE", "it-beside")
    _, parsed = _written(tmp_path, "prod")
    assert parsed.app.namespace == "it-beside"
    # Beside a person's deployment, dev's copy leaves its fixed node ports to it.
    _, parsed = _written(tmp_path, "dev")
    assert parsed.app.namespace == "it-beside"
    assert parsed.app.vote.exposure.node_port is None
    assert parsed.app.result.exposure.node_port is None


# --- what `up` waits for -------------------------------------------------------------------------


def _deployment(generation: int = 2, **status: Any) -> dict[str, Any]:
    """vote, wanting 3 pods, with this status."""
    return {
        "kind": "Deployment",
        "metadata": {"name": "vote", "generation": generation},
        "spec": {"replicas": 3},
        "status": {"observedGeneration": 2, **status},
    }


DONE = {"replicas": 3, "updatedReplicas": 3, "availableReplicas": 3, "readyReplicas": 3}


@pytest.mark.parametrize(
    ("workload", "problem"),
    [
        (_deployment(**DONE), None),
        (_deployment(generation=3, **DONE), "its controller has not seen the latest spec yet"),
        # The rollback the provider's await misses: the old ReplicaSet re-adopted, 1 of 3 pods
        # updated so far, the old pods still serving (Available, Progressing left as it was).
        (
            _deployment(replicas=4, updatedReplicas=1, availableReplicas=3),
            "1 of 3 pods updated",
        ),
        (
            _deployment(replicas=4, updatedReplicas=3, availableReplicas=3),
            "1 old pods still to stop",
        ),
        (
            _deployment(replicas=3, updatedReplicas=3, availableReplicas=2),
            "2 of 3 updated pods available",
        ),
        (
            _deployment(
                conditions=[{"reason": "ProgressDeadlineExceeded", "message": "too slow"}], **DONE
            ),
            "its rollout failed: too slow",
        ),
    ],
)
def test_a_deployment_is_rolled_out_by_kubectl_s_rules(
    workload: dict[str, Any], problem: str | None
) -> None:
    assert ready.rollout_problem(workload) == problem


def test_a_stateful_set_is_rolled_out_when_its_pods_are_ready_and_updated() -> None:
    base: dict[str, Any] = {
        "kind": "StatefulSet",
        "metadata": {"name": "db", "generation": 1},
        "spec": {"replicas": 1},
    }
    done = {"observedGeneration": 1, "readyReplicas": 1, "updatedReplicas": 1}
    assert ready.rollout_problem({**base, "status": done}) is None
    assert ready.rollout_problem({**base, "status": {**done, "readyReplicas": 0}}) == (
        "0 of 1 pods ready"
    )
    moving = {**done, "updatedReplicas": 0, "updateRevision": "b", "currentRevision": "a"}
    assert ready.rollout_problem({**base, "status": moving}) == "0 of 1 pods updated"


def _kubectl_listing(*rounds: list[dict[str, Any]]) -> ready.Kubectl:
    """A kubectl whose `get` lists the next round's workloads (the last one from then on)."""
    pending = list(rounds)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        items = pending.pop(0) if len(pending) > 1 else pending[0]
        return subprocess.CompletedProcess(args, 0, json.dumps({"items": items}), "")

    return run


def test_the_rollout_wait_ends_when_every_workload_has_rolled_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ready, "POLL_SECONDS", 0.01)
    said: list[str] = []
    moving = _deployment(updatedReplicas=1, replicas=3, availableReplicas=3)
    kubectl = _kubectl_listing([moving], [moving], [_deployment(**DONE)])
    ready.wait_for_rollouts(kubectl, "ns", timeout=5, say=said.append)
    assert said == ["    waiting (0 s): deployment/vote 1 of 3 pods updated"]


def test_the_rollout_wait_names_what_did_not_roll_out() -> None:
    kubectl = _kubectl_listing([_deployment(updatedReplicas=1, replicas=3)])
    with pytest.raises(RuntimeError, match=r"deployment/vote: 1 of 3 pods updated"):
        ready.wait_for_rollouts(kubectl, "ns", timeout=0, say=lambda _: None)


def test_an_api_server_that_goes_away_is_waited_for_then_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ready, "POLL_SECONDS", 0.01)
    refused = subprocess.CompletedProcess(
        (), 1, "", "The connection to the server 127.0.0.1:32764 was refused"
    )
    answers = [refused, refused]

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        if answers:
            return answers.pop(0)
        return subprocess.CompletedProcess(
            args, 0, json.dumps({"items": [_deployment(**DONE)]}), ""
        )

    said: list[str] = []
    ready.wait_for_rollouts(kubectl, "ns", timeout=5, say=said.append)
    assert said == ["    waiting (0 s): the API server does not answer"]
    with pytest.raises(RuntimeError, match="the cluster stopped answering during the update"):
        ready.wait_for_rollouts(lambda *_: refused, "ns", timeout=0, say=said.append)


def test_any_other_kubectl_failure_stops_the_wait_at_once() -> None:
    forbidden = subprocess.CompletedProcess((), 1, "", 'Error from server (Forbidden): "x"')
    with pytest.raises(RuntimeError, match="Forbidden"):
        ready.wait_for_rollouts(lambda *_: forbidden, "ns", timeout=600, say=print)


def test_a_failed_rollout_stops_the_wait_at_once() -> None:
    failed = _deployment(conditions=[{"reason": "ProgressDeadlineExceeded", "message": "x"}])
    with pytest.raises(RuntimeError, match="its rollout failed"):
        ready.wait_for_rollouts(_kubectl_listing([failed]), "ns", timeout=600, say=print)


class FakeClock:
    """Stands in for the `time` module: sleeping advances the clock, nothing else does."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_url_is_given_once_it_answers_with_the_seconds_it_took(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(ready, "time", clock)
    answers = ["Connection refused", "HTTP 503", None]
    asked_at: list[float] = []

    def get(_: str) -> str | None:
        asked_at.append(clock.now)
        clock.now += 0.25  # each request takes its time, counted in the wait
        return answers.pop(0)

    took = ready.wait_for_url("vote", "http://x", 5, get=get)
    assert not answers, answers
    # From the start to the answer: three requests and a poll's pause after each failed one.
    pause = ready.POLL_SECONDS / 2
    assert asked_at == [1000.0, 1000.0 + 0.25 + pause, 1000.0 + 2 * (0.25 + pause)]
    assert took == 3 * 0.25 + 2 * pause


def test_a_url_that_never_answers_names_the_unit_and_the_last_error() -> None:
    with pytest.raises(RuntimeError, match=r"result does not answer at http://x .*HTTP 502"):
        ready.wait_for_url("result", "http://x", 0, get=lambda _: "HTTP 502")
