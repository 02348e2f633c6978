"""Kubernetes quantities as numbers, for tests that recompute what the program derives (written
here, not borrowed from components/, so a parsing slip there cannot hide itself)."""

from __future__ import annotations

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


# The metrics API reports cpu in nanocores or microcores (`303591n`, `12u`).
_CPU_SUFFIXES = {"m": 1.0, "u": 1e-3, "n": 1e-6}


def millicores(quantity: str) -> float:
    """`250m` -> 250, `1` -> 1000, `303591n` -> 0.303591."""
    factor = _CPU_SUFFIXES.get(quantity[-1:])
    return float(quantity[:-1]) * factor if factor else float(quantity) * 1000


def size_bytes(quantity: str) -> float:
    """`128Mi` -> 134217728; a plain number is bytes."""
    factor = _BINARY.get(quantity[-2:])
    return float(quantity[:-2]) * factor if factor else float(quantity)
