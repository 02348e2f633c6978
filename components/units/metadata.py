"""The metadata every object of the app carries."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

# Server-side apply would refuse to take back a field that someone changed out of band (say,
# `kubectl scale`); forcing makes `pulumi up` restore the declared state, as a stack should.
OWNERSHIP_ANNOTATIONS = {"pulumi.com/patchForce": "true"}


def scan_exception_annotations(exceptions: Mapping[str, str]) -> dict[str, str]:
    """checkov's skip annotations: `checkov.io/skip<n>: <check id>=<reason>`."""
    return {
        f"checkov.io/skip{number}": f"{check}={reason}"
        for number, (check, reason) in enumerate(sorted(exceptions.items()), start=1)
    }


def object_metadata(
    name: str,
    namespace: pulumi.Input[str] | None,
    labels: dict[str, str],
    annotations: Mapping[str, str] | None = None,
) -> k8s.meta.v1.ObjectMetaArgs:
    return k8s.meta.v1.ObjectMetaArgs(
        name=name,
        namespace=namespace,
        labels=labels,
        annotations={**OWNERSHIP_ANNOTATIONS, **(annotations or {})},
    )
