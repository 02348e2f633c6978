"""The house as a newcomer meets it: the README's links lead somewhere, every part of the
workbench says what it is and how to run it, the door holds only the commands a person runs, and
the workbench's settings agree with what the product assumes of the local cluster."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components.cluster.target import (
    DEFAULT_CONTEXTS,
    LOAD_BALANCERS,
    NODE_PORT_RANGES,
    ClusterType,
)
from tests.stack_files import ROOT, stack_values
from workbench import settings

WORKBENCH_PARTS = ("toolchain", "control-plane", "real-node", "images", "benchmark", "mutation")
DOOR = {"up", "down", "test", "pr-preview", "env", "backup"}
# [text](target) in Markdown, leaving out code spans' contents.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *_part_readmes()]


def _part_readmes() -> list[Path]:
    return [ROOT / "workbench" / "README.md"] + [
        ROOT / "workbench" / part / "README.md" for part in WORKBENCH_PARTS
    ]


def _anchors(document: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    found = set()
    for line in document.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"[^\w\- ]", "", title)
            found.add(title.replace(" ", "-"))
    return found


@pytest.mark.parametrize("document", _documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_resolve(document: Path) -> None:
    text = re.sub(r"```.*?```", "", document.read_text(), flags=re.S)
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+://|^mailto:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        assert resolved.exists(), f"{document.name}: {target} leads nowhere"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{document.name}: no heading for #{anchor}"


def test_the_readme_stays_short() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize("readme", _part_readmes(), ids=lambda path: path.parent.name)
def test_every_workbench_part_says_how_to_run_it_and_what_it_changes(readme: Path) -> None:
    text = readme.read_text()
    assert "## Run" in text, f"{readme}: no section on how to run it"
    assert "## What it changes on this machine" in text, f"{readme}: nothing on its footprint"


def test_the_door_holds_only_the_commands_a_person_runs() -> None:
    commands = {p.name for p in (ROOT / "tools").iterdir() if p.is_file()}
    assert commands == DOOR


def test_the_workbench_and_the_product_agree_on_the_local_cluster() -> None:
    assert DEFAULT_CONTEXTS[ClusterType.KWOK] == settings.LOCAL_CONTEXT
    assert NODE_PORT_RANGES[ClusterType.KWOK] == settings.NODE_PORT_RANGE


def test_the_kind_config_maps_the_dev_stack_s_node_ports() -> None:
    document = yaml.safe_load((ROOT / "clusters" / "kind.yaml").read_text())
    mapped = {
        (mapping["containerPort"], mapping["hostPort"])
        for node in document["nodes"]
        for mapping in node.get("extraPortMappings", [])
    }
    dev = stack_values("dev")
    ports = {dev[f"voting-app:{unit}"]["exposure"]["nodePort"] for unit in ("vote", "result")}
    assert mapped == {(port, port) for port in ports}


def _targeting_rows() -> dict[str, str]:
    """The README's "Targeting a cluster" table, by the `cluster.type X` its row names."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Targeting a cluster", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        found = re.search(r"`cluster\.type ([a-z-]+)`", line)
        if line.startswith("|") and found:
            rows[found.group(1)] = line
    return rows


def test_the_readme_says_where_load_balancers_work_as_the_code_does() -> None:
    rows = _targeting_rows()
    assert set(rows) == {str(kind) for kind in ClusterType}
    for kind, row in rows.items():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        load_balancer = cells[2]
        assert load_balancer.startswith("yes") is (ClusterType(kind) in LOAD_BALANCERS), row
