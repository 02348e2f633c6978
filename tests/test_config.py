"""Stack config: the shipped stack files parse, and every bad input is refused by key, together."""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Callable
from typing import Any
from unittest.mock import patch

import pulumi
import pytest

from components.app.args import (
    DEFAULT_IMAGES,
    AppendFsync,
    Credentials,
    DbArgs,
    RedisPersistence,
    StorageType,
    VotingAppArgs,
)
from components.app.db import STRONGEST_CLIENT_AUTH, ClientAuth, DbBackup
from components.cluster.target import LOAD_BALANCERS, ClusterType, RenderSecrets
from components.stack.config import parse_stack_config
from components.stack.reader import REQUIRED, ConfigError
from components.units.quantities import is_pinned_image
from components.units.specs import (
    Autoscaling,
    ComputeQuantities,
    Exposure,
    ExposureType,
    PullPolicy,
    Resources,
    ServiceAwait,
    Spread,
    WhenUnsatisfiable,
)
from tests.mocks import VotingMocks
from tests.program import kubeconfig, run_main
from tests.stack_files import (
    TEST_PASSWORD,
    cli_config,
    set_path,
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


MINIMAL = {
    f"{P}:cluster": {"type": "kind"},
    f"{P}:namespace": "voting-x",
    PASSWORD_KEY: TEST_PASSWORD,
}


def test_a_stack_of_the_required_keys_alone_is_the_dataclasses_defaults() -> None:
    """Every default the reader applies is the one VotingAppArgs (and the args it holds)
    carries: the two cannot disagree."""
    config = parse(dict(MINIMAL))
    defaults = VotingAppArgs(
        namespace="voting-x",
        db_password=config.app.db_password,
        cluster_type=ClusterType.KIND,
        db=DbArgs(client_auth=ClientAuth.TRUST),
    )
    assert config.app == defaults
    assert config.cluster.context == "kind-kind"
    assert config.cluster.kubeconfig is None
    assert config.cluster.render_yaml_to is None


def test_the_defaults_are_what_the_documentation_says() -> None:
    """Pinned by hand: the values the README and Pulumi.yaml once disagreed on."""
    app = parse(dict(MINIMAL)).app
    for web in (app.vote, app.result):
        assert web.resources == Resources(
            requests=ComputeQuantities(cpu="50m", memory="128Mi"),
            limits=ComputeQuantities(cpu="250m", memory="256Mi"),
        )
        assert web.exposure == Exposure(type=ExposureType.NODE_PORT)
        assert web.exposure.source_ranges == ()  # every source
        assert web.replicas == 1
    for other in (app.worker, app.redis, app.db):
        assert other.resources == Resources(
            requests=ComputeQuantities(cpu="50m", memory="64Mi"),
            limits=ComputeQuantities(cpu="250m", memory="128Mi"),
        )
    assert app.vote.image == "kodekloud/examplevotingapp_vote:v1"
    assert (app.option_a, app.option_b) == ("Cats", "Dogs")
    assert app.node_address == "localhost"
    assert app.spread.constraints() == [("kubernetes.io/hostname", "ScheduleAnyway")]
    assert app.db.storage.type is StorageType.EMPTY_DIR
    assert app.db.storage.size == "1Gi"
    assert app.service_await is ServiceAwait.ENDPOINTS


def test_the_stock_images_default_to_trust_and_the_program_says_so() -> None:
    config = parse(dict(MINIMAL))
    assert config.app.db.client_auth is ClientAuth.TRUST
    (note,) = config.notes
    assert note.startswith(f"{P}:db.clientAuth is not set: the db uses trust")
    for unit in ("worker", "result"):
        assert f"{P}:{unit}.image {DEFAULT_IMAGES[unit]}" in note
    # An explicit choice is not remarked on.
    assert parse(dev_values()).notes == ()


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


def test_a_stack_of_the_required_keys_alone_runs_and_the_program_warns_of_trust() -> None:
    mocks = VotingMocks()
    with patch.object(pulumi.log, "warn") as warned:
        run_main("dev", {**MINIMAL, f"{P}:cluster": {"type": "kwok"}}, [PASSWORD_KEY], mocks=mocks)
    assert len(mocks.registered) > 20
    (call,) = warned.call_args_list
    assert call.args[0].startswith(f"{P}:db.clientAuth is not set: the db uses trust")


def test_a_render_to_files_refers_to_the_db_secret_and_says_how_to_create_it() -> None:
    values = dev_values()
    setting("cluster.renderYamlTo", "/tmp/manifests")(values)
    config = parse(values)
    assert config.cluster.render_secrets is RenderSecrets.REFERENCE
    assert config.app.db.credentials is Credentials.REFERENCED
    (note,) = config.notes
    assert "the Secret db-credentials is not written" in note
    assert "kubectl create secret generic db-credentials --namespace voting-dev" in note
    # A deploy creates it, whatever renderSecrets would say.
    assert parse(dev_values()).app.db.credentials is Credentials.CREATED


def test_a_render_writes_the_secret_only_when_the_stack_says_so_and_warns() -> None:
    values = dev_values()
    setting("cluster.renderYamlTo", "/tmp/manifests")(values)
    setting("cluster.renderSecrets", "plaintext")(values)
    config = parse(values)
    assert config.app.db.credentials is Credentials.CREATED
    (note,) = config.notes
    assert "db password in plain text (base64)" in note


def test_client_auth_defaults_to_scram_with_images_that_can_do_it() -> None:
    values = dev_values()
    for unit in ("worker", "result"):
        values[f"{P}:{unit}"]["image"] = f"team/{unit}:2.0"
    del values[f"{P}:db"]["clientAuth"]
    config = parse(values)
    assert config.app.db.client_auth is STRONGEST_CLIENT_AUTH is ClientAuth.SCRAM_SHA_256
    assert config.notes == ()
    values[f"{P}:db"]["clientAuth"] = "md5"
    assert parse(values).app.db.client_auth is ClientAuth.MD5


def test_an_unusable_client_auth_is_one_problem_naming_each_image_that_cannot_use_it() -> None:
    values = dev_values()
    values[f"{P}:db"]["clientAuth"] = "scram-sha-256"
    with pytest.raises(ConfigError) as raised:
        parse(values)
    (issue,) = raised.value.issues
    assert issue.key == f"{P}:db.clientAuth"
    assert issue.got == '"scram-sha-256" (string)'
    assert issue.expected.startswith("trust, the only method that these images can log in with")
    assert f"{P}:worker.image {DEFAULT_IMAGES['worker']} (Npgsql 3.1.3 has no SCRAM" in (
        issue.expected
    )
    assert f"{P}:result.image {DEFAULT_IMAGES['result']}" in issue.expected


def test_the_password_is_a_secret_output() -> None:
    # The Output's futures belong to the loop it is made on: this thread's.
    loop = asyncio.get_event_loop_policy().get_event_loop()
    password = parse(dev_values()).app.db_password
    assert loop.run_until_complete(password.is_secret()) is True
    assert loop.run_until_complete(password.future()) == TEST_PASSWORD


Mutation = Callable[[dict[str, Any]], None]


def setting(path: str, value: Any) -> Mutation:
    """Set `value` at `path` ('vote.exposure.nodePort') inside the stack's values."""
    return lambda values: set_path(values, path, value)


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


def load_balancer(unit: str, source_ranges: Any) -> Mutation:
    """The unit a LoadBalancer (dev's kwok cluster gives it an address) with these ranges."""
    return setting(f"{unit}.exposure", {"type": "LoadBalancer", "sourceRanges": source_ranges})


RANGES = f"{P}:vote.exposure.sourceRanges"
SCHEDULE = f"{P}:db.backup.schedule"
KEEP = f"{P}:db.backup.keep"

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
    (
        "redis fsync unknown",
        setting("redis.persistence", {"fsync": "no"}),
        f"{P}:redis.persistence.fsync",
        "one of everysec, always",
    ),
    (
        "redis persistence not an object",
        setting("redis.persistence", True),
        f"{P}:redis.persistence",
        "object",
    ),
    (
        "redis claim size with a newline",
        setting("redis.persistence", {"size": "1Gi\n"}),
        f"{P}:redis.persistence.size",
        "memory quantity",
    ),
    (
        "redis storage class not a name",
        setting("redis.persistence", {"storageClass": "Fast SSD"}),
        f"{P}:redis.persistence.storageClass",
        "StorageClass name",
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
        "from 1 byte",
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
    ("option empty", setting("optionA", ""), f"{P}:optionA", "visible character"),
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
        "render secrets without a render",
        setting("cluster.renderSecrets", "plaintext"),
        f"{P}:cluster.renderSecrets",
        "only with renderYamlTo",
    ),
    (
        "render secrets unknown",
        lambda v: [
            setting("cluster.renderYamlTo", "/tmp/x")(v),
            setting("cluster.renderSecrets", "sealed")(v),
        ],
        f"{P}:cluster.renderSecrets",
        "one of reference, plaintext",
    ),
    (
        "db workload unknown",
        setting("db.workload", "DaemonSet"),
        f"{P}:db.workload",
        "one of Deployment, StatefulSet",
    ),
    # Unicode where Kubernetes wants ASCII: str.isalpha, str.isdigit, \d and float() take it.
    ("namespace of non-ASCII letters", setting("namespace", "vötïng"), f"{P}:namespace", "ASCII"),
    ("namespace with a superscript", setting("namespace", "voting²"), f"{P}:namespace", "ASCII"),
    ("namespace with a newline", setting("namespace", "voting-dev\n"), f"{P}:namespace", "DNS"),
    ("namespace kube-system", setting("namespace", "kube-system"), f"{P}:namespace", "default"),
    ("namespace default", setting("namespace", "default"), f"{P}:namespace", "kube-system"),
    ("namespace kube- prefix", setting("namespace", "kube-voting"), f"{P}:namespace", "kube-"),
    (
        "cpu in Arabic-Indic digits",
        setting("vote.resources.requests.cpu", "\u0661\u0660\u0660m"),
        f"{P}:vote.resources.requests.cpu",
        "cpu quantity",
    ),
    (
        "memory in full-width digits",
        setting("worker.resources.limits.memory", "\uff11\uff12\uff18Mi"),
        f"{P}:worker.resources.limits.memory",
        "memory quantity",
    ),
    (
        "cpu with a newline",
        setting("vote.resources.requests.cpu", "50m\n"),
        f"{P}:vote.resources.requests.cpu",
        "cpu quantity",
    ),
    (
        "memory with a newline",
        setting("db.resources.limits.memory", "256Mi\n"),
        f"{P}:db.resources.limits.memory",
        "memory quantity",
    ),
    (
        "cpu finer than a millicore",
        setting("vote.resources.requests.cpu", "0.5m"),
        f"{P}:vote.resources.requests.cpu",
        "whole millicores",
    ),
    (
        "cpu beyond what a quota can hold",
        setting("result.resources.limits.cpu", "9999999999"),
        f"{P}:result.resources.limits.cpu",
        "to 1000000",
    ),
    (
        "memory beyond what a quota can hold",
        setting("db.resources.limits.memory", "8Ei"),
        f"{P}:db.resources.limits.memory",
        "to 1Pi",
    ),
    (
        "memory in millibytes",
        setting("redis.resources.requests.memory", "128974848000m"),
        f"{P}:redis.resources.requests.memory",
        "memory quantity",
    ),
    (
        "image with a newline",
        setting("vote.image", "kodekloud/examplevotingapp_vote:v1\n"),
        f"{P}:vote.image",
        "pinned",
    ),
    (
        "storage size with a newline",
        setting("db.storage.size", "512Mi\n"),
        f"{P}:db.storage.size",
        "memory quantity",
    ),
    ("storage size too big", setting("db.storage.size", "2Pi"), f"{P}:db.storage.size", "1Pi"),
    (
        "storage class not a name",
        setting("db.storage", {"type": "persistentVolumeClaim", "storageClass": "Fast SSD"}),
        f"{P}:db.storage.storageClass",
        "StorageClass name",
    ),
    ("option of only spaces", setting("optionB", "   "), f"{P}:optionB", "visible character"),
    ("option with a newline", setting("optionA", "Cats\n"), f"{P}:optionA", "control"),
    ("options the same", setting("optionB", "Cats"), f"{P}:optionB", "tell the two apart"),
    ("options the same but case", setting("optionB", " cats"), f"{P}:optionB", "optionA"),
    (
        "node address a URL",
        setting("cluster.nodeAddress", "http://localhost:8080"),
        f"{P}:cluster.nodeAddress",
        "host name",
    ),
    (
        "node address with a space",
        setting("cluster.nodeAddress", "my host"),
        f"{P}:cluster.nodeAddress",
        "host name",
    ),
    (
        "node address an IPv4 out of range",
        setting("cluster.nodeAddress", "300.1.1.1"),
        f"{P}:cluster.nodeAddress",
        "IPv4",
    ),
    (
        "node address with a zone index",
        setting("cluster.nodeAddress", "fe80::1%eth0"),
        f"{P}:cluster.nodeAddress",
        "IPv6",
    ),
    (
        "node address with a newline",
        setting("cluster.nodeAddress", "localhost\n"),
        f"{P}:cluster.nodeAddress",
        "host name",
    ),
    (
        "node port not a port",
        setting("vote.exposure.nodePort", 70000),
        f"{P}:vote.exposure.nodePort",
        "from 1 to 65535",
    ),
    (
        "source ranges without LoadBalancer",
        setting("vote.exposure.sourceRanges", ["203.0.113.0/24"]),
        RANGES,
        '["203.0.113.0/24"] (array) with type NodePort',
    ),
    (
        "source range with host bits set",
        load_balancer("vote", ["203.0.113.0/24", "10.1.2.3/8"]),
        RANGES,
        '[1] "10.1.2.3/8": host bits set (the network of that prefix is 10.0.0.0/8',
    ),
    (
        "source range a bare address",
        load_balancer("result", ["198.51.100.7"]),
        f"{P}:result.exposure.sourceRanges",
        '[0] "198.51.100.7": not a network address and a prefix length',
    ),
    (
        "source range with a netmask",
        load_balancer("vote", ["10.0.0.0/255.0.0.0"]),
        RANGES,
        '"10.0.0.0/255.0.0.0": not a network address and a prefix length',
    ),
    (
        "source range not in its shortest form",
        load_balancer("vote", ["2001:DB8::/32"]),
        RANGES,
        "not in its shortest form, 2001:db8::/32",
    ),
    (
        "source range out of range",
        load_balancer("vote", ["10.0.0.0/33"]),
        RANGES,
        "not an IPv4 or IPv6 address with a prefix length it can have",
    ),
    (
        "source range with another script's digits",
        load_balancer("vote", ["10.0.0.0/\u0668"]),
        RANGES,
        "not a network address and a prefix length",
    ),
    (
        "source range with a final newline",
        load_balancer("vote", ["10.0.0.0/8\n"]),
        RANGES,
        "not a network address and a prefix length",
    ),
    (
        "source ranges repeated",
        load_balancer("vote", ["10.0.0.0/8", "192.0.2.0/24", "10.0.0.0/8"]),
        RANGES,
        '[2] "10.0.0.0/8" repeats [0]',
    ),
    ("source ranges empty", load_balancer("vote", []), RANGES, "a non-empty list"),
    ("source ranges a string", load_balancer("vote", "10.0.0.0/8"), RANGES, "(string)"),
    ("source range a number", load_balancer("vote", [10]), RANGES, "[0] 10 (number) is not"),
    ("db backup not an object", setting("db.backup", True), f"{P}:db.backup", "an object"),
    ("db backup a schedule", setting("db.backup", "0 * * * *"), f"{P}:db.backup", "an object"),
    *(
        (
            f"backup schedule {case}",
            setting("db.backup", {"schedule": schedule}),
            SCHEDULE,
            f"got {shown}; expected five cron fields",
        )
        for case, schedule, shown in [
            ("empty", "", '"" (string)'),
            ("of four fields", "0 * * *", '"0 * * *" (string)'),
            ("of six fields", "0 0 * * * *", '"0 0 * * * *" (string)'),
            ("with a newline", "0 * * * *\n", '"0 * * * *\\n" (string)'),
            ("in Arabic-Indic digits", "\u0661 * * * *", '"\\u0661 * * * *" (string)'),
            ("an unknown @-name", "@often", '"@often" (string)'),
            ("a number", 5, "5 (number)"),
        ]
    ),
    *(
        (f"backup keep {case}", setting("db.backup", {"keep": keep}), KEEP, word)
        for case, keep, word in [
            ("zero", 0, "got 0 (number); expected an integer from 1 to 1000"),
            ("above the most kept", 1001, "got 1001 (number); expected an integer from 1 to 1000"),
            ("a string", "3", 'got "3" (string); expected an integer from 1 to 1000'),
            ("a boolean", True, "got true (boolean); expected an integer from 1 to 1000"),
        ]
    ),
    (
        "backup size with a newline",
        setting("db.backup", {"size": "1Gi\n"}),
        f"{P}:db.backup.size",
        "memory quantity",
    ),
    ("backup size too big", setting("db.backup", {"size": "2Pi"}), f"{P}:db.backup.size", "1Pi"),
    (
        "backup storage class not a name",
        setting("db.backup", {"storageClass": "Fast SSD"}),
        f"{P}:db.backup.storageClass",
        "StorageClass name",
    ),
    (
        "backup key typo",
        setting("db.backup", {"schedule": "0 * * * *", "kept": 3}),
        f"{P}:db.backup.kept",
        "unknown key; expected only the keys keep, schedule, size, storageClass",
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
    # One problem for the bad key, and none invented for a key the change did not touch.
    assert keys == [key]
    issue = raised.value.issues[keys.index(key)]
    assert word in str(issue), str(issue)
    assert issue.got
    assert issue.expected

    # Through the real program: the run fails and not one resource reaches the engine.
    mocks = VotingMocks()
    with pytest.raises(pulumi.RunError, match=re.escape(key)):
        run_main("dev", values, [PASSWORD_KEY], mocks=mocks)
    assert mocks.registered == []


def test_a_value_refused_is_never_judged_again_as_its_placeholder() -> None:
    """An unknown exposure type leaves NodePort in its place, and a node port out of Kubernetes'
    range leaves none: neither is judged against the other's placeholder."""
    values = dev_values()
    setting("vote.exposure.type", "Ingress")(values)
    setting("vote.exposure.nodePort", 30010)(values)
    setting("result.exposure.nodePort", 1)(values)
    setting("worker.resources.limits.memory", "lots")(values)
    setting("worker.resources.requests.memory", "200Mi")(values)
    with pytest.raises(ConfigError) as raised:
        parse(values)
    assert [(issue.key, issue.got) for issue in raised.value.issues] == [
        (f"{P}:vote.exposure.type", '"Ingress" (string)'),
        (f"{P}:result.exposure.nodePort", "1 (number) with type NodePort"),
        (f"{P}:worker.resources.limits.memory", '"lots" (string)'),
    ]


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


def test_source_ranges_are_kept_as_written() -> None:
    values = dev_values()
    load_balancer("vote", ["127.0.0.1/32", "203.0.113.0/24", "2001:db8::/32"])(values)
    load_balancer("result", ["0.0.0.0/0"])(values)
    app = parse(values).app
    assert app.vote.exposure == Exposure(
        type=ExposureType.LOAD_BALANCER,
        source_ranges=("127.0.0.1/32", "203.0.113.0/24", "2001:db8::/32"),
    )
    assert app.result.exposure.source_ranges == ("0.0.0.0/0",)


def test_source_ranges_are_judged_once_and_never_against_a_placeholder() -> None:
    """Bad ranges on a NodePort are one problem (the ranges), not also "only with LoadBalancer";
    ranges under an unknown type are not judged against the type put in its place."""
    values = dev_values()
    setting("vote.exposure.sourceRanges", ["10.1.2.3/8"])(values)
    setting("result.exposure", {"type": "Ingress", "sourceRanges": ["203.0.113.0/24"]})(values)
    with pytest.raises(ConfigError) as raised:
        parse(values)
    assert [(issue.key, issue.got) for issue in raised.value.issues] == [
        (
            RANGES,
            '["10.1.2.3/8"] (array): [0] "10.1.2.3/8": host bits set (the network of that prefix'
            " is 10.0.0.0/8; one address is /32)",
        ),
        (f"{P}:result.exposure.type", '"Ingress" (string)'),
    ]


def test_a_context_the_kubeconfig_does_not_hold_fails_the_program_naming_it() -> None:
    """Never a preview computed against no cluster: the program stops before registering
    anything, naming cluster.context, the kubeconfig it read and the contexts there."""
    values = dev_values()
    values[f"{P}:cluster"] = {"type": "kind"}
    mocks = VotingMocks()
    with pytest.raises(pulumi.RunError) as failed:
        run_main("dev", values, [PASSWORD_KEY], mocks=mocks, contexts=("minikube", "prod-eu"))
    message = str(failed.value)
    assert f'{P}:cluster.context: got "kind-kind" (string); expected context' in message
    assert "'kind-kind' is not in the kubeconfig read" in message
    assert "contexts there: minikube, prod-eu" in message
    assert mocks.registered == []


def test_the_context_is_looked_for_in_the_stack_s_own_kubeconfig() -> None:
    """cluster.kubeconfig, not $KUBECONFIG (which holds no context here), is the file read."""
    values = dev_values()
    values[f"{P}:cluster"] = {"type": "kind", "kubeconfig": str(kubeconfig(("kind-kind",)))}
    run_main("dev", values, [PASSWORD_KEY], contexts=())
    values[f"{P}:cluster"]["kubeconfig"] = str(kubeconfig(("minikube",)))
    with pytest.raises(pulumi.RunError) as failed:
        run_main("dev", values, [PASSWORD_KEY], contexts=("kind-kind",))
    assert f"{kubeconfig(('minikube',))}; contexts there: minikube" in str(failed.value)


def _dns_name(length: int) -> str:
    """A host name of `length` characters: labels of 63 letters, the last one shorter."""
    labels = ["a" * 63] * (length // 64) + ["b" * (length % 64)]
    return ".".join(label for label in labels if label)


def test_host_and_storage_class_names_are_held_to_253_characters() -> None:
    assert len(_dns_name(253)) == 253
    values = dev_values()
    setting("cluster.nodeAddress", _dns_name(253))(values)
    setting("db.storage", {"type": "persistentVolumeClaim", "storageClass": "s" * 253})(values)
    config = parse(values)
    assert config.app.node_address == _dns_name(253)
    assert config.app.db.storage.storage_class == "s" * 253
    setting("cluster.nodeAddress", _dns_name(254))(values)
    setting("db.storage.storageClass", "s" * 254)(values)
    with pytest.raises(ConfigError) as raised:
        parse(values)
    assert [issue.key for issue in raised.value.issues] == [
        f"{P}:cluster.nodeAddress",
        f"{P}:db.storage.storageClass",
    ]


def test_a_required_key_s_default_shows_as_required() -> None:
    assert repr(REQUIRED) == "<required>"


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


def test_redis_keeps_its_queue_in_memory_unless_the_stack_asks_for_persistence() -> None:
    assert parse(dev_values()).app.redis.persistence is None
    values = dev_values()
    setting("redis.persistence", {})(values)
    assert parse(values).app.redis.persistence == RedisPersistence(
        size="1Gi", storage_class=None, fsync=AppendFsync.EVERYSEC
    )
    setting("redis.persistence", {"size": "2Gi", "storageClass": "fast", "fsync": "always"})(values)
    assert parse(values).app.redis.persistence == RedisPersistence(
        size="2Gi", storage_class="fast", fsync=AppendFsync.ALWAYS
    )


# db.backup: off unless the stack has the key, every key of it defaulted, and what is written kept.


def test_a_stack_without_db_backup_takes_none() -> None:
    assert parse(dev_values()).app.db.backup is None


def test_an_empty_db_backup_is_the_documented_defaults() -> None:
    values = dev_values()
    setting("db.backup", {})(values)
    assert parse(values).app.db.backup == DbBackup(
        schedule="0 * * * *", keep=24, size="1Gi", storage_class=None
    )


def test_a_full_db_backup_is_kept_as_written() -> None:
    values = dev_values()
    setting(
        "db.backup",
        {"schedule": "*/15 1-5 * * MON-FRI", "keep": 1000, "size": "512Mi", "storageClass": "slow"},
    )(values)
    assert parse(values).app.db.backup == DbBackup(
        schedule="*/15 1-5 * * MON-FRI", keep=1000, size="512Mi", storage_class="slow"
    )


def test_prod_backs_up_hourly_and_keeps_a_day() -> None:
    prod = parse(stack_values("prod"), stack_secret_keys("prod")).app.db
    assert prod.backup == DbBackup(schedule="0 * * * *", keep=24, size="1Gi", storage_class=None)
