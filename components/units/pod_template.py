"""The pod template of a unit: containers, probes, volumes, security, from ServiceDeploymentArgs.

One function builds it for every kind of workload, so labels, probes, security and env are
written once.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.units.args import ServiceDeploymentArgs
from components.units.objects import claim_name
from components.units.specs import (
    ClaimVolume,
    ConfigMapVolume,
    ContainerPort,
    EmptyDirVolume,
    EnvSpec,
    Exec,
    HttpGet,
    Probe,
    SecurityProfile,
    Shutdown,
    TcpSocket,
    Volume,
    default_pull_policy,
    replica_range,
)


def pod_template(
    name: str,
    args: ServiceDeploymentArgs,
    labels: dict[str, str],
    selector: dict[str, str],
    service_account_name: pulumi.Input[str],
    *,
    revision_label: str,
    claim_templates: bool = False,
    restart_policy: str | None = None,
) -> k8s.core.v1.PodTemplateSpecArgs:
    """The pods of a unit. `revision_label`: the label its controller gives each revision's pods
    (Deployment `pod-template-hash`, StatefulSet `controller-revision-hash`), so a rollout's new
    pods spread among themselves. `claim_templates`: the claims come from a StatefulSet's
    volumeClaimTemplates, whose controller adds each pod's own claim as the volume of that name;
    otherwise every pod mounts the unit's one claim. `restart_policy`: default None, Kubernetes'
    own (Always, which a Job's pods may not have: a ScheduledJob passes Never)."""
    spread = _spread(args, selector, revision_label)
    volumes = [
        _volume(name, volume)
        for volume in args.volumes
        if not (claim_templates and isinstance(volume, ClaimVolume))
    ]
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
        spec=_pod_spec(name, args, service_account_name, spread, volumes, restart_policy),
    )


def _spread(
    args: ServiceDeploymentArgs, selector: dict[str, str], revision_label: str
) -> list[k8s.core.v1.TopologySpreadConstraintArgs] | None:
    """Spread constraints, only for a unit that can run more than one pod."""
    if replica_range(args.replicas)[1] < 2:
        return None
    return [
        k8s.core.v1.TopologySpreadConstraintArgs(
            max_skew=args.spread.max_skew,
            topology_key=key,
            when_unsatisfiable=when.value,
            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            match_label_keys=[revision_label],
            # A node whose taints the pods do not tolerate can take none of them: leave it out
            # of the count, or with DoNotSchedule it would hold every other node to its zero.
            node_taints_policy="Honor",
        )
        for key, when in args.spread.constraints()
    ] or None


def _pod_spec(
    name: str,
    args: ServiceDeploymentArgs,
    service_account_name: pulumi.Input[str],
    spread: list[k8s.core.v1.TopologySpreadConstraintArgs] | None,
    volumes: list[k8s.core.v1.VolumeArgs],
    restart_policy: str | None,
) -> k8s.core.v1.PodSpecArgs:
    security = args.security
    return k8s.core.v1.PodSpecArgs(
        service_account_name=service_account_name,
        restart_policy=restart_policy,
        topology_spread_constraints=spread,
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
        volumes=volumes or None,
    )


def _container(name: str, args: ServiceDeploymentArgs) -> k8s.core.v1.ContainerArgs:
    return k8s.core.v1.ContainerArgs(
        name=name,
        image=args.image,
        image_pull_policy=(args.image_pull_policy or default_pull_policy(args.image)).value,
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
            claim_name=claim_name(unit, volume)
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
