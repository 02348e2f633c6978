"""What `pulumi up` waits for on a workload: its rollout complete, judged on one object.

The provider's own waits (pulumi-kubernetes v4.25.0) can report an update done before the new
pods are Ready: its StatefulSet wait (`pkg/await/statefulset.go`) judges the previous rollout's
status as soon as the new spec is written, since it never compares `observedGeneration` with
`generation`; its Deployment wait (`pkg/await/deployment.go`), on a return to a template whose
ReplicaSet still exists, trusts the `Progressing` condition left by the previous rollout and
counts that ReplicaSet as ready while it still wants 0 pods (docs/operations.md, "What a plain
`pulumi up` waits for"). `pulumi.com/waitFor` replaces both with one JSONPath filter that holds
only when the status is of the current spec and says what `kubectl rollout status` says: every
pod of the current template, all of them available, none of an older one left. The provider's
JSONPath condition (`pkg/await/condition/jsonpath.go`) also ignores a status behind its spec.

Written in RFC 9535 JSONPath (the provider's parser): the filter selects `.status` when its
fields equal the object's own `.spec.replicas` (the live count, so an autoscaler's choice
counts). The provider splits the annotation on a single `=`, so only `==` compares here, and
its JSONPath library (theory/jsonpath v0.9.0) fails on a third `&&` after blank space, so there
is none. A field of 0 is absent from the status and never equals the count: a unit has at least
one pod.
"""

from __future__ import annotations

from typing import Literal

WAIT_FOR = "pulumi.com/waitFor"
WorkloadKind = Literal["Deployment", "StatefulSet"]

_CURRENT = "@.observedGeneration==$.metadata.generation"
_ALL_AVAILABLE = "@.availableReplicas==$.spec.replicas"

# A Deployment counts the pods that are not terminating: `updatedReplicas` those of the current
# template, `replicas` all of them, so both at the count means no older pod is left.
_DEPLOYMENT_DONE = (
    _CURRENT,
    "@.updatedReplicas==$.spec.replicas",
    "@.replicas==$.spec.replicas",
    _ALL_AVAILABLE,
)
# A StatefulSet replaces a pod only after the old one is gone; its controller sets
# `currentRevision` to `updateRevision` once every pod is of the update revision and Ready.
_STATEFUL_SET_DONE = (
    _CURRENT,
    "@.currentRevision==@.updateRevision",
    "@.currentReplicas==$.spec.replicas",
    "@.readyReplicas==$.spec.replicas",
    _ALL_AVAILABLE,
)
_DONE: dict[WorkloadKind, tuple[str, ...]] = {
    "Deployment": _DEPLOYMENT_DONE,
    "StatefulSet": _STATEFUL_SET_DONE,
}


def rollout_await(kind: WorkloadKind) -> dict[str, str]:
    """The annotation that makes the provider wait, on create and on update alike, until the
    workload of `kind` has rolled out."""
    return {WAIT_FOR: "jsonpath={$[?" + "&&".join(_DONE[kind]) + "]}"}
