"""Stack config: the shipped stack files parse, and every bad input is refused by key, together."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.app.args import DEFAULT_IMAGES, StorageType, VotingAppArgs
from components.app.db import DEFAULT_CLIENT_AUTH, ClientAuth
from components.cluster.target import LOAD_BALANCERS, ClusterType
from components.stack.config import parse_stack_config
from components.stack.reader import ConfigError
from components.units.quantities import is_pinned_image
from components.units.specs import (
    Autoscaling,
    ExposureType,
    PullPolicy,
    ServiceAwait,
    Spread,
    WhenUnsatisfiable,
)
from tests.mocks import VotingMocks
from tests.program import run_main
from tests.stack_files import (
    TEST_PASSWORD,
    cli_config,
    project_declarations,
    stack_secret_keys,
    stack_values,
)

P = "voting-app"
PASSWORD_KEY = f"{P}:dbPassword"


def dev_values() -> dict[str, Any]:
    return copy.deepcopy(stack_values("dev"))


def parse(values: dict[str, Any], secret_keys: list[str] | None = None) -> Any:
    keys = [PASSWORD_KEY] if secret_keys is None else secret_keys
    return parse_stack_config(cli_config(values), keys, "dev")


def test_dev_stack_file_parses() -> None:
    config = parse(stack_values("dev"), stack_secret_keys("dev"))
    assert config.cluster.type is ClusterType.KWOK
    assert config.cluster.context == "kwok-voting-app"
    assert config.app.namespace == "voting-dev"
    assert config.app.vote.exposure.type is ExposureType.NODE_PORT
    assert config.app.vote.exposure.node_port == 30004
    assert config.app.db.storage.type is StorageType.EMPTY_DIR


def test_prod_stack_file_parses() -> None:
    config = parse(stack_values("prod"), stack_secret_keys("prod"))
    assert config.cluster.is_cloud
    assert config.app.vote.replicas == config.app.result.replicas == Autoscaling(3, 10, 70)
    assert config.app.spread == Spread(
        hostname=WhenUnsatisfiable.DO_NOT_SCHEDULE, zone=WhenUnsatisfiable.SCHEDULE_ANYWAY
    )
    assert config.app.vote.exposure.type is ExposureType.LOAD_BALANCER
    assert config.app.db.storage.type is StorageType.PERSISTENT_VOLUME_CLAIM


def test_prod_keeps_its_votes_on_destroy_and_dev_does_not() -> None:
    assert parse(stack_values("prod"), stack_secret_keys("prod")).app.db.storage.retain_on_delete
    assert not parse(stack_values("dev"), stack_secret_keys("dev")).app.db.storage.retain_on_delete


def test_a_pull_policy_set_per_unit_is_kept() -> None:
    values = dev_values()
    setting("vote.imagePullPolicy", "Always")(values)
    setting("db.imagePullPolicy", "Never")(values)
    app = parse(values).app
    assert app.vote.image_pull_policy is PullPolicy.ALWAYS
    assert app.db.image_pull_policy is PullPolicy.NEVER
    assert app.result.image_pull_policy is None


def test_stack_files_keep_the_password_encrypted() -> None:
    for stack in ("dev", "prod"):
        assert stack_secret_keys(stack) == [PASSWORD_KEY]


def test_defaults_apply_to_absent_fields() -> None:
    values = {
        f"{P}:cluster": {"type": "kind"},
        f"{P}:namespace": "voting-x",
        PASSWORD_KEY: TEST_PASSWORD,
        # The default images are the stock ones, which need trust (next tests).
        f"{P}:db": {"clientAuth": "trust"},
    }
    config = parse(values)
    assert config.cluster.context == "kind-kind"
    assert config.cluster.node_address == "localhost"
    assert config.app.vote.image == DEFAULT_IMAGES["vote"]
    assert config.app.vote.replicas == 1
    assert config.app.spread == Spread()
    assert config.app.spread.constraints() == [("kubernetes.io/hostname", "ScheduleAnyway")]
    assert config.app.vote.exposure.type is ExposureType.NODE_PORT
    assert config.app.vote.exposure.node_port is None
    assert config.app.db.storage.type is StorageType.EMPTY_DIR
    assert config.app.service_await is ServiceAwait.ENDPOINTS


@pytest.mark.parametrize(
    ("cluster_type", "highest"), [("kwok", 32699), ("kind", 32767), ("cloud", 32767)]
)
def test_node_ports_are_held_to_the_range_of_the_cluster_type(
    cluster_type: str, highest: int
) -> None:
    """The local control plane allocates node ports below its own components' ports
    (components/cluster/target.py); every other cluster uses Kubernetes' default range."""
    values = dev_values()
    values[f"{P}:cluster"] = {"type": cluster_type, "context": "some-context"}
    setting("vote.exposure.nodePort", highest)(values)
    assert parse(values).app.vote.exposure.node_port == highest
    setting("vote.exposure.nodePort", highest + 1)(values)
    with pytest.raises(ConfigError) as refused:
        parse(values)
    assert f"{P}:vote.exposure.nodePort" in str(refused.value)
    assert f"30000 to {highest}" in str(refused.value)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_give_the_db_an_auth_their_images_can_use(stack: str) -> None:
    # The stock worker and result can only log in with trust (components/app/db_clients.py).
    config = parse(stack_values(stack), stack_secret_keys(stack))
    assert config.app.worker.image == DEFAULT_IMAGES["worker"]
    assert config.app.db.client_auth is ClientAuth.TRUST


def test_client_auth_defaults_to_scram_with_images_that_can_do_it() -> None:
    values = dev_values()
    for unit in ("worker", "result"):
        values[f"{P}:{unit}"]["image"] = f"team/{unit}:2.0"
    del values[f"{P}:db"]["clientAuth"]
    assert parse(values).app.db.client_auth is DEFAULT_CLIENT_AUTH is ClientAuth.SCRAM_SHA_256
    values[f"{P}:db"]["clientAuth"] = "md5"
    assert parse(values).app.db.client_auth is ClientAuth.MD5


def test_an_unusable_client_auth_names_each_image_that_cannot_use_it() -> None:
    values = dev_values()
    del values[f"{P}:db"]["clientAuth"]
    with pytest.raises(ConfigError) as raised:
        parse(values)
    worker, result = raised.value.issues
    assert worker.key == result.key == f"{P}:db.clientAuth"
    assert worker.got == result.got == '"scram-sha-256" (string), the default when unset'
    assert worker.expected.startswith(
        f"trust, the only method {P}:worker.image {DEFAULT_IMAGES['worker']} can log in with"
    )
    assert "Npgsql 3.1.3 has no SCRAM" in worker.expected
    assert f"{P}:result.image {DEFAULT_IMAGES['result']}" in result.expected


def test_project_defaults_match_the_python_defaults() -> None:
    declared = project_declarations()
    defaults = VotingAppArgs(namespace="x", db_password=pulumi.Output.from_input(""))
    assert declared["optionA"]["default"] == defaults.option_a
    assert declared["optionB"]["default"] == defaults.option_b
    for unit in ("vote", "result", "worker", "redis", "db"):
        assert declared[unit]["default"] == {}, unit
        assert DEFAULT_IMAGES[unit] in declared[unit]["description"], unit
    assert declared["dbPassword"]["secret"] is True
    assert f"default {DEFAULT_CLIENT_AUTH.value}" in declared["db"]["description"]
    for auth in ClientAuth:
        assert auth.value in declared["db"]["description"]
    assert "default" not in declared["dbPassword"]


def test_password_is_a_secret_output() -> None:
    config = parse(dev_values())
    assert isinstance(config.app.db_password, pulumi.Output)


Mutation = Callable[[dict[str, Any]], None]


def setting(path: str, value: Any) -> Mutation:
    """Set `value` at `path` ('vote.exposure.nodePort') inside the stack's values."""
    top, *rest = path.split(".")

    def mutate(values: dict[str, Any]) -> None:
        if not rest:
            values[f"{P}:{top}"] = value
            return
        node = values.setdefault(f"{P}:{top}", {})
        for part in rest[:-1]:
            node = node.setdefault(part, {})
        node[rest[-1]] = value

    return mutate


def removing(path: str) -> Mutation:
    top, *rest = path.split(".")

    def mutate(values: dict[str, Any]) -> None:
        if not rest:
            values.pop(f"{P}:{top}")
            return
        node = values[f"{P}:{top}"]
        for part in rest[:-1]:
            node = node[part]
        node.pop(rest[-1])

    return mutate


def renaming(path: str, new_name: str) -> Mutation:
    top, *rest = path.split(".")

    def mutate(values: dict[str, Any]) -> None:
        node = values[f"{P}:{top}"]
        for part in rest[:-1]:
            node = node[part]
        node[new_name] = node.pop(rest[-1])

    return mutate


def autoscaling(unit: str, value: Any) -> Mutation:
    """The unit's `replicas` replaced by `autoscaling: value`."""

    def mutate(values: dict[str, Any]) -> None:
        removing(f"{unit}.replicas")(values)
        setting(f"{unit}.autoscaling", value)(values)

    return mutate


# (case id, change to the dev stack, key path the error must name, a word the error must say)
BAD_CONFIG: list[tuple[str, Mutation, str, str]] = [
    ("namespace missing", removing("namespace"), f"{P}:namespace", "required"),
    ("namespace not a DNS label", setting("namespace", "Voting_Dev"), f"{P}:namespace", "DNS"),
    ("cluster missing", removing("cluster"), f"{P}:cluster.type", "required"),
    ("cluster type unknown", setting("cluster.type", "eks"), f"{P}:cluster.type", "kwok"),
    (
        "cloud cluster without context",
        lambda v: v.__setitem__(f"{P}:cluster", {"type": "cloud"}),
        f"{P}:cluster.context",
        "required",
    ),
    ("cluster key typo", setting("cluster.contxt", "kind-kind"), f"{P}:cluster.contxt", "unknown"),
    (
        "cluster name on docker-desktop",
        setting("cluster", {"type": "docker-desktop", "name": "team"}),
        f"{P}:cluster.name",
        "only with type kwok or kind or minikube",
    ),
    (
        "load balancer on kind",
        lambda v: (
            setting("cluster", {"type": "kind"})(v),
            setting("vote.exposure", {"type": "LoadBalancer"})(v),
        ),
        f"{P}:vote.exposure.type",
        "gives a LoadBalancer Service no address",
    ),
    (
        "pull policy unknown",
        setting("worker.imagePullPolicy", "Sometimes"),
        f"{P}:worker.imagePullPolicy",
        "Always, IfNotPresent, Never",
    ),
    (
        "retain on delete not a boolean",
        setting("db.storage", {"type": "persistentVolumeClaim", "retainOnDelete": "yes"}),
        f"{P}:db.storage.retainOnDelete",
        "true or false",
    ),
    (
        "retain on delete with an emptyDir",
        setting("db.storage.retainOnDelete", True),
        f"{P}:db.storage.retainOnDelete",
        "only with type persistentVolumeClaim",
    ),
    ("replicas zero", setting("vote.replicas", 0), f"{P}:vote.replicas", "from 1 to 50"),
    ("replicas negative", setting("result.replicas", -2), f"{P}:result.replicas", "integer"),
    ("replicas a string", setting("vote.replicas", "three"), f"{P}:vote.replicas", "integer"),
    ("replicas a float", setting("worker.replicas", 2.5), f"{P}:worker.replicas", "integer"),
    ("replicas a boolean", setting("vote.replicas", True), f"{P}:vote.replicas", "boolean"),
    ("replicas too many", setting("vote.replicas", 500), f"{P}:vote.replicas", "50"),
    ("replicas typo", renaming("vote.replicas", "replcias"), f"{P}:vote.replcias", "unknown"),
    (
        "exposure type unknown",
        setting("vote.exposure.type", "Ingress"),
        f"{P}:vote.exposure.type",
        "NodePort",
    ),
    (
        "node port below range",
        setting("vote.exposure.nodePort", 80),
        f"{P}:vote.exposure.nodePort",
        "30000",
    ),
    (
        "node port above range",
        setting("result.exposure.nodePort", 40000),
        f"{P}:result.exposure.nodePort",
        "32699",
    ),
    (
        "node port used twice",
        setting("result.exposure.nodePort", 30004),
        f"{P}:result.exposure.nodePort",
        f"{P}:vote.exposure.nodePort",
    ),
    (
        "node port without NodePort",
        setting("vote.exposure", {"type": "LoadBalancer", "nodePort": 30010}),
        f"{P}:vote.exposure.nodePort",
        "only with type NodePort",
    ),
    ("image empty", setting("vote.image", ""), f"{P}:vote.image", "pinned"),
    (
        "image latest",
        setting("vote.image", "kodekloud/examplevotingapp_vote:latest"),
        f"{P}:vote.image",
        "latest",
    ),
    (
        "image untagged",
        setting("worker.image", "kodekloud/examplevotingapp_worker"),
        f"{P}:worker.image",
        "tag",
    ),
    ("image malformed", setting("db.image", "postgres:"), f"{P}:db.image", "tag"),
    (
        "image registry port, no tag",
        setting("redis.image", "localhost:5000/redis"),
        f"{P}:redis.image",
        "tag",
    ),
    ("password missing", removing("dbPassword"), PASSWORD_KEY, "required"),
    ("password empty", setting("dbPassword", ""), PASSWORD_KEY, "empty"),
    (
        "cpu not a quantity",
        setting("vote.resources.requests.cpu", "lots"),
        f"{P}:vote.resources.requests.cpu",
        "cpu quantity",
    ),
    (
        "memory wrong unit",
        setting("db.resources.limits.memory", "128MB"),
        f"{P}:db.resources.limits.memory",
        "memory quantity",
    ),
    (
        "memory zero",
        setting("redis.resources.requests.memory", "0"),
        f"{P}:redis.resources.requests.memory",
        "positive",
    ),
    (
        "request above limit",
        setting("worker.resources.requests.memory", "1Gi"),
        f"{P}:worker.resources.requests.memory",
        "limit",
    ),
    (
        "resources key typo",
        renaming("vote.resources.requests", "request"),
        f"{P}:vote.resources.request",
        "unknown",
    ),
    (
        "storage type unknown",
        setting("db.storage.type", "hostPath"),
        f"{P}:db.storage.type",
        "persistentVolumeClaim",
    ),
    ("storage size bad", setting("db.storage.size", "big"), f"{P}:db.storage.size", "quantity"),
    (
        "storage class with emptyDir",
        setting("db.storage.storageClass", "fast"),
        f"{P}:db.storage.storageClass",
        "persistentVolumeClaim",
    ),
    ("replicas on redis", setting("redis.replicas", 2), f"{P}:redis.replicas", "unknown"),
    (
        "exposure on worker",
        setting("worker.exposure", {"type": "NodePort"}),
        f"{P}:worker.exposure",
        "unknown",
    ),
    ("unknown top-level key", setting("replicas", "3"), f"{P}:replicas", "unknown"),
    ("unit not an object", setting("vote", 3), f"{P}:vote", "object"),
    ("unit not JSON", lambda v: v.__setitem__(f"{P}:vote", "{not json"), f"{P}:vote", "object"),
    ("option empty", setting("optionA", ""), f"{P}:optionA", "non-empty"),
    (
        "client auth unknown",
        setting("db.clientAuth", "password"),
        f"{P}:db.clientAuth",
        "one of scram-sha-256, md5, trust",
    ),
    (
        "scram with the stock worker",
        setting("db.clientAuth", "scram-sha-256"),
        f"{P}:db.clientAuth",
        f"{P}:worker.image",
    ),
    (
        "md5 with the stock result",
        lambda v: [setting("db.clientAuth", "md5")(v), setting("worker.image", "team/w:2")(v)],
        f"{P}:db.clientAuth",
        f"{P}:result.image",
    ),
    (
        "client auth unset with the stock images",
        removing("db.clientAuth"),
        f"{P}:db.clientAuth",
        "the default when unset",
    ),
    (
        "replicas together with autoscaling",
        setting("vote.autoscaling", {"maxReplicas": 4}),
        f"{P}:vote.replicas",
        "not both",
    ),
    (
        "autoscaling min above max",
        autoscaling("result", {"minReplicas": 5, "maxReplicas": 3}),
        f"{P}:result.autoscaling.minReplicas",
        "above maxReplicas 3",
    ),
    (
        "autoscaling without max",
        autoscaling("vote", {}),
        f"{P}:vote.autoscaling.maxReplicas",
        "required",
    ),
    (
        "autoscaling min zero",
        autoscaling("vote", {"minReplicas": 0, "maxReplicas": 3}),
        f"{P}:vote.autoscaling.minReplicas",
        "from 1 to 50",
    ),
    (
        "autoscaling cpu above 100",
        autoscaling("vote", {"maxReplicas": 3, "cpuUtilization": 150}),
        f"{P}:vote.autoscaling.cpuUtilization",
        "from 1 to 100",
    ),
    (
        "autoscaling cpu as a percent string",
        autoscaling("vote", {"maxReplicas": 3, "cpuUtilization": "70%"}),
        f"{P}:vote.autoscaling.cpuUtilization",
        '"70%" (string)',
    ),
    (
        "autoscaling key typo",
        autoscaling("vote", {"maxReplicas": 3, "targetCPU": 50}),
        f"{P}:vote.autoscaling.targetCPU",
        "unknown",
    ),
    (
        "autoscaling on worker",
        setting("worker.autoscaling", {"maxReplicas": 3}),
        f"{P}:worker.autoscaling",
        "unknown",
    ),
    (
        "spread hostname unknown",
        setting("spread", {"hostname": "Required"}),
        f"{P}:spread.hostname",
        "one of DoNotSchedule, ScheduleAnyway, Off",
    ),
    ("spread skew zero", setting("spread", {"maxSkew": 0}), f"{P}:spread.maxSkew", "from 1"),
    ("spread key typo", setting("spread", {"zones": "Off"}), f"{P}:spread.zones", "unknown"),
    (
        "service await unknown",
        setting("serviceAwait", "none"),
        f"{P}:serviceAwait",
        "one of endpoints, address",
    ),
    (
        "db workload unknown",
        setting("db.workload", "DaemonSet"),
        f"{P}:db.workload",
        "one of Deployment, StatefulSet",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "key", "word"),
    [pytest.param(m, k, w, id=case) for case, m, k, w in BAD_CONFIG],
)
def test_bad_config_is_refused_by_key_before_anything_is_registered(
    mutate: Mutation, key: str, word: str
) -> None:
    values = dev_values()
    mutate(values)
    with pytest.raises(ConfigError) as raised:
        parse(values)
    keys = [issue.key for issue in raised.value.issues]
    assert key in keys, f"{key} not among {keys}"
    issue = raised.value.issues[keys.index(key)]
    assert word in str(issue), str(issue)
    assert issue.got
    assert issue.expected

    # Through the real program: the run fails and not one resource reaches the engine.
    mocks = VotingMocks()
    with pytest.raises(pulumi.RunError, match=re.escape(key)):
        run_main("dev", values, [PASSWORD_KEY], mocks=mocks)
    assert mocks.registered == []


def test_plaintext_password_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as raised:
        parse(dev_values(), secret_keys=[])
    (issue,) = raised.value.issues
    assert issue.key == PASSWORD_KEY
    assert "plaintext" in issue.got
    assert TEST_PASSWORD not in str(raised.value)


def test_every_problem_is_reported_at_once() -> None:
    values = dev_values()
    for mutate in (
        setting("vote.replicas", 0),
        setting("result.image", "nginx"),
        setting("db.storage.type", "hostPath"),
        renaming("worker.replicas", "replcias"),
        removing("namespace"),
    ):
        mutate(values)
    with pytest.raises(ConfigError) as raised:
        parse(values)
    assert [issue.key for issue in raised.value.issues] == [
        f"{P}:namespace",
        f"{P}:vote.replicas",
        f"{P}:result.image",
        f"{P}:worker.replcias",
        f"{P}:db.storage.type",
    ]
    message = str(raised.value)
    assert message.startswith("invalid stack configuration (5 problem(s)):")
    assert '"nginx" (string)' in message


@pytest.mark.parametrize(
    ("cluster", "context"),
    [
        ({"type": "kwok"}, "kwok-voting-app"),
        ({"type": "kind"}, "kind-kind"),
        ({"type": "kind", "name": "voting"}, "kind-voting"),
        ({"type": "minikube"}, "minikube"),
        ({"type": "minikube", "name": "team"}, "team"),
        ({"type": "docker-desktop"}, "docker-desktop"),
        ({"type": "kind", "context": "my-kind"}, "my-kind"),
        ({"type": "cloud", "context": "gke_team_europe"}, "gke_team_europe"),
    ],
)
def test_the_cluster_type_alone_gives_its_tools_default_context(
    cluster: dict[str, str], context: str
) -> None:
    values = dev_values()
    values[f"{P}:cluster"] = cluster
    assert parse(values).cluster.context == context


@pytest.mark.parametrize("cluster_type", list(ClusterType))
def test_load_balancers_are_allowed_exactly_where_the_cluster_gives_them_an_address(
    cluster_type: ClusterType,
) -> None:
    """The config check, the policy pack (tests/test_policy.py) and the README's targeting table
    (tests/test_layout.py) read one table: components/cluster/target.py."""
    values = dev_values()
    values[f"{P}:cluster"] = {"type": str(cluster_type), "context": "some-context"}
    setting("vote.exposure", {"type": "LoadBalancer"})(values)
    if cluster_type in LOAD_BALANCERS:
        assert parse(values).app.vote.exposure.type is ExposureType.LOAD_BALANCER
    else:
        with pytest.raises(ConfigError, match=re.escape(f"{P}:vote.exposure.type")):
            parse(values)


def test_a_context_the_kubeconfig_does_not_hold_fails_the_program_naming_it() -> None:
    """Never a preview computed against no cluster: the program stops before registering
    anything, naming cluster.context, the kubeconfig it read and the contexts there."""
    values = dev_values()
    values[f"{P}:cluster"] = {"type": "kind"}
    mocks = VotingMocks()
    with pytest.raises(pulumi.RunError) as failed:
        run_main("dev", values, [PASSWORD_KEY], mocks=mocks, contexts=("minikube", "prod-eu"))
    message = str(failed.value)
    assert f"{P}:cluster.context" in message
    assert "'kind-kind' is not in the kubeconfig read" in message
    assert "contexts there: minikube, prod-eu" in message
    assert mocks.registered == []


def test_a_good_config_registers_resources_through_the_same_path() -> None:
    # The counterpart of the table's "nothing registered": the same harness does see resources.
    mocks = VotingMocks()
    run_main("dev", dev_values(), [PASSWORD_KEY], mocks=mocks)
    assert len(mocks.registered) > 20


def test_the_bad_config_table_is_large_enough() -> None:
    assert len(BAD_CONFIG) >= 25
    assert len({case for case, *_ in BAD_CONFIG}) == len(BAD_CONFIG)


@pytest.mark.parametrize(
    ("reference", "pinned"),
    [
        ("redis:7.2.5-alpine", True),
        ("docker.io/library/postgres:15.8", True),
        ("localhost:5000/team/vote:v1", True),
        ("redis@sha256:" + "a" * 64, True),
        ("redis", False),
        ("redis:latest", False),
        ("localhost:5000/redis", False),
        ("Redis:7", False),
        ("redis:", False),
        ("", False),
    ],
)
def test_image_pinning(reference: str, pinned: bool) -> None:
    assert is_pinned_image(reference) is pinned
