"""ScheduledJob on its own: a CronJob whose pods are a unit's pods (labelled, resourced and
hardened by the same template), one run at a time, and what only a long-running pod has refused."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pytest

from components.units.args import ServiceDeploymentArgs
from components.units.scheduled_job import ScheduledJob, ScheduledJobArgs, schedule_problem
from components.units.specs import (
    ClaimVolume,
    ComputeQuantities,
    ContainerPort,
    EmptyDirVolume,
    EnvSpec,
    Exec,
    Exposure,
    ExposureType,
    Probe,
    Resources,
    SecretKeyRef,
    SecurityProfile,
    Shutdown,
)
from tests.mocks import VotingMocks, run_with_mocks, unwrap

CRON_JOB = "kubernetes:batch/v1:CronJob"
CLAIM = "kubernetes:core/v1:PersistentVolumeClaim"
ACCOUNT = "kubernetes:core/v1:ServiceAccount"
COMPONENT = "voting:index:ScheduledJob"
DATA = ClaimVolume(name="data", mount_path="/data", size="2Gi", storage_class="slow")
TMP = EmptyDirVolume(name="tmp", mount_path="/tmp", size_limit="8Mi")
LABELS = {
    "app.kubernetes.io/name": "dump",
    "app.kubernetes.io/instance": "team-a",
    "app.kubernetes.io/component": "backup",
    "app.kubernetes.io/part-of": "voting-app",
    "app.kubernetes.io/managed-by": "pulumi",
}


def pod_args(**overrides: Any) -> ServiceDeploymentArgs:
    base: dict[str, Any] = {
        "namespace": "team-a",
        "image": "example/dump:1.0",
        "role": "backup",
        "instance": "team-a",
        "args": ("dump", "--all"),
        "exposure": Exposure(ExposureType.NONE),
        "volumes": (DATA, TMP),
        "security": SecurityProfile(
            run_as_user=999, run_as_group=999, fs_group=999, run_as_non_root=True
        ),
    }
    return ServiceDeploymentArgs(**(base | overrides))


def job_args(pod: ServiceDeploymentArgs | None = None, **overrides: Any) -> ScheduledJobArgs:
    base: dict[str, Any] = {"pod": pod or pod_args(), "schedule": "0 * * * *"}
    return ScheduledJobArgs(**(base | overrides))


def build(args: ScheduledJobArgs, name: str = "dump") -> tuple[VotingMocks, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def program() -> None:
        job = ScheduledJob(name, args)
        seen.update(object_name=job.object_name, labels=job.labels, selector=job.selector)

    return run_with_mocks(program), seen


def only(mocks: VotingMocks, typ: str) -> dict[str, Any]:
    (resource,) = mocks.of_type(typ)
    plain: dict[str, Any] = unwrap(resource.inputs)
    return plain


def pod_of(mocks: VotingMocks) -> dict[str, Any]:
    pod: dict[str, Any] = only(mocks, CRON_JOB)["spec"]["jobTemplate"]["spec"]["template"]
    return pod


def container_of(mocks: VotingMocks) -> dict[str, Any]:
    (container,) = pod_of(mocks)["spec"]["containers"]
    plain: dict[str, Any] = container
    return plain


def test_the_cron_job_runs_on_its_schedule_one_run_at_a_time() -> None:
    mocks, _ = build(job_args())
    spec = only(mocks, CRON_JOB)["spec"]
    assert {key: value for key, value in spec.items() if key != "jobTemplate"} == {
        "schedule": "0 * * * *",
        "timeZone": "Etc/UTC",
        # Two runs at once would be two writers of the same claim.
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 300,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
    }
    job = spec["jobTemplate"]["spec"]
    assert {key: value for key, value in job.items() if key != "template"} == {
        "backoffLimit": 2,
        "activeDeadlineSeconds": 1800,
    }


def test_every_setting_of_the_args_reaches_the_cron_job() -> None:
    args = job_args(
        schedule="*/5 1-3 * * MON-FRI",
        time_zone="Europe/Berlin",
        backoff_limit=0,
        deadline_seconds=60,
        starting_deadline_seconds=10,
        history=0,
    )
    mocks, _ = build(args)
    spec = only(mocks, CRON_JOB)["spec"]
    assert spec["schedule"] == "*/5 1-3 * * MON-FRI"
    assert spec["timeZone"] == "Europe/Berlin"
    assert spec["startingDeadlineSeconds"] == 10
    assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == 0
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 60


def test_a_run_s_pod_is_never_restarted_in_place() -> None:
    mocks, _ = build(job_args())
    # A Job's pods may not have Kubernetes' default (Always): a failed run is retried in a new
    # pod, up to backoffLimit.
    assert pod_of(mocks)["spec"]["restartPolicy"] == "Never"


def test_the_pod_is_hardened_like_a_unit_s() -> None:
    mocks, _ = build(job_args())
    pod = pod_of(mocks)["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"] == {
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsUser": 999,
        "runAsGroup": 999,
        "fsGroup": 999,
        "fsGroupChangePolicy": "OnRootMismatch",
        "runAsNonRoot": True,
    }
    assert container_of(mocks)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def test_run_as_non_root_is_set_only_where_the_profile_says() -> None:
    mocks, _ = build(job_args(pod_args(security=SecurityProfile())))
    pod = pod_of(mocks)["spec"]
    assert "runAsNonRoot" not in pod["securityContext"]
    assert "runAsNonRoot" not in container_of(mocks)["securityContext"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container_of(mocks)["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_pod_runs_as_the_job_s_own_service_account() -> None:
    mocks, seen = build(job_args())
    account = only(mocks, ACCOUNT)
    assert account["metadata"]["name"] == "dump"
    assert account["metadata"]["namespace"] == "team-a"
    assert account["metadata"]["labels"] == LABELS
    assert account["automountServiceAccountToken"] is False
    assert pod_of(mocks)["spec"]["serviceAccountName"] == "dump"
    assert seen["labels"] == LABELS


def test_the_cron_job_its_runs_and_their_pods_carry_the_labels() -> None:
    mocks, seen = build(job_args())
    cron_job = only(mocks, CRON_JOB)
    assert cron_job["metadata"]["name"] == "dump"
    assert cron_job["metadata"]["namespace"] == "team-a"
    assert cron_job["metadata"]["labels"] == LABELS
    assert cron_job["spec"]["jobTemplate"]["metadata"]["labels"] == LABELS
    assert pod_of(mocks)["metadata"]["labels"] == LABELS
    # What a NetworkPolicy selects its pods by: the immutable part of the labels.
    assert seen["selector"] == {
        "app.kubernetes.io/name": "dump",
        "app.kubernetes.io/instance": "team-a",
    }


def test_the_container_is_the_pod_args_own() -> None:
    resources = Resources(
        requests=ComputeQuantities(cpu="20m", memory="32Mi"),
        limits=ComputeQuantities(cpu="200m", memory="96Mi"),
    )
    env = EnvSpec(
        plain={"MODE": "full"}, from_secrets={"PASS": SecretKeyRef(secret_name="s", key="k")}
    )
    mocks, _ = build(job_args(pod_args(resources=resources, env=env)))
    container = container_of(mocks)
    assert container["name"] == "dump"
    assert container["image"] == "example/dump:1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"] == ["dump", "--all"]
    assert container["resources"] == {
        "requests": {"cpu": "20m", "memory": "32Mi"},
        "limits": {"cpu": "200m", "memory": "96Mi"},
    }
    assert container["env"] == [
        {"name": "MODE", "value": "full"},
        {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    assert "ports" not in container
    assert "readinessProbe" not in container
    assert "livenessProbe" not in container


def test_the_claims_are_created_and_mounted() -> None:
    mocks, _ = build(job_args())
    claim = only(mocks, CLAIM)
    assert claim["metadata"]["name"] == "dump-data"
    assert claim["metadata"]["namespace"] == "team-a"
    assert claim["metadata"]["labels"] == LABELS
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "slow",
        "resources": {"requests": {"storage": "2Gi"}},
    }
    assert pod_of(mocks)["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "dump-data"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "8Mi"}},
    ]
    assert container_of(mocks)["volumeMounts"] == [
        {"name": "data", "mountPath": "/data"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    (cron_job,) = (urn for urn in mocks.urns if CRON_JOB in urn)
    (claim_urn,) = (urn for urn in mocks.urns if CLAIM in urn)
    # A run never starts before the claim it writes to exists.
    assert claim_urn in mocks.dependencies[cron_job]


def test_a_job_without_a_claim_creates_none() -> None:
    mocks, _ = build(job_args(pod_args(volumes=(TMP,))))
    assert mocks.of_type(CLAIM) == []
    assert pod_of(mocks)["spec"]["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "8Mi"}}]
    assert "fsGroupChangePolicy" not in pod_of(mocks)["spec"]["securityContext"]


@pytest.mark.parametrize("retained", [True, False])
def test_a_claim_is_kept_on_delete_exactly_when_its_volume_says(retained: bool) -> None:
    volume = ClaimVolume(name="data", mount_path="/data", retain_on_delete=retained)
    mocks, _ = build(job_args(pod_args(volumes=(volume,))))
    (claim,) = (urn for urn in mocks.urns if CLAIM in urn)
    assert (claim in mocks.retained) is retained
    assert mocks.retained <= {claim}


def test_the_component_s_name_is_pulumi_s_and_the_object_name_kubernetes() -> None:
    mocks, seen = build(job_args(pod_args(object_name="dump")), name="team-a-dump")
    assert seen["object_name"] == "dump"
    for typ in (CRON_JOB, ACCOUNT):
        (resource,) = mocks.of_type(typ)
        assert resource.name == "team-a-dump", typ
        assert unwrap(resource.inputs)["metadata"]["name"] == "dump", typ
    (claim,) = mocks.of_type(CLAIM)
    assert claim.name == "team-a-dump-data"
    assert unwrap(claim.inputs)["metadata"]["name"] == "dump-data"
    # The pod mounts the claim by its Kubernetes name, and runs as the account by its own.
    assert pod_of(mocks)["spec"]["volumes"][0]["persistentVolumeClaim"] == {
        "claimName": "dump-data"
    }
    assert pod_of(mocks)["spec"]["serviceAccountName"] == "dump"
    assert container_of(mocks)["name"] == "dump"


def test_every_child_is_parented_by_the_component() -> None:
    mocks, _ = build(job_args())
    (component,) = mocks.of_type(COMPONENT)
    assert component.custom is False
    children = [urn for urn in mocks.urns if "kubernetes:" in urn]
    assert sorted(urn.rsplit("$", 1)[-1] for urn in children) == sorted(
        [f"{CRON_JOB}::dump", f"{ACCOUNT}::dump", f"{CLAIM}::dump-data"]
    )
    for urn in children:
        assert f"::{COMPONENT}$kubernetes:" in urn, urn


def test_every_object_of_the_job_waits_for_what_the_job_depends_on() -> None:
    def program() -> None:
        first = pulumi.CustomResource("test:index:Thing", "first")
        ScheduledJob("dump", job_args(), pulumi.ResourceOptions(depends_on=[first]))

    mocks = run_with_mocks(program)
    (first,) = (urn for urn in mocks.urns if urn.endswith("::first"))
    children = [urn for urn in mocks.urns if f"{COMPONENT}$kubernetes:" in urn]
    assert len(children) == 3
    for urn in children:
        assert first in mocks.dependencies[urn], urn


def test_the_component_s_outputs_name_its_cron_job() -> None:
    mocks, _ = build(job_args())
    (urn,) = (u for u in mocks.urns if u.endswith(f"{COMPONENT}::dump"))
    assert mocks.component_outputs[urn] == {"cron_job_name": "dump"}


def test_scan_exceptions_become_checkov_skip_annotations() -> None:
    mocks, _ = build(job_args(pod_args(scan_exceptions={"CKV_K8S_43": "pinned by tag"})))
    annotations = only(mocks, CRON_JOB)["metadata"]["annotations"]
    assert annotations["checkov.io/skip1"] == "CKV_K8S_43=pinned by tag"


# What a CronJob cannot have, refused before anything is registered, each naming its field and
# value.

PROBE = Probe(check=Exec(("true",)))


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (
            job_args(pod_args(port=ContainerPort(8080, "web"))),
            "the pod has port 8080; a job's pod serves nothing",
        ),
        (
            job_args(pod_args(port=ContainerPort(8080, "web"), exposure=Exposure())),
            "the pod has port 8080; a job's pod serves nothing; exposure ClusterIP; a job has no"
            " Service (use None)",
        ),
        (
            job_args(pod_args(exposure=Exposure(ExposureType.NODE_PORT))),
            "exposure NodePort; a job has no Service (use None)",
        ),
        (job_args(pod_args(replicas=2)), "replicas 2; a job runs one pod at a time"),
        (
            job_args(pod_args(readiness_probe=PROBE)),
            "readiness and liveness probes: a job's pod is never a Service's endpoint",
        ),
        (
            job_args(pod_args(liveness_probe=PROBE)),
            "readiness and liveness probes: a job's pod is never a Service's endpoint",
        ),
        (job_args(backoff_limit=-1), "backoff_limit is -1; it must be at least 0"),
        (job_args(deadline_seconds=0), "deadline_seconds is 0; it must be at least 1"),
        (
            job_args(starting_deadline_seconds=9),
            "starting_deadline_seconds is 9; it must be at least 10",
        ),
        (job_args(history=-1), "history is -1; it must be at least 0"),
        (
            job_args(schedule="every hour"),
            "schedule 'every hour': expected five cron fields (minute hour day month weekday,"
            " e.g. '0 * * * *') or @hourly/@daily/...",
        ),
    ],
)
def test_what_a_cron_job_cannot_have_is_refused_before_registration(
    args: ScheduledJobArgs, problem: str
) -> None:
    mocks = VotingMocks()
    whole = f"ScheduledJob 'dump': {problem}"
    with pytest.raises(ValueError, match=f"^{re.escape(whole)}$"):
        run_with_mocks(lambda: ScheduledJob("dump", args), mocks=mocks)
    assert mocks.registered == []


def test_the_least_values_of_each_limit_are_accepted() -> None:
    args = job_args(backoff_limit=0, deadline_seconds=1, starting_deadline_seconds=10, history=0)
    mocks, _ = build(args)
    assert len(mocks.of_type(CRON_JOB)) == 1


def test_every_problem_is_named_at_once() -> None:
    args = job_args(pod_args(replicas=3), schedule="", history=-2)
    whole = (
        "ScheduledJob 'dump': schedule '': expected five cron fields (minute hour day month"
        " weekday, e.g. '0 * * * *') or @hourly/@daily/...; replicas 3; a job runs one pod at a"
        " time; history is -2; it must be at least 0"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(whole)}$"):
        run_with_mocks(lambda: ScheduledJob("dump", args))


@pytest.mark.parametrize(
    "schedule",
    ["0 * * * *", "*/5 1-3 * * MON-FRI", "@hourly", "@daily", "30 2 1,15 * ?", "@annually"],
)
def test_a_cron_schedule_is_accepted(schedule: str) -> None:
    assert schedule_problem(schedule) is None


@pytest.mark.parametrize(
    "schedule",
    [
        "",
        "0 * * *",  # four fields
        "0 0 * * * *",  # six fields (seconds): Kubernetes reads five
        "0 * * * *\n",
        "0 *\n* * *",
        "\u0661 * * * *",  # an Arabic-Indic one
        "0 \uff11 * * *",  # a full-width one
        "@often",
        "@hourly ",
        "0  * * * *",  # two spaces
    ],
)
def test_anything_else_is_not_a_schedule(schedule: str) -> None:
    problem = schedule_problem(schedule)
    assert problem == (
        f"schedule {schedule!r}: expected five cron fields (minute hour day month weekday, e.g."
        " '0 * * * *') or @hourly/@daily/..."
    )


@pytest.mark.parametrize(
    ("pod", "problem"),
    [
        (
            pod_args(scan_exceptions={"CKV_K8S_43": " "}),
            "every scan exception needs a written reason",
        ),
        (
            pod_args(shutdown=Shutdown(drain_seconds=30, grace_seconds=30)),
            "shutdown grace_seconds 30 must be more than drain_seconds 30: the process needs time"
            " after the drain",
        ),
        (
            pod_args(shutdown=Shutdown(drain_seconds=-1)),
            "shutdown drain_seconds is -1; it must be >= 0",
        ),
    ],
)
def test_what_no_pod_may_have_is_refused_as_for_a_unit(
    pod: ServiceDeploymentArgs, problem: str
) -> None:
    """The pod is a unit's: what ServiceDeployment refuses of any pod, a job refuses too."""
    mocks = VotingMocks()
    whole = f"ScheduledJob 'dump': {problem}"
    with pytest.raises(ValueError, match=f"^{re.escape(whole)}$"):
        run_with_mocks(lambda: ScheduledJob("dump", job_args(pod)), mocks=mocks)
    assert mocks.registered == []
