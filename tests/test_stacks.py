"""The whole stack, built by the real __main__.py from the real stack files (dev and prod)."""

from __future__ import annotations

from typing import Any

import pytest

from components.app.db_clients import KNOWN_DB_CLIENTS
from components.app.traffic import OUTSIDE, TRAFFIC_GRAPH, Edge, traffic_graph
from components.cluster.target import ClusterType, default_context
from tests.mocks import is_secret, plain_strings, unwrap
from tests.program import ProgramRun, shipped_stack
from tests.quantities import millicores, size_bytes
from tests.stack_files import TEST_PASSWORD, stack_values

UNITS = ("vote", "result", "worker", "redis", "db")
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
SERVICE = "kubernetes:core/v1:Service"
SECRET = "kubernetes:core/v1:Secret"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
NAMESPACE = "kubernetes:core/v1:Namespace"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
CRON_JOB = "kubernetes:batch/v1:CronJob"
EXPECTED = {
    "dev": {
        "namespace": "voting-dev",
        "web_exposure": "NodePort",
        "budgets": set(),
        "db_volume": "emptyDir",
        "db_auth": "trust",
        "redis_args": [],
        "redis_claim": None,
        "backup": None,
    },
    "prod": {
        "namespace": "voting-prod",
        "web_exposure": "LoadBalancer",
        "budgets": {"vote", "result", "worker"},
        "db_volume": "persistentVolumeClaim",
        "db_auth": "trust",
        "redis_args": [
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            "/data",
            "--protected-mode",
            "no",
        ],
        "redis_claim": "1Gi",
        "backup": {"schedule": "0 * * * *", "KEEP": "24", "claim": "1Gi", "retained": True},
    },
}


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> tuple[str, ProgramRun]:
    return request.param, shipped_stack(request.param)


def inputs(run: ProgramRun, typ: str) -> dict[str, dict[str, Any]]:
    """Plain inputs of every registered resource of `typ`, by Kubernetes object name."""
    objects = [unwrap(r.inputs) for r in run.mocks.of_type(typ)]
    return {obj["metadata"]["name"]: obj for obj in objects}


def workloads(run: ProgramRun) -> dict[str, dict[str, Any]]:
    """Every unit's workload (a Deployment, or a StatefulSet where the stack says), by name."""
    return inputs(run, DEPLOYMENT) | inputs(run, STATEFUL_SET)


def cron_jobs(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return inputs(run, CRON_JOB)


def pod_owners(run: ProgramRun) -> dict[str, dict[str, Any]]:
    """Every object with a pod template, as {name: {"spec": {"template": ...}}}: the workloads,
    and each CronJob's job template."""
    jobs = {
        name: {"spec": {"template": job["spec"]["jobTemplate"]["spec"]["template"]}}
        for name, job in cron_jobs(run).items()
    }
    return workloads(run) | jobs


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    first: dict[str, Any] = containers[0]
    return first


def test_one_deployment_per_unit(stack: tuple[str, ProgramRun]) -> None:
    _, run = stack
    assert set(workloads(run)) == set(UNITS)


def test_selectors_are_within_template_labels(stack: tuple[str, ProgramRun]) -> None:
    _, run = stack
    for name, deployment in workloads(run).items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector, name
        assert selector.items() <= template_labels.items(), name
        assert template_labels["app.kubernetes.io/name"] == name
        assert template_labels["app.kubernetes.io/part-of"] == "voting-app"
        assert template_labels["app.kubernetes.io/managed-by"] == "pulumi"


def test_every_service_selects_its_unit_and_targets_a_container_port(
    stack: tuple[str, ProgramRun],
) -> None:
    _, run = stack
    deployments = workloads(run)
    for name, service in inputs(run, SERVICE).items():
        selected = [
            deployment
            for deployment in deployments.values()
            if service["spec"]["selector"].items()
            <= deployment["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, f"Service {name} selects {len(selected)} Deployments"
        container_ports = {
            (port["name"], port["containerPort"]) for port in container(selected[0])["ports"]
        }
        for port in service["spec"]["ports"]:
            assert any(port["targetPort"] in pair for pair in container_ports), (name, port)
            assert (port["targetPort"], port["port"]) in container_ports


def test_services_are_named_as_the_apps_dial_and_worker_has_none(
    stack: tuple[str, ProgramRun],
) -> None:
    _, run = stack
    services = inputs(run, SERVICE)
    assert set(services) == {"vote", "result", "redis", "db"}
    assert services["redis"]["spec"]["ports"][0]["port"] == 6379
    assert services["db"]["spec"]["ports"][0]["port"] == 5432
    worker_labels = workloads(run)["worker"]["spec"]["template"]["metadata"]["labels"]
    assert not any(
        service["spec"]["selector"].items() <= worker_labels.items()
        for service in services.values()
    )
    assert run.exports["service_names"] == {
        "vote": "vote",
        "result": "result",
        "redis": "redis",
        "db": "db",
    }


def test_only_result_s_service_is_sticky(stack: tuple[str, ProgramRun]) -> None:
    """result keeps socket.io's sessions in its memory (its stand-in as the real one): a client's
    polls must reach the pod that opened its session, in every stack."""
    _, run = stack
    services = inputs(run, SERVICE)
    affinity = {name: service["spec"].get("sessionAffinity") for name, service in services.items()}
    assert affinity == {"vote": None, "result": "ClientIP", "redis": None, "db": None}


def test_exposure_type_per_stack(stack: tuple[str, ProgramRun]) -> None:
    name, run = stack
    services = inputs(run, SERVICE)
    for web in ("vote", "result"):
        assert services[web]["spec"]["type"] == EXPECTED[name]["web_exposure"]
    for store in ("redis", "db"):
        assert services[store]["spec"]["type"] == "ClusterIP"


def test_exported_urls_follow_the_exposure(stack: tuple[str, ProgramRun]) -> None:
    name, run = stack
    if name == "dev":
        assert run.exports["vote_url"] == "http://localhost:30004"
        assert run.exports["result_url"] == "http://localhost:30005"
    else:
        # The mocks hand each LoadBalancer an address from 203.0.113.0/24.
        assert run.exports["vote_url"].startswith("http://203.0.113.")
        assert run.exports["result_url"].startswith("http://203.0.113.")
        assert run.exports["vote_url"] != run.exports["result_url"]
    assert run.exports["namespace"] == EXPECTED[name]["namespace"]


def test_options_reach_vote(stack: tuple[str, ProgramRun]) -> None:
    name, run = stack
    env = {e["name"]: e.get("value") for e in container(workloads(run)["vote"])["env"]}
    assert env["OPTION_A"] == stack_values(name)["voting-app:optionA"]
    assert env["OPTION_B"] == stack_values(name)["voting-app:optionB"]


def test_password_only_through_secret_key_ref_and_stays_secret(
    stack: tuple[str, ProgramRun],
) -> None:
    _, run = stack
    db_env = {e["name"]: e for e in container(workloads(run)["db"])["env"]}
    for variable, key in (("POSTGRES_PASSWORD", "password"), ("POSTGRES_USER", "username")):
        assert "value" not in db_env[variable]
        assert db_env[variable]["valueFrom"]["secretKeyRef"] == {
            "name": "db-credentials",
            "key": key,
        }
    (secret,) = run.mocks.of_type(SECRET)
    # The whole stringData travels as a secret, so state and previews show it encrypted.
    assert is_secret(secret.inputs["stringData"])
    assert unwrap(secret.inputs["stringData"])["password"] == TEST_PASSWORD
    for resource in run.mocks.registered:
        assert TEST_PASSWORD not in set(plain_strings(resource.inputs)), resource.name
    assert TEST_PASSWORD not in repr(run.exports)


def test_every_container_has_requests_and_limits(stack: tuple[str, ProgramRun]) -> None:
    _, run = stack
    for name, deployment in workloads(run).items():
        resources = container(deployment)["resources"]
        for kind in ("requests", "limits"):
            assert set(resources[kind]) == {"cpu", "memory"}, (name, kind)


def test_every_object_is_in_the_stack_namespace(stack: tuple[str, ProgramRun]) -> None:
    name, run = stack
    namespace = EXPECTED[name]["namespace"]
    assert set(inputs(run, NAMESPACE)) == {namespace}
    kubernetes_objects = [
        r for r in run.mocks.registered if r.typ.startswith("kubernetes:") and r.typ != NAMESPACE
    ]
    assert kubernetes_objects
    for resource in kubernetes_objects:
        if resource.typ.startswith("pulumi:providers:"):
            continue
        assert unwrap(resource.inputs)["metadata"]["namespace"] == namespace, resource.name


def _unit_by_selector(run: ProgramRun, selector: dict[str, str]) -> str:
    """The one unit or job whose pods `selector` selects."""
    (name,) = [name for name, owner in pod_owners(run).items() if _selects(selector, owner)]
    return name


# The shipped graph's policies, written by hand (not derived from TRAFFIC_GRAPH): policy -> the
# peers its rules name and the port each rule opens. DNS is kube-system's kube-dns.
DNS = "dns"
SHIPPED_POLICIES = {
    "vote-ingress": {(OUTSIDE, "TCP", 80)},
    "result-ingress": {(OUTSIDE, "TCP", 80)},
    "redis-ingress": {("vote", "TCP", 6379), ("worker", "TCP", 6379)},
    "db-ingress": {("worker", "TCP", 5432), ("result", "TCP", 5432)},
    "vote-egress": {("redis", "TCP", 6379), (DNS, "UDP", 53), (DNS, "TCP", 53)},
    "worker-egress": {
        ("redis", "TCP", 6379),
        ("db", "TCP", 5432),
        (DNS, "UDP", 53),
        (DNS, "TCP", 53),
    },
    "result-egress": {("db", "TCP", 5432), (DNS, "UDP", 53), (DNS, "TCP", 53)},
}
# prod's backups (db.backup) reach the db, and only the db.
PROD_POLICIES = SHIPPED_POLICIES | {
    "db-ingress": {*SHIPPED_POLICIES["db-ingress"], ("db-backup", "TCP", 5432)},
    "db-backup-egress": {("db", "TCP", 5432), (DNS, "UDP", 53), (DNS, "TCP", 53)},
}


def _peer_name(run: ProgramRun, peer: dict[str, Any]) -> str:
    if "namespaceSelector" in peer:
        assert peer == {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
        return DNS
    assert set(peer) == {"podSelector"}, peer
    return _unit_by_selector(run, peer["podSelector"]["matchLabels"])


def test_network_policy_edges_equal_the_traffic_graph(stack: tuple[str, ProgramRun]) -> None:
    name, run = stack
    policies = inputs(run, NETWORK_POLICY)
    default_deny = policies.pop("default-deny")
    assert default_deny["spec"]["podSelector"] == {}
    assert set(default_deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in default_deny["spec"]
    assert "egress" not in default_deny["spec"]

    ingress_edges: set[Edge] = set()
    egress_edges: set[Edge] = set()
    opened: dict[str, set[tuple[str, str, int]]] = {}
    for policy_name, policy in policies.items():
        unit = _unit_by_selector(run, policy["spec"]["podSelector"]["matchLabels"])
        (direction,) = policy["spec"]["policyTypes"]
        assert policy_name == f"{unit}-{direction.lower()}", (policy_name, direction)
        opened[policy_name] = set()
        for rule in policy["spec"].get("ingress", []):
            peers = [_peer_name(run, peer) for peer in rule.get("from") or []] or [OUTSIDE]
            ingress_edges |= {Edge(peer, unit) for peer in peers}
            opened[policy_name] |= {
                (p, port["protocol"], port["port"]) for p in peers for port in rule["ports"]
            }
        for rule in policy["spec"].get("egress", []):
            peers = [_peer_name(run, peer) for peer in rule["to"]]
            egress_edges |= {Edge(unit, peer) for peer in peers if peer != DNS}
            opened[policy_name] |= {
                (p, port["protocol"], port["port"]) for p in peers for port in rule["ports"]
            }
    assert opened == (PROD_POLICIES if name == "prod" else SHIPPED_POLICIES)
    graph = traffic_graph(backup=EXPECTED[name]["backup"] is not None)
    assert ingress_edges == set(graph)
    assert egress_edges == {edge for edge in graph if edge.source != OUTSIDE}


def fewest_pods(run: ProgramRun, unit: str) -> int:
    """The Deployment's count, or its autoscaler's minimum when it declares none."""
    spec = workloads(run)[unit]["spec"]
    if "replicas" in spec:
        count: int = spec["replicas"]
        return count
    least: int = inputs(run, HPA)[unit]["spec"]["minReplicas"]
    return least


def test_disruption_budgets_only_where_replicas_exceed_one(stack: tuple[str, ProgramRun]) -> None:
    name, run = stack
    budgets = inputs(run, PDB)
    deployments = workloads(run)
    assert set(budgets) == EXPECTED[name]["budgets"]
    for unit in deployments:
        assert (fewest_pods(run, unit) > 1) == (unit in budgets), unit
    for unit, budget in budgets.items():
        assert (
            budget["spec"]["selector"]["matchLabels"]
            == (deployments[unit]["spec"]["selector"]["matchLabels"])
        )


def stops_before_starting(workload: dict[str, Any]) -> bool:
    spec = workload["spec"]
    if "volumeClaimTemplates" in spec or "updateStrategy" in spec:  # a StatefulSet
        return bool(spec["updateStrategy"] == {"type": "RollingUpdate"})
    return bool(spec["strategy"] == {"type": "Recreate"})


def test_update_strategies(stack: tuple[str, ProgramRun]) -> None:
    _, run = stack
    deployments = workloads(run)
    for store in ("db", "redis"):
        # Never two pods on one data volume: Recreate, or a StatefulSet (which stops a pod
        # before it starts its replacement).
        assert stops_before_starting(deployments[store]), store
        assert deployments[store]["spec"]["replicas"] == 1
    for web in ("vote", "result"):
        strategy = deployments[web]["spec"]["strategy"]
        assert strategy["type"] == "RollingUpdate"
        assert strategy["rollingUpdate"]["maxUnavailable"] == 0
        # A replaced web pod drains before SIGTERM, within its grace period (the real node's
        # rollout test shows requests fail without it).
        pod = deployments[web]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        drain = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert 0 < drain < pod["terminationGracePeriodSeconds"]


def test_replicas_or_an_autoscaler_as_the_stack_says(stack: tuple[str, ProgramRun]) -> None:
    name, run = stack
    deployments = workloads(run)
    autoscalers = inputs(run, HPA)
    # By unit (the resources are named <app>-<unit>).
    ignored = {
        name.rsplit("-", 1)[-1]: fields
        for name, fields in run.mocks.ignored_changes(DEPLOYMENT).items()
    }
    for unit in UNITS:
        declared = stack_values(name)[f"voting-app:{unit}"]
        spec = deployments[unit]["spec"]
        if "autoscaling" not in declared:
            assert spec["replicas"] == declared.get("replicas", 1), unit
            assert unit not in autoscalers
            assert unit not in ignored, unit
            continue
        wanted = declared["autoscaling"]
        # Created at the autoscaler's minimum; after that the autoscaler owns the count, which
        # no update sends again.
        assert spec["replicas"] == wanted.get("minReplicas", 1), unit
        assert ignored.get(unit) == ["spec.replicas"], unit
        hpa = autoscalers[unit]["spec"]
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": unit,
        }
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (
            wanted.get("minReplicas", 1),
            wanted["maxReplicas"],
        )
        (metric,) = hpa["metrics"]
        assert metric["resource"] == {
            "name": "cpu",
            "target": {
                "type": "Utilization",
                "averageUtilization": wanted.get("cpuUtilization", 70),
            },
        }
    assert set(autoscalers) == {
        unit for unit in UNITS if "autoscaling" in stack_values(name)[f"voting-app:{unit}"]
    }


def test_db_storage_and_workload_per_stack(stack: tuple[str, ProgramRun]) -> None:
    name, run = stack
    declared = stack_values(name)["voting-app:db"]
    db = workloads(run)["db"]
    volumes = {v["name"]: v for v in db["spec"]["template"]["spec"]["volumes"]}
    claims = {
        claim: spec
        for claim, spec in inputs(run, "kubernetes:core/v1:PersistentVolumeClaim").items()
        if spec["metadata"]["labels"]["app.kubernetes.io/name"] == "db"
    }
    mount = {m["name"] for m in container(db)["volumeMounts"]}
    assert "data" in mount
    if declared.get("workload") == "StatefulSet":
        assert set(inputs(run, STATEFUL_SET)) == {"db"}
        assert "db" not in inputs(run, DEPLOYMENT)
        # The claim comes from the template, one per pod; the pods mount it by its name.
        (template,) = db["spec"]["volumeClaimTemplates"]
        assert template["metadata"]["name"] == "data"
        assert "data" not in volumes
        assert template["spec"]["resources"]["requests"]["storage"] == declared["storage"]["size"]
        assert db["spec"]["persistentVolumeClaimRetentionPolicy"] == {
            "whenDeleted": "Retain",
            "whenScaled": "Retain",
        }
        assert claims == {}
        # Clients still dial the ClusterIP Service named db.
        assert inputs(run, SERVICE)["db"]["spec"]["type"] == "ClusterIP"
        return
    assert EXPECTED[name]["db_volume"] in volumes["data"]
    if EXPECTED[name]["db_volume"] == "persistentVolumeClaim":
        assert set(claims) == {volumes["data"]["persistentVolumeClaim"]["claimName"]}
    else:
        assert claims == {}


def test_redis_keeps_its_queue_where_the_stack_says(stack: tuple[str, ProgramRun]) -> None:
    """prod: an append-only file on the claim redis-data, mounted at /data, where redis writes
    it; dev: the queue in memory, the image's own options, an emptyDir at /data."""
    name, run = stack
    redis = workloads(run)["redis"]
    pod = redis["spec"]["template"]["spec"]
    (data,) = (volume for volume in pod["volumes"] if volume["name"] == "data")
    assert {"name": "data", "mountPath": "/data"} in container(redis)["volumeMounts"]
    assert container(redis).get("args", []) == EXPECTED[name]["redis_args"]
    claims = {
        claim: spec
        for claim, spec in inputs(run, "kubernetes:core/v1:PersistentVolumeClaim").items()
        if spec["metadata"]["labels"]["app.kubernetes.io/name"] == "redis"
    }
    size = EXPECTED[name]["redis_claim"]
    if size is None:
        assert "emptyDir" in data, data
        assert claims == {}
        return
    assert data["persistentVolumeClaim"] == {"claimName": "redis-data"}
    assert claims["redis-data"]["spec"]["resources"]["requests"]["storage"] == size
    # One pod at a time on the claim (ReadWriteOnce): the old pod is gone before a new one starts.
    assert redis["spec"]["strategy"] == {"type": "Recreate"}


def test_db_backups_where_the_stack_says(stack: tuple[str, ProgramRun]) -> None:
    """prod: pg_dump hourly into the claim db-backup-data (kept on destroy, like the db's), the
    newest 24 kept, from the db's own image; dev: no backups."""
    name, run = stack
    wanted = EXPECTED[name]["backup"]
    jobs = cron_jobs(run)
    if wanted is None:
        assert jobs == {}
        return
    job = jobs["db-backup"]
    assert job["spec"]["schedule"] == wanted["schedule"]
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    backup = container(job["spec"]["jobTemplate"])
    assert backup["image"] == container(workloads(run)["db"])["image"]
    env = {e["name"]: e.get("value") for e in backup["env"]}
    assert env["KEEP"] == wanted["KEEP"]
    assert env["PGHOST"] == "db"
    (data,) = (volume for volume in pod["volumes"] if volume["name"] == "data")
    assert data["persistentVolumeClaim"] == {"claimName": "db-backup-data"}
    claims = inputs(run, "kubernetes:core/v1:PersistentVolumeClaim")
    assert claims["db-backup-data"]["spec"]["resources"]["requests"]["storage"] == wanted["claim"]
    retained = {urn.rsplit("::", 1)[1] for urn in run.mocks.retained}
    assert ("voting-app-db-backup-data" in retained) is wanted["retained"], retained


def test_probes_follow_the_health_check_facts(stack: tuple[str, ProgramRun]) -> None:
    _, run = stack
    deployments = workloads(run)
    for web in ("vote", "result"):
        probe = container(deployments[web])["readinessProbe"]
        assert probe["httpGet"] == {"path": "/", "port": "http"}
        assert probe["periodSeconds"] == 15
    assert container(deployments["redis"])["readinessProbe"]["exec"]["command"] == [
        "redis-cli",
        "ping",
    ]
    assert container(deployments["db"])["readinessProbe"]["exec"]["command"][0] == "pg_isready"
    assert "readinessProbe" not in container(deployments["worker"])


def test_every_image_is_pinned_to_a_tag(stack: tuple[str, ProgramRun]) -> None:
    _, run = stack
    for name, deployment in workloads(run).items():
        image = container(deployment)["image"]
        assert ":" in image.rsplit("/", 1)[-1], (name, image)
        assert not image.endswith(":latest"), (name, image)


def test_the_provider_targets_the_named_context(stack: tuple[str, ProgramRun]) -> None:
    """dev names only its cluster type (its context is the type's default), prod its context."""
    name, run = stack
    (provider,) = run.mocks.of_type("pulumi:providers:kubernetes")
    cluster = stack_values(name)["voting-app:cluster"]
    expected = cluster.get("context") or default_context(ClusterType(cluster["type"]))
    assert provider.inputs["context"] == expected
    for resource in run.mocks.registered:
        if resource.custom and resource.typ.startswith("kubernetes:"):
            assert resource.provider is not None, resource.name
            assert "::cluster::" in resource.provider, resource.name


def test_every_object_is_a_child_of_the_components(stack: tuple[str, ProgramRun]) -> None:
    _, run = stack
    kubernetes_urns = [urn for urn in run.mocks.urns if "$kubernetes:" in urn]
    assert len(kubernetes_urns) == len(
        [r for r in run.mocks.registered if r.typ.startswith("kubernetes:")]
    )
    for urn in kubernetes_urns:
        parent_type = urn.split("::")[2].rsplit("$", 1)[0]
        assert parent_type.split("$")[-1] in (
            "voting:index:VotingApp",
            "voting:index:ServiceDeployment",
            "voting:index:ServiceStatefulSet",
            "voting:index:ScheduledJob",
        ), urn


def test_every_object_lets_up_restore_fields_changed_out_of_band(
    stack: tuple[str, ProgramRun],
) -> None:
    _, run = stack
    for resource in run.mocks.registered:
        if resource.custom and resource.typ.startswith("kubernetes:"):
            annotations = unwrap(resource.inputs)["metadata"]["annotations"]
            assert annotations["pulumi.com/patchForce"] == "true", resource.name


def test_every_scan_exception_names_a_check_and_a_reason(stack: tuple[str, ProgramRun]) -> None:
    _, run = stack
    for name, deployment in workloads(run).items():
        skips = {
            key: value
            for key, value in deployment["metadata"]["annotations"].items()
            if key.startswith("checkov.io/skip")
        }
        assert skips, name
        for value in skips.values():
            check, _, reason = value.partition("=")
            assert check.startswith("CKV_K8S_"), (name, value)
            assert len(reason) > 20, (name, value)


def db_auth(run: ProgramRun) -> str:
    env = {e["name"]: e.get("value") for e in container(workloads(run)["db"])["env"]}
    auth: str = env["POSTGRES_HOST_AUTH_METHOD"]
    return auth


def test_the_db_asks_for_what_the_stacks_images_can_do(stack: tuple[str, ProgramRun]) -> None:
    name, run = stack
    auth = db_auth(run)
    assert auth == EXPECTED[name]["db_auth"]
    # The same method in the pg_hba.conf the server reads on every start.
    (config_map,) = inputs(run, "kubernetes:core/v1:ConfigMap").values()
    assert config_map["data"]["pg_hba.conf"].endswith(
        f"host    all       all   all           {auth}\n"
    )
    deployments = workloads(run)
    clients = {edge.source for edge in TRAFFIC_GRAPH if edge.target == "db"}
    assert clients == {"worker", "result"}
    for client in clients:
        image = container(deployments[client])["image"]
        assert image in KNOWN_DB_CLIENTS, image
        assert auth in KNOWN_DB_CLIENTS[image].can_use, (client, image, auth)


def _selects(selector: dict[str, str], deployment: dict[str, Any]) -> bool:
    return selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_a_trusting_db_is_reached_only_along_the_traffic_graph(
    stack: tuple[str, ProgramRun],
) -> None:
    name, run = stack
    assert db_auth(run) == "trust"
    deployments = pod_owners(run)
    db = deployments["db"]
    policies = inputs(run, NETWORK_POLICY)
    assert policies["default-deny"]["spec"]["podSelector"] == {}
    on_db = {
        name: policy
        for name, policy in policies.items()
        if _selects(policy["spec"]["podSelector"].get("matchLabels", {}), db)
    }
    assert set(on_db) == {"default-deny", "db-ingress"}
    sources: set[str] = set()
    for rule in on_db["db-ingress"]["spec"]["ingress"]:
        assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]
        assert rule.get("from"), "a rule without `from` would admit every source"
        for peer in rule["from"]:
            assert set(peer) == {"podSelector"}, "no namespace or IP block peers"
            sources |= {
                unit
                for unit, deployment in deployments.items()
                if _selects(peer["podSelector"]["matchLabels"], deployment)
            }
    backups = EXPECTED[name]["backup"] is not None
    assert sources == {"worker", "result"} | ({"db-backup"} if backups else set())
    graph = traffic_graph(backup=backups)
    assert sources == {edge.source for edge in graph if edge.target == "db"}
    assert inputs(run, SERVICE)["db"]["spec"]["type"] == "ClusterIP"


def test_the_db_gets_time_for_its_first_start(stack: tuple[str, ProgramRun]) -> None:
    _, run = stack
    db = container(workloads(run)["db"])
    startup = db["startupProbe"]
    assert startup["exec"]["command"][0] == "pg_isready"
    # initdb and the image's socket-only setup server run before postgres listens on TCP.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60
    assert db["livenessProbe"]["initialDelaySeconds"] < 30


# Facts of the images, not of our code (docs/images.md): each of these
# writes to /tmp, so on a read-only root each needs an emptyDir there.
WRITABLE_TMP = {
    "vote": "gunicorn's worker heartbeat files",
    "worker": "CoreCLR's IPC and debugger files",
    "result": "node's temporary files",
    "db": "postgres' and its entrypoint's temporary files",
}


def test_units_that_write_tmp_keep_a_writable_tmp(stack: tuple[str, ProgramRun]) -> None:
    _, run = stack
    deployments = workloads(run)
    for unit, why in WRITABLE_TMP.items():
        pod = deployments[unit]["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container(deployments[unit])["volumeMounts"]}
        assert "/tmp" in mounts, f"{unit} needs a writable /tmp for {why}"
        assert "emptyDir" in volumes[mounts["/tmp"]], unit
        assert container(deployments[unit])["securityContext"]["readOnlyRootFilesystem"] is True


def has_claim(workload: dict[str, Any]) -> bool:
    volumes = workload["spec"]["template"]["spec"].get("volumes", [])
    templates = workload["spec"].get("volumeClaimTemplates")
    return bool(templates) or any("persistentVolumeClaim" in volume for volume in volumes)


def test_only_pods_with_a_claim_skip_the_recursive_chown(stack: tuple[str, ProgramRun]) -> None:
    name, run = stack
    deployments = workloads(run)
    for unit, deployment in deployments.items():
        policy = deployment["spec"]["template"]["spec"]["securityContext"].get(
            "fsGroupChangePolicy"
        )
        assert policy == ("OnRootMismatch" if has_claim(deployment) else None), unit
    assert has_claim(deployments["db"]) is (name == "prod")


def test_every_unit_runs_as_its_own_account_without_api_access(
    stack: tuple[str, ProgramRun],
) -> None:
    _, run = stack
    accounts = inputs(run, "kubernetes:core/v1:ServiceAccount")
    assert set(accounts) == set(UNITS) | set(cron_jobs(run))
    for name, account in accounts.items():
        assert account["automountServiceAccountToken"] is False, name
        pod = pod_owners(run)[name]["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == name
        assert pod["automountServiceAccountToken"] is False, name
    # Nothing grants any of them a permission.
    assert not [r.typ for r in run.mocks.registered if "rbac.authorization.k8s.io" in r.typ]


def test_units_that_can_run_several_pods_spread_as_the_stack_says(
    stack: tuple[str, ProgramRun],
) -> None:
    name, run = stack
    declared = stack_values(name).get("voting-app:spread", {})
    wanted = {
        ("kubernetes.io/hostname", declared.get("hostname", "ScheduleAnyway")),
        ("topology.kubernetes.io/zone", declared.get("zone", "Off")),
    }
    wanted = {(key, when) for key, when in wanted if when != "Off"}
    for unit, deployment in workloads(run).items():
        autoscaler = inputs(run, HPA).get(unit)
        most = autoscaler["spec"]["maxReplicas"] if autoscaler else deployment["spec"]["replicas"]
        constraints = deployment["spec"]["template"]["spec"].get("topologySpreadConstraints")
        if most < 2:
            assert constraints is None, unit
            continue
        assert {(c["topologyKey"], c["whenUnsatisfiable"]) for c in constraints} == wanted, unit
        for constraint in constraints:
            assert (
                constraint["labelSelector"]["matchLabels"]
                == (deployment["spec"]["selector"]["matchLabels"])
            )


def test_the_quota_is_every_unit_at_its_most_at_once(stack: tuple[str, ProgramRun]) -> None:
    """Recomputed here from the rendered workloads and autoscalers: a Recreate unit
    charges its most pods, a rolling one that plus the surge plus its old pods terminating."""
    _, run = stack
    pods = 0
    wanted = {"requests.cpu": 0.0, "requests.memory": 0.0, "limits.cpu": 0.0, "limits.memory": 0.0}
    for unit, deployment in workloads(run).items():
        autoscaler = inputs(run, HPA).get(unit)
        most = autoscaler["spec"]["maxReplicas"] if autoscaler else deployment["spec"]["replicas"]
        at_once = most
        if not stops_before_starting(deployment):
            at_once = 2 * most + deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
        pods += at_once
        resources = container(deployment)["resources"]
        for kind in ("requests", "limits"):
            wanted[f"{kind}.cpu"] += at_once * millicores(resources[kind]["cpu"])
            wanted[f"{kind}.memory"] += at_once * size_bytes(resources[kind]["memory"])
    # A scheduled job: one scheduled run (never two at once) and one run by hand beside it.
    for job in cron_jobs(run).values():
        assert job["spec"]["concurrencyPolicy"] == "Forbid"
        pods += 2
        resources = container(job["spec"]["jobTemplate"])["resources"]
        for kind in ("requests", "limits"):
            wanted[f"{kind}.cpu"] += 2 * millicores(resources[kind]["cpu"])
            wanted[f"{kind}.memory"] += 2 * size_bytes(resources[kind]["memory"])
    (quota,) = inputs(run, "kubernetes:core/v1:ResourceQuota").values()
    hard = quota["spec"]["hard"]
    assert int(hard["pods"]) == pods
    for key, value in wanted.items():
        parse = millicores if key.endswith("cpu") else size_bytes
        assert parse(hard[key]) == value, key
    # Pods and compute only: a claim quota would hold a move of db to a StatefulSet.
    assert set(hard) == {"pods", *wanted}


def test_the_limit_range_is_bounded_by_the_units(stack: tuple[str, ProgramRun]) -> None:
    _, run = stack
    (limit_range,) = inputs(run, "kubernetes:core/v1:LimitRange").values()
    (item,) = limit_range["spec"]["limits"]
    assert item["type"] == "Container"
    every = [container(d)["resources"] for d in pod_owners(run).values()]
    for resource, parse in (("cpu", millicores), ("memory", size_bytes)):
        limits = [parse(r["limits"][resource]) for r in every]
        requests = [parse(r["requests"][resource]) for r in every]
        assert parse(item["max"][resource]) == max(limits), resource
        assert parse(item["default"][resource]) == min(limits), resource
        assert parse(item["defaultRequest"][resource]) == min(requests), resource
