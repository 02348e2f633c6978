"""The arguments of a unit (a Deployment- or StatefulSet-plus-Service), and what they may not
combine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.units.specs import (
    SOURCE_RANGE_EXPECTED,
    Autoscaling,
    ContainerPort,
    EnvSpec,
    Exec,
    Exposure,
    ExposureType,
    Probe,
    PullPolicy,
    Resources,
    RollingUpdate,
    Scale,
    SecurityProfile,
    ServiceAwait,
    Shutdown,
    Spread,
    UpdateStrategy,
    Volume,
    node_port_problem,
    source_range_problem,
)


@dataclass(frozen=True)
class ServiceDeploymentArgs:
    """Everything one unit needs. The component's resource name is the unit's name.

    namespace: where every object of the unit lives (required).
    image: container image, pinned to a tag or digest (required).
    role: the `app.kubernetes.io/component` label, e.g. `frontend` (required).
    instance: the `app.kubernetes.io/instance` label, unique per deployed copy (required).
    part_of: the `app.kubernetes.io/part-of` label; default `voting-app`.
    args: the container's args (the image's CMD), e.g. `("postgres", "-c", "x=y")`; default
      none keeps the image's own.
    port: the port the container listens on; default None (the unit serves nothing).
    replicas: a fixed pod count, or an `Autoscaling` range that a HorizontalPodAutoscaler keeps
      the count in (the workload is created at the autoscaler's minimum, and no update sends the
      count again, so none fights the autoscaler); default 1.
    spread: how the pods spread over nodes and zones, applied when the unit can run more than
      one pod; default `Spread()` (prefer other nodes, never block scheduling for it).
    env: plain and Secret-backed environment; default empty.
    resources: requests and limits; default `Resources()` (50m/64Mi requested, 250m/128Mi limit).
    readiness_probe / liveness_probe: default None (no probe).
    startup_probe: default None. Holds back readiness and liveness until it first passes: for
      images whose first start is slow (initdb), instead of a long liveness delay.
    volumes: emptyDirs, claims and ConfigMap files to mount; default none. Pods that mount a
      claim get `fsGroupChangePolicy: OnRootMismatch`: the volume is chowned to fs_group only
      when its root does not match, not recursively on every start.
    update_strategy: default `RollingUpdate()` (surge 1, never below the desired count).
    shutdown: default `Shutdown()` (no drain, 30 s grace). Units behind a Service that must not
      drop requests while pods are replaced drain for a few seconds first.
    security: pod and container security context; default `SecurityProfile()`.
    exposure: the Service; default ClusterIP. Needs a port unless its type is `None`.
    service_await: what `pulumi up` waits for on the Service; default `ServiceAwait.ENDPOINTS`
      (the provider's own wait).
    object_name: the Kubernetes name of the unit's objects (workload, ServiceAccount, autoscaler,
      claims, container) and its `app.kubernetes.io/name` label; default the component's name.
      A program that uses a unit twice (two apps, each in its namespace) gives the components
      unique names and the objects the same one.
    service_name: the Service's name, which is the host name peers dial; default object_name.
    image_pull_policy: default None: what Kubernetes itself defaults to (`default_pull_policy`):
      IfNotPresent for an image pinned to a tag or digest, so a node reuses what it pulled and an
      image loaded into the node by hand (`kind load docker-image`) starts without a registry;
      Always for `:latest` or an untagged image. Set it to ask the registry on every start.
    scan_exceptions: checkov checks this unit cannot pass, each with the reason (check id ->
      reason); written as `checkov.io/skip<n>` annotations on the Deployment. Default none.
    """

    namespace: pulumi.Input[str]
    image: str
    role: str
    instance: str
    part_of: str = "voting-app"
    args: tuple[str, ...] = ()
    port: ContainerPort | None = None
    replicas: Scale = 1
    spread: Spread = Spread()
    env: EnvSpec = field(default_factory=EnvSpec)
    resources: Resources = Resources()
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None
    volumes: tuple[Volume, ...] = ()
    update_strategy: UpdateStrategy = RollingUpdate()
    shutdown: Shutdown = Shutdown()
    security: SecurityProfile = SecurityProfile()
    exposure: Exposure = Exposure()
    service_await: ServiceAwait = ServiceAwait.ENDPOINTS
    object_name: str | None = None
    service_name: str | None = None
    image_pull_policy: PullPolicy | None = None
    scan_exceptions: Mapping[str, str] = field(default_factory=dict)


def check_args(name: str, args: ServiceDeploymentArgs) -> None:
    """Reject combinations Kubernetes would reject later, before anything is registered."""
    problems: list[str] = []
    problems += _scale_problems(args.replicas)
    if args.spread.max_skew < 1:
        problems.append(f"spread max_skew is {args.spread.max_skew}; it must be at least 1")
    if args.exposure.type is not ExposureType.NONE and args.port is None:
        problems.append(f"exposure {args.exposure.type.value} needs a port; the unit has none")
    if args.exposure.sticky_sessions and args.exposure.type is ExposureType.NONE:
        problems.append("sticky_sessions with exposure None: there is no Service to make sticky")
    node_port = node_port_problem(args.exposure)
    if node_port is not None:
        problems.append(
            f"node_port {args.exposure.node_port} with exposure {args.exposure.type.value}:"
            f" {node_port}"
        )
    problems += _source_range_problems(args.exposure)
    if args.port is None and any(
        probe is not None and not isinstance(probe.check, Exec)
        for probe in (args.readiness_probe, args.liveness_probe, args.startup_probe)
    ):
        problems.append("HTTP and TCP probes need a port; the unit has none")
    problems += pod_problems(args)
    if problems:
        raise ValueError(f"ServiceDeployment {name!r}: " + "; ".join(problems))


def pod_problems(args: ServiceDeploymentArgs) -> list[str]:
    """What no pod of any workload may have (a ScheduledJob's as much as a unit's)."""
    problems = []
    if args.shutdown.drain_seconds < 0:
        problems.append(f"shutdown drain_seconds is {args.shutdown.drain_seconds}; it must be >= 0")
    if args.shutdown.grace_seconds <= args.shutdown.drain_seconds:
        problems.append(
            f"shutdown grace_seconds {args.shutdown.grace_seconds} must be more than"
            f" drain_seconds {args.shutdown.drain_seconds}: the process needs time after the drain"
        )
    if any(not reason.strip() for reason in args.scan_exceptions.values()):
        problems.append("every scan exception needs a written reason")
    return problems


def _source_range_problems(exposure: Exposure) -> list[str]:
    if not exposure.source_ranges:
        return []
    if exposure.type is not ExposureType.LOAD_BALANCER:
        return [
            f"source_ranges with exposure {exposure.type.value}: only a LoadBalancer Service has"
            " source ranges"
        ]
    problems = [
        f"source range {text!r}: {problem}; expected {SOURCE_RANGE_EXPECTED}"
        for text in exposure.source_ranges
        if (problem := source_range_problem(text)) is not None
    ]
    if len(set(exposure.source_ranges)) < len(exposure.source_ranges):
        problems.append(f"source_ranges {list(exposure.source_ranges)} repeat a range")
    return problems


def _scale_problems(scale: Scale) -> list[str]:
    if not isinstance(scale, Autoscaling):
        return [f"replicas is {scale}; it must be at least 1"] if scale < 1 else []
    problems = []
    if not 1 <= scale.min_replicas <= scale.max_replicas:
        problems.append(
            f"autoscaling min_replicas {scale.min_replicas} and max_replicas {scale.max_replicas}:"
            " 1 <= min_replicas <= max_replicas"
        )
    if not 1 <= scale.cpu_utilization <= 100:
        problems.append(
            f"autoscaling cpu_utilization is {scale.cpu_utilization}; a percentage from 1 to 100"
        )
    if scale.scale_down_stabilization_seconds < 0:
        problems.append(
            "autoscaling scale_down_stabilization_seconds is "
            f"{scale.scale_down_stabilization_seconds}; it must be >= 0"
        )
    return problems
