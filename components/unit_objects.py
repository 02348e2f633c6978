"""The objects beside a unit's workload: its ServiceAccount, its claims and its Service."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.metadata import object_metadata
from components.specs import ClaimVolume, ExposureType
from components.unit_args import ServiceDeploymentArgs


def service_account(
    unit: str, namespace: pulumi.Input[str], labels: dict[str, str], opts: pulumi.ResourceOptions
) -> k8s.core.v1.ServiceAccount:
    """The unit's own identity: no API token is mounted from it, and nothing binds it to a role."""
    return k8s.core.v1.ServiceAccount(
        unit,
        metadata=object_metadata(unit, namespace, labels),
        automount_service_account_token=False,
        opts=opts,
    )


def claim_name(unit: str, volume: ClaimVolume) -> str:
    return f"{unit}-{volume.name}"


def claim(
    unit: str,
    volume: ClaimVolume,
    namespace: pulumi.Input[str],
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.PersistentVolumeClaim:
    name = claim_name(unit, volume)
    return k8s.core.v1.PersistentVolumeClaim(
        name,
        metadata=object_metadata(name, namespace, labels),
        spec=claim_spec(volume),
        opts=opts,
    )


def claim_spec(volume: ClaimVolume) -> k8s.core.v1.PersistentVolumeClaimSpecArgs:
    """ReadWriteOnce, of the volume's size and class: for a claim or a StatefulSet's template."""
    return k8s.core.v1.PersistentVolumeClaimSpecArgs(
        access_modes=["ReadWriteOnce"],
        storage_class_name=volume.storage_class,
        resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": volume.size}),
    )


def unit_service(
    name: str,
    args: ServiceDeploymentArgs,
    labels: dict[str, str],
    selector: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Service | None:
    if args.exposure.type is ExposureType.NONE or args.port is None:
        return None
    service_name = args.service_name or name
    return k8s.core.v1.Service(
        f"{name}-service",
        metadata=object_metadata(service_name, args.namespace, labels),
        spec=k8s.core.v1.ServiceSpecArgs(
            type=args.exposure.type.value,
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
