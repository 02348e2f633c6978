"""Kubernetes quantities and image references, read as Kubernetes reads them: the config checks
them, the footprint adds them up, and the policy pack holds images to a pin.

Every pattern matches the whole string and only ASCII: Python's `$` also matches before a final
newline, and `\\d`, `str.isdigit` and `float()` accept digits of every script, none of which
Kubernetes does.
"""

from __future__ import annotations

import re
from fractions import Fraction

_NUMBER = r"(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?"
_CPU = re.compile(rf"{_NUMBER}(?P<unit>m?)", re.ASCII)
_MEMORY = re.compile(rf"{_NUMBER}(?P<unit>Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|)", re.ASCII)
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

# The largest quantity a unit may ask for. Far above any node (a million cores, a pebibyte), yet
# small enough that the namespace's ResourceQuota, which adds up every unit at its most pods
# (components/app/footprint.py), stays within the 64-bit integer Kubernetes keeps a quantity in.
MAX_MILLICORES = 10**9
MAX_BYTES = 2**50
CPU_EXPECTED = (
    f"a cpu quantity such as 250m or 1.5: from 1m to {MAX_MILLICORES // 1000}, in whole millicores"
)
MEMORY_EXPECTED = (
    f"a memory quantity such as 128Mi or 1Gi: from 1 byte to {MAX_BYTES // 2**50}Pi, in whole bytes"
)


# Longer is no quantity of ours, and Python refuses to read an integer of over 4300 digits.
_LONGEST = 64


def _exact(match: re.Match[str], factor: int) -> Fraction:
    fraction = match["fraction"] or ""
    return Fraction(int(match["whole"] + fraction), 10 ** len(fraction)) * factor


def cpu_millicores(quantity: str) -> int | None:
    """`250m` -> 250, `1.5` -> 1500; None unless `quantity` is a cpu quantity of whole
    millicores from 1m to MAX_MILLICORES (Kubernetes rounds a finer one up, silently)."""
    match = _CPU.fullmatch(quantity) if len(quantity) <= _LONGEST else None
    if match is None:
        return None
    value = _exact(match, 1 if match["unit"] == "m" else 1000)
    if value.denominator != 1 or not 1 <= value <= MAX_MILLICORES:
        return None
    return int(value)


def memory_bytes(quantity: str) -> int | None:
    """`128Mi` -> 134217728; None unless `quantity` is a memory quantity of whole bytes from 1 to
    MAX_BYTES. The suffix `m` (thousandths of a byte, which Kubernetes accepts) is refused: in a
    memory field it is always a mistake for M or Mi."""
    match = _MEMORY.fullmatch(quantity) if len(quantity) <= _LONGEST else None
    if match is None:
        return None
    value = _exact(match, _MEMORY_FACTORS[match["unit"]])
    if value.denominator != 1 or not 1 <= value <= MAX_BYTES:
        return None
    return int(value)


_IMAGE = re.compile(
    r"(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+(?=/))?"
    r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?",
    re.ASCII,
)


def is_pinned_image(reference: str) -> bool:
    """True for `repo:tag` or `repo@sha256:...`; false for untagged, `:latest` or malformed."""
    match = _IMAGE.fullmatch(reference)
    if match is None:
        return False
    if match["digest"]:
        return True
    return match["tag"] is not None and match["tag"] != "latest"
