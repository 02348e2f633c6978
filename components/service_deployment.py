"""ServiceDeployment: one Deployment, its own ServiceAccount, the claims its pods mount, and an
optional Service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.labels import selector_labels, unit_labels
from components.metadata import object_metadata, scan_exception_annotations
from components.specs import (
    ClaimVolume,
    ConfigMapVolume,
    ContainerPort,
    EmptyDirVolume,
    EnvSpec,
    Exec,
    Exposure,
    ExposureType,
    HttpGet,
    Probe,
    Recreate,
    Resources,
    RollingUpdate,
    SecurityProfile,
    Shutdown,
    TcpSocket,
    UpdateStrategy,
    Volume,
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
    replicas: pod count; default 1.
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
    service_name: the Service's name, which is the host name peers dial; default the unit name.
    image_pull_policy: default `Always`: every pod start asks the registry, so a node never runs
      a cached copy that the registry would no longer serve.
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
    replicas: int = 1
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
    service_name: str | None = None
    image_pull_policy: str = "Always"
    scan_exceptions: Mapping[str, str] = field(default_factory=dict)


def check_args(name: str, args: ServiceDeploymentArgs) -> None:
    """Reject combinations Kubernetes would reject later, before anything is registered."""
    problems: list[str] = []
    if args.replicas < 1:
        problems.append(f"replicas is {args.replicas}; it must be at least 1")
    if args.exposure.type is not ExposureType.NONE and args.port is None:
        problems.append(f"exposure {args.exposure.type.value} needs a port; the unit has none")
    if args.exposure.node_port is not None and args.exposure.type is not ExposureType.NODE_PORT:
        problems.append(
            f"node_port {args.exposure.node_port} is only valid with exposure NodePort, "
            f"not {args.exposure.type.value}"
        )
    if args.port is None and any(
        probe is not None and not isinstance(probe.check, Exec)
        for probe in (args.readiness_probe, args.liveness_probe, args.startup_probe)
    ):
        problems.append("HTTP and TCP probes need a port; the unit has none")
    if args.shutdown.drain_seconds < 0:
        problems.append(f"shutdown drain_seconds is {args.shutdown.drain_seconds}; it must be >= 0")
    if args.shutdown.grace_seconds <= args.shutdown.drain_seconds:
        problems.append(
            f"shutdown grace_seconds {args.shutdown.grace_seconds} must be more than"
            f" drain_seconds {args.shutdown.drain_seconds}: the process needs time after the drain"
        )
    if any(not reason.strip() for reason in args.scan_exceptions.values()):
        problems.append("every scan exception needs a written reason")
    if problems:
        raise ValueError(f"ServiceDeployment {name!r}: " + "; ".join(problems))


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
    replicas: int
    service_account: k8s.core.v1.ServiceAccount
    claims: list[k8s.core.v1.PersistentVolumeClaim]
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service | None
    service_name: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: ServiceDeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_args(name, args)
        super().__init__("voting:index:ServiceDeployment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.labels = unit_labels(
            name=name, instance=args.instance, component=args.role, part_of=args.part_of
        )
        self.selector = selector_labels(self.labels)
        self.port = args.port
        self.replicas = args.replicas
        self.service_account = service_account(name, args.namespace, self.labels, child)
        self.claims = [
            _claim(name, volume, args.namespace, self.labels, child)
            for volume in args.volumes
            if isinstance(volume, ClaimVolume)
        ]
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata=object_metadata(
                name, args.namespace, self.labels, scan_exception_annotations(args.scan_exceptions)
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.selector),
                strategy=_strategy(args.update_strategy),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=self.labels),
                    spec=_pod_spec(name, args, self.service_account.metadata.name),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=self.claims)
            ),
        )
        self.service = _service(name, args, self.labels, self.selector, child)
        self.service_name = self.service.metadata.name if self.service is not None else None

        self.register_outputs(
            {
                "deployment_name": self.deployment.metadata.name,
                "service_name": self.service_name,
            }
        )


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


def _claim_name(unit: str, volume: ClaimVolume) -> str:
    return f"{unit}-{volume.name}"


def _claim(
    unit: str,
    volume: ClaimVolume,
    namespace: pulumi.Input[str],
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.PersistentVolumeClaim:
    claim_name = _claim_name(unit, volume)
    return k8s.core.v1.PersistentVolumeClaim(
        claim_name,
        metadata=object_metadata(claim_name, namespace, labels),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"],
            storage_class_name=volume.storage_class,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": volume.size}),
        ),
        opts=opts,
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


def _pod_spec(
    name: str, args: ServiceDeploymentArgs, service_account_name: pulumi.Input[str]
) -> k8s.core.v1.PodSpecArgs:
    security = args.security
    return k8s.core.v1.PodSpecArgs(
        service_account_name=service_account_name,
        # None of the units talks to the Kubernetes API, and peers are found through DNS.
        automount_service_account_token=False,
        enable_service_links=False,
        security_context=k8s.core.v1.PodSecurityContextArgs(
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            run_as_user=security.run_as_user,
            run_as_group=security.run_as_group,
            fs_group=security.fs_group,
            fs_group_change_policy=(
                "OnRootMismatch"
                if any(isinstance(volume, ClaimVolume) for volume in args.volumes)
                else None
            ),
            run_as_non_root=security.run_as_non_root or None,
        ),
        termination_grace_period_seconds=args.shutdown.grace_seconds,
        containers=[_container(name, args)],
        volumes=[_volume(name, volume) for volume in args.volumes] or None,
    )


def _container(name: str, args: ServiceDeploymentArgs) -> k8s.core.v1.ContainerArgs:
    return k8s.core.v1.ContainerArgs(
        name=name,
        image=args.image,
        image_pull_policy=args.image_pull_policy,
        args=list(args.args) or None,
        ports=(
            [
                k8s.core.v1.ContainerPortArgs(
                    name=args.port.name, container_port=args.port.number, protocol="TCP"
                )
            ]
            if args.port is not None
            else None
        ),
        env=_env(args.env) or None,
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": args.resources.requests.cpu, "memory": args.resources.requests.memory},
            limits={"cpu": args.resources.limits.cpu, "memory": args.resources.limits.memory},
        ),
        readiness_probe=_probe(args.readiness_probe, args.port),
        liveness_probe=_probe(args.liveness_probe, args.port),
        startup_probe=_probe(args.startup_probe, args.port),
        lifecycle=_lifecycle(args.shutdown),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(
                name=volume.name,
                mount_path=volume.mount_path,
                read_only=isinstance(volume, ConfigMapVolume) or None,
            )
            for volume in args.volumes
        ]
        or None,
        security_context=_container_security(args.security),
    )


def _lifecycle(shutdown: Shutdown) -> k8s.core.v1.LifecycleArgs | None:
    if shutdown.drain_seconds == 0:
        return None
    # The kubelet's own sleep: no `sleep` binary needed in the image.
    sleep = k8s.core.v1.SleepActionArgs(seconds=shutdown.drain_seconds)
    return k8s.core.v1.LifecycleArgs(pre_stop=k8s.core.v1.LifecycleHandlerArgs(sleep=sleep))


def _env(env: EnvSpec) -> list[k8s.core.v1.EnvVarArgs]:
    plain = [k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in env.plain.items()]
    from_secrets = [
        k8s.core.v1.EnvVarArgs(
            name=key,
            value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=ref.secret_name, key=ref.key)
            ),
        )
        for key, ref in env.from_secrets.items()
    ]
    return plain + from_secrets


def _probe(probe: Probe | None, port: ContainerPort | None) -> k8s.core.v1.ProbeArgs | None:
    if probe is None:
        return None
    check = probe.check
    # check_args guarantees a port for HTTP and TCP probes; Exec probes ignore it.
    port_name = port.name if port is not None else ""
    return k8s.core.v1.ProbeArgs(
        exec_=(
            k8s.core.v1.ExecActionArgs(command=list(check.command))
            if isinstance(check, Exec)
            else None
        ),
        http_get=(
            k8s.core.v1.HTTPGetActionArgs(path=check.path, port=port_name)
            if isinstance(check, HttpGet)
            else None
        ),
        tcp_socket=(
            k8s.core.v1.TCPSocketActionArgs(port=port_name)
            if isinstance(check, TcpSocket)
            else None
        ),
        initial_delay_seconds=probe.initial_delay_seconds,
        period_seconds=probe.period_seconds,
        timeout_seconds=probe.timeout_seconds,
        failure_threshold=probe.failure_threshold,
    )


def _volume(unit: str, volume: Volume) -> k8s.core.v1.VolumeArgs:
    if isinstance(volume, EmptyDirVolume):
        return k8s.core.v1.VolumeArgs(
            name=volume.name,
            empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=volume.size_limit),
        )
    if isinstance(volume, ConfigMapVolume):
        return k8s.core.v1.VolumeArgs(
            name=volume.name,
            config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                name=volume.config_map,
                items=(
                    [
                        k8s.core.v1.KeyToPathArgs(key=key, path=path)
                        for key, path in volume.items.items()
                    ]
                    if volume.items is not None
                    else None
                ),
            ),
        )
    return k8s.core.v1.VolumeArgs(
        name=volume.name,
        persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
            claim_name=_claim_name(unit, volume)
        ),
    )


def _container_security(security: SecurityProfile) -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=security.read_only_root_filesystem,
        run_as_non_root=security.run_as_non_root or None,
        capabilities=k8s.core.v1.CapabilitiesArgs(
            drop=["ALL"], add=list(security.add_capabilities) or None
        ),
    )


def _service(
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
