"""The quota's arithmetic: the most pods a unit can have at once, and what they add up to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from components.app.footprint import (
    Footprint,
    container_bounds,
    most_pods_at_once,
    total,
    unit_footprint,
)
from components.units.args import ServiceDeploymentArgs
from components.units.specs import (
    Autoscaling,
    ClaimVolume,
    ComputeQuantities,
    Recreate,
    Resources,
    RollingUpdate,
)
from tests.test_service_deployment import web_args


@pytest.mark.parametrize(
    ("scale", "strategy", "pods"),
    [
        (1, Recreate(), 1),
        (3, Recreate(), 3),
        (1, RollingUpdate(), 3),
        (3, RollingUpdate(max_surge=1), 7),
        (3, RollingUpdate(max_surge=2), 8),
        (Autoscaling(3, 10), RollingUpdate(), 21),
        (Autoscaling(1, 4), Recreate(), 4),
    ],
)
def test_most_pods_at_once(scale: int | Autoscaling, strategy: object, pods: int) -> None:
    assert most_pods_at_once(scale, strategy) == pods  # type: ignore[arg-type]


SIZED = Resources(requests=ComputeQuantities("100m", "64Mi"), limits=ComputeQuantities("1", "1Gi"))


def unit(**overrides: Any) -> ServiceDeploymentArgs:
    """The component tests' web unit, one replica of SIZED unless `overrides` say otherwise."""
    return web_args(**({"replicas": 1, "resources": SIZED} | overrides))


def test_a_unit_charges_its_pods_compute() -> None:
    data = ClaimVolume(name="data", mount_path="/data", size="10Gi")
    footprint = unit_footprint(unit(replicas=2, volumes=(data,)))
    assert footprint == Footprint(
        pods=5,
        requests_cpu=500,
        requests_memory=5 * 64 * 2**20,
        limits_cpu=5000,
        limits_memory=5 * 2**30,
    )
    # Claims are not in the quota: a db moving to a StatefulSet makes its new claim first.
    assert "persistentvolumeclaims" not in footprint.hard()


def test_footprints_add_up_to_the_quota() -> None:
    summed = total([unit_footprint(unit()), unit_footprint(unit(update_strategy=Recreate()))])
    assert summed.hard() == {
        "pods": "4",
        "requests.cpu": "400m",
        "requests.memory": "256Mi",
        "limits.cpu": "4000m",
        "limits.memory": "4Gi",
    }


def test_container_bounds_come_from_the_largest_and_smallest_unit() -> None:
    small = Resources(
        requests=ComputeQuantities("50m", "32Mi"), limits=ComputeQuantities("200m", "64Mi")
    )
    large = Resources(
        requests=ComputeQuantities("250m", "512Mi"), limits=ComputeQuantities("1", "1Gi")
    )
    bounds = container_bounds([large, small])
    assert bounds.max == ComputeQuantities("1", "1Gi")
    assert bounds.default == ComputeQuantities("200m", "64Mi")
    assert bounds.default_request == ComputeQuantities("50m", "32Mi")


def test_an_unparsable_quantity_is_refused() -> None:
    bad = unit(resources=Resources(requests=ComputeQuantities("lots", "64Mi")))
    with pytest.raises(ValueError, match="not a positive quantity: 'lots'"):
        unit_footprint(bad)


# Memory in the quota: the largest binary unit that holds it whole, else plain bytes.


@pytest.mark.parametrize(
    ("size", "written"),
    [
        (10 * 2**30, "10Gi"),
        (928 * 2**20, "928Mi"),
        (1536 * 2**10, "1536Ki"),
        (1500, "1500"),
        (0, "0"),
    ],
)
def test_the_quota_writes_memory_in_the_largest_whole_unit(size: int, written: str) -> None:
    assert Footprint(requests_memory=size).hard()["requests.memory"] == written


def test_only_footprints_of_the_same_shape_add_up() -> None:
    @dataclass(frozen=True)
    class WithClaims(Footprint):
        claims: int = 0

    # Refused, not cut to the shorter: strict zip.
    with pytest.raises(ValueError, match="is longer than"):
        Footprint(pods=1) + WithClaims(pods=1, claims=2)
