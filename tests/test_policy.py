"""The policy pack's rules: the shipped stacks pass, and each rule catches what it is for."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from components.cluster.target import LOAD_BALANCERS, ClusterType
from policy import rules
from tests.mocks import unwrap
from tests.program import shipped_stack

MANDATORY_RESOURCE_RULES: list[Callable[[str, Mapping[str, Any]], list[str]]] = [
    rules.pinned_images,
    rules.requests_and_limits,
    rules.readiness_probes,
    rules.no_literal_secrets,
    rules.not_in_default_namespace,
    rules.no_privilege_escalation,
]
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


@functools.cache
def stack_resources(stack: str) -> list[rules.Resource]:
    run = shipped_stack(stack)
    return [
        (r.typ, unwrap(r.inputs)) for r in run.mocks.registered if r.typ.startswith("kubernetes:")
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_stacks_pass_every_mandatory_rule(stack: str) -> None:
    resources = stack_resources(stack)
    for rule in MANDATORY_RESOURCE_RULES:
        for resource_type, props in resources:
            assert rule(resource_type, props) == [], (rule.__name__, props["metadata"])
    assert rules.load_balancers_with_an_address(resources) == []
    assert rules.own_service_accounts(resources) == []


def test_advisories_on_the_shipped_stacks() -> None:
    dev, prod = stack_resources("dev"), stack_resources("prod")
    dev_fixed = [m for t, p in dev for m in rules.fixed_node_ports(t, p)]
    assert len(dev_fixed) == 2
    assert all("nodePort 3000" in message for message in dev_fixed)
    assert [m for t, p in prod for m in rules.fixed_node_ports(t, p)] == []
    assert rules.web_tier_redundant_on_cloud(prod) == []
    assert rules.web_tier_redundant_on_cloud(dev) == []
    assert rules.spread_when_replicated(prod) == rules.spread_when_replicated(dev) == []
    # Both ship db.clientAuth trust for the stock images: flagged on the cloud stack only.
    (trust,) = rules.trust_auth_on_cloud(prod)
    assert trust.startswith("StatefulSet db: container db trusts every network client")
    assert rules.trust_auth_on_cloud(dev) == []
    # prod's load balancers name no source ranges (who reaches them is the operator's to say).
    # Sorted: the program registers them in no fixed order.
    assert sorted(rules.load_balancers_open_to_everyone_on_cloud(prod)) == [
        f"Service {unit} is a LoadBalancer on a cloud stack with no source ranges: every address "
        "on the internet can connect. Set its unit's exposure.sourceRanges to the networks that "
        "need it (its NetworkPolicy follows)"
        for unit in ("result", "vote")
    ]
    assert rules.load_balancers_open_to_everyone_on_cloud(dev) == []


def deployment(**container: Any) -> dict[str, Any]:
    base = {
        "name": "app",
        "image": "example/app:1.0",
        "ports": [{"containerPort": 80}],
        "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
        "resources": {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"cpu": "50m", "memory": "32Mi"},
        },
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    return {
        "metadata": {"name": "app", "namespace": "team"},
        "spec": {
            "replicas": 1,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/component": "web"}},
                "spec": {"containers": [base | container]},
            },
        },
    }


def test_a_compliant_deployment_passes_every_rule() -> None:
    for rule in MANDATORY_RESOURCE_RULES:
        assert rule(DEPLOYMENT, deployment()) == [], rule.__name__


@pytest.mark.parametrize(
    ("rule", "props", "expected"),
    [
        (rules.pinned_images, deployment(image="nginx"), "not pinned"),
        (rules.pinned_images, deployment(image="nginx:latest"), "not pinned"),
        # The whole string, ASCII only: `$` alone would let a final newline through.
        (rules.pinned_images, deployment(image="nginx:1.25\n"), "not pinned"),
        (rules.pinned_images, deployment(image="nginx:1.25 "), "not pinned"),
        (rules.pinned_images, deployment(image="ng\u0131nx:1.25"), "not pinned"),
        (rules.requests_and_limits, deployment(resources={"limits": {"cpu": "1"}}), "no requests"),
        (rules.requests_and_limits, deployment(resources={"requests": {"cpu": "1"}}), "memory"),
        (rules.readiness_probes, deployment(readinessProbe=None), "no readinessProbe"),
        (
            rules.no_literal_secrets,
            deployment(env=[{"name": "DB_PASSWORD", "value": "x"}]),
            "literal",
        ),
        (rules.no_literal_secrets, deployment(env=[{"name": "API_KEY", "value": "x"}]), "literal"),
        (rules.no_privilege_escalation, deployment(securityContext={}), "allowPrivilegeEscalation"),
        (
            rules.not_in_default_namespace,
            {**deployment(), "metadata": {"name": "app", "namespace": "default"}},
            "default namespace",
        ),
        (rules.not_in_default_namespace, {**deployment(), "metadata": {"name": "app"}}, "default"),
    ],
)
def test_each_rule_reports_its_violation(
    rule: Callable[[str, Mapping[str, Any]], list[str]], props: dict[str, Any], expected: str
) -> None:
    messages = rule(DEPLOYMENT, props)
    assert messages
    assert any(expected in message for message in messages), messages


def test_env_from_secret_key_ref_is_not_a_literal_secret() -> None:
    ref = {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
    assert rules.no_literal_secrets(DEPLOYMENT, deployment(env=[ref])) == []


def test_cluster_scoped_objects_need_no_namespace() -> None:
    namespace = {"metadata": {"name": "team"}}
    assert rules.not_in_default_namespace("kubernetes:core/v1:Namespace", namespace) == []


def service(
    service_type: str, node_port: int | None = None, source_ranges: list[str] | None = None
) -> rules.Resource:
    port: dict[str, Any] = {"port": 80} | ({"nodePort": node_port} if node_port else {})
    spec: dict[str, Any] = {"type": service_type, "ports": [port]}
    if source_ranges is not None:
        spec["loadBalancerSourceRanges"] = source_ranges
    return ("kubernetes:core/v1:Service", {"metadata": {"name": "web"}, "spec": spec})


def namespace(cluster_type: str) -> rules.Resource:
    labels = {rules.CLUSTER_TYPE_LABEL: cluster_type}
    return ("kubernetes:core/v1:Namespace", {"metadata": {"name": "team", "labels": labels}})


@pytest.mark.parametrize("cluster_type", [*ClusterType, "openshift"])
def test_load_balancers_only_where_the_cluster_gives_them_an_address(cluster_type: str) -> None:
    """The rule reads the same table as the config check (components/cluster/target.py)."""
    resources = [namespace(cluster_type), service("LoadBalancer"), service("ClusterIP")]
    messages = rules.load_balancers_with_an_address(resources)
    allowed = cluster_type in LOAD_BALANCERS
    assert len(messages) == (0 if allowed else 1)
    assert all("is a LoadBalancer: " in message for message in messages)


@pytest.mark.parametrize(
    ("cluster_type", "service_type", "source_ranges", "flagged"),
    [
        ("cloud", "LoadBalancer", None, "no source ranges"),
        ("cloud", "LoadBalancer", [], "no source ranges"),
        ("cloud", "LoadBalancer", ["0.0.0.0/0"], "source ranges that include 0.0.0.0/0"),
        ("cloud", "LoadBalancer", ["203.0.113.0/24", "::/0"], "source ranges that include ::/0"),
        # Written otherwise by hand, as a Service of another program may be.
        ("cloud", "LoadBalancer", ["10.1.2.3/0"], "source ranges that include 10.1.2.3/0"),
        ("cloud", "LoadBalancer", ["203.0.113.0/24", "2001:db8::/32"], None),
        ("cloud", "NodePort", None, None),
        ("cloud", "ClusterIP", None, None),
        ("kwok", "LoadBalancer", None, None),
        ("minikube", "LoadBalancer", ["0.0.0.0/0"], None),
    ],
)
def test_a_load_balancer_open_to_everyone_is_flagged_on_cloud_only(
    cluster_type: str, service_type: str, source_ranges: list[str] | None, flagged: str | None
) -> None:
    resources = [namespace(cluster_type), service(service_type, source_ranges=source_ranges)]
    messages = rules.load_balancers_open_to_everyone_on_cloud(resources)
    if flagged is None:
        assert messages == []
    else:
        (message,) = messages
        assert message.startswith(f"Service web is a LoadBalancer on a cloud stack with {flagged}:")


def test_single_replica_web_tier_is_flagged_on_cloud_only() -> None:
    web = (DEPLOYMENT, deployment())
    assert len(rules.web_tier_redundant_on_cloud([namespace("cloud"), web])) == 1
    assert rules.web_tier_redundant_on_cloud([namespace("kwok"), web]) == []


def test_fixed_node_ports_are_flagged() -> None:
    assert len(rules.fixed_node_ports(*service("NodePort", 30004))) == 1
    assert rules.fixed_node_ports(*service("NodePort")) == []


def postgres(auth: str) -> rules.Resource:
    env = [{"name": "PGDATA", "value": "/data"}, {"name": rules.HOST_AUTH_VARIABLE, "value": auth}]
    return (DEPLOYMENT, deployment(name="db", env=env))


@pytest.mark.parametrize(
    ("cluster_type", "auth", "violations"),
    [
        ("cloud", "trust", 1),
        ("cloud", "scram-sha-256", 0),
        ("cloud", "md5", 0),
        ("kwok", "trust", 0),
        ("kind", "trust", 0),
    ],
)
def test_trust_auth_is_flagged_on_cloud_only(cluster_type: str, auth: str, violations: int) -> None:
    messages = rules.trust_auth_on_cloud([namespace(cluster_type), postgres(auth)])
    assert len(messages) == violations
    assert all("Set db.clientAuth to scram-sha-256" in message for message in messages)


def workload(name: str, account: str | None, namespace: str = "team") -> rules.Resource:
    pod = {"containers": []} | ({"serviceAccountName": account} if account else {})
    metadata = {"name": name, "namespace": namespace}
    return DEPLOYMENT, {"metadata": metadata, "spec": {"template": {"spec": pod}}}


def test_every_workload_needs_a_service_account_of_its_own() -> None:
    assert rules.own_service_accounts([workload("a", "a"), workload("b", "b")]) == []
    # The same account name in two namespaces is two accounts.
    assert rules.own_service_accounts([workload("a", "x"), workload("b", "x", "other")]) == []
    (unset,) = rules.own_service_accounts([workload("a", None)])
    assert unset.startswith("Deployment a runs as its namespace's default ServiceAccount")
    (default,) = rules.own_service_accounts([workload("a", "default")])
    assert default == unset
    (shared,) = rules.own_service_accounts([workload("a", "x"), workload("b", "x")])
    assert shared.startswith("ServiceAccount x is shared by Deployment a and Deployment b")


def hpa(target: str, low: int, high: int) -> rules.Resource:
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "minReplicas": low,
        "maxReplicas": high,
    }
    return rules.HPA_TYPE, {"metadata": {"name": target, "namespace": "team"}, "spec": spec}


def test_pod_counts_come_from_replicas_or_the_autoscaler() -> None:
    fixed = deployment()
    fixed["spec"]["replicas"] = 3
    scaled = deployment()
    scaled["metadata"]["name"] = "scaled"
    del scaled["spec"]["replicas"]
    counts = rules.pod_counts([(DEPLOYMENT, fixed), (DEPLOYMENT, scaled), hpa("scaled", 2, 6)])
    assert counts == {
        ("team", "Deployment", "app"): (3, 3),
        ("team", "Deployment", "scaled"): (2, 6),
    }


def test_a_replicated_unit_without_spreading_is_flagged() -> None:
    single = deployment()
    assert rules.spread_when_replicated([(DEPLOYMENT, single)]) == []
    unscaled = deployment()
    del unscaled["spec"]["replicas"]
    (flagged,) = rules.spread_when_replicated([(DEPLOYMENT, unscaled), hpa("app", 1, 4)])
    assert flagged.startswith("Deployment app can run 4 pods but has no topologySpreadConstraints")
    unscaled["spec"]["template"]["spec"]["topologySpreadConstraints"] = [
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname"}
    ]
    assert rules.spread_when_replicated([(DEPLOYMENT, unscaled), hpa("app", 1, 4)]) == []


def test_an_autoscaled_web_unit_on_cloud_needs_a_minimum_of_two() -> None:
    web = deployment()
    del web["spec"]["replicas"]
    cloud = namespace("cloud")
    (flagged,) = rules.web_tier_redundant_on_cloud([cloud, (DEPLOYMENT, web), hpa("app", 1, 5)])
    assert flagged == "web Deployment app can run a single replica on a cloud stack"
    assert rules.web_tier_redundant_on_cloud([cloud, (DEPLOYMENT, web), hpa("app", 2, 5)]) == []


# Jobs and CronJobs: their pods are held to every rule a workload's are, and never to the scaling
# ones (a job runs its pods to completion, never a replica count).

CRON_JOB = "kubernetes:batch/v1:CronJob"
JOB = "kubernetes:batch/v1:Job"


def cron_job(**container: Any) -> dict[str, Any]:
    """A compliant CronJob: the deployment's pod (without a port to probe) under a job
    template."""
    pod = deployment(**({"ports": None, "readinessProbe": None} | container))["spec"]["template"]
    pod["spec"]["serviceAccountName"] = "dump"
    return {
        "metadata": {"name": "dump", "namespace": "team"},
        "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": pod}}},
    }


def job(**container: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "dump", "namespace": "team"},
        "spec": cron_job(**container)["spec"]["jobTemplate"]["spec"],
    }


@pytest.mark.parametrize(("kind", "props"), [(CRON_JOB, cron_job), (JOB, job)])
def test_a_compliant_job_passes_every_rule(kind: str, props: Callable[..., dict[str, Any]]) -> None:
    for rule in MANDATORY_RESOURCE_RULES:
        assert rule(kind, props()) == [], rule.__name__
    assert rules.own_service_accounts([(kind, props())]) == []


PRIVILEGED = {"privileged": True, "allowPrivilegeEscalation": True}


@pytest.mark.parametrize(("kind", "props"), [(CRON_JOB, cron_job), (JOB, job)])
@pytest.mark.parametrize(
    ("rule", "container", "expected"),
    [
        (rules.pinned_images, {"image": "postgres"}, "container app: image 'postgres' is not"),
        (rules.pinned_images, {"image": "postgres:latest"}, "is not pinned to a tag or digest"),
        (rules.requests_and_limits, {"resources": None}, "container app: no requests for cpu"),
        (rules.requests_and_limits, {"resources": {"requests": {"cpu": "1"}}}, "no limits"),
        (rules.no_privilege_escalation, {"securityContext": PRIVILEGED}, "container app must"),
        (rules.no_privilege_escalation, {"securityContext": None}, "allowPrivilegeEscalation"),
        (
            rules.no_literal_secrets,
            {"env": [{"name": "PGPASSWORD", "value": "x"}]},
            "env PGPASSWORD looks like a secret",
        ),
        (rules.readiness_probes, {"ports": [{"containerPort": 80}]}, "has no readinessProbe"),
    ],
)
def test_a_job_s_pod_is_held_to_each_rule(
    kind: str,
    props: Callable[..., dict[str, Any]],
    rule: Callable[[str, Mapping[str, Any]], list[str]],
    container: dict[str, Any],
    expected: str,
) -> None:
    messages = rule(kind, props(**container))
    assert messages
    assert any(expected in message for message in messages), messages


@pytest.mark.parametrize(("kind", "props"), [(CRON_JOB, cron_job), (JOB, job)])
def test_a_job_without_an_account_of_its_own_is_refused(
    kind: str, props: Callable[..., dict[str, Any]]
) -> None:
    lone = props()
    pod = lone["spec"]["jobTemplate"]["spec"] if kind == CRON_JOB else lone["spec"]
    del pod["template"]["spec"]["serviceAccountName"]
    name = kind.rsplit(":", 1)[-1]
    (message,) = rules.own_service_accounts([(kind, lone)])
    assert message.startswith(f"{name} dump runs as its namespace's default ServiceAccount")
    (shared,) = rules.own_service_accounts([(kind, props()), workload("app", "dump")])
    assert shared.startswith(f"ServiceAccount dump is shared by {name} dump and Deployment app")


def test_jobs_are_never_counted_as_scalable() -> None:
    resources = [(CRON_JOB, cron_job()), (JOB, job()), namespace("cloud")]
    assert rules.pod_counts(resources) == {}
    assert rules.spread_when_replicated(resources) == []
    assert rules.web_tier_redundant_on_cloud(resources) == []


def test_the_shipped_prod_backups_are_held_to_the_rules_and_pass() -> None:
    resources = stack_resources("prod")
    (backup,) = [props for kind, props in resources if kind == CRON_JOB]
    # The rules see the backup's container (so the pass above is not for want of looking).
    assert [c["name"] for c in rules.containers(CRON_JOB, backup)] == ["db-backup"]
    for rule in MANDATORY_RESOURCE_RULES:
        assert rule(CRON_JOB, backup) == [], rule.__name__
    assert backup["metadata"]["namespace"] == "voting-prod"
    assert {kind for _, kind, _ in rules.pod_counts(resources)} == {"Deployment", "StatefulSet"}
