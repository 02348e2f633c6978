"""Point a stack file at another cluster, before the stack exists (a CI runner's fresh checkout):
what `pulumi config set --path cluster.type kind` does once the stack is there.

    python -m tools.lib.retarget STACK --type TYPE [--name NAME] [--context CONTEXT]
                                       [--namespace NAMESPACE] [--repo DIR]

It rewrites `Pulumi.<STACK>.yaml` (comments are not kept: a checkout's throwaway copy) and says
what it changed; the program's own config check then holds the result to what the type allows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from components.cluster.target import ClusterType
from tools.lib.project_copy import ROOT, StackConfig, edit_stack_config


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--type", required=True, choices=[str(kind) for kind in ClusterType])
    parser.add_argument("--name", help="the cluster's name (kind --name, a minikube profile)")
    parser.add_argument("--context", help="the kube context (default: the type's own)")
    parser.add_argument("--namespace")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout (default: this one)")
    args = parser.parse_args(argv)
    if not (args.repo / f"Pulumi.{args.stack}.yaml").exists():
        parser.error(f"no Pulumi.{args.stack}.yaml in {args.repo}")

    def retarget(config: StackConfig) -> None:
        cluster = {"type": args.type}
        cluster.update({key: value for key in ("name", "context") if (value := getattr(args, key))})
        node_address = config.get("voting-app:cluster", {}).get("nodeAddress")
        if node_address:
            cluster["nodeAddress"] = node_address
        config["voting-app:cluster"] = cluster
        if args.namespace:
            config["voting-app:namespace"] = args.namespace
        print(
            f"Pulumi.{args.stack}.yaml: cluster {cluster}"
            + (f", namespace {args.namespace}" if args.namespace else "")
        )

    edit_stack_config(args.repo, args.stack, retarget)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
