"""VotingApp built directly from args, outside any stack file."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pulumi
import pytest

from components.app.args import (
    DEFAULT_IMAGES,
    AppendFsync,
    Credentials,
    DbArgs,
    RedisArgs,
    RedisPersistence,
    VotingAppArgs,
    WebUnitArgs,
    WorkerArgs,
)
from components.app.db import (
    CONFIG_DIR,
    INIT_DIR,
    MD5_INIT_SCRIPT,
    ClientAuth,
    DbBackup,
    DbStorage,
    StorageType,
)
from components.app.db_clients import KNOWN_DB_CLIENTS, AuthProblem
from components.app.voting_app import VotingApp
from components.cluster.target import ClusterType
from components.units.specs import (
    Autoscaling,
    ComputeQuantities,
    Exposure,
    ExposureType,
    PullPolicy,
    Resources,
    ServiceAwait,
)
from tests.mocks import VotingMocks, is_secret, run_with_mocks, unwrap

TRUST = DbArgs(client_auth=ClientAuth.TRUST)
PASSWORD = "pw-of-this-test"


def build(args: VotingAppArgs) -> tuple[VotingMocks, dict[str, Any]]:
    outputs: dict[str, Any] = {}

    def program() -> pulumi.Output[None]:
        app = VotingApp("voting", args)
        return pulumi.Output.all(
            namespace=app.namespace_name, vote=app.vote_url, result=app.result_url
        ).apply(outputs.update)

    return run_with_mocks(program), outputs


def db_pod(mocks: VotingMocks) -> dict[str, Any]:
    (db,) = (
        unwrap(d.inputs)
        for d in mocks.of_type("kubernetes:apps/v1:Deployment")
        if d.inputs["metadata"]["name"] == "db"
    )
    pod: dict[str, Any] = db["spec"]["template"]["spec"]
    return pod


def db_config(mocks: VotingMocks) -> dict[str, Any]:
    (config_map,) = (unwrap(c.inputs) for c in mocks.of_type("kubernetes:core/v1:ConfigMap"))
    config: dict[str, Any] = config_map
    return config


# Images whose Postgres clients are not known, so any db.client_auth is accepted with them.
OWN_IMAGES = {
    "vote": WebUnitArgs(image="example/vote:1"),
    "result": WebUnitArgs(image="example/result:1"),
    "worker": WorkerArgs(image="example/worker:1"),
}


def test_cluster_ip_web_units_get_in_cluster_urls() -> None:
    cluster_ip = Exposure(ExposureType.CLUSTER_IP)
    args = VotingAppArgs(
        namespace="team",
        db_password=pulumi.Output.secret("pw"),
        vote=WebUnitArgs(image="example/vote:1", exposure=cluster_ip),
        result=WebUnitArgs(image="example/result:1", exposure=cluster_ip),
        db=TRUST,
    )
    mocks, outputs = build(args)
    assert outputs == {
        "namespace": "team",
        "vote": "http://vote.team.svc.cluster.local",
        "result": "http://result.team.svc.cluster.local",
    }
    services = {
        unwrap(s.inputs)["metadata"]["name"]: s for s in mocks.of_type("kubernetes:core/v1:Service")
    }
    assert {name: s.inputs["spec"]["type"] for name, s in services.items()} == dict.fromkeys(
        ("vote", "result", "redis", "db"), "ClusterIP"
    )


def test_the_namespace_records_the_cluster_type_and_pod_security() -> None:
    args = VotingAppArgs(
        namespace="team",
        db_password=pulumi.Output.secret("pw"),
        cluster_type=ClusterType.CLOUD,
        db=TRUST,
    )
    mocks, _ = build(args)
    (namespace,) = mocks.of_type("kubernetes:core/v1:Namespace")
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["voting-app/cluster-type"] == "cloud"
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_the_default_client_auth_is_what_the_stock_images_can_do() -> None:
    # The stock worker and result can only log in with trust: with no client_auth, that is the
    # db's method, and a stock app from the defaults alone works.
    mocks, _ = build(VotingAppArgs(namespace="team", db_password=pulumi.Output.secret("pw")))
    env = {e["name"]: e.get("value") for e in db_pod(mocks)["containers"][0]["env"]}
    assert env["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    hba = db_config(mocks)["data"]["pg_hba.conf"]
    assert "host    all       all   all           trust\n" in hba


def test_the_default_client_auth_is_scram_with_images_the_project_does_not_know() -> None:
    mocks, _ = build(
        VotingAppArgs(namespace="team", db_password=pulumi.Output.secret("pw"), **OWN_IMAGES)
    )
    env = {e["name"]: e.get("value") for e in db_pod(mocks)["containers"][0]["env"]}
    assert env["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"


def test_scram_with_the_stock_images_is_refused_before_registration() -> None:
    # The stock worker and result cannot do SCRAM (nor send a password).
    mocks = VotingMocks()
    args = VotingAppArgs(
        namespace="team",
        db_password=pulumi.Output.secret("pw"),
        db=DbArgs(client_auth=ClientAuth.SCRAM_SHA_256),
    )
    with pytest.raises(ValueError, match="cannot log in with scram-sha-256") as raised:
        run_with_mocks(lambda: VotingApp("voting", args), mocks=mocks)
    message = str(raised.value)
    for unit in ("worker", "result"):
        assert f"{unit} image {DEFAULT_IMAGES[unit]} cannot log in with scram-sha-256" in message
    assert "use trust with this image" in message
    assert mocks.registered == []


def test_defaults_with_trust_make_a_working_single_replica_app() -> None:
    mocks, outputs = build(
        VotingAppArgs(namespace="team", db_password=pulumi.Output.secret("pw"), db=TRUST)
    )
    deployments = mocks.of_type("kubernetes:apps/v1:Deployment")
    assert sorted(d.inputs["metadata"]["name"] for d in deployments) == [
        "db",
        "redis",
        "result",
        "vote",
        "worker",
    ]
    assert all(d.inputs["spec"]["replicas"] == 1 for d in deployments)
    assert mocks.of_type("kubernetes:policy/v1:PodDisruptionBudget") == []
    # Default exposure is NodePort with allocated ports (the mocks allocate from 31500).
    assert outputs["vote"].startswith("http://localhost:315")


@pytest.mark.parametrize("auth", list(ClientAuth))
def test_the_db_enforces_its_client_auth_on_every_start(auth: ClientAuth) -> None:
    args = VotingAppArgs(
        namespace="team",
        db_password=pulumi.Output.secret(PASSWORD),
        db=DbArgs(client_auth=auth),
        **OWN_IMAGES,
    )
    mocks, _ = build(args)
    config = db_config(mocks)
    pod = db_pod(mocks)
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["POSTGRES_HOST_AUTH_METHOD"] == auth.value
    # Our pg_hba.conf, read through hba_file, has every network client use `auth`.
    hba = config["data"]["pg_hba.conf"]
    assert f"host    all       all   all           {auth.value}\n" in hba
    assert container["args"][:3] == ["postgres", "-c", f"hba_file={CONFIG_DIR}/pg_hba.conf"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert volumes["config"]["configMap"] == {
        "name": config["metadata"]["name"],
        "items": [{"key": "pg_hba.conf", "path": "pg_hba.conf"}],
    }
    assert mounts["config"] == {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}
    # md5 alone needs the password stored as an MD5 hash (PostgreSQL 15 stores SCRAM).
    assert ("init" in volumes) is (auth is ClientAuth.MD5)
    assert (MD5_INIT_SCRIPT in config["data"]) is (auth is ClientAuth.MD5)
    assert ("password_encryption=md5" in container["args"]) is (auth is ClientAuth.MD5)
    if auth is ClientAuth.MD5:
        assert mounts["init"]["mountPath"] == INIT_DIR
        assert "\\getenv password POSTGRES_PASSWORD" in config["data"][MD5_INIT_SCRIPT]
    assert PASSWORD not in repr(config)


def test_a_change_of_client_auth_renames_the_config_and_so_rolls_the_db() -> None:
    names = set()
    for auth in ClientAuth:
        args = VotingAppArgs(
            namespace="team",
            db_password=pulumi.Output.secret("pw"),
            db=DbArgs(client_auth=auth),
            **OWN_IMAGES,
        )
        mocks, _ = build(args)
        name = db_config(mocks)["metadata"]["name"]
        assert name.startswith("db-config-")
        names.add(name)
    assert len(names) == len(ClientAuth)


def test_two_apps_in_one_program_register_side_by_side() -> None:
    """Child names derive from the component's name: two VotingApps, each in its namespace, and
    no resource of one takes the URN of the other's; the objects keep their names."""
    urls: dict[str, Any] = {}

    def program() -> pulumi.Output[None]:
        apps = [
            VotingApp(
                name,
                VotingAppArgs(namespace=name, db_password=pulumi.Output.secret("pw"), db=TRUST),
            )
            for name in ("team-a", "team-b")
        ]
        return pulumi.Output.all(*(app.vote_url for app in apps)).apply(
            lambda values: urls.update(zip(("team-a", "team-b"), values, strict=True))
        )

    two = run_with_mocks(program)
    # The mock monitor keeps one registration per URN: a collision would show as fewer.
    assert len(two.urns) == len(two.registered)
    kinds = {r.typ for r in two.registered}
    assert {"voting:index:VotingApp", "kubernetes:apps/v1:Deployment"} <= kinds
    for name in ("team-a", "team-b"):
        objects = [
            r
            for r in two.registered
            if r.typ.startswith("kubernetes:")
            and unwrap(r.inputs)["metadata"].get("namespace", unwrap(r.inputs)["metadata"]["name"])
            == name
        ]
        assert {unwrap(r.inputs)["metadata"]["name"] for r in objects} >= {"vote", "db", "redis"}
        assert all(r.name.startswith(f"{name}-") for r in objects), [r.name for r in objects]
    # Each app's own vote Service: two node ports (the mock allocates them in turn).
    assert len(set(urls.values())) == 2
    assert all(url.startswith("http://localhost:315") for url in urls.values())


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("example/vote:1.2", "IfNotPresent"),
        ("registry.local:5000/vote:1.2", "IfNotPresent"),
        ("example/vote@sha256:" + "a" * 64, "IfNotPresent"),
        ("example/vote", "Always"),
        ("example/vote:latest", "Always"),
    ],
)
def test_the_pull_policy_defaults_to_kubernetes_own(image: str, policy: str) -> None:
    args = VotingAppArgs(
        namespace="team",
        db_password=pulumi.Output.secret("pw"),
        vote=WebUnitArgs(image=image),
        result=WebUnitArgs(image="example/result:1"),
        db=TRUST,
    )
    mocks, _ = build(args)
    (vote,) = (
        unwrap(d.inputs)
        for d in mocks.of_type("kubernetes:apps/v1:Deployment")
        if d.inputs["metadata"]["name"] == "vote"
    )
    (container,) = vote["spec"]["template"]["spec"]["containers"]
    assert container["imagePullPolicy"] == policy
    skips = vote["metadata"]["annotations"].values()
    assert any(skip.startswith("CKV_K8S_15=") for skip in skips) is (policy != "Always")


def test_the_stack_s_service_await_reaches_every_unit_s_service() -> None:
    lb = WebUnitArgs(image="example/vote:1", exposure=Exposure(ExposureType.LOAD_BALANCER))
    args = VotingAppArgs(
        namespace="voting-x",
        db_password=pulumi.Output.secret(PASSWORD),
        db=TRUST,
        service_await=ServiceAwait.ADDRESS,
        **{**OWN_IMAGES, "vote": lb},
    )
    mocks, _ = build(args)
    services = {
        service.inputs["metadata"]["name"]: service.inputs["metadata"]["annotations"]
        for service in mocks.of_type("kubernetes:core/v1:Service")
    }
    assert set(services) == {"vote", "result", "redis", "db"}
    assert "pulumi.com/waitFor" in services.pop("vote")
    for name, found in services.items():
        assert found.get("pulumi.com/skipAwait") == "true", name


def test_a_referenced_db_secret_is_not_created_and_still_read_by_reference() -> None:
    mocks, _ = build(
        VotingAppArgs(
            namespace="team",
            db_password=pulumi.Output.secret(PASSWORD),
            db=DbArgs(credentials=Credentials.REFERENCED),
        )
    )
    assert mocks.of_type("kubernetes:core/v1:Secret") == []
    env = {e["name"]: e for e in db_pod(mocks)["containers"][0]["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "db-credentials",
        "key": "password",
    }
    # Created by default, from the password.
    created, _ = build(VotingAppArgs(namespace="team", db_password=pulumi.Output.secret(PASSWORD)))
    (secret,) = created.of_type("kubernetes:core/v1:Secret")
    assert unwrap(secret.inputs)["metadata"]["name"] == "db-credentials"


# What each child of the app is registered as: its name (from the app's), the old name it still
# answers to, its labels, and what the namespace and the Secret hold.

APP = "voting:index:VotingApp"


def children_of_the_app(mocks: VotingMocks) -> dict[str, str]:
    """Resource name -> URN of each resource whose parent is the VotingApp."""
    return {
        urn.rsplit("::", 1)[1]: urn
        for urn in mocks.urns
        if urn.split("::")[2].split("$")[-2:-1] == [APP]
    }


def trusting_app(**overrides: Any) -> VotingAppArgs:
    base: dict[str, Any] = {"namespace": "team", "db_password": pulumi.Output.secret(PASSWORD)}
    return VotingAppArgs(**(base | {"db": TRUST} | overrides))


def test_every_child_is_named_after_the_app_and_answers_to_its_old_name() -> None:
    mocks, _ = build(trusting_app())
    children = children_of_the_app(mocks)
    # Their names before names were derived from the app's (stacks deployed then keep them).
    old_names = {
        "namespace",
        "db-credentials",
        "db-config",
        "app-quota",
        "app-limits",
        "redis",
        "db",
        "vote",
        "worker",
        "result",
        "default-deny",
        "vote-ingress",
        "vote-egress",
        "redis-ingress",
        "worker-egress",
        "db-ingress",
        "result-ingress",
        "result-egress",
    }
    assert set(children) == {f"voting-{old}" for old in old_names}
    for old in old_names:
        assert mocks.alias_names[children[f"voting-{old}"]] == [old]


def test_each_object_of_the_app_says_what_part_of_it_it_is() -> None:
    mocks, _ = build(trusting_app(vote=WebUnitArgs(image=DEFAULT_IMAGES["vote"], replicas=2)))
    components = {
        (r.typ.rsplit(":", 1)[1], unwrap(r.inputs)["metadata"]["name"]): unwrap(r.inputs)[
            "metadata"
        ]["labels"]["app.kubernetes.io/component"]
        for r in mocks.registered
        if r.typ.split(":")[1] in ("core/v1", "networking.k8s.io/v1", "policy/v1")
        and r.typ.rsplit(":", 1)[1] not in ("Service", "ServiceAccount")
    }
    db_config = db_config_name(mocks)
    assert components == {
        ("Namespace", "team"): "namespace",
        ("Secret", "db-credentials"): "database",
        ("ConfigMap", db_config): "database",
        ("ResourceQuota", "app-quota"): "quota",
        ("LimitRange", "app-limits"): "quota",
        ("NetworkPolicy", "default-deny"): "network-policy",
        ("NetworkPolicy", "vote-ingress"): "network-policy",
        ("NetworkPolicy", "vote-egress"): "network-policy",
        ("NetworkPolicy", "redis-ingress"): "network-policy",
        ("NetworkPolicy", "worker-egress"): "network-policy",
        ("NetworkPolicy", "db-ingress"): "network-policy",
        ("NetworkPolicy", "result-ingress"): "network-policy",
        ("NetworkPolicy", "result-egress"): "network-policy",
        ("PodDisruptionBudget", "vote"): "disruption-budget",
    }


def db_config_name(mocks: VotingMocks) -> str:
    name: str = db_config(mocks)["metadata"]["name"]
    assert name.startswith("db-config-")
    return name


@pytest.mark.parametrize("retained", [True, False])
def test_the_namespace_is_kept_exactly_when_the_db_s_data_is(retained: bool) -> None:
    storage = DbStorage(type=StorageType.PERSISTENT_VOLUME_CLAIM, retain_on_delete=retained)
    mocks, _ = build(trusting_app(db=replace(TRUST, storage=storage)))
    namespace = children_of_the_app(mocks)["voting-namespace"]
    assert (namespace in mocks.retained) is retained


def test_the_db_secret_is_an_opaque_one_holding_the_user_and_the_secret_password() -> None:
    mocks, _ = build(trusting_app())
    (secret,) = mocks.of_type("kubernetes:core/v1:Secret")
    assert secret.inputs["type"] == "Opaque"
    assert is_secret(secret.inputs["stringData"])
    assert unwrap(secret.inputs["stringData"]) == {"username": "postgres", "password": PASSWORD}


@pytest.mark.parametrize("unit", ["vote", "result"])
def test_the_web_units_are_probed_as_upstream_compose_probes_vote(unit: str) -> None:
    mocks, _ = build(trusting_app())
    (deployment,) = (
        unwrap(d.inputs)
        for d in mocks.of_type("kubernetes:apps/v1:Deployment")
        if d.inputs["metadata"]["name"] == unit
    )
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    http = {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 15, "timeoutSeconds": 5}
    assert container["readinessProbe"] == http | {"initialDelaySeconds": 10, "failureThreshold": 3}
    assert container["livenessProbe"] == http | {"initialDelaySeconds": 30, "failureThreshold": 5}


def test_redis_runs_as_its_args_say_with_the_data_store_s_probes_and_identity() -> None:
    resources = Resources(
        requests=ComputeQuantities(cpu="20m", memory="32Mi"),
        limits=ComputeQuantities(cpu="200m", memory="96Mi"),
    )
    redis = RedisArgs(
        image="example/redis:7", image_pull_policy=PullPolicy.ALWAYS, resources=resources
    )
    mocks, _ = build(trusting_app(redis=redis))
    (deployment,) = (
        unwrap(d.inputs)
        for d in mocks.of_type("kubernetes:apps/v1:Deployment")
        if d.inputs["metadata"]["name"] == "redis"
    )
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "example/redis:7"
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"] == {
        "requests": {"cpu": "20m", "memory": "32Mi"},
        "limits": {"cpu": "200m", "memory": "96Mi"},
    }
    ping = {
        "exec": {"command": ["redis-cli", "ping"]},
        "initialDelaySeconds": 5,
        "timeoutSeconds": 3,
    }
    assert container["readinessProbe"] == ping | {"periodSeconds": 10, "failureThreshold": 3}
    assert container["livenessProbe"] == ping | {"periodSeconds": 10, "failureThreshold": 6}
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    assert {"name": "data", "emptyDir": {}} in pod["volumes"]
    # The official image runs as any uid: a high one, owning its data through fsGroup.
    identity = pod["securityContext"] | container["securityContext"]
    assert {key: identity.get(key) for key in ("runAsUser", "runAsGroup", "fsGroup")} == {
        "runAsUser": 10999,
        "runAsGroup": 10999,
        "fsGroup": 10999,
    }
    assert identity["runAsNonRoot"] is True


# What each unit of the app is given: its role, its strategy, its pull policy and resources as
# its args say, the web units' runtime dir, capability and node address, and the budgets.


def deployments(mocks: VotingMocks) -> dict[str, dict[str, Any]]:
    return {
        d.inputs["metadata"]["name"]: unwrap(d.inputs)
        for d in mocks.of_type("kubernetes:apps/v1:Deployment")
    }


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = only
    return found


def test_each_unit_is_labelled_with_its_role_and_rolls_as_it_must() -> None:
    workloads = deployments(build(trusting_app())[0])
    roles = {
        name: d["metadata"]["labels"]["app.kubernetes.io/component"]
        for name, d in workloads.items()
    }
    assert {name: roles[name] for name in ("redis", "vote", "worker", "result")} == {
        "redis": "queue",
        "vote": "web",
        "worker": "worker",
        "result": "web",
    }
    # Never below the desired count: one new pod at a time, an old one removed once it serves.
    never_down = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    for name in ("vote", "worker", "result"):
        assert workloads[name]["spec"]["strategy"] == never_down, name
    assert workloads["redis"]["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("unit", ["vote", "result"])
def test_a_web_unit_binds_its_port_and_keeps_its_runtime_dir_in_tmp(unit: str) -> None:
    web = container(deployments(build(trusting_app())[0])[unit])
    assert {"name": "XDG_RUNTIME_DIR", "value": "/tmp"} in web["env"]
    assert web["securityContext"]["capabilities"]["add"] == ["NET_BIND_SERVICE"]


def test_every_unit_takes_the_pull_policy_and_resources_its_args_give() -> None:
    resources = Resources(
        requests=ComputeQuantities(cpu="30m", memory="48Mi"),
        limits=ComputeQuantities(cpu="300m", memory="160Mi"),
    )
    always = {"image_pull_policy": PullPolicy.ALWAYS, "resources": resources}
    mocks, _ = build(
        trusting_app(
            vote=WebUnitArgs(image="example/vote:1", **always),
            result=WebUnitArgs(image="example/result:1", **always),
            worker=WorkerArgs(image="example/worker:1", **always),
            redis=RedisArgs(image="example/redis:1", **always),
        )
    )
    for name, deployment in deployments(mocks).items():
        if name == "db":
            continue
        assert container(deployment)["imagePullPolicy"] == "Always", name
        assert container(deployment)["resources"] == {
            "requests": {"cpu": "30m", "memory": "48Mi"},
            "limits": {"cpu": "300m", "memory": "160Mi"},
        }, name
        # checkov's pull-policy check needs no exception where the policy is Always.
        skips = deployment["metadata"]["annotations"].values()
        assert not any(skip.startswith("CKV_K8S_15=") for skip in skips), name


def test_the_node_address_is_where_the_node_port_urls_point() -> None:
    _, outputs = build(trusting_app(node_address="node-1.lan"))
    assert outputs["vote"].startswith("http://node-1.lan:")
    assert outputs["result"].startswith("http://node-1.lan:")


@pytest.mark.parametrize(
    ("replicas", "budget"),
    [(1, False), (2, True), (Autoscaling(1, 3), False), (Autoscaling(2, 4), True)],
)
def test_a_unit_gets_a_budget_of_one_pod_exactly_when_it_never_runs_fewer_than_two(
    replicas: Any, budget: bool
) -> None:
    mocks, _ = build(trusting_app(vote=WebUnitArgs(image="example/vote:1", replicas=replicas)))
    budgets = [unwrap(b.inputs) for b in mocks.of_type("kubernetes:policy/v1:PodDisruptionBudget")]
    if not budget:
        assert budgets == []
        return
    (vote_budget,) = budgets
    vote = deployments(mocks)["vote"]
    assert vote_budget["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": vote["spec"]["selector"]["matchLabels"]},
    }


# What the app as a whole declares: its units wait for the quota and limits, its outputs, the
# result's port, and every client that cannot log in, named in one error.


def test_each_unit_waits_for_the_quota_and_the_limits() -> None:
    mocks, _ = build(trusting_app())
    children = children_of_the_app(mocks)
    cap = {children["voting-app-quota"], children["voting-app-limits"]}
    for unit in ("redis", "db", "vote", "worker", "result"):
        assert cap <= set(mocks.dependencies[children[f"voting-{unit}"]]), unit


def test_the_app_s_outputs_name_its_namespace_urls_and_services() -> None:
    mocks, outputs = build(trusting_app())
    (app,) = (urn for urn in mocks.urns if urn.endswith(f"{APP}::voting"))
    assert mocks.component_outputs[app] == {
        "namespace": "team",
        "vote_url": outputs["vote"],
        "result_url": outputs["result"],
        "service_names": {
            "redis": "redis",
            "db": "db",
            "vote": "vote",
            "result": "result",
        },
    }


def test_the_result_listens_where_its_service_sends() -> None:
    result = container(deployments(build(trusting_app())[0])["result"])
    assert {"name": "PORT", "value": "80"} in result["env"]
    assert result["ports"] == [{"name": "http", "containerPort": 80, "protocol": "TCP"}]


def test_every_client_that_cannot_log_in_is_named_in_one_error() -> None:
    args = trusting_app(db=DbArgs(client_auth=ClientAuth.SCRAM_SHA_256))
    problems = [
        AuthProblem(
            unit=unit,
            image=DEFAULT_IMAGES[unit],
            auth=ClientAuth.SCRAM_SHA_256,
            client=KNOWN_DB_CLIENTS[DEFAULT_IMAGES[unit]],
        )
        for unit in ("worker", "result")
    ]
    whole = f"VotingApp: {problems[0]}; {problems[1]}"
    with pytest.raises(ValueError, match=f"^{re.escape(whole)}$"):
        run_with_mocks(lambda: VotingApp("voting", args))


def _redis_of(mocks: VotingMocks) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """redis's Deployment, and the claims of the app labelled redis."""
    (deployment,) = (
        unwrap(d.inputs)
        for d in mocks.of_type("kubernetes:apps/v1:Deployment")
        if d.inputs["metadata"]["name"] == "redis"
    )
    claims = [
        unwrap(c.inputs)
        for c in mocks.of_type("kubernetes:core/v1:PersistentVolumeClaim")
        if c.inputs["metadata"]["labels"]["app.kubernetes.io/name"] == "redis"
    ]
    return deployment, claims


def test_redis_keeps_its_queue_in_memory_by_default() -> None:
    mocks, _ = build(trusting_app())
    deployment, claims = _redis_of(mocks)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "args" not in container  # the image's own options
    assert {"name": "data", "emptyDir": {}} in pod["volumes"]
    assert claims == []


@pytest.mark.parametrize("fsync", list(AppendFsync))
def test_redis_persistence_is_an_append_only_file_on_a_claim(fsync: AppendFsync) -> None:
    persistence = RedisPersistence(size="3Gi", storage_class="fast", fsync=fsync)
    mocks, _ = build(trusting_app(redis=RedisArgs(persistence=persistence)))
    deployment, (claim,) = _redis_of(mocks)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == [
        "--appendonly",
        "yes",
        "--appendfsync",
        fsync.value,
        "--dir",
        "/data",
        "--protected-mode",
        "no",
    ]
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "redis-data"}} in pod["volumes"]
    assert claim["metadata"]["name"] == "redis-data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "3Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


# db.backup in the app: its CronJob, the one NetworkPolicy edge to the db, its pods in the quota
# and the LimitRange, and its claim kept exactly when the db's is.

CRON_JOB = "kubernetes:batch/v1:CronJob"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
BACKUPS = DbBackup(schedule="30 */2 * * *", keep=5, size="2Gi")
DNS_TO = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}


def backed_up(**db: Any) -> VotingAppArgs:
    return trusting_app(db=replace(TRUST, backup=BACKUPS, **db))


def policies(mocks: VotingMocks) -> dict[str, dict[str, Any]]:
    return {
        unwrap(p.inputs)["metadata"]["name"]: unwrap(p.inputs)["spec"]
        for p in mocks.of_type(NETWORK_POLICY)
    }


def pods_of(name: str) -> dict[str, Any]:
    return {
        "podSelector": {
            "matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "team"}
        }
    }


def test_backups_are_a_cron_job_of_the_app_and_none_without() -> None:
    mocks, _ = build(backed_up())
    (job,) = (unwrap(j.inputs) for j in mocks.of_type(CRON_JOB))
    assert job["metadata"]["name"] == "db-backup"
    assert job["metadata"]["namespace"] == "team"
    assert job["spec"]["schedule"] == "30 */2 * * *"
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == DEFAULT_IMAGES["db"]
    assert {"name": "KEEP", "value": "5"} in container["env"]
    with_backups = set(children_of_the_app(mocks))

    mocks, _ = build(trusting_app())
    assert mocks.of_type(CRON_JOB) == []
    assert mocks.of_type("voting:index:ScheduledJob") == []
    assert with_backups - set(children_of_the_app(mocks)) == {
        "voting-db-backup",
        "voting-db-backup-egress",
    }


def test_backups_reach_the_db_and_only_the_db() -> None:
    mocks, _ = build(backed_up())
    found = policies(mocks)
    assert found["db-backup-egress"] == {
        "podSelector": pods_of("db-backup")["podSelector"],
        "policyTypes": ["Egress"],
        "egress": [
            {"to": [pods_of("db")], "ports": [{"protocol": "TCP", "port": 5432}]},
            {
                "to": [DNS_TO],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            },
        ],
    }
    # Nobody dials a backup pod: no ingress policy of its own, default-deny keeps it shut.
    assert "db-backup-ingress" not in found
    sources = [rule["from"] for rule in found["db-ingress"]["ingress"]]
    assert sources == [[pods_of("worker")], [pods_of("result")], [pods_of("db-backup")]]
    assert all(
        rule["ports"] == [{"protocol": "TCP", "port": 5432}]
        for rule in found["db-ingress"]["ingress"]
    )


def test_without_backups_no_policy_names_them() -> None:
    mocks, _ = build(trusting_app())
    found = policies(mocks)
    assert "db-backup-egress" not in found
    sources = [rule["from"] for rule in found["db-ingress"]["ingress"]]
    assert sources == [[pods_of("worker")], [pods_of("result")]]


def hard_quota(mocks: VotingMocks) -> dict[str, str]:
    (quota,) = mocks.of_type("kubernetes:core/v1:ResourceQuota")
    hard: dict[str, str] = unwrap(quota.inputs)["spec"]["hard"]
    return hard


def test_the_quota_holds_two_backup_pods_beside_the_units() -> None:
    """Worked by hand. The units: vote, result and worker roll (3 pods at most each), redis and
    db are replaced (1 each): 11 pods; vote and result ask 50m/128Mi up to 250m/256Mi, the others
    50m/64Mi up to 250m/128Mi. The backup: a scheduled run and one by hand, 50m/64Mi up to
    250m/128Mi each."""
    mocks, _ = build(trusting_app())
    assert hard_quota(mocks) == {
        "pods": "11",
        "requests.cpu": "550m",
        "requests.memory": "1088Mi",
        "limits.cpu": "2750m",
        "limits.memory": "2176Mi",
    }
    mocks, _ = build(backed_up())
    assert hard_quota(mocks) == {
        "pods": "13",
        "requests.cpu": "650m",
        "requests.memory": "1216Mi",
        "limits.cpu": "3250m",
        "limits.memory": "2432Mi",
    }


LARGE = Resources(
    requests=ComputeQuantities(cpu="100m", memory="256Mi"),
    limits=ComputeQuantities(cpu="500m", memory="512Mi"),
)


def test_the_limit_range_admits_the_backup_container() -> None:
    """Every unit larger than the backup container: its requests and limits become the smallest,
    and so the LimitRange's defaults."""
    units: dict[str, Any] = {
        "vote": WebUnitArgs(image=DEFAULT_IMAGES["vote"], resources=LARGE),
        "result": WebUnitArgs(image=DEFAULT_IMAGES["result"], resources=LARGE),
        "worker": WorkerArgs(resources=LARGE),
        "redis": RedisArgs(resources=LARGE),
    }

    def limits(backup: DbBackup | None) -> dict[str, Any]:
        db = replace(TRUST, resources=LARGE, backup=backup)
        mocks, _ = build(trusting_app(db=db, **units))
        (limit_range,) = mocks.of_type("kubernetes:core/v1:LimitRange")
        (item,) = unwrap(limit_range.inputs)["spec"]["limits"]
        found: dict[str, Any] = item
        return found

    assert limits(None) == {
        "type": "Container",
        "max": {"cpu": "500m", "memory": "512Mi"},
        "default": {"cpu": "500m", "memory": "512Mi"},
        "defaultRequest": {"cpu": "100m", "memory": "256Mi"},
    }
    assert limits(BACKUPS) == {
        "type": "Container",
        "max": {"cpu": "500m", "memory": "512Mi"},
        "default": {"cpu": "250m", "memory": "128Mi"},
        "defaultRequest": {"cpu": "50m", "memory": "64Mi"},
    }


def test_the_backups_wait_for_the_quota_and_the_limits() -> None:
    mocks, _ = build(backed_up())
    children = children_of_the_app(mocks)
    (cron_job,) = (urn for urn in mocks.urns if urn.endswith(f"{CRON_JOB}::voting-db-backup"))
    cap = {children["voting-app-quota"], children["voting-app-limits"]}
    assert cap <= set(mocks.dependencies[children["voting-db-backup"]])
    assert cap <= set(mocks.dependencies[cron_job])


@pytest.mark.parametrize(
    ("storage", "retained"),
    [
        (DbStorage(type=StorageType.PERSISTENT_VOLUME_CLAIM, retain_on_delete=True), True),
        (DbStorage(type=StorageType.PERSISTENT_VOLUME_CLAIM, retain_on_delete=False), False),
        (DbStorage(), False),
    ],
)
def test_the_backups_claim_is_kept_exactly_when_the_db_s_is(
    storage: DbStorage, retained: bool
) -> None:
    mocks, _ = build(backed_up(storage=storage))
    (claim,) = (
        c
        for c in mocks.of_type("kubernetes:core/v1:PersistentVolumeClaim")
        if c.inputs["metadata"]["name"] == "db-backup-data"
    )
    assert unwrap(claim.inputs)["spec"]["resources"]["requests"]["storage"] == "2Gi"
    (urn,) = (u for u in mocks.urns if u.endswith("PersistentVolumeClaim::voting-db-backup-data"))
    assert (urn in mocks.retained) is retained
