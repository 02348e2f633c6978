"""The config the Pulumi CLI would hand the program: Pulumi.yaml defaults under a stack file."""

from __future__ import annotations

import json
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


def project_declarations() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    declarations: dict[str, dict[str, Any]] = document["config"]
    return declarations


def stack_values(stack: str) -> dict[str, Any]:
    """The stack file's config as plain values, with each secret replaced by TEST_PASSWORD."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return {
        key: TEST_PASSWORD if isinstance(value, dict) and set(value) == {"secure"} else value
        for key, value in document["config"].items()
    }


def stack_secret_keys(stack: str) -> list[str]:
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
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
