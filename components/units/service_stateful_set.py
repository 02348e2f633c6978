"""ServiceStatefulSet: a unit whose pods each keep a claim of their own across restarts and
rescheduling: one StatefulSet, its own ServiceAccount, and an optional Service.

It takes the same `ServiceDeploymentArgs` as ServiceDeployment and builds its pods with the same
pod template, so labels, probes, security and env are written once. What differs: each claim
volume becomes a volumeClaimTemplate (one claim per pod, `<volume>-<unit>-<ordinal>`), and a pod
is replaced only after its predecessor has stopped, which is the StatefulSet controller's own
order (the semantics of `Recreate`; a surge is impossible).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.units.args import ServiceDeploymentArgs, check_args
from components.units.objects import claim_spec
from components.units.specs import ClaimVolume, Recreate, declared_replicas
from components.units.unit import Unit

# The label the StatefulSet controller gives each revision's pods.
STATEFUL_SET_REVISION_LABEL = "controller-revision-hash"


def check_stateful_args(name: str, args: ServiceDeploymentArgs) -> None:
    check_args(name, args)
    if not isinstance(args.update_strategy, Recreate):
        raise ValueError(
            f"ServiceStatefulSet {name!r}: update_strategy must be Recreate: a StatefulSet stops "
            "each pod before it starts its replacement, and cannot surge"
        )


class ServiceStatefulSet(Unit):
    """A StatefulSet with a volumeClaimTemplate per claim volume, and what every unit has
    (`Unit`): its ServiceAccount, an autoscaler when its replicas are a range, and a Service
    named as peers dial it.

    The Service is an ordinary one (ClusterIP by default), so clients see no difference from a
    ServiceDeployment. No headless governing Service is created: the unit's pods are reached
    through that Service, never by their own DNS names, and `serviceName` is optional in
    apps/v1.

    The claims outlive the StatefulSet (`persistentVolumeClaimRetentionPolicy` Retain, the
    Kubernetes default): deleting or replacing the StatefulSet keeps the data, and a new one of
    the same name mounts it again. Deleting the namespace (a stack's destroy) deletes them.
    """

    stateful_set: k8s.apps.v1.StatefulSet

    def __init__(
        self, name: str, args: ServiceDeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_stateful_args(name, args)
        super().__init__("voting:index:ServiceStatefulSet", name, args, opts)

        self.stateful_set = k8s.apps.v1.StatefulSet(
            name,
            metadata=self._metadata(args, "StatefulSet"),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                replicas=declared_replicas(args.replicas),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.selector),
                update_strategy=k8s.apps.v1.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
                template=self._pods(
                    args, revision_label=STATEFUL_SET_REVISION_LABEL, claim_templates=True
                ),
                volume_claim_templates=[
                    k8s.core.v1.PersistentVolumeClaimArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(name=volume.name, labels=self.labels),
                        spec=claim_spec(volume),
                    )
                    for volume in args.volumes
                    if isinstance(volume, ClaimVolume)
                ]
                or None,
                persistent_volume_claim_retention_policy=(
                    k8s.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                        when_deleted="Retain", when_scaled="Retain"
                    )
                ),
            ),
            opts=self._workload_options(args),
        )
        self._expose(name, args, "StatefulSet", self.stateful_set.metadata.name)

        self.register_outputs(
            {
                "stateful_set_name": self.stateful_set.metadata.name,
                "service_name": self.service_name,
            }
        )
