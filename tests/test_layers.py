"""The layers of `components/` import only downward (components/__init__.py), and the program
itself carries no test machinery."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.stack_files import ROOT

# What each layer may import from `components`; the order is the architecture's.
MAY_IMPORT = {
    "units": {"units"},
    "cluster": {"cluster"},
    "app": {"units", "cluster", "app"},
    "stack": {"units", "cluster", "app", "stack"},
}
# Imported by the policy pack and tools/preflight before anything else: no Pulumi SDK.
SDK_FREE = ("components/cluster/target.py", "components/units/quantities.py")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _modules() -> list[Path]:
    return sorted((ROOT / "components").rglob("*.py"))


def test_every_module_belongs_to_a_layer() -> None:
    for path in _modules():
        parts = path.relative_to(ROOT / "components").parts
        assert len(parts) == 1 or parts[0] in MAY_IMPORT, f"{path}: not in a layer"
        assert len(parts) > 1 or path.name == "__init__.py", f"{path}: outside every layer"


@pytest.mark.parametrize(
    "path", _modules(), ids=lambda path: str(path.relative_to(ROOT / "components"))
)
def test_a_module_imports_only_its_own_layer_and_those_below(path: Path) -> None:
    parts = path.relative_to(ROOT / "components").parts
    if len(parts) == 1:
        return
    allowed = MAY_IMPORT[parts[0]]
    for module in _imports(path):
        names = module.split(".")
        if names[0] == "components" and len(names) > 1 and names[1] in MAY_IMPORT:
            assert names[1] in allowed, f"{path.name} ({parts[0]}) imports {module}"


@pytest.mark.parametrize("name", SDK_FREE)
def test_the_light_modules_stay_free_of_the_sdk(name: str) -> None:
    imported = _imports(ROOT / name)
    assert not {m for m in imported if m.split(".")[0] in ("pulumi", "pulumi_kubernetes")}


def test_the_program_imports_no_test_machinery() -> None:
    imported = _imports(ROOT / "__main__.py")
    assert not {m for m in imported if "mocks" in m or m.split(".")[0] == "tests"}, imported
