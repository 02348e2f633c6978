"""The logic the GitHub workflows call, tested here: the PR comment cut to GitHub's limits, the
smoke check's reading of the result page (socket.io's polling payloads of both protocols), the
README's quick start as the kind job runs it, and the choice and check of prod's credentials."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from tests.stack_files import ROOT
from tools.lib import prod_access, quick_start
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


README_LINES = quick_start.readme_lines((ROOT / "README.md").read_text())
KIND_IMAGE = "kindest/node:v1.35.8@sha256:" + "0" * 64


def test_the_quick_start_is_the_readme_s_block_as_written() -> None:
    assert README_LINES[0] == (
        "kind create cluster --config clusters/kind.yaml   # or minikube, Docker Desktop, a cloud"
        " cluster"
    )
    assert README_LINES[-1] == "pulumi destroy"
    assert "(cd policy && pulumi install)" in map(quick_start.command, README_LINES)


def test_the_kind_job_runs_every_readme_line_in_order_with_only_its_named_changes() -> None:
    lines = quick_start.adapted(README_LINES, quick_start.ci_edits(KIND_IMAGE, 20))
    smoke = (
        'python3 -m tools.lib.smoke --vote-url "$(pulumi stack output vote_url)"'
        ' --result-url "$(pulumi stack output result_url)" --votes 20'
    )
    added = ["export PULUMI_SKIP_CONFIRMATIONS=true", smoke]
    assert [line for line in lines if line not in added] == [
        "kind create cluster --config clusters/kind.yaml --image " + KIND_IMAGE,
        *README_LINES[1:],
    ]
    # The confirmations are answered before the first pulumi line, the votes counted before the
    # destroy, after the URL is printed.
    assert lines.index(added[0]) < min(i for i, line in enumerate(lines) if "pulumi " in line)
    assert lines[lines.index(smoke) - 1].startswith("pulumi stack output vote_url")
    assert lines[lines.index(smoke) + 1] == "pulumi destroy"
    script = quick_start.script(lines)
    assert script.startswith("set -euxo pipefail\n")


def test_an_adaptation_whose_readme_line_is_gone_fails_naming_it() -> None:
    without_login = [line for line in README_LINES if not line.startswith("pulumi login")]
    with pytest.raises(quick_start.QuickStartError, match="'pulumi login'"):
        quick_start.adapted(without_login, quick_start.ci_edits(None, None))


def test_prod_s_route_is_the_cloud_named_or_the_static_kubeconfig() -> None:
    assert prod_access.route({}) == "static"
    assert prod_access.route({"AWS_ROLE_TO_ASSUME": ""}) == "static"
    aws = {"AWS_ROLE_TO_ASSUME": "arn:aws:iam::1:role/r", "AWS_REGION": "eu-west-1"}
    assert prod_access.route({**aws, "EKS_CLUSTER_NAME": "prod"}) == "aws"
    with pytest.raises(prod_access.AccessError, match="also needs the variables EKS_CLUSTER_NAME"):
        prod_access.route(aws)
    with pytest.raises(prod_access.AccessError, match="more than one cloud route"):
        prod_access.route({**aws, "EKS_CLUSTER_NAME": "p", "AZURE_CLIENT_ID": "x"})
    assert prod_access.prod_context() == "voting-prod"  # Pulumi.prod.yaml's cluster.context


def _kubeconfig(user: dict[str, object]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": "https://prod.example:6443"}}],
            "contexts": [{"name": "voting-prod", "context": {"cluster": "c", "user": "u"}}],
            "users": [{"name": "u", "user": user}],
        }
    )


@pytest.mark.parametrize(
    ("user", "problem"),
    [
        ({"token": "static"}, None),
        ({"exec": {"command": "aws", "args": ["eks", "get-token"]}}, "an exec plugin (aws)"),
        ({"auth-provider": {"name": "gcp"}}, "an auth provider (gcp)"),
    ],
)
def test_a_static_kubeconfig_must_hold_static_credentials(
    user: dict[str, object], problem: str | None
) -> None:
    found = prod_access.static_problem(_kubeconfig(user), "voting-prod")
    if problem is None:
        assert found is None
    else:
        assert problem in str(found)
        assert "OIDC route" in str(found)


def test_a_static_kubeconfig_without_prod_s_context_or_empty_is_refused() -> None:
    found = prod_access.static_problem(_kubeconfig({"token": "t"}), "elsewhere")
    assert "no context 'elsewhere'" in str(found)
    assert "it has: voting-prod" in str(found)
    empty = prod_access.static_problem("", "voting-prod")
    assert "is empty and no cloud route is set" in str(empty)


def test_the_static_kubeconfig_is_written_for_its_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "kubeconfig"
    monkeypatch.setenv("PROD_KUBECONFIG", _kubeconfig({"token": "t"}))
    assert prod_access.main(["static-kubeconfig", str(target)]) == 0
    assert yaml.safe_load(target.read_text())["users"][0]["user"] == {"token": "t"}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    monkeypatch.setenv("PROD_KUBECONFIG", _kubeconfig({"exec": {"command": "kubelogin"}}))
    assert prod_access.main(["static-kubeconfig", str(tmp_path / "refused")]) == 2
    assert not (tmp_path / "refused").exists()
