"""ScheduledJob: a CronJob that runs a unit's pod on a schedule, with its own ServiceAccount and
the claims its pods mount.

The pod is described as any unit's (ServiceDeploymentArgs) and built by the same function
(components/units/pod_template.py), so it is labelled, resourced and hardened exactly as the
long-running units are; what only a long-running pod has (a port, probes, a Service, replicas, an
update strategy) is refused here rather than silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.units.args import ServiceDeploymentArgs, pod_problems
from components.units.labels import selector_labels, unit_labels
from components.units.metadata import object_metadata, scan_exception_annotations
from components.units.objects import service_account, shared_claims
from components.units.pod_template import pod_template
from components.units.specs import ExposureType

# Five fields (minute hour day-of-month month day-of-week), or one of cron's @-names.
_FIELD = r"[0-9A-Za-z*/,?-]+"
CRON = re.compile(rf"@(yearly|annually|monthly|weekly|daily|hourly)|{_FIELD}( {_FIELD}){{4}}")
CRON_EXPECTED = (
    "five cron fields (minute hour day month weekday, e.g. '0 * * * *') or @hourly/@daily/..."
)


@dataclass(frozen=True)
class ScheduledJobArgs:
    """A pod run on a schedule, one run at a time.

    pod: the pod (required), as a unit's: image, args, env, resources, volumes, security, role,
      instance, object_name, scan exceptions. It may have no port, probes, Service (exposure
      must be `None`) or replicas other than 1.
    schedule: when to run, in cron's notation, e.g. `0 * * * *` (required).
    time_zone: the zone the schedule is read in; default `Etc/UTC`, whatever the cluster's.
    backoff_limit: how often a failed run is retried (each in a new pod); default 2.
    deadline_seconds: the longest a run may take before it is stopped and counted failed
      (activeDeadlineSeconds); default 1800.
    starting_deadline_seconds: how late a missed run (the controller down, the previous run still
      going) may still start; default 300. Later, it is skipped and the next one waits.
    history: how many finished runs (their Jobs and pods, for their logs) are kept, of the
      successful ones and of the failed ones each; default 3.
    A run never starts while the previous one is still going (concurrencyPolicy Forbid): two
    writers of the same claim would race.
    """

    pod: ServiceDeploymentArgs
    schedule: str
    time_zone: str = "Etc/UTC"
    backoff_limit: int = 2
    deadline_seconds: int = 1800
    starting_deadline_seconds: int = 300
    history: int = 3


def schedule_problem(schedule: str) -> str | None:
    """Why `schedule` is not a cron schedule Kubernetes takes, or None."""
    if CRON.fullmatch(schedule) is None:
        return f"schedule {schedule!r}: expected {CRON_EXPECTED}"
    return None


def check_scheduled_job(name: str, args: ScheduledJobArgs) -> None:
    """Refuse what a CronJob cannot have, before anything is registered."""
    pod = args.pod
    problems = [problem for problem in (schedule_problem(args.schedule),) if problem]
    if pod.port is not None:
        problems.append(f"the pod has port {pod.port.number}; a job's pod serves nothing")
    if pod.exposure.type is not ExposureType.NONE:
        problems.append(f"exposure {pod.exposure.type.value}; a job has no Service (use None)")
    if pod.replicas != 1:
        problems.append(f"replicas {pod.replicas}; a job runs one pod at a time")
    if any(probe is not None for probe in (pod.readiness_probe, pod.liveness_probe)):
        problems.append("readiness and liveness probes: a job's pod is never a Service's endpoint")
    for field, value, least in (
        ("backoff_limit", args.backoff_limit, 0),
        ("deadline_seconds", args.deadline_seconds, 1),
        ("starting_deadline_seconds", args.starting_deadline_seconds, 10),
        ("history", args.history, 0),
    ):
        if value < least:
            problems.append(f"{field} is {value}; it must be at least {least}")
    problems += pod_problems(pod)
    if problems:
        raise ValueError(f"ScheduledJob {name!r}: " + "; ".join(problems))


class ScheduledJob(pulumi.ComponentResource):
    """A CronJob, its own ServiceAccount (no token mounted, bound to no role) and the claims its
    pods mount. `labels` (and `selector`, their immutable part) are on every object and every
    run's pods: what a NetworkPolicy selects them by."""

    object_name: str
    labels: dict[str, str]
    selector: dict[str, str]
    service_account: k8s.core.v1.ServiceAccount
    claims: list[k8s.core.v1.PersistentVolumeClaim]
    cron_job: k8s.batch.v1.CronJob

    def __init__(
        self, name: str, args: ScheduledJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_scheduled_job(name, args)
        super().__init__("voting:index:ScheduledJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts else None)
        pod = args.pod
        self.object_name = pod.object_name or name
        self.labels = unit_labels(
            name=self.object_name, instance=pod.instance, component=pod.role, part_of=pod.part_of
        )
        self.selector = selector_labels(self.labels)
        self.service_account = service_account(
            name, self.object_name, pod.namespace, self.labels, child
        )
        self.claims = shared_claims(name, self.object_name, pod, self.labels, child)
        template = pod_template(
            self.object_name,
            pod,
            self.labels,
            self.selector,
            self.service_account.metadata.name,
            revision_label="",
            restart_policy="Never",
        )
        annotations = scan_exception_annotations(pod.scan_exceptions)
        self.cron_job = k8s.batch.v1.CronJob(
            name,
            metadata=object_metadata(self.object_name, pod.namespace, self.labels, annotations),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=args.schedule,
                time_zone=args.time_zone,
                concurrency_policy="Forbid",
                starting_deadline_seconds=args.starting_deadline_seconds,
                successful_jobs_history_limit=args.history,
                failed_jobs_history_limit=args.history,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=self.labels),
                    spec=k8s.batch.v1.JobSpecArgs(
                        backoff_limit=args.backoff_limit,
                        active_deadline_seconds=args.deadline_seconds,
                        template=template,
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=self.claims or None)
            ),
        )

        self.register_outputs({"cron_job_name": self.cron_job.metadata.name})
