"""Kubernetes quantities and image references, read as Kubernetes reads them: the config checks
them, the footprint adds them up, and the policy pack holds images to a pin."""

from __future__ import annotations

import re

_CPU = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>m?)$")
_MEMORY = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|)$")
_MEMORY_FACTORS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def cpu_millicores(quantity: str) -> float | None:
    """`250m` -> 250, `1.5` -> 1500; None when `quantity` is not a positive cpu quantity."""
    match = _CPU.match(quantity)
    if match is None:
        return None
    number = float(match["number"])
    value = number if match["unit"] == "m" else number * 1000
    return value if value > 0 else None


def memory_bytes(quantity: str) -> float | None:
    """`128Mi` -> 134217728; None when `quantity` is not a positive memory quantity."""
    match = _MEMORY.match(quantity)
    if match is None:
        return None
    value = float(match["number"]) * _MEMORY_FACTORS[match["unit"]]
    return value if value > 0 else None


_IMAGE = re.compile(
    r"^(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+(?=/))?"
    r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def is_pinned_image(reference: str) -> bool:
    """True for `repo:tag` or `repo@sha256:...`; false for untagged, `:latest` or malformed."""
    match = _IMAGE.match(reference)
    if match is None:
        return False
    if match["digest"]:
        return True
    return match["tag"] is not None and match["tag"] != "latest"
