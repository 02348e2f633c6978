"""The component as a user copies it, on the real node: two VotingApps in one program, each in its
namespace, deploy side by side and both count votes; and prod's votes outlive `pulumi destroy`
(db.storage.retainOnDelete: the claim and the namespace stay, and the next `up` adopts them)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.real_node import UNITS, http, ready, results, with_images
from tests.integration.cluster import get_json
from tests.integration.workspace import throwaway_stack
from tests.stack_files import ROOT
from tests.waiting import wait_until
from tools.lib.project_copy import StackConfig

pytestmark = pytest.mark.e2e
COPIES_PROGRAM = ROOT / "workbench" / "benchmark" / "copies_program.py"
VOTES = 5


def vote(vote_url: str, choice: str) -> str:
    voter = f"e2e-{secrets.token_hex(4)}"
    status, _ = http(vote_url, {"vote": choice}, cookie=f"voter_id={voter}")
    assert status == 200, f"a vote to {vote_url} was answered {status}"
    return voter


def counted(result_url: str, expected: dict[str, int]) -> bool:
    return results(result_url) == expected


def all_ready(namespace: str) -> bool:
    pods = get_json("pods", "--namespace", namespace)["items"]
    names = {pod["metadata"]["labels"].get("app.kubernetes.io/name") for pod in pods}
    return names >= set(UNITS) and all(ready(pod) for pod in pods)


def test_two_apps_in_one_program_run_side_by_side(images: dict[str, str], tmp_path: Path) -> None:
    with throwaway_stack(
        "dev",
        tmp_path,
        node_ports={"vote": 30304, "result": 30305},
        edit=with_images(images),
        program=COPIES_PROGRAM,
        env={"VOTING_APP_COPIES": "2"},
    ) as test:
        outputs = {key: value.value for key, value in test.up().outputs.items()}
        for index in (1, 2):
            namespace = f"{test.namespace}-{index}"
            wait_until(f"copy {index}'s pods Ready", lambda ns=namespace: all_ready(ns), 180, 2)
        # Each copy counts its own votes: 2 a in the first, 3 b in the second.
        for index, (choice, count) in enumerate((("a", 2), ("b", 3)), start=1):
            for _ in range(count):
                vote(outputs[f"vote_url_{index}"], choice)
        for index, expected in ((1, {"a": 2, "b": 0}), (2, {"a": 0, "b": 3})):
            url = outputs[f"result_url_{index}"]
            wait_until(
                f"copy {index} counting its votes", lambda u=url, e=expected: counted(u, e), 60
            )
        print(f"\ntwo apps in one stack: {outputs}")


def _small_prod(images: dict[str, str]) -> Any:
    def edit(config: StackConfig) -> None:
        with_images(images)(config)
        # One pod per web unit: the point is the db's data, not the web tier.
        for unit in ("vote", "result"):
            config[f"voting-app:{unit}"]["autoscaling"] = {"minReplicas": 1, "maxReplicas": 1}

    return edit


def test_prod_s_votes_outlive_a_destroy(images: dict[str, str], tmp_path: Path) -> None:
    with throwaway_stack("prod", tmp_path, node_ports={}, edit=_small_prod(images)) as test:
        outputs = test.up().outputs
        namespace = test.namespace
        wait_until("prod's pods Ready", lambda: all_ready(namespace), 240, 2)
        # The load balancers' addresses (MetalLB's, on loopback), answered on the real node.
        vote_url, result_url = outputs["vote_url"].value, outputs["result_url"].value
        for _ in range(VOTES):
            vote(vote_url, "a")
        wait_until("the votes counted", lambda: counted(result_url, {"a": VOTES, "b": 0}), 60)
        claim_before = get_json("pvc", "data-db-0", "--namespace", namespace)

        test.destroy()
        kept = get_json("namespace", namespace)
        claim = get_json("pvc", "data-db-0", "--namespace", namespace)
        assert claim["metadata"]["uid"] == claim_before["metadata"]["uid"]
        assert claim["status"]["phase"] == "Bound"
        workloads = get_json("deployments,statefulsets", "--namespace", namespace)["items"]
        assert workloads == [], [w["metadata"]["name"] for w in workloads]

        outputs = test.up().outputs
        wait_until("prod's pods Ready again", lambda: all_ready(namespace), 240, 2)
        result_url = outputs["result_url"].value
        wait_until(
            "the votes cast before the destroy, counted again",
            lambda: counted(result_url, {"a": VOTES, "b": 0}),
            90,
        )
        again = get_json("pvc", "data-db-0", "--namespace", namespace)
        assert again["metadata"]["uid"] == claim_before["metadata"]["uid"]
        print(
            f"\nprod destroyed: namespace {kept['metadata']['name']} and claim data-db-0 kept;"
            f" the next up counted the {VOTES} votes cast before"
        )
