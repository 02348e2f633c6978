"""The most that the units may use at once, summed into the namespace's ResourceQuota, and the
per-container bounds of its LimitRange: derived from the units' own args, so neither can drift
from what the app runs, and the quota cannot block the app's own rollout.

The quota caps pods and compute, not claims or storage: moving db between a Deployment and a
StatefulSet creates the new claim before Pulumi deletes the old one, and a claim quota sized for
one would hold the switch until the update timed out (the integration test met exactly that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass

from components.units.args import ServiceDeploymentArgs
from components.units.quantities import cpu_millicores, memory_bytes
from components.units.scheduled_job import ScheduledJobArgs
from components.units.specs import (
    ComputeQuantities,
    Recreate,
    Resources,
    Scale,
    UpdateStrategy,
    replica_range,
)


def most_pods_at_once(scale: Scale, strategy: UpdateStrategy) -> int:
    """The most pods of a unit that the quota can be charged for at one time.

    Recreate: the replica count (or the autoscaler's maximum); the old pods are gone before the
    new ones start. RollingUpdate: that count plus the surge, plus the old pods on their way
    out, up to all of them: the quota charges a pod until it has terminated, while the
    Deployment controller counts only the pods that are not terminating (a web pod drains for
    5 s, and its replacement's next surge pod is created as the drain starts).
    """
    most = replica_range(scale)[1]
    if isinstance(strategy, Recreate):
        return most
    return most + strategy.max_surge + most


@dataclass(frozen=True)
class Footprint:
    """Pods and compute: cpu in millicores, memory in bytes."""

    pods: int = 0
    requests_cpu: float = 0
    requests_memory: float = 0
    limits_cpu: float = 0
    limits_memory: float = 0

    def __add__(self, other: Footprint) -> Footprint:
        return Footprint(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def hard(self) -> dict[str, str]:
        """The ResourceQuota's `hard` limits."""
        return {
            "pods": str(self.pods),
            "requests.cpu": _cpu(self.requests_cpu),
            "requests.memory": _memory(self.requests_memory),
            "limits.cpu": _cpu(self.limits_cpu),
            "limits.memory": _memory(self.limits_memory),
        }


# A scheduled job's pods at once: its scheduled run (never two: concurrencyPolicy Forbid) and
# one run by hand beside it (tools/backup's restore or list, `kubectl create job --from`).
JOB_RUNS_AT_ONCE = 2


def unit_footprint(args: ServiceDeploymentArgs) -> Footprint:
    """One unit at its most: the requests and limits of the most pods it can have at once."""
    return _pods_of(most_pods_at_once(args.replicas, args.update_strategy), args.resources)


def job_footprint(args: ScheduledJobArgs) -> Footprint:
    """A scheduled job at its most: JOB_RUNS_AT_ONCE pods of it."""
    return _pods_of(JOB_RUNS_AT_ONCE, args.pod.resources)


def _pods_of(pods: int, resources: Resources) -> Footprint:
    return Footprint(
        pods=pods,
        requests_cpu=pods * _millicores(resources.requests),
        requests_memory=pods * _bytes(resources.requests),
        limits_cpu=pods * _millicores(resources.limits),
        limits_memory=pods * _bytes(resources.limits),
    )


def total(footprints: Iterable[Footprint]) -> Footprint:
    return sum(footprints, Footprint())


@dataclass(frozen=True)
class ContainerBounds:
    """The LimitRange of the namespace, from the units' resources.

    max: no container may ask for a larger limit than the largest unit's.
    default / default_request: what a container that sets none gets (and is charged to the
    quota for): the smallest unit's limits and requests.
    """

    max: ComputeQuantities
    default: ComputeQuantities
    default_request: ComputeQuantities


def container_bounds(resources: Iterable[Resources]) -> ContainerBounds:
    every = list(resources)
    limits = [r.limits for r in every]
    requests = [r.requests for r in every]
    return ContainerBounds(
        max=_extreme(limits, max),
        default=_extreme(limits, min),
        default_request=_extreme(requests, min),
    )


def _extreme(quantities: list[ComputeQuantities], pick: Callable[..., str]) -> ComputeQuantities:
    """`pick` (max or min) of the cpu values and of the memory values, by their size."""
    return ComputeQuantities(
        cpu=pick((q.cpu for q in quantities), key=lambda value: _quantity(cpu_millicores, value)),
        memory=pick(
            (q.memory for q in quantities), key=lambda value: _quantity(memory_bytes, value)
        ),
    )


def _quantity(parse: Callable[[str], float | None], value: str) -> float:
    parsed = parse(value)
    if parsed is None:
        raise ValueError(f"not a positive quantity: {value!r}")
    return parsed


def _millicores(quantities: ComputeQuantities) -> float:
    return _quantity(cpu_millicores, quantities.cpu)


def _bytes(quantities: ComputeQuantities) -> float:
    return _quantity(memory_bytes, quantities.memory)


def _cpu(millicores: float) -> str:
    return f"{round(millicores)}m"


def _memory(size: float) -> str:
    """Bytes in the largest binary unit that holds them whole: 10Gi, 928Mi, 1500."""
    whole = round(size)
    for unit, factor in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if whole and whole % factor == 0:
            return f"{whole // factor}{unit}"
    return str(whole)
