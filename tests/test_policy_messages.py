"""What each policy rule reports, word for word: the object and container it names, and the way
out it gives (a violation is what `pulumi preview` shows the user)."""

from __future__ import annotations

from typing import Any

from policy import rules

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
NAMESPACE = "kubernetes:core/v1:Namespace"


def deployment(name: str, *containers: dict[str, Any], **pod: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "team"},
        "spec": {"template": {"spec": {"containers": list(containers), **pod}}},
    }


def stack_on(cluster_type: str) -> tuple[str, dict[str, Any]]:
    labels = {"voting-app/cluster-type": cluster_type}
    return NAMESPACE, {"metadata": {"name": "team", "labels": labels}}


def test_a_container_without_a_name_is_named_by_a_question_mark() -> None:
    props = deployment("web", {"image": "example/web:1"})
    assert rules.readiness_probes(DEPLOYMENT, props) == []
    assert rules.no_privilege_escalation(DEPLOYMENT, props) == [
        "container ? must set securityContext.allowPrivilegeEscalation: false"
    ]


def test_init_containers_are_held_to_the_rules_too() -> None:
    props = deployment("web", initContainers=[{"name": "setup", "image": "example/setup:1"}])
    assert rules.no_privilege_escalation(DEPLOYMENT, props) == [
        "container setup must set securityContext.allowPrivilegeEscalation: false"
    ]


def test_a_literal_secret_names_the_variable_and_the_way_out() -> None:
    env = [
        {"name": "DB_PASSWORD", "value": "x"},
        {"value": "no name"},
        {"name": "MODE", "value": "a"},
    ]
    props = deployment("web", {"name": "app", "env": env})
    assert rules.no_literal_secrets(DEPLOYMENT, props) == [
        "container app: env DB_PASSWORD looks like a secret but is a literal value; use"
        " valueFrom.secretKeyRef"
    ]


def test_the_default_namespace_message_names_the_kind_and_object() -> None:
    props = {"metadata": {"name": "settings", "namespace": "default"}}
    assert rules.not_in_default_namespace("kubernetes:core/v1:ConfigMap", props) == [
        "ConfigMap settings would land in the default namespace"
    ]
    assert rules.not_in_default_namespace("kubernetes:core/v1:ConfigMap", {"metadata": {}}) == [
        "ConfigMap None would land in the default namespace"
    ]


def test_a_fixed_node_port_names_the_service_and_why() -> None:
    props = {"metadata": {"name": "vote"}, "spec": {"ports": [{"port": 80, "nodePort": 30006}]}}
    assert rules.fixed_node_ports(SERVICE, props) == [
        "Service vote fixes nodePort 30006: it must be free on every node of the cluster"
    ]


def test_a_load_balancer_without_an_address_names_the_service_and_the_cluster() -> None:
    service = (SERVICE, {"metadata": {"name": "vote"}, "spec": {"type": "LoadBalancer"}})
    assert rules.load_balancers_with_an_address([stack_on("kind"), service]) == [
        "Service vote is a LoadBalancer: a kind cluster gives a LoadBalancer Service no address"
        " (use NodePort); LoadBalancer works on kwok, minikube, docker-desktop, cloud"
    ]
    assert rules.load_balancers_with_an_address([stack_on("mainframe"), service]) == [
        "Service vote is a LoadBalancer: the stack's cluster type 'mainframe' is not one the"
        " project knows"
    ]
    assert rules.load_balancers_with_an_address([stack_on("cloud"), service]) == []


def test_trust_on_cloud_names_the_workload_the_container_and_the_way_out() -> None:
    env = [{"name": "POSTGRES_HOST_AUTH_METHOD", "value": "trust"}]
    db = ("kubernetes:apps/v1:StatefulSet", deployment("db", {"name": "postgres", "env": env}))
    assert rules.trust_auth_on_cloud([stack_on("cloud"), db]) == [
        "StatefulSet db: container postgres trusts every network client"
        " (POSTGRES_HOST_AUTH_METHOD=trust) on a cloud stack; only the NetworkPolicies keep other"
        " pods out. Set db.clientAuth to scram-sha-256 (or md5) together with worker and result"
        " images whose Postgres client sends the password (the stock kodekloud images cannot)"
    ]


def test_service_account_messages_name_the_workloads_and_the_way_out() -> None:
    resources = [
        (DEPLOYMENT, deployment("vote", {"name": "vote"})),
        (DEPLOYMENT, deployment("result", {"name": "result"}, serviceAccountName="web")),
        (DEPLOYMENT, deployment("admin", {"name": "admin"}, serviceAccountName="web")),
    ]
    assert rules.own_service_accounts(resources) == [
        "Deployment vote runs as its namespace's default ServiceAccount; give it one of its own"
        " (no token mounted, no role bound unless it calls the API)",
        "ServiceAccount web is shared by Deployment result and Deployment admin: give each its"
        " own, so a role bound for one never reaches the other",
    ]


def test_a_workload_s_kind_is_the_last_part_of_its_type() -> None:
    resources = [(DEPLOYMENT, {**deployment("vote", {"name": "vote"}), "spec": {"replicas": 3}})]
    assert rules.pod_counts(resources) == {("team", "Deployment", "vote"): (3, 3)}
    assert rules.spread_when_replicated(resources) == [
        "Deployment vote can run 3 pods but has no topologySpreadConstraints: they may all land"
        " on one node (set voting-app:spread)"
    ]


def test_an_empty_namespace_is_the_default_one_and_other_providers_are_not_judged() -> None:
    empty = {"metadata": {"name": "settings", "namespace": ""}}
    assert rules.not_in_default_namespace("kubernetes:core/v1:ConfigMap", empty) == [
        "ConfigMap settings would land in the default namespace"
    ]
    assert rules.not_in_default_namespace("random:index:RandomPet", empty) == []
    assert rules.not_in_default_namespace("unqualified", empty) == []


def test_a_container_missing_both_quantities_is_told_both() -> None:
    props = deployment("web", {"name": "app", "resources": {"limits": {"cpu": "1"}}})
    assert rules.requests_and_limits(DEPLOYMENT, props) == [
        "container app: no requests for cpu, memory",
        "container app: no limits for memory",
    ]


def test_counts_left_out_are_kubernetes_defaults_of_one() -> None:
    hpa = (
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        {
            "metadata": {"namespace": "team"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "vote"}},
        },
    )
    vote = (DEPLOYMENT, deployment("vote", {"name": "vote"}))
    worker = (DEPLOYMENT, deployment("worker", {"name": "worker"}))
    assert rules.pod_counts([hpa, vote, worker]) == {
        ("team", "Deployment", "vote"): (1, 1),
        ("team", "Deployment", "worker"): (1, 1),
    }


def test_two_pods_are_already_enough_to_spread() -> None:
    two = (DEPLOYMENT, {**deployment("vote", {"name": "vote"}), "spec": {"replicas": 2}})
    assert rules.spread_when_replicated([two]) == [
        "Deployment vote can run 2 pods but has no topologySpreadConstraints: they may all land"
        " on one node (set voting-app:spread)"
    ]


def test_an_unpinned_image_is_named_as_written() -> None:
    props = deployment(
        "web", {"name": "app", "image": "example/web"}, {"name": "sidecar", "image": "x:1"}
    )
    props["spec"]["template"]["spec"]["initContainers"] = [{"name": "setup"}]
    assert rules.pinned_images(DEPLOYMENT, props) == [
        "container setup: image None is not pinned to a tag or digest (untagged and :latest are"
        " refused)",
        "container app: image 'example/web' is not pinned to a tag or digest (untagged and"
        " :latest are refused)",
    ]


def load_balancer(name: str, *source_ranges: str) -> tuple[str, dict[str, Any]]:
    spec = {"type": "LoadBalancer", "loadBalancerSourceRanges": list(source_ranges)}
    return SERVICE, {"metadata": {"name": name}, "spec": spec}


def test_every_load_balancer_of_a_cloud_stack_is_judged_after_one_that_is_closed() -> None:
    resources = [
        stack_on("cloud"),
        load_balancer("vote", "203.0.113.0/24"),
        load_balancer("result", "0.0.0.0/0"),
    ]
    assert rules.load_balancers_open_to_everyone_on_cloud(resources) == [
        "Service result is a LoadBalancer on a cloud stack with source ranges that include"
        " 0.0.0.0/0: every address on the internet can connect. Set its unit's"
        " exposure.sourceRanges to the networks that need it (its NetworkPolicy follows)"
    ]


def test_a_source_range_the_rule_cannot_read_is_not_taken_for_every_address() -> None:
    """Kubernetes refuses such a Service itself; the advisory says only what it can read."""
    resources = [stack_on("cloud"), load_balancer("vote", "office", "203.0.113.0/24")]
    assert rules.load_balancers_open_to_everyone_on_cloud(resources) == []
