"""The one labels dict of a unit, and the part of it that selectors may use."""

from __future__ import annotations

NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"

# Deployment selectors are immutable, so they hold only labels fixed for the unit's lifetime.
SELECTOR_KEYS = (NAME, INSTANCE)


def unit_labels(*, name: str, instance: str, component: str, part_of: str) -> dict[str, str]:
    """The recommended `app.kubernetes.io/*` labels, for every object a unit owns."""
    return {
        NAME: name,
        INSTANCE: instance,
        COMPONENT: component,
        PART_OF: part_of,
        MANAGED_BY: "pulumi",
    }


def selector_labels(labels: dict[str, str]) -> dict[str, str]:
    """The immutable subset of `labels`: the Deployment selector and the Service selector."""
    return {key: labels[key] for key in SELECTOR_KEYS}
