"""tools/pr-preview on a sample change to dev: the diff names that change and nothing else, and
prod, previewed beside it, shows no change. And the same preview against the program as it was
before the house was rearranged (components/ in layers, the workbench in one wing): stacks
deployed by that program are updated in place (no create, delete or replace)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.integration.cluster import get_json, require_cluster
from tests.stack_files import ROOT

pytestmark = pytest.mark.integration


def test_a_changed_option_previews_as_exactly_that_change(tmp_path: Path) -> None:
    require_cluster()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    stack_file = clone / "Pulumi.dev.yaml"
    stack_file.write_text(
        stack_file.read_text().replace("voting-app:optionA: Cats", "voting-app:optionA: Tacos")
    )
    comment = tmp_path / "comment.md"

    result = _pr_preview(clone, "HEAD", comment)
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert '~ value: "Cats" => "Tacos"' in output
    assert "~ 1 to update" in output
    assert output.count("(update)") == 1
    assert "kubernetes:apps/v1:Deployment: (update)" in output
    text = comment.read_text()
    assert text.startswith("<!-- voting-app-pr-preview -->")
    # Both stacks are previewed; the change is dev's alone, and the comment says so.
    assert "**dev**: 1 to update" in text
    assert "**prod**: no changes" in text
    assert "No change to prod." in text
    assert "#### dev: 1 to update" in text
    assert "#### prod" not in text
    assert '"Cats" => "Tacos"' in text
    leftovers = [
        ns["metadata"]["name"]
        for ns in get_json("namespaces")["items"]
        if ns["metadata"]["name"].startswith("pr-preview-")
        and ns["status"].get("phase") != "Terminating"
    ]
    assert leftovers == []


# The last commit before components/ moved into layers and the workbench into workbench/.
BEFORE_THE_MOVE = "854c8ad"
# What features added since then create, by stack: prod's redis.persistence claim, and its
# db.backup (the ScheduledJob with its CronJob and ServiceAccount of one name, its claim, its
# egress NetworkPolicy).
ADDED_SINCE = {
    "dev": set(),
    "prod": {
        "voting-app-redis-data",
        "voting-app-db-backup",
        "voting-app-db-backup-data",
        "voting-app-db-backup-egress",
    },
}
# A create in the preview's diff: its stack and resource name, from the URN on the next line.
CREATED = re.compile(r"\(create\)\s*\n\s*\[urn=urn:pulumi:(\w+)::[^\]\s]*::([^\]\s:]+)\]")


def _pr_preview(clone: Path, base: str, comment: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(ROOT / "tools" / "pr-preview"),
            "--repo",
            str(clone),
            "--base",
            base,
            "--markdown",
            str(comment),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=os.environ,
    )


def test_stacks_deployed_before_the_move_update_in_place(tmp_path: Path) -> None:
    """Since the move, child names derive from the component's name (aliases keep the old
    names), pods pull as Kubernetes defaults and web units have more memory: stacks deployed by
    the program as it was see updates only, never a create, delete or replace."""
    require_cluster()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    known = subprocess.run(["git", "-C", str(clone), "cat-file", "-e", BEFORE_THE_MOVE])
    assert known.returncode == 0, f"{BEFORE_THE_MOVE} is not in this clone (a shallow clone?)"
    comment = tmp_path / "comment.md"
    result = _pr_preview(clone, BEFORE_THE_MOVE, comment)
    assert result.returncode == 0, result.stderr[-3000:]
    text = comment.read_text()
    summary = text.splitlines()[3]
    print(f"\n{summary}")
    for stack in ("dev", "prod"):
        said = re.search(rf"\*\*{stack}\*\*: ([^;(]*)", summary)
        assert said, summary
        changes = said.group(1).strip()
        kinds = set(re.findall(r"\d+ to (\w+)", changes))
        allowed = {"update", "create"} if ADDED_SINCE[stack] else {"update"}
        assert kinds <= allowed, f"{stack}: {changes}"
    # A create only of what a feature added since makes: none of the objects that were there.
    assert set(CREATED.findall(result.stdout)) == {
        (stack, name) for stack, names in ADDED_SINCE.items() for name in names
    }, result.stdout[-3000:]
    assert "(replace)" not in result.stdout
