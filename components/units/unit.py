"""What every unit has, whatever runs its pods: one labels dict, its own ServiceAccount, an
autoscaler when its replicas are a range, and (unless exposure is None) a Service."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.units.args import ServiceDeploymentArgs
from components.units.endpoints import service_url
from components.units.labels import selector_labels, unit_labels
from components.units.metadata import object_metadata, scan_exception_annotations
from components.units.objects import autoscaler, service_account, unit_service
from components.units.pod_template import pod_template
from components.units.rollout_await import WorkloadKind, rollout_await
from components.units.specs import ContainerPort, Scale, left_to_the_autoscaler

UNIT_TYPES = ("voting:index:ServiceDeployment", "voting:index:ServiceStatefulSet")


class Unit(pulumi.ComponentResource):
    """The base of ServiceDeployment and ServiceStatefulSet. A subclass creates its workload
    between `__init__` and `_expose`, then registers its outputs.

    One labels dict feeds the workload's selector, its pod template and the Service selector.
    The ServiceAccount is the unit's own (named like it), mounts no token and is bound to no
    role: the units never call the Kubernetes API, and no pod runs as the `default` account.
    What the unit depends on (`opts.depends_on`), each of its objects waits for: Pulumi does not
    pass a component's dependencies down to its children by itself.
    """

    object_name: str
    labels: dict[str, str]
    selector: dict[str, str]
    port: ContainerPort | None
    replicas: Scale
    service_account: k8s.core.v1.ServiceAccount
    autoscaler: k8s.autoscaling.v2.HorizontalPodAutoscaler | None
    service: k8s.core.v1.Service | None
    service_name: pulumi.Output[str] | None
    url: pulumi.Output[str] | None

    def __init__(
        self,
        type_token: str,
        name: str,
        args: ServiceDeploymentArgs,
        opts: pulumi.ResourceOptions | None,
    ) -> None:
        # A unit may move between workload kinds (db: Deployment <-> StatefulSet): each kind
        # answers to the other's type token too, so the Service and ServiceAccount, children of
        # the same unit either way, keep their identity instead of being replaced.
        others = [pulumi.Alias(type_=token) for token in UNIT_TYPES if token != type_token]
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=others))
        super().__init__(type_token, name, None, opts)
        self._child = pulumi.ResourceOptions(
            parent=self, depends_on=opts.depends_on if opts else None
        )
        self.object_name = args.object_name or name
        self.labels = unit_labels(
            name=self.object_name, instance=args.instance, component=args.role, part_of=args.part_of
        )
        self.selector = selector_labels(self.labels)
        self.port = args.port
        self.replicas = args.replicas
        self.service_account = service_account(
            name, self.object_name, args.namespace, self.labels, self._child
        )

    def _workload_options(
        self, args: ServiceDeploymentArgs, depends_on: Sequence[pulumi.Resource] = ()
    ) -> pulumi.ResourceOptions:
        """The workload's options: a child of the unit, after `depends_on`; under an autoscaler,
        its count sent only at creation."""
        return pulumi.ResourceOptions.merge(
            self._child,
            pulumi.ResourceOptions(
                depends_on=list(depends_on) or None,
                ignore_changes=left_to_the_autoscaler(args.replicas) or None,
            ),
        )

    def _metadata(
        self, args: ServiceDeploymentArgs, kind: WorkloadKind
    ) -> k8s.meta.v1.ObjectMetaArgs:
        """The workload's metadata: its name, the labels, the unit's scan exceptions, and the
        wait for its rollout that `pulumi up` holds to (components/units/rollout_await.py)."""
        annotations = {**scan_exception_annotations(args.scan_exceptions), **rollout_await(kind)}
        return object_metadata(self.object_name, args.namespace, self.labels, annotations)

    def _pods(
        self,
        args: ServiceDeploymentArgs,
        *,
        revision_label: str,
        claim_templates: bool = False,
    ) -> k8s.core.v1.PodTemplateSpecArgs:
        """The unit's pod template (components/units/pod_template.py), run as its ServiceAccount."""
        return pod_template(
            self.object_name,
            args,
            self.labels,
            self.selector,
            self.service_account.metadata.name,
            revision_label=revision_label,
            claim_templates=claim_templates,
        )

    def _expose(
        self, name: str, args: ServiceDeploymentArgs, kind: str, workload: pulumi.Input[str]
    ) -> None:
        """The autoscaler of the workload (`kind` `workload`), the Service, and where the Service
        answers (`url`: components/units/endpoints.py)."""
        self.autoscaler = autoscaler(name, args, self.labels, kind, workload, self._child)
        self.service = unit_service(name, args, self.labels, self.selector, self._child)
        if self.service is None:
            self.service_name = self.url = None
        else:
            self.service_name = self.service.metadata.name
            self.url = service_url(self.service, args.exposure)
