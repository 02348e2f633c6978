"""tools/lib/stack_state.py: the namespace tools/down destroys, read from a file backend's
checkpoint (written here by hand, as the backend writes it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.lib import stack_state


def _resource(kind: str, **outputs: Any) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:dev::voting-app::{kind}::x", "type": kind, "outputs": outputs}


STACK = _resource("pulumi:pulumi:Stack")
PROVIDER = _resource("pulumi:providers:kubernetes")
NAMESPACE = _resource("kubernetes:core/v1:Namespace", metadata={"name": "from-namespace"})
SERVICE = _resource("kubernetes:core/v1:Service", metadata={"name": "db", "namespace": "from-db"})


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    return tmp_path


def _save(backend: Path, resources: list[dict[str, Any]]) -> None:
    stacks = backend / ".pulumi" / "stacks" / stack_state.PROJECT
    stacks.mkdir(parents=True)
    checkpoint = {"version": 3, "checkpoint": {"latest": {"resources": resources}}}
    (stacks / "dev.json").write_text(json.dumps(checkpoint))


def test_the_namespace_output_comes_first(backend: Path) -> None:
    stack = {**STACK, "outputs": {"namespace": "from-output"}}
    _save(backend, [stack, PROVIDER, SERVICE, NAMESPACE])
    assert stack_state.namespace("dev") == "from-output"


def test_after_a_first_update_that_failed_the_created_objects_name_it(backend: Path) -> None:
    """No outputs yet (the program's run did not end well): the Namespace object, else any
    namespaced object, names it; tools/down must still destroy what was created."""
    _save(backend, [STACK, PROVIDER, SERVICE, NAMESPACE])
    assert stack_state.namespace("dev") == "from-namespace"


def test_a_namespaced_object_names_it_when_the_namespace_is_not_the_stack_s(
    backend: Path,
) -> None:
    _save(backend, [STACK, PROVIDER, SERVICE])
    assert stack_state.namespace("dev") == "from-db"


def test_nothing_deployed_names_none(backend: Path) -> None:
    _save(backend, [STACK, PROVIDER])
    assert stack_state.namespace("dev") == ""
