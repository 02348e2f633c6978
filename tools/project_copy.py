"""A throwaway copy of the Pulumi project that the CLI can run: for tests, previews, benchmarks."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "components", "policy")


def link_virtualenv(destination: Path) -> None:
    """The copy runs with this checkout's .venv (Pulumi.yaml names `.venv`)."""
    (destination / ".venv").symlink_to(ROOT / ".venv")


def copy_program(source: Path, destination: Path, stacks: Iterable[str]) -> None:
    """The program and the given stacks' config files, as they are in `source`'s working tree."""
    for name in (*PROGRAM_FILES, *(f"Pulumi.{stack}.yaml" for stack in stacks)):
        path = source / name
        if path.is_dir():
            shutil.copytree(path, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.exists():
            shutil.copy2(path, destination / name)
    link_virtualenv(destination)
