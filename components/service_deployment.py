"""ServiceDeployment: one Deployment, its own ServiceAccount, the claims its pods mount, and an
optional Service."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.labels import selector_labels, unit_labels
from components.metadata import object_metadata, scan_exception_annotations
from components.pod_template import pod_template
from components.specs import ClaimVolume, ContainerPort, Recreate, Scale, UpdateStrategy
from components.unit_args import ServiceDeploymentArgs, check_args
from components.unit_objects import autoscaler, claim, service_account, unit_service

# The label the Deployment controller gives each revision's pods.
DEPLOYMENT_REVISION_LABEL = "pod-template-hash"

__all__ = ["ServiceDeployment", "ServiceDeploymentArgs"]


class ServiceDeployment(pulumi.ComponentResource):
    """A Deployment, the ServiceAccount its pods run as, the PersistentVolumeClaims they mount, and
    (unless exposure is None) a Service.

    One labels dict feeds the Deployment selector, the pod template and the Service selector. The
    ServiceAccount is the unit's own (named like it), mounts no token and is bound to no role: the
    units never call the Kubernetes API, and no pod runs as the namespace's `default` account.
    """

    labels: dict[str, str]
    selector: dict[str, str]
    port: ContainerPort | None
    replicas: Scale
    service_account: k8s.core.v1.ServiceAccount
    claims: list[k8s.core.v1.PersistentVolumeClaim]
    deployment: k8s.apps.v1.Deployment
    autoscaler: k8s.autoscaling.v2.HorizontalPodAutoscaler | None
    service: k8s.core.v1.Service | None
    service_name: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: ServiceDeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_args(name, args)
        super().__init__("voting:index:ServiceDeployment", name, None, opts)
        # What the unit depends on, each of its objects waits for (Pulumi does not pass a
        # component's depends_on down to its children by itself).
        child = pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts else None)

        self.labels = unit_labels(
            name=name, instance=args.instance, component=args.role, part_of=args.part_of
        )
        self.selector = selector_labels(self.labels)
        self.port = args.port
        self.replicas = args.replicas
        self.service_account = service_account(name, args.namespace, self.labels, child)
        self.claims = [
            claim(name, volume, args.namespace, self.labels, child)
            for volume in args.volumes
            if isinstance(volume, ClaimVolume)
        ]
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata=object_metadata(
                name, args.namespace, self.labels, scan_exception_annotations(args.scan_exceptions)
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # Under an autoscaler the Deployment declares no count: the autoscaler owns it.
                replicas=args.replicas if isinstance(args.replicas, int) else None,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.selector),
                strategy=_strategy(args.update_strategy),
                template=pod_template(
                    name,
                    args,
                    self.labels,
                    self.selector,
                    self.service_account.metadata.name,
                    revision_label=DEPLOYMENT_REVISION_LABEL,
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=self.claims)
            ),
        )
        self.autoscaler = autoscaler(
            name, args, self.labels, "Deployment", self.deployment.metadata.name, child
        )
        self.service = unit_service(name, args, self.labels, self.selector, child)
        self.service_name = self.service.metadata.name if self.service is not None else None

        self.register_outputs(
            {
                "deployment_name": self.deployment.metadata.name,
                "service_name": self.service_name,
            }
        )


def _strategy(strategy: UpdateStrategy) -> k8s.apps.v1.DeploymentStrategyArgs:
    if isinstance(strategy, Recreate):
        return k8s.apps.v1.DeploymentStrategyArgs(type="Recreate")
    return k8s.apps.v1.DeploymentStrategyArgs(
        type="RollingUpdate",
        rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
            max_surge=strategy.max_surge, max_unavailable=strategy.max_unavailable
        ),
    )
