"""The scaling benchmark's program: the stack's own config deployed as N copies of the app in one
stack, copy i in namespace `<namespace>-i`. workbench/benchmark/run runs it in a throwaway copy
of the project (as its `__main__.py`), N from VOTING_APP_COPIES. Never part of a user's stack.

Each copy is the project's own VotingApp, with every object of it, under a wrapper component
whose type names the copy (`voting:bench:Copy<i>`): a Pulumi URN holds the types of a resource's
parents but not their names, and VotingApp names its children as in a one-app stack
("namespace", "redis", ...), so N VotingApps side by side would repeat their children's URNs.
"""

from __future__ import annotations

import dataclasses
import os

import pulumi

from components.app.voting_app import VotingApp
from components.cluster.provider import cluster_provider
from components.stack.config import load_stack_config

COPIES = int(os.environ["VOTING_APP_COPIES"])


def main() -> None:
    config = load_stack_config()
    provider = cluster_provider("cluster", config.cluster)
    for index in range(1, COPIES + 1):
        copy = pulumi.ComponentResource(f"voting:bench:Copy{index}", f"copy-{index}")
        args = dataclasses.replace(config.app, namespace=f"{config.app.namespace}-{index}")
        VotingApp("voting-app", args, pulumi.ResourceOptions(provider=provider, parent=copy))
        copy.register_outputs({})


main()
