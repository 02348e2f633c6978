"""The logic the GitHub workflows call, tested here: the PR comment cut to GitHub's limits, and the
smoke check's reading of the result page (socket.io's polling payloads of both protocols)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from components.cluster.target import ClusterType
from components.stack.config import parse_stack_config
from tests.stack_files import ROOT, cli_config, stack_secret_keys
from tools.lib import retarget
from tools.lib.pr_preview import COMMENT_LIMIT, SUMMARY_LIMIT, StackPreview, fit, markdown
from tools.lib.smoke import engine_io_packets, scores_in


def _preview(lines: int, text: str = "~ kubernetes:apps/v1:Deployment: (update) é") -> str:
    previews = [
        StackPreview("dev", "\n".join(f"{text} {n}" for n in range(lines)), {"update": 1}),
        StackPreview("prod", "", {"same": 30}, "the live stack"),
    ]
    return markdown("main", previews, 12.0, "on kind (kind-kind)")


def test_a_comment_that_fits_is_left_alone() -> None:
    comment = _preview(10)
    assert fit(comment, COMMENT_LIMIT) == comment


@pytest.mark.parametrize(
    ("limit", "in_bytes"), [(COMMENT_LIMIT, False), (SUMMARY_LIMIT, True), (2_000, False)]
)
def test_a_long_comment_is_cut_to_the_limit_and_stays_well_formed(
    limit: int, in_bytes: bool
) -> None:
    comment = _preview(40_000)  # a diff of about 2 MB
    cut = fit(comment, limit, in_bytes=in_bytes)
    size = len(cut.encode()) if in_bytes else len(cut)
    assert size <= limit
    assert size > limit * 0.9, "cut far more than needed"
    assert cut.startswith(comment.splitlines()[0])
    assert "Cut to fit GitHub's limit" in cut
    fences = [line for line in cut.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0
    assert cut.count("<details>") == cut.count("</details>")
    # The summary line, which names every stack, survives any cut.
    assert "**dev**: 1 to update; **prod**: no changes" in cut


def test_the_comment_names_each_stack_and_what_it_was_previewed_against() -> None:
    comment = _preview(3)
    assert comment.startswith("<!-- voting-app-pr-preview -->")
    assert "dev against its base, deployed for real to a throwaway stack" in comment
    assert "prod against the live stack" in comment
    assert "No change to prod." in comment
    assert "#### dev: 1 to update" in comment


SCORES = json.dumps(["scores", json.dumps({"a": 3, "b": 2})])


def test_engine_io_3_payloads_are_length_framed() -> None:
    """socket.io 1.x/2.x (the stock result image): `<length>:<packet>`, the length in
    characters, several packets in one payload."""
    handshake = '0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":60000}'
    payload = f"{len(handshake)}:{handshake}2:40{len(SCORES) + 2}:42{SCORES}"
    packets = engine_io_packets(payload, 3)
    assert packets == [handshake, "40", f"42{SCORES}"]
    assert scores_in(packets) == {"a": 3, "b": 2}


def test_engine_io_4_payloads_are_separated_by_record_separators() -> None:
    """socket.io 3+ (newer upstream images): packets separated by 0x1e."""
    packets = engine_io_packets(f'40{{"sid":"x"}}\x1e42{SCORES}', 4)
    assert scores_in(packets) == {"a": 3, "b": 2}
    assert scores_in(["40", "2"]) is None


def test_retargeting_dev_to_kind_gives_kind_s_context(tmp_path: Path) -> None:
    """What the GitHub jobs do to a fresh checkout's dev stack before the stack exists."""
    shutil.copy(ROOT / "Pulumi.dev.yaml", tmp_path / "Pulumi.dev.yaml")
    assert retarget.main(["dev", "--type", "kind", "--repo", str(tmp_path)]) == 0
    values = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())["config"]
    parsed = parse_stack_config(
        json.loads(json.dumps(cli_config(values))), stack_secret_keys("dev"), "dev"
    )
    assert parsed.cluster.type is ClusterType.KIND
    assert parsed.cluster.context == "kind-kind"
    assert parsed.app.vote.exposure.node_port == 30004  # what clusters/kind.yaml maps
