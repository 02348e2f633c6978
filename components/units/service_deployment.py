"""ServiceDeployment: one Deployment, its own ServiceAccount, the claims its pods mount, and an
optional Service."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.units.args import ServiceDeploymentArgs, check_args
from components.units.objects import shared_claims
from components.units.specs import Recreate, UpdateStrategy, declared_replicas
from components.units.unit import Unit

# The label the Deployment controller gives each revision's pods.
DEPLOYMENT_REVISION_LABEL = "pod-template-hash"

__all__ = ["ServiceDeployment", "ServiceDeploymentArgs"]


class ServiceDeployment(Unit):
    """A Deployment, the PersistentVolumeClaims its pods share, and what every unit has (`Unit`):
    its ServiceAccount, an autoscaler when its replicas are a range, and a Service."""

    claims: list[k8s.core.v1.PersistentVolumeClaim]
    deployment: k8s.apps.v1.Deployment

    def __init__(
        self, name: str, args: ServiceDeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_args(name, args)
        super().__init__("voting:index:ServiceDeployment", name, args, opts)
        child = self._child

        self.claims = shared_claims(name, self.object_name, args, self.labels, child)
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata=self._metadata(args, "Deployment"),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=declared_replicas(args.replicas),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.selector),
                strategy=_strategy(args.update_strategy),
                template=self._pods(args, revision_label=DEPLOYMENT_REVISION_LABEL),
            ),
            opts=self._workload_options(args, depends_on=self.claims),
        )
        self._expose(name, args, "Deployment", self.deployment.metadata.name)

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
