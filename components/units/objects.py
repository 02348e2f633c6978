"""The objects beside a unit's workload: its ServiceAccount, its claims and its Service."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.units.args import ServiceDeploymentArgs
from components.units.metadata import object_metadata
from components.units.specs import Autoscaling, ClaimVolume, ExposureType, ServiceAwait


def service_account(
    name: str,
    object_name: str,
    namespace: pulumi.Input[str],
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.ServiceAccount:
    """The unit's own identity: no API token is mounted from it, and nothing binds it to a role.
    `name` is the Pulumi resource's (the unit component's), `object_name` the Kubernetes one."""
    return k8s.core.v1.ServiceAccount(
        name,
        metadata=object_metadata(object_name, namespace, labels),
        automount_service_account_token=False,
        opts=opts,
    )


def claim_name(unit: str, volume: ClaimVolume) -> str:
    return f"{unit}-{volume.name}"


def claim(
    name: str,
    object_name: str,
    volume: ClaimVolume,
    namespace: pulumi.Input[str],
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.PersistentVolumeClaim:
    """A claim the unit's pods share, kept on delete when the volume asks for it."""
    return k8s.core.v1.PersistentVolumeClaim(
        claim_name(name, volume),
        metadata=object_metadata(claim_name(object_name, volume), namespace, labels),
        spec=claim_spec(volume),
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(retain_on_delete=volume.retain_on_delete or None)
        ),
    )


def shared_claims(
    name: str,
    object_name: str,
    args: ServiceDeploymentArgs,
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> list[k8s.core.v1.PersistentVolumeClaim]:
    """One claim per claim volume of `args`, which every pod of the workload mounts."""
    return [
        claim(name, object_name, volume, args.namespace, labels, opts)
        for volume in args.volumes
        if isinstance(volume, ClaimVolume)
    ]


def claim_spec(volume: ClaimVolume) -> k8s.core.v1.PersistentVolumeClaimSpecArgs:
    """ReadWriteOnce, of the volume's size and class: for a claim or a StatefulSet's template."""
    return k8s.core.v1.PersistentVolumeClaimSpecArgs(
        access_modes=["ReadWriteOnce"],
        storage_class_name=volume.storage_class,
        resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": volume.size}),
    )


# The provider's documented annotations (pulumi-kubernetes' pkg/metadata).
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
WAIT_FOR_ADDRESS = {"pulumi.com/waitFor": "jsonpath={.status.loadBalancer.ingress}"}


def service_await_annotations(
    exposure_type: ExposureType, service_await: ServiceAwait
) -> dict[str, str]:
    """What tells the provider to wait for less than its own Service await (ServiceAwait)."""
    if service_await is ServiceAwait.ENDPOINTS:
        return {}
    if exposure_type is ExposureType.LOAD_BALANCER:
        return WAIT_FOR_ADDRESS
    return SKIP_AWAIT


def unit_service(
    name: str,
    args: ServiceDeploymentArgs,
    labels: dict[str, str],
    selector: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Service | None:
    if args.exposure.type is ExposureType.NONE or args.port is None:
        return None
    service_name = args.service_name or args.object_name or name
    annotations = service_await_annotations(args.exposure.type, args.service_await)
    ranges = list(args.exposure.source_ranges) or None
    return k8s.core.v1.Service(
        f"{name}-service",
        metadata=object_metadata(service_name, args.namespace, labels, annotations),
        spec=k8s.core.v1.ServiceSpecArgs(
            type=args.exposure.type.value,
            load_balancer_source_ranges=ranges,
            # The unit's NetworkPolicy admits the same ranges, so its pods must see the client's
            # own address. With the default policy (Cluster) a node may forward a load balancer's
            # connection to a pod on another node, masquerading it as from itself: then "the
            # 'source IP' that the NetworkPolicy acts on may be the IP of a LoadBalancer or of
            # the Pod's node" (Kubernetes' Network Policies page, on ipBlock), and traffic from a
            # pod's node is always admitted. Local sends a connection only to pods on the node it
            # reached, its source intact; a cloud's load balancer then uses only the nodes that
            # run one (their health check node port says which).
            external_traffic_policy="Local" if ranges else None,
            session_affinity="ClientIP" if args.exposure.sticky_sessions else None,
            selector=selector,
            ports=[
                k8s.core.v1.ServicePortArgs(
                    name=args.port.name,
                    port=args.port.number,
                    target_port=args.port.name,
                    protocol="TCP",
                    node_port=args.exposure.node_port,
                )
            ],
        ),
        opts=opts,
    )


def autoscaler(
    name: str,
    args: ServiceDeploymentArgs,
    labels: dict[str, str],
    kind: str,
    target: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> k8s.autoscaling.v2.HorizontalPodAutoscaler | None:
    """The unit's HorizontalPodAutoscaler on cpu, when its replicas are an Autoscaling range."""
    scale = args.replicas
    if not isinstance(scale, Autoscaling):
        return None
    cpu = k8s.autoscaling.v2.MetricTargetArgs(
        type="Utilization", average_utilization=scale.cpu_utilization
    )
    return k8s.autoscaling.v2.HorizontalPodAutoscaler(
        name,
        metadata=object_metadata(args.object_name or name, args.namespace, labels),
        spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
            scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                api_version="apps/v1", kind=kind, name=target
            ),
            min_replicas=scale.min_replicas,
            max_replicas=scale.max_replicas,
            metrics=[
                k8s.autoscaling.v2.MetricSpecArgs(
                    type="Resource",
                    resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(name="cpu", target=cpu),
                )
            ],
            behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                scale_down=k8s.autoscaling.v2.HPAScalingRulesArgs(
                    stabilization_window_seconds=scale.scale_down_stabilization_seconds
                )
            ),
        ),
        opts=opts,
    )
