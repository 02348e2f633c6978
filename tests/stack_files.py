"""The config the Pulumi CLI would hand the program: Pulumi.yaml defaults under a stack file."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "voting-app"
# Stands in for every `secure:` value: the stack files' secrets need the passphrase to decrypt.
TEST_PASSWORD = "test-only-pw-7f3a9c"


def encode(value: Any) -> str:
    """How the CLI passes a config value to a program: objects as JSON, scalars as strings."""
    if isinstance(value, dict | list | bool):
        return json.dumps(value)
    return str(value)


@cache
def _parsed(name: str) -> Any:
    """A file of the project's root, parsed once per test session (libyaml's parser)."""
    return yaml.load((ROOT / name).read_text(), Loader=yaml.CSafeLoader)


def _document(name: str) -> dict[str, Any]:
    """The parsed file, the caller's own copy to change."""
    document: dict[str, Any] = copy.deepcopy(_parsed(name))
    return document


def project_declarations() -> dict[str, dict[str, Any]]:
    document = _document("Pulumi.yaml")
    declarations: dict[str, dict[str, Any]] = document["config"]
    return declarations


def stack_values(stack: str) -> dict[str, Any]:
    """The stack file's config as plain values, with each secret replaced by TEST_PASSWORD."""
    document = _document(f"Pulumi.{stack}.yaml")
    return {
        key: TEST_PASSWORD if isinstance(value, dict) and set(value) == {"secure"} else value
        for key, value in document["config"].items()
    }


def stack_secret_keys(stack: str) -> list[str]:
    document = _document(f"Pulumi.{stack}.yaml")
    return [
        key
        for key, value in document["config"].items()
        if isinstance(value, dict) and set(value) == {"secure"}
    ]


def cli_config(values: dict[str, Any]) -> dict[str, str]:
    """Project defaults overridden by `values` (full `project:key` names), encoded like the CLI."""
    merged: dict[str, Any] = {
        f"{PROJECT}:{key}": declaration["default"]
        for key, declaration in project_declarations().items()
        if "default" in declaration
    }
    merged.update(values)
    return {key: encode(value) for key, value in merged.items()}


def set_path(values: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at `path` ('vote.exposure.nodePort') in a stack's values (full `project:key`
    names), making the objects on the way."""
    top, *rest = path.split(".")
    if not rest:
        values[f"{PROJECT}:{top}"] = value
        return
    node = values.setdefault(f"{PROJECT}:{top}", {})
    for part in rest[:-1]:
        node = node.setdefault(part, {})
    node[rest[-1]] = value
