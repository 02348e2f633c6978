"""VotingApp: namespace, db credentials, the five units, traffic policy and disruption budgets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.app import backup as db_backup
from components.app import db
from components.app import redis as redis_store
from components.app.args import VotingAppArgs, WebUnitArgs, unit_images
from components.app.db import ClientAuth, Credentials, DbWorkload
from components.app.db_clients import (
    client_auth_problems,
    db_client_images,
    default_client_auth,
)
from components.app.footprint import (
    Footprint,
    container_bounds,
    job_footprint,
    total,
    unit_footprint,
)
from components.app.pods import (
    DATA_STORE_SCAN_EXCEPTIONS,
    DATA_STORE_SECURITY,
    PINNED_BY_TAG,
    TMP,
    exec_probe,
    pull_policy_exceptions,
)
from components.app.traffic import (
    DEFAULT_DENY,
    Endpoint,
    egress_spec,
    ingress_spec,
    traffic_graph,
)
from components.cluster.target import CLUSTER_TYPE_LABEL
from components.units.labels import unit_labels
from components.units.metadata import object_metadata
from components.units.scheduled_job import ScheduledJob, ScheduledJobArgs
from components.units.service_deployment import ServiceDeployment, ServiceDeploymentArgs
from components.units.service_stateful_set import ServiceStatefulSet
from components.units.specs import (
    ComputeQuantities,
    ContainerPort,
    EnvSpec,
    Exposure,
    ExposureType,
    HttpGet,
    Probe,
    Recreate,
    Resources,
    RollingUpdate,
    SecurityProfile,
    Shutdown,
    replica_range,
)
from components.units.unit import Unit

PART_OF = "voting-app"
QUOTA_NAME = "app-quota"
LIMITS_NAME = "app-limits"

HTTP_PORT = ContainerPort(number=80, name="http")
REDIS_PORT = ContainerPort(number=6379, name="redis")

# The stock web images run as root to bind port 80: keep only that capability.
WEB_SECURITY = SecurityProfile(add_capabilities=("NET_BIND_SERVICE",))
# checkov findings that the stock images (or the design) rule out, each with its reason.
ROOT_WEB_IMAGE = (
    "the stock image runs as root to bind port 80; every capability but NET_BIND_SERVICE is "
    "dropped and privilege escalation is off"
)
WEB_SCAN_EXCEPTIONS = {
    "CKV_K8S_43": PINNED_BY_TAG,
    "CKV_K8S_23": ROOT_WEB_IMAGE,
    "CKV_K8S_40": ROOT_WEB_IMAGE,
    "CKV_K8S_25": ROOT_WEB_IMAGE,
}
ROOT_WORKER_IMAGE = (
    "the stock worker image declares no user and is unverified under another uid here "
    "(no container runtime); capabilities are dropped and privilege escalation is off"
)
NO_HEALTH_ENDPOINT = "worker has no port and no health endpoint to probe (design facts)"
WORKER_SCAN_EXCEPTIONS = {
    "CKV_K8S_43": PINNED_BY_TAG,
    "CKV_K8S_23": ROOT_WORKER_IMAGE,
    "CKV_K8S_40": ROOT_WORKER_IMAGE,
    "CKV_K8S_8": NO_HEALTH_ENDPOINT,
    "CKV_K8S_9": NO_HEALTH_ENDPOINT,
}
# A replaced web pod keeps serving for a few seconds after its endpoint is withdrawn: without it,
# kube-proxy still sends it a connection or two after SIGTERM, which it refuses (the real node's
# rollout test measured 2 failed requests of about 125 per rollout). 5 s covers kube-proxy's
# resync; a cloud load balancer that checks nodes slowly may want longer.
WEB_SHUTDOWN = Shutdown(drain_seconds=5, grace_seconds=30)


def _web_probe(initial_delay_seconds: int, failure_threshold: int) -> Probe:
    # Upstream compose checks vote with `curl -f http://localhost` every 15s after a 10s start.
    return Probe(
        check=HttpGet("/"),
        initial_delay_seconds=initial_delay_seconds,
        period_seconds=15,
        timeout_seconds=5,
        failure_threshold=failure_threshold,
    )


def _compute(quantities: ComputeQuantities) -> dict[str, str]:
    return {"cpu": quantities.cpu, "memory": quantities.memory}


def db_client_auth(args: VotingAppArgs) -> ClientAuth:
    """db.client_auth as given, or when None the strongest that its client images can use."""
    return args.db.client_auth or default_client_auth(db_client_images(unit_images(args)))


def check_db_clients(args: VotingAppArgs) -> None:
    """Refuse a db.client_auth that a known client image of the db cannot log in with."""
    problems = client_auth_problems(db_client_auth(args), db_client_images(unit_images(args)))
    if problems:
        raise ValueError("VotingApp: " + "; ".join(str(problem) for problem in problems))


class VotingApp(pulumi.ComponentResource):
    """The five-part voting app in its own namespace, wired by one declared traffic graph."""

    namespace: k8s.core.v1.Namespace
    namespace_name: pulumi.Output[str]
    db_secret: k8s.core.v1.Secret | None
    db_config: k8s.core.v1.ConfigMap
    quota: k8s.core.v1.ResourceQuota
    limit_range: k8s.core.v1.LimitRange
    units: dict[str, Unit]
    backup: ScheduledJob | None
    network_policies: list[k8s.networking.v1.NetworkPolicy]
    disruption_budgets: list[k8s.policy.v1.PodDisruptionBudget]
    vote_url: pulumi.Output[str]
    result_url: pulumi.Output[str]
    service_names: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: VotingAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_db_clients(args)
        super().__init__("voting:index:VotingApp", name, None, opts)
        self._name = name
        self._args = args
        self._client_auth = db_client_auth(args)

        self.namespace = self._namespace()
        self.namespace_name = self.namespace.metadata.name
        self.db_secret = self._db_secret()
        self.db_config = self._db_config()
        unit_args = {
            "redis": self._redis(),
            "db": self._db(),
            "vote": self._web(
                "vote", args.vote, env={"OPTION_A": args.option_a, "OPTION_B": args.option_b}
            ),
            "worker": self._worker(),
            # result keeps socket.io's sessions in its memory: a client's polls must reach the pod
            # that opened its session, whatever the count of result pods.
            "result": self._web(
                "result", args.result, env={"PORT": str(HTTP_PORT.number)}, sticky_sessions=True
            ),
        }
        backup_args = self._backup_args()
        jobs = [backup_args] if backup_args is not None else []
        self.quota = self._quota(
            [*(unit_footprint(unit) for unit in unit_args.values()), *map(job_footprint, jobs)]
        )
        self.limit_range = self._limit_range(
            [*(unit.resources for unit in unit_args.values()), *(job.pod.resources for job in jobs)]
        )
        # The units wait for both: a scale-up's new pods must find the raised quota.
        self.units = {
            unit: self._kind(unit)(
                self._child_name(unit),
                replace(args_of_unit, object_name=unit, service_await=args.service_await),
                self._child_opts(unit, depends_on=[self.quota, self.limit_range]),
            )
            for unit, args_of_unit in unit_args.items()
        }
        self.backup = self._backup(backup_args)
        self.network_policies = self._network_policies(unit_args)
        self.disruption_budgets = self._disruption_budgets()
        self.vote_url = self._url("vote")
        self.result_url = self._url("result")
        self.service_names = {
            unit_name: unit.service_name
            for unit_name, unit in self.units.items()
            if unit.service_name is not None
        }

        self.register_outputs(
            {
                "namespace": self.namespace_name,
                "vote_url": self.vote_url,
                "result_url": self.result_url,
                "service_names": self.service_names,
            }
        )

    def _child_name(self, suffix: str) -> str:
        """A child's resource name, from the app's: two apps in one program never collide."""
        return f"{self._name}-{suffix}"

    def _child_opts(self, suffix: str, **options: Any) -> pulumi.ResourceOptions:
        """A child's options. Stacks deployed before the names derived from the app's knew each
        child by its suffix alone: the alias keeps it the same resource (no replace)."""
        return pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=suffix)], **options)

    def _labels(self, name: str, role: str) -> dict[str, str]:
        return unit_labels(
            name=name, instance=self._args.namespace, component=role, part_of=PART_OF
        )

    def _metadata(self, name: str, role: str) -> k8s.meta.v1.ObjectMetaArgs:
        return object_metadata(name, self.namespace_name, self._labels(name, role))

    def _namespace(self) -> k8s.core.v1.Namespace:
        labels = self._labels(self._args.namespace, "namespace")
        # Pod Security Admission: the stock web images need root, so enforce `baseline` and
        # record what `restricted` would refuse.
        labels["pod-security.kubernetes.io/enforce"] = "baseline"
        labels["pod-security.kubernetes.io/audit"] = "restricted"
        labels[CLUSTER_TYPE_LABEL] = self._args.cluster_type.value
        # Deleting a namespace deletes every claim in it: a stack that keeps its db's data keeps
        # the namespace too (a StatefulSet's claim is the cluster's, not Pulumi's, to keep).
        retain = self._args.db.storage.retain_on_delete or None
        return k8s.core.v1.Namespace(
            self._child_name("namespace"),
            metadata=object_metadata(self._args.namespace, None, labels),
            opts=self._child_opts("namespace", retain_on_delete=retain),
        )

    def _db_secret(self) -> k8s.core.v1.Secret | None:
        """The Secret the db and its clients read, unless someone else provides it."""
        if self._args.db.credentials is Credentials.REFERENCED:
            return None
        return k8s.core.v1.Secret(
            self._child_name(db.SECRET_NAME),
            metadata=self._metadata(db.SECRET_NAME, "database"),
            type="Opaque",
            string_data=db.secret_data(self._args.db_password),
            opts=self._child_opts(db.SECRET_NAME),
        )

    def _db_config(self) -> k8s.core.v1.ConfigMap:
        # Named by its content: a change of db.clientAuth is a new ConfigMap and a new db pod.
        files = db.config_files(self._client_auth)
        name = db.content_name("db-config", files)
        return k8s.core.v1.ConfigMap(
            self._child_name("db-config"),
            metadata=self._metadata(name, "database"),
            data=files,
            opts=self._child_opts("db-config"),
        )

    def _kind(self, name: str) -> type[ServiceDeployment] | type[ServiceStatefulSet]:
        """What runs the unit's pods: a Deployment, or for db what the stack asks."""
        if name == "db" and self._args.db.workload is DbWorkload.STATEFUL_SET:
            return ServiceStatefulSet
        return ServiceDeployment

    def _quota(self, footprints: Iterable[Footprint]) -> k8s.core.v1.ResourceQuota:
        """The namespace's cap: every unit at its most at once (components/app/footprint.py)."""
        return k8s.core.v1.ResourceQuota(
            self._child_name(QUOTA_NAME),
            metadata=self._metadata(QUOTA_NAME, "quota"),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=total(footprints).hard()),
            opts=self._child_opts(QUOTA_NAME),
        )

    def _limit_range(self, resources: Iterable[Resources]) -> k8s.core.v1.LimitRange:
        bounds = container_bounds(resources)
        return k8s.core.v1.LimitRange(
            self._child_name(LIMITS_NAME),
            metadata=self._metadata(LIMITS_NAME, "quota"),
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type="Container",
                        max=_compute(bounds.max),
                        default=_compute(bounds.default),
                        default_request=_compute(bounds.default_request),
                    )
                ]
            ),
            opts=self._child_opts(LIMITS_NAME),
        )

    def _redis(self) -> ServiceDeploymentArgs:
        redis = self._args.redis
        return ServiceDeploymentArgs(
            namespace=self.namespace_name,
            image=redis.image,
            image_pull_policy=redis.image_pull_policy,
            role="queue",
            instance=self._args.namespace,
            port=REDIS_PORT,
            resources=redis.resources,
            readiness_probe=exec_probe(("redis-cli", "ping"), failure_threshold=3),
            liveness_probe=exec_probe(("redis-cli", "ping"), failure_threshold=6),
            args=redis_store.server_args(redis.persistence),
            volumes=(redis_store.data_volume(redis.persistence),),
            update_strategy=Recreate(),
            security=DATA_STORE_SECURITY,
            exposure=Exposure(ExposureType.CLUSTER_IP),
            service_name="redis",
            scan_exceptions={
                **DATA_STORE_SCAN_EXCEPTIONS,
                **pull_policy_exceptions(redis.image, redis.image_pull_policy),
            },
        )

    def _db(self) -> ServiceDeploymentArgs:
        return db.unit_args(
            self._args.db,
            self._client_auth,
            self.namespace_name,
            self._args.namespace,
            self.db_config.metadata.name,
        )

    def _web(
        self, name: str, unit: WebUnitArgs, env: dict[str, str], sticky_sessions: bool = False
    ) -> ServiceDeploymentArgs:
        return ServiceDeploymentArgs(
            namespace=self.namespace_name,
            image=unit.image,
            image_pull_policy=unit.image_pull_policy,
            role="web",
            instance=self._args.namespace,
            port=HTTP_PORT,
            replicas=unit.replicas,
            spread=self._args.spread,
            # gunicorn 25.2 and later keep a control socket in $XDG_RUNTIME_DIR, else under $HOME,
            # which a read-only root refuses: /tmp is writable (older images ignore the variable).
            env=EnvSpec(plain={**env, "XDG_RUNTIME_DIR": TMP.mount_path}),
            resources=unit.resources,
            readiness_probe=_web_probe(initial_delay_seconds=10, failure_threshold=3),
            liveness_probe=_web_probe(initial_delay_seconds=30, failure_threshold=5),
            volumes=(TMP,),
            update_strategy=RollingUpdate(max_surge=1, max_unavailable=0),
            shutdown=WEB_SHUTDOWN,
            security=WEB_SECURITY,
            exposure=replace(
                unit.exposure,
                node_address=self._args.node_address,
                sticky_sessions=sticky_sessions,
            ),
            service_name=name,
            scan_exceptions={
                **WEB_SCAN_EXCEPTIONS,
                **pull_policy_exceptions(unit.image, unit.image_pull_policy),
            },
        )

    def _worker(self) -> ServiceDeploymentArgs:
        worker = self._args.worker
        return ServiceDeploymentArgs(
            namespace=self.namespace_name,
            image=worker.image,
            image_pull_policy=worker.image_pull_policy,
            role="worker",
            instance=self._args.namespace,
            replicas=worker.replicas,
            spread=self._args.spread,
            resources=worker.resources,
            volumes=(TMP,),
            update_strategy=RollingUpdate(max_surge=1, max_unavailable=0),
            exposure=Exposure(ExposureType.NONE),
            scan_exceptions={
                **WORKER_SCAN_EXCEPTIONS,
                **pull_policy_exceptions(worker.image, worker.image_pull_policy),
            },
        )

    def _backup_args(self) -> ScheduledJobArgs | None:
        backup = self._args.db.backup
        if backup is None:
            return None
        return db_backup.job_args(backup, self._args.db, self.namespace_name, self._args.namespace)

    def _backup(self, args: ScheduledJobArgs | None) -> ScheduledJob | None:
        """db's backups (components/app/backup.py), after the quota that counts their pods."""
        if args is None:
            return None
        return ScheduledJob(
            self._child_name(db_backup.BACKUP),
            args,
            self._child_opts(db_backup.BACKUP, depends_on=[self.quota, self.limit_range]),
        )

    def _network_policies(
        self, unit_args: Mapping[str, ServiceDeploymentArgs]
    ) -> list[k8s.networking.v1.NetworkPolicy]:
        # A unit's load balancer admits only its source ranges from outside: so do its pods.
        endpoints = {
            name: Endpoint(
                selector=unit.selector,
                port=unit.port,
                outside=unit_args[name].exposure.source_ranges,
            )
            for name, unit in self.units.items()
        }
        if self.backup is not None:
            endpoints[db_backup.BACKUP] = Endpoint(selector=self.backup.selector, port=None)
        graph = traffic_graph(backup=self.backup is not None)
        policies = [
            k8s.networking.v1.NetworkPolicy(
                self._child_name("default-deny"),
                metadata=self._metadata("default-deny", "network-policy"),
                spec=DEFAULT_DENY,
                opts=self._child_opts("default-deny"),
            )
        ]
        for name in endpoints:
            for direction, spec in (
                ("ingress", ingress_spec(name, graph, endpoints)),
                ("egress", egress_spec(name, graph, endpoints)),
            ):
                if spec is not None:
                    policies.append(
                        k8s.networking.v1.NetworkPolicy(
                            self._child_name(f"{name}-{direction}"),
                            metadata=self._metadata(f"{name}-{direction}", "network-policy"),
                            spec=spec,
                            opts=self._child_opts(f"{name}-{direction}"),
                        )
                    )
        return policies

    def _disruption_budgets(self) -> list[k8s.policy.v1.PodDisruptionBudget]:
        return [
            k8s.policy.v1.PodDisruptionBudget(
                self._child_name(f"{name}-budget"),
                metadata=self._metadata(name, "disruption-budget"),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    max_unavailable=1,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=unit.selector),
                ),
                opts=self._child_opts(f"{name}-budget"),
            )
            for name, unit in self.units.items()
            # maxUnavailable 1 fits any count of 2 or more, so it holds whatever an autoscaler
            # picks in its range; a unit that can be down to one pod gets none (a budget could
            # only block node drains, or let the one pod go).
            if replica_range(unit.replicas)[0] > 1
        ]

    def _url(self, name: str) -> pulumi.Output[str]:
        url = self.units[name].url
        assert url is not None, f"{name} is a web unit and always has a Service"
        return url
