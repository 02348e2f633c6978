"""What `pulumi up` waits for on a unit's workload (components/units/rollout_await.py): the exact
JSONPath filter the provider evaluates, on a Deployment and on a StatefulSet, whatever the
Service's await and the replica count. tests/e2e/test_up_returns_when_rolled_out.py proves on
the real node that the provider, given it, returns only once the rollout is done."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.units.rollout_await import WAIT_FOR, WorkloadKind, rollout_await
from components.units.service_deployment import ServiceDeployment
from components.units.service_stateful_set import ServiceStatefulSet
from components.units.specs import Autoscaling, Exposure, ExposureType, ServiceAwait
from tests.test_service_stateful_set import DEPLOYMENT, STATEFUL_SET, build, only, store_args

# Written out by hand: the declaration in rollout_await.py must produce exactly these.
DEPLOYMENT_ROLLED_OUT = (
    "jsonpath={$[?@.observedGeneration==$.metadata.generation"
    "&&@.updatedReplicas==$.spec.replicas"
    "&&@.replicas==$.spec.replicas"
    "&&@.availableReplicas==$.spec.replicas]}"
)
STATEFUL_SET_ROLLED_OUT = (
    "jsonpath={$[?@.observedGeneration==$.metadata.generation"
    "&&@.currentRevision==@.updateRevision"
    "&&@.currentReplicas==$.spec.replicas"
    "&&@.readyReplicas==$.spec.replicas"
    "&&@.availableReplicas==$.spec.replicas]}"
)
KINDS = [
    (ServiceDeployment, DEPLOYMENT, DEPLOYMENT_ROLLED_OUT),
    (ServiceStatefulSet, STATEFUL_SET, STATEFUL_SET_ROLLED_OUT),
]


def annotations_of(component: Any, typ: str, **overrides: Any) -> dict[str, str]:
    found: dict[str, str] = only(build(component, store_args(**overrides)), typ)["metadata"][
        "annotations"
    ]
    return found


@pytest.mark.parametrize(("component", "typ", "expected"), KINDS)
@pytest.mark.parametrize("replicas", [1, 3, Autoscaling(min_replicas=2, max_replicas=4)])
@pytest.mark.parametrize("service_await", list(ServiceAwait))
def test_up_waits_for_the_workload_s_rollout(
    component: Any, typ: str, expected: str, replicas: Any, service_await: ServiceAwait
) -> None:
    exposure = Exposure(ExposureType.NODE_PORT)
    found = annotations_of(
        component, typ, replicas=replicas, exposure=exposure, service_await=service_await
    )
    assert found["pulumi.com/waitFor"] == expected
    # The wait is never skipped, and the unit's other annotations stay.
    assert "pulumi.com/skipAwait" not in found
    assert found["pulumi.com/patchForce"] == "true"


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
def test_the_filter_is_one_the_provider_parses(kind: WorkloadKind) -> None:
    """The provider's parser (pkg/jsonpath/jsonpath.go) splits on a single `=` (a value to
    compare) and takes the path up to the first `}`; the JSONPath library under it
    (theory/jsonpath v0.9.0) fails on a third `&&` after blank space. The filter has none."""
    path = rollout_await(kind)[WAIT_FOR].removeprefix("jsonpath=")
    assert "=" not in path.replace("==", "")
    assert re.fullmatch(r"\{[^{}\s]+\}", path)
