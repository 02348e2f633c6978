"""The metadata every object of the app carries."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

# Server-side apply would refuse to take back a field that someone changed out of band (say,
# `kubectl scale`); forcing makes `pulumi up` restore the declared state, as a stack should.
OWNERSHIP_ANNOTATIONS = {"pulumi.com/patchForce": "true"}


def object_metadata(
    name: str, namespace: pulumi.Input[str] | None, labels: dict[str, str]
) -> k8s.meta.v1.ObjectMetaArgs:
    return k8s.meta.v1.ObjectMetaArgs(
        name=name, namespace=namespace, labels=labels, annotations=OWNERSHIP_ANNOTATIONS
    )
