"""ServiceDeployment on its own: one labels dict, ports that line up, every option rendered."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pytest

from components.units.rollout_await import rollout_await
from components.units.service_deployment import ServiceDeployment, ServiceDeploymentArgs
from components.units.service_stateful_set import ServiceStatefulSet
from components.units.specs import (
    Autoscaling,
    ClaimVolume,
    ComputeQuantities,
    ConfigMapVolume,
    ContainerPort,
    EmptyDirVolume,
    EnvSpec,
    Exec,
    Exposure,
    ExposureType,
    HttpGet,
    Probe,
    PullPolicy,
    Recreate,
    Resources,
    SecretKeyRef,
    SecurityProfile,
    ServiceAwait,
    Shutdown,
    Spread,
    TcpSocket,
    WhenUnsatisfiable,
)
from tests.mocks import VotingMocks, run_with_mocks, unwrap

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
CLAIM = "kubernetes:core/v1:PersistentVolumeClaim"
ACCOUNT = "kubernetes:core/v1:ServiceAccount"
PORT = ContainerPort(number=8080, name="web")


def web_args(**overrides: Any) -> ServiceDeploymentArgs:
    base: dict[str, Any] = {
        "namespace": "team-a",
        "image": "example/web:1.2.3",
        "role": "web",
        "instance": "team-a",
        "port": PORT,
        "replicas": 2,
        "readiness_probe": Probe(check=HttpGet("/healthz")),
        "liveness_probe": Probe(check=TcpSocket(), failure_threshold=5),
    }
    return ServiceDeploymentArgs(**(base | overrides))


def build(args: ServiceDeploymentArgs, name: str = "web") -> tuple[VotingMocks, dict[str, Any]]:
    outputs: dict[str, Any] = {}

    def program() -> pulumi.Output[None]:
        unit = ServiceDeployment(name, args)
        outputs["labels"] = unit.labels
        outputs["selector"] = unit.selector
        outputs["has_service"] = unit.service is not None
        service_name = unit.service_name or pulumi.Output.from_input(None)
        url = unit.url or pulumi.Output.from_input(None)
        return pulumi.Output.all(service_name, url).apply(
            lambda values: outputs.update(service_name=values[0], url=values[1])
        )

    return run_with_mocks(program), outputs


def deployment_of(mocks: VotingMocks) -> dict[str, Any]:
    (deployment,) = mocks.of_type(DEPLOYMENT)
    plain: dict[str, Any] = unwrap(deployment.inputs)
    return plain


def container_of(mocks: VotingMocks) -> dict[str, Any]:
    (container,) = deployment_of(mocks)["spec"]["template"]["spec"]["containers"]
    plain: dict[str, Any] = container
    return plain


def test_one_labels_dict_feeds_every_selector() -> None:
    mocks, outputs = build(web_args())
    deployment = deployment_of(mocks)
    (service,) = (unwrap(s.inputs) for s in mocks.of_type(SERVICE))
    labels = outputs["labels"]
    assert deployment["metadata"]["labels"] == labels
    assert deployment["spec"]["template"]["metadata"]["labels"] == labels
    assert deployment["spec"]["selector"]["matchLabels"] == outputs["selector"]
    assert service["spec"]["selector"] == outputs["selector"]
    assert outputs["selector"].items() <= labels.items()
    # Only labels that never change are in the (immutable) selector.
    assert set(outputs["selector"]) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}
    assert labels == {
        "app.kubernetes.io/name": "web",
        "app.kubernetes.io/instance": "team-a",
        "app.kubernetes.io/component": "web",
        "app.kubernetes.io/part-of": "voting-app",
        "app.kubernetes.io/managed-by": "pulumi",
    }


def test_service_target_port_is_the_named_container_port() -> None:
    mocks, outputs = build(web_args())
    (service,) = (unwrap(s.inputs) for s in mocks.of_type(SERVICE))
    assert container_of(mocks)["ports"] == [
        {"name": "web", "containerPort": 8080, "protocol": "TCP"}
    ]
    assert service["spec"]["ports"] == [
        {"name": "web", "port": 8080, "targetPort": "web", "protocol": "TCP"}
    ]
    assert service["spec"]["type"] == "ClusterIP"
    assert outputs["service_name"] == "web"


def test_service_name_can_differ_from_the_unit_name() -> None:
    mocks, outputs = build(web_args(service_name="frontend"))
    (service,) = mocks.of_type(SERVICE)
    assert service.inputs["metadata"]["name"] == "frontend"
    assert outputs["service_name"] == "frontend"


def test_node_port_and_load_balancer_exposure() -> None:
    exposure = Exposure(ExposureType.NODE_PORT, node_port=30123, node_address="node-1.lan")
    mocks, outputs = build(web_args(exposure=exposure))
    (service,) = mocks.of_type(SERVICE)
    assert service.inputs["spec"]["type"] == "NodePort"
    assert service.inputs["spec"]["ports"][0]["nodePort"] == 30123
    # The unit says where it answers: its node address and node port.
    assert outputs["url"] == "http://node-1.lan:30123"

    mocks, _ = build(web_args(exposure=Exposure(ExposureType.LOAD_BALANCER)))
    (service,) = mocks.of_type(SERVICE)
    assert service.inputs["spec"]["type"] == "LoadBalancer"
    assert "nodePort" not in service.inputs["spec"]["ports"][0]


AWAIT_ANNOTATIONS = ("pulumi.com/skipAwait", "pulumi.com/waitFor")


@pytest.mark.parametrize(
    ("exposure", "service_await", "annotations"),
    [
        # The provider's own Service await: no annotation of ours.
        (ExposureType.CLUSTER_IP, ServiceAwait.ENDPOINTS, {}),
        (ExposureType.LOAD_BALANCER, ServiceAwait.ENDPOINTS, {}),
        (ExposureType.CLUSTER_IP, ServiceAwait.ADDRESS, {"pulumi.com/skipAwait": "true"}),
        (ExposureType.NODE_PORT, ServiceAwait.ADDRESS, {"pulumi.com/skipAwait": "true"}),
        (
            ExposureType.LOAD_BALANCER,
            ServiceAwait.ADDRESS,
            {"pulumi.com/waitFor": "jsonpath={.status.loadBalancer.ingress}"},
        ),
    ],
)
def test_the_service_await_is_the_provider_s_unless_told_to_wait_for_less(
    exposure: ExposureType, service_await: ServiceAwait, annotations: dict[str, str]
) -> None:
    mocks, _ = build(web_args(exposure=Exposure(exposure), service_await=service_await))
    (service,) = mocks.of_type(SERVICE)
    found = service.inputs["metadata"]["annotations"]
    assert {key: found[key] for key in AWAIT_ANNOTATIONS if key in found} == annotations
    # The workload's own wait (its rollout, tests/test_rollout_await.py) is the same either way.
    workload = deployment_of(mocks)["metadata"]["annotations"]
    assert {key: workload[key] for key in AWAIT_ANNOTATIONS if key in workload} == rollout_await(
        "Deployment"
    )


def test_a_cluster_ip_unit_answers_at_its_service_dns_name() -> None:
    _, outputs = build(web_args(exposure=Exposure(ExposureType.CLUSTER_IP)), name="api")
    assert outputs["url"] == "http://api.team-a.svc.cluster.local:8080"


def test_no_port_and_no_exposure_means_no_service() -> None:
    args = web_args(
        port=None, readiness_probe=None, liveness_probe=None, exposure=Exposure(ExposureType.NONE)
    )
    mocks, outputs = build(args, name="worker")
    assert mocks.of_type(SERVICE) == []
    assert outputs["has_service"] is False
    assert outputs["service_name"] is None
    assert "ports" not in container_of(mocks)


def test_probes_resources_env_and_strategy_are_rendered() -> None:
    args = web_args(
        env=EnvSpec(
            plain={"MODE": "fast"},
            from_secrets={"TOKEN": SecretKeyRef(secret_name="creds", key="token")},
        ),
        resources=Resources(
            requests=ComputeQuantities(cpu="10m", memory="16Mi"),
            limits=ComputeQuantities(cpu="100m", memory="32Mi"),
        ),
        update_strategy=Recreate(),
    )
    mocks, _ = build(args)
    container = container_of(mocks)
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "web"}
    assert container["livenessProbe"]["tcpSocket"] == {"port": "web"}
    assert container["livenessProbe"]["failureThreshold"] == 5
    assert container["resources"] == {
        "requests": {"cpu": "10m", "memory": "16Mi"},
        "limits": {"cpu": "100m", "memory": "32Mi"},
    }
    assert container["env"] == [
        {"name": "MODE", "value": "fast"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
    ]
    assert deployment_of(mocks)["spec"]["strategy"] == {"type": "Recreate"}


def test_default_strategy_never_drops_below_the_desired_count() -> None:
    mocks, _ = build(web_args())
    strategy = deployment_of(mocks)["spec"]["strategy"]
    assert strategy == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert deployment_of(mocks)["spec"]["replicas"] == 2


def test_exec_probe_needs_no_port() -> None:
    args = web_args(
        port=None,
        exposure=Exposure(ExposureType.NONE),
        readiness_probe=Probe(check=Exec(("check", "--ready"))),
        liveness_probe=None,
    )
    mocks, _ = build(args)
    assert container_of(mocks)["readinessProbe"]["exec"] == {"command": ["check", "--ready"]}


def test_claim_volume_creates_the_claim_it_mounts() -> None:
    args = web_args(
        volumes=(
            ClaimVolume(name="data", mount_path="/data", size="5Gi", storage_class="fast"),
            EmptyDirVolume(name="tmp", mount_path="/tmp", size_limit="8Mi"),
        )
    )
    mocks, outputs = build(args, name="store")
    (claim,) = (unwrap(c.inputs) for c in mocks.of_type(CLAIM))
    assert claim["metadata"]["name"] == "store-data"
    assert claim["metadata"]["namespace"] == "team-a"
    assert claim["metadata"]["labels"] == outputs["labels"]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast",
        "resources": {"requests": {"storage": "5Gi"}},
    }
    pod = deployment_of(mocks)["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "store-data"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "8Mi"}},
    ]
    assert container_of(mocks)["volumeMounts"] == [
        {"name": "data", "mountPath": "/data"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    # A claim is chowned to fsGroup only when its root does not match, not on every start.
    assert pod["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"


def test_pods_without_a_claim_keep_the_default_fs_group_change_policy() -> None:
    args = web_args(volumes=(EmptyDirVolume(name="tmp", mount_path="/tmp"),))
    mocks, _ = build(args)
    assert (
        "fsGroupChangePolicy"
        not in deployment_of(mocks)["spec"]["template"]["spec"]["securityContext"]
    )


def test_config_map_volumes_mount_read_only_with_their_items() -> None:
    args = web_args(
        volumes=(
            ConfigMapVolume(name="conf", mount_path="/etc/app", config_map="app-conf"),
            ConfigMapVolume(
                name="init", mount_path="/init", config_map="app-conf", items={"a.sql": "1.sql"}
            ),
        )
    )
    mocks, _ = build(args)
    assert deployment_of(mocks)["spec"]["template"]["spec"]["volumes"] == [
        {"name": "conf", "configMap": {"name": "app-conf"}},
        {
            "name": "init",
            "configMap": {"name": "app-conf", "items": [{"key": "a.sql", "path": "1.sql"}]},
        },
    ]
    assert container_of(mocks)["volumeMounts"] == [
        {"name": "conf", "mountPath": "/etc/app", "readOnly": True},
        {"name": "init", "mountPath": "/init", "readOnly": True},
    ]


def test_args_and_startup_probe_are_rendered() -> None:
    startup = Probe(check=Exec(("ready",)), initial_delay_seconds=0, period_seconds=2)
    mocks, _ = build(web_args(args=("serve", "--fast"), startup_probe=startup))
    container = container_of(mocks)
    assert container["args"] == ["serve", "--fast"]
    assert container["startupProbe"] == {
        "exec": {"command": ["ready"]},
        "initialDelaySeconds": 0,
        "periodSeconds": 2,
        "timeoutSeconds": 3,
        "failureThreshold": 3,
    }


def test_no_args_and_no_startup_probe_by_default() -> None:
    mocks, _ = build(web_args())
    assert "args" not in container_of(mocks)
    assert "startupProbe" not in container_of(mocks)


def test_by_default_a_pod_stops_at_once_with_kubernetes_grace() -> None:
    mocks, _ = build(web_args())
    assert deployment_of(mocks)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    assert "lifecycle" not in container_of(mocks)


def test_a_drain_keeps_the_container_serving_before_sigterm() -> None:
    mocks, _ = build(web_args(shutdown=Shutdown(drain_seconds=7, grace_seconds=40)))
    assert deployment_of(mocks)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 40
    # The kubelet's own sleep action: nothing is run inside the image.
    assert container_of(mocks)["lifecycle"] == {"preStop": {"sleep": {"seconds": 7}}}


def test_security_context_is_locked_down() -> None:
    args = web_args(
        security=SecurityProfile(
            run_as_user=999, run_as_group=999, fs_group=999, run_as_non_root=True
        )
    )
    mocks, _ = build(args)
    pod = deployment_of(mocks)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"] == {
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsUser": 999,
        "runAsGroup": 999,
        "fsGroup": 999,
        "runAsNonRoot": True,
    }
    assert container_of(mocks)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"replicas": 0}, "replicas is 0"),
        (
            {"port": None, "readiness_probe": None, "liveness_probe": None},
            "exposure ClusterIP needs a port",
        ),
        (
            {"exposure": Exposure(ExposureType.LOAD_BALANCER, node_port=30001)},
            "only with type NodePort",
        ),
        (
            {"port": None, "exposure": Exposure(ExposureType.NONE), "liveness_probe": None},
            "HTTP and TCP probes need a port",
        ),
        (
            {
                "port": None,
                "exposure": Exposure(ExposureType.NONE),
                "readiness_probe": None,
                "liveness_probe": None,
                "startup_probe": Probe(check=HttpGet("/")),
            },
            "HTTP and TCP probes need a port",
        ),
        ({"shutdown": Shutdown(drain_seconds=-1)}, "drain_seconds is -1; it must be >= 0"),
        ({"replicas": Autoscaling(3, 2)}, "min_replicas 3 and max_replicas 2"),
        ({"replicas": Autoscaling(0, 2)}, "min_replicas 0 and max_replicas 2"),
        ({"replicas": Autoscaling(1, 2, cpu_utilization=0)}, "cpu_utilization is 0"),
        ({"replicas": Autoscaling(1, 2, cpu_utilization=101)}, "cpu_utilization is 101"),
        (
            {"replicas": Autoscaling(1, 2, scale_down_stabilization_seconds=-5)},
            "scale_down_stabilization_seconds is -5",
        ),
        ({"spread": Spread(max_skew=0)}, "spread max_skew is 0"),
        (
            {"shutdown": Shutdown(drain_seconds=30, grace_seconds=30)},
            "grace_seconds 30 must be more than drain_seconds 30",
        ),
        (
            {
                "port": None,
                "exposure": Exposure(ExposureType.NONE, sticky_sessions=True),
                "readiness_probe": None,
                "liveness_probe": None,
            },
            "sticky_sessions with exposure None: there is no Service to make sticky",
        ),
    ],
)
def test_impossible_args_are_refused_before_registration(
    overrides: dict[str, Any], message: str
) -> None:
    mocks = VotingMocks()
    with pytest.raises(ValueError, match=message):
        run_with_mocks(lambda: ServiceDeployment("web", web_args(**overrides)), mocks=mocks)
    assert mocks.registered == []


def test_component_type_token_and_parenting() -> None:
    mocks, _ = build(web_args())
    (component,) = mocks.of_type("voting:index:ServiceDeployment")
    assert component.custom is False
    children = [r for r in mocks.registered if r.typ.startswith("kubernetes:")]
    assert {r.typ for r in children} == {DEPLOYMENT, SERVICE, ACCOUNT}
    child_urns = [urn for urn in mocks.urns if "kubernetes:" in urn]
    assert len(child_urns) == 3
    for urn in child_urns:
        assert "::voting:index:ServiceDeployment$kubernetes:" in urn


def test_scan_exceptions_become_checkov_skip_annotations() -> None:
    mocks, _ = build(web_args(scan_exceptions={"CKV_K8S_43": "pinned by tag", "CKV_K8S_8": "x"}))
    annotations = deployment_of(mocks)["metadata"]["annotations"]
    assert annotations["checkov.io/skip1"] == "CKV_K8S_43=pinned by tag"
    assert annotations["checkov.io/skip2"] == "CKV_K8S_8=x"
    assert annotations["pulumi.com/patchForce"] == "true"


@pytest.mark.parametrize(
    ("policy", "image", "rendered"),
    [
        (None, "example/web:1.2.3", "IfNotPresent"),
        (None, "example/web", "Always"),
        (PullPolicy.ALWAYS, "example/web:1.2.3", "Always"),
        (PullPolicy.NEVER, "example/web:1.2.3", "Never"),
    ],
)
def test_the_pull_policy_is_kubernetes_default_unless_set(
    policy: PullPolicy | None, image: str, rendered: str
) -> None:
    mocks, _ = build(web_args(image=image, image_pull_policy=policy))
    assert container_of(mocks)["imagePullPolicy"] == rendered


def test_the_component_name_is_pulumi_s_and_the_object_name_kubernetes() -> None:
    mocks, outputs = build(web_args(object_name="web"), name="team-a-web")
    for typ in (DEPLOYMENT, SERVICE, ACCOUNT):
        (resource,) = mocks.of_type(typ)
        assert resource.name.startswith("team-a-web"), (typ, resource.name)
        assert unwrap(resource.inputs)["metadata"]["name"] == "web", typ
    assert outputs["labels"]["app.kubernetes.io/name"] == "web"
    assert container_of(mocks)["name"] == "web"


def test_a_scan_exception_without_a_reason_is_refused() -> None:
    mocks = VotingMocks()
    with pytest.raises(ValueError, match="needs a written reason"):
        run_with_mocks(
            lambda: ServiceDeployment("web", web_args(scan_exceptions={"CKV_K8S_43": " "})),
            mocks=mocks,
        )
    assert mocks.registered == []


def test_the_unit_runs_as_its_own_service_account() -> None:
    mocks, outputs = build(web_args())
    (account,) = (unwrap(a.inputs) for a in mocks.of_type(ACCOUNT))
    assert account["metadata"]["name"] == "web"
    assert account["metadata"]["labels"] == outputs["labels"]
    assert account["automountServiceAccountToken"] is False
    pod = deployment_of(mocks)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "web"
    assert pod["automountServiceAccountToken"] is False


HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


def test_a_fixed_count_is_sent_on_every_update() -> None:
    mocks, _ = build(web_args(replicas=4))
    assert deployment_of(mocks)["spec"]["replicas"] == 4
    assert mocks.ignored == {}


def test_autoscaling_hands_the_count_to_an_autoscaler() -> None:
    mocks, outputs = build(web_args(replicas=Autoscaling(2, 7, 55, 60)))
    spec = deployment_of(mocks)["spec"]
    # Created at the autoscaler's minimum, and the count never sent again after that.
    assert spec["replicas"] == 2
    assert mocks.ignored_changes(DEPLOYMENT) == {"web": ["spec.replicas"]}
    (hpa,) = (unwrap(h.inputs) for h in mocks.of_type(HPA))
    assert hpa["metadata"]["name"] == "web"
    assert hpa["metadata"]["labels"] == outputs["labels"]
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2,
        "maxReplicas": 7,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 55},
                },
            }
        ],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
    }
    mocks, _ = build(web_args(replicas=4))
    assert deployment_of(mocks)["spec"]["replicas"] == 4
    assert mocks.of_type(HPA) == []


def test_pods_spread_only_when_there_can_be_more_than_one() -> None:
    def constraints(**overrides: Any) -> Any:
        mocks, _ = build(web_args(**overrides))
        return deployment_of(mocks)["spec"]["template"]["spec"].get("topologySpreadConstraints")

    assert constraints(replicas=1) is None
    assert constraints(replicas=Autoscaling(1, 1)) is None
    (soft,) = constraints(replicas=2)
    assert soft == {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "web",
                "app.kubernetes.io/instance": "team-a",
            }
        },
        # Each rollout's pods spread among themselves; tainted nodes are not counted.
        "matchLabelKeys": ["pod-template-hash"],
        "nodeTaintsPolicy": "Honor",
    }
    hard = Spread(
        hostname=WhenUnsatisfiable.DO_NOT_SCHEDULE,
        zone=WhenUnsatisfiable.SCHEDULE_ANYWAY,
        max_skew=2,
    )
    host, zone = constraints(replicas=Autoscaling(1, 3), spread=hard)
    assert (host["topologyKey"], host["whenUnsatisfiable"], host["maxSkew"]) == (
        "kubernetes.io/hostname",
        "DoNotSchedule",
        2,
    )
    assert (zone["topologyKey"], zone["whenUnsatisfiable"]) == (
        "topology.kubernetes.io/zone",
        "ScheduleAnyway",
    )
    assert constraints(replicas=3, spread=Spread(hostname=None)) is None


# A claim of the unit: kept on delete exactly when its volume says so, and waiting, like every
# object of the unit, for what the unit depends on.


@pytest.mark.parametrize("retained", [True, False])
def test_a_claim_is_kept_on_delete_exactly_when_its_volume_says(retained: bool) -> None:
    volume = ClaimVolume(name="data", mount_path="/data", retain_on_delete=retained)
    mocks, _ = build(web_args(volumes=(volume,), update_strategy=Recreate()), name="store")
    (claim,) = (urn for urn in mocks.urns if CLAIM in urn)
    assert claim.endswith("ServiceDeployment$kubernetes:core/v1:PersistentVolumeClaim::store-data")
    assert (claim in mocks.retained) is retained
    assert mocks.retained <= {claim}


def test_every_object_of_the_unit_waits_for_what_the_unit_depends_on() -> None:
    def program() -> None:
        first = pulumi.CustomResource("test:index:Thing", "first")
        args = web_args(
            volumes=(ClaimVolume(name="data", mount_path="/data"),),
            update_strategy=Recreate(),
            replicas=Autoscaling(min_replicas=1, max_replicas=3),
        )
        ServiceDeployment("store", args, pulumi.ResourceOptions(depends_on=[first]))

    mocks = run_with_mocks(program)
    (first,) = (urn for urn in mocks.urns if urn.endswith("::first"))
    children = [urn for urn in mocks.urns if "ServiceDeployment$kubernetes:" in urn]
    assert {urn.split("$")[-1].split("::")[0] for urn in children} == {
        DEPLOYMENT,
        SERVICE,
        ACCOUNT,
        CLAIM,
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    }
    for urn in children:
        assert first in mocks.dependencies[urn], urn


# The unit's identity across workload kinds, the Deployment's wait for its claims, and the
# component's outputs.


@pytest.mark.parametrize(
    ("component", "other"),
    [
        (ServiceDeployment, "voting:index:ServiceStatefulSet"),
        (ServiceStatefulSet, "voting:index:ServiceDeployment"),
    ],
)
def test_a_unit_answers_to_the_other_workload_kind_s_type(
    component: type[ServiceDeployment] | type[ServiceStatefulSet], other: str
) -> None:
    mocks = run_with_mocks(lambda: component("store", web_args(update_strategy=Recreate())))
    (urn,) = (u for u in mocks.urns if u.endswith(f"{component.__name__}::store"))
    # db moves between the two kinds: its Service and ServiceAccount keep their identity.
    assert mocks.alias_types[urn] == [other]


def test_the_deployment_waits_for_its_claims() -> None:
    args = web_args(
        volumes=(ClaimVolume(name="data", mount_path="/data"),), update_strategy=Recreate()
    )
    mocks, _ = build(args, name="store")
    (deployment,) = (u for u in mocks.urns if DEPLOYMENT in u)
    (claim,) = (u for u in mocks.urns if CLAIM in u)
    assert claim in mocks.dependencies[deployment]


def test_the_component_s_outputs_name_its_deployment_and_service() -> None:
    mocks, _ = build(web_args(), name="web")
    (urn,) = (u for u in mocks.urns if u.endswith("voting:index:ServiceDeployment::web"))
    assert mocks.component_outputs[urn] == {"deployment_name": "web", "service_name": "web"}


def test_a_startup_probe_checks_the_unit_s_port_like_the_others() -> None:
    mocks, _ = build(web_args(startup_probe=Probe(check=TcpSocket(), failure_threshold=30)))
    startup = container_of(mocks)["startupProbe"]
    assert startup["tcpSocket"] == {"port": "web"}
    assert startup["failureThreshold"] == 30


# The bounds of an autoscaler, every problem of the args named at once, and a LoadBalancer's URL
# on a port other than 80.


@pytest.mark.parametrize(
    ("scale", "problem"),
    [
        (Autoscaling(1, 3, cpu_utilization=1), None),
        (Autoscaling(1, 3, cpu_utilization=100), None),
        (Autoscaling(1, 3, scale_down_stabilization_seconds=0), None),
        (
            Autoscaling(1, 3, cpu_utilization=0),
            "autoscaling cpu_utilization is 0; a percentage from 1 to 100",
        ),
        (
            Autoscaling(1, 3, cpu_utilization=101),
            "autoscaling cpu_utilization is 101; a percentage from 1 to 100",
        ),
        (
            Autoscaling(1, 3, scale_down_stabilization_seconds=-1),
            "autoscaling scale_down_stabilization_seconds is -1; it must be >= 0",
        ),
        (
            Autoscaling(3, 2),
            "autoscaling min_replicas 3 and max_replicas 2: 1 <= min_replicas <= max_replicas",
        ),
    ],
)
def test_an_autoscaler_s_bounds_are_held(scale: Autoscaling, problem: str | None) -> None:
    if problem is None:
        build(web_args(replicas=scale))
        return
    whole = f"ServiceDeployment 'web': {problem}"
    with pytest.raises(ValueError, match=f"^{re.escape(whole)}$"):
        run_with_mocks(lambda: ServiceDeployment("web", web_args(replicas=scale)))


def test_every_problem_of_the_args_is_named_at_once() -> None:
    args = web_args(port=None, exposure=Exposure(ExposureType.NONE), scan_exceptions={"CKV_1": " "})
    whole = (
        "ServiceDeployment 'web': HTTP and TCP probes need a port; the unit has none; every scan"
        " exception needs a written reason"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(whole)}$"):
        run_with_mocks(lambda: ServiceDeployment("web", args))


def test_a_load_balancer_s_url_carries_a_port_other_than_80() -> None:
    _, outputs = build(
        web_args(exposure=Exposure(ExposureType.LOAD_BALANCER)),
    )
    assert outputs["url"] == "http://203.0.113.10:8080"


@pytest.mark.parametrize("exposure_type", [ExposureType.CLUSTER_IP, ExposureType.LOAD_BALANCER])
def test_sticky_sessions_make_the_service_s_affinity_client_ip(
    exposure_type: ExposureType,
) -> None:
    mocks, _ = build(web_args(exposure=Exposure(exposure_type, sticky_sessions=True)))
    (service,) = mocks.of_type(SERVICE)
    assert unwrap(service.inputs)["spec"]["sessionAffinity"] == "ClientIP"


def test_a_service_is_not_sticky_by_default() -> None:
    mocks, _ = build(web_args())
    (service,) = mocks.of_type(SERVICE)
    assert "sessionAffinity" not in unwrap(service.inputs)["spec"]


def test_sticky_sessions_without_a_service_are_refused_in_these_words() -> None:
    args = web_args(
        port=None,
        exposure=Exposure(ExposureType.NONE, sticky_sessions=True),
        readiness_probe=None,
        liveness_probe=None,
    )
    whole = (
        "ServiceDeployment 'web': sticky_sessions with exposure None: there is no Service to make"
        " sticky"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(whole)}$"):
        ServiceDeployment("web", args)
