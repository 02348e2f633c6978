"""The scaling benchmark's program: the stack's own config deployed as N copies of the app in one
stack, copy i as VotingApp `copy-<i>` in namespace `<namespace>-<i>`. workbench/benchmark/run
runs it in a throwaway copy of the project (as its `__main__.py`), N from VOTING_APP_COPIES; the
end-to-end test of two apps in one program runs it with N = 2. Never part of a user's stack.

VotingApp names its children from its own name, so N of them side by side need nothing more.
Fixed node ports would collide between copies: each copy gets ports allocated by Kubernetes.
"""

from __future__ import annotations

import dataclasses
import os

import pulumi

from components.app.args import VotingAppArgs
from components.app.voting_app import VotingApp
from components.cluster.provider import cluster_provider
from components.stack.config import load_stack_config

COPIES = int(os.environ["VOTING_APP_COPIES"])


def copy_args(args: VotingAppArgs, index: int) -> VotingAppArgs:
    """The stack's app args for copy `index`: its own namespace, node ports allocated."""
    vote, result = (
        dataclasses.replace(unit, exposure=dataclasses.replace(unit.exposure, node_port=None))
        for unit in (args.vote, args.result)
    )
    return dataclasses.replace(
        args, namespace=f"{args.namespace}-{index}", vote=vote, result=result
    )


def main() -> None:
    config = load_stack_config()
    provider = cluster_provider("cluster", config.cluster)
    for index in range(1, COPIES + 1):
        app = VotingApp(
            f"copy-{index}", copy_args(config.app, index), pulumi.ResourceOptions(provider=provider)
        )
        pulumi.export(f"vote_url_{index}", app.vote_url)
        pulumi.export(f"result_url_{index}", app.result_url)


main()
