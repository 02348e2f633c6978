"""The configuration reference (docs/configuration.md's table, Pulumi.yaml's declarations) is
what the config reader does: generated from its record of every key
(tools/lib/config_reference.py), current in the files, and covering every key a stack may set."""

from __future__ import annotations

import re
from typing import Any

from components.app.args import DEFAULT_IMAGES
from tests.stack_files import ROOT, project_declarations, stack_values
from tools.lib import config_reference
from tools.lib.config_reference import ABOUT, documented_keys, reference_table

P = "voting-app"


def test_the_reference_and_pulumi_yaml_are_current() -> None:
    stale = config_reference.stale()
    assert not stale, f"{sorted(stale)}: run python -m tools.lib.config_reference --write"


def test_the_reference_says_what_the_reader_does_pinned_by_hand() -> None:
    """The generated rows of two keys, written out: the one whose defaults once disagreed (the
    web units ask for more memory), and one of a default that depends on other keys."""
    table = reference_table(documented_keys())
    assert (
        "| `<unit>.resources.requests.memory` | the memory each pod asks for (no more than its "
        "limit) | a memory quantity such as 128Mi or 1Gi: from 1 byte to 1Pi, in whole bytes | "
        "vote `128Mi`<br>result `128Mi`<br>worker `64Mi`<br>redis `64Mi`<br>db `64Mi` |"
    ) in table
    assert (
        "| `db.clientAuth` | how worker and result log in to Postgres (docs/images.md) | one of "
        "scram-sha-256, md5, trust | the strongest method that the worker and result images can "
        "log in with: scram-sha-256, or trust with the stock images, which can do nothing else |"
    ) in table
    declarations = project_declarations()
    assert declarations["optionA"]["default"] == "Cats"
    assert "resources.limits.memory (default 256Mi)" in declarations["vote"]["description"]
    assert "resources.limits.memory (default 128Mi)" in declarations["worker"]["description"]
    assert declarations["dbPassword"]["secret"] is True
    assert "default" not in declarations["dbPassword"]


def _leaf_keys(value: Any, prefix: str) -> set[str]:
    if isinstance(value, dict) and set(value) != {"secure"}:
        found: set[str] = set()
        for key, inner in value.items():
            found |= _leaf_keys(inner, f"{prefix}.{key}")
        return found
    return {prefix}


def test_every_key_a_shipped_stack_sets_is_documented() -> None:
    documented = {key.key for key in documented_keys()}
    for stack in ("dev", "prod"):
        for top, value in stack_values(stack).items():
            for key in _leaf_keys(value, top):
                assert key in documented, f"Pulumi.{stack}.yaml sets {key}, which no row documents"


def test_every_description_is_of_a_key_the_reader_asks_for() -> None:
    asked = set()
    for key in documented_keys():
        short = key.key.removeprefix(f"{P}:")
        unit, _, rest = short.partition(".")
        asked |= {short, f"<unit>.{rest}"} if unit in config_reference.UNITS else {short}
    assert set(ABOUT) <= asked, sorted(set(ABOUT) - asked)
    assert set(config_reference.DECLARATIONS) == {
        key.key.removeprefix(f"{P}:").split(".")[0] for key in documented_keys()
    }


def test_the_readme_s_unit_table_names_the_default_images() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("## What it deploys", 1)[1].split("\n## ", 1)[0]
    rows = {
        match[1]: match[2] for match in re.finditer(r"^\| (\w+) \| `([^`]+)` \|", section, re.M)
    }
    assert rows == DEFAULT_IMAGES


def test_the_readme_names_only_keys_there_are() -> None:
    """The README's short list of the keys a stack sets most: each is a key, or the start of
    keys, the reader asks for."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    (section,) = [part for part in section.split("\n\n") if "The keys a stack sets most" in part]
    documented = {key.key.removeprefix(f"{P}:") for key in documented_keys()}
    generic = documented | {
        f"<unit>.{key.split('.', 1)[1]}"
        for key in documented
        if key.split(".")[0] in config_reference.UNITS and "." in key
    }
    named = [
        name
        for name in re.findall(r"`([^`\s]+)`", section)
        if not name.endswith((".py", ".yaml", ".md")) and not name.startswith("pulumi")
    ]
    assert len(named) >= 8, named
    for name in named:
        key = name if not name.startswith(".") else f"vote{name}"
        if "/" in key:  # `vote`/`result`: units, each a key of its own
            continue
        assert any(k == key or k.startswith(f"{key}.") for k in generic | documented), name
