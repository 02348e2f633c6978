"""Writes the stack file of one of the main job's stacks on the local cluster's real node: a
committed stack's config (its encrypted password included) with the test images
(workbench/images/build) instead of the stock ones, which cannot be pulled here. The program is
the same; only this stack config differs. Its Services wait for a LoadBalancer's address only
(serviceAwait address): tools/up then waits for the rollouts and for each URL to answer.

    python -m tools.lib.local_stack dev NAME=REFERENCE ...    Pulumi.local.yaml (stack local)
    python -m tools.lib.local_stack prod NAME=REFERENCE ...   Pulumi.local-prod.yaml (local-prod)

(NAME=REFERENCE: the lines workbench/images/build prints.) The file is written in the
current directory. VOTING_APP_NAMESPACE, when set, makes a second deployment beside a person's
(the tests, the benchmark): that namespace instead of the stack's own, and node ports allocated
by Kubernetes instead of the stack's fixed ones (the URLs say which).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from tools.lib.project_copy import ROOT, StackConfig
from workbench import settings

AUTOSCALED = WEB_UNITS = ("vote", "result")


def dev_on_real_node(config: StackConfig) -> None:
    """dev's own node ports (30004/30005) stay free for a tools/up of dev on the same cluster."""
    for unit, port in settings.LOCAL_NODE_PORTS.items():
        config[f"voting-app:{unit}"]["exposure"]["nodePort"] = port


def prod_on_real_node(config: StackConfig) -> None:
    """prod's config as the local cluster can carry it: its cluster, its storage class (the real
    node's local volumes), and autoscalers whose maximum fits the node's 2 cores (prod's pods at
    their most, every request granted: settings.LOCAL_PROD_MAX_REPLICAS). Its LoadBalancer
    Services, spread rules, disruption budgets, StatefulSet and retained claim stay as they are."""
    config["voting-app:cluster"] = {"type": "kwok"}
    config["voting-app:db"]["storage"]["storageClass"] = settings.LOCAL_STORAGE_CLASS
    for unit in AUTOSCALED:
        scale = config[f"voting-app:{unit}"]["autoscaling"]
        scale["maxReplicas"] = min(scale["maxReplicas"], settings.LOCAL_PROD_MAX_REPLICAS)


@dataclass(frozen=True)
class LocalStack:
    name: str
    source: str  # the committed stack whose config it takes
    namespace: str
    adapt: Callable[[StackConfig], None]

    @property
    def file(self) -> str:
        return f"Pulumi.{self.name}.yaml"


STACKS = {
    "dev": LocalStack("local", "dev", settings.LOCAL_NAMESPACE, dev_on_real_node),
    "prod": LocalStack("local-prod", "prod", settings.LOCAL_PROD_NAMESPACE, prod_on_real_node),
}


def header(stack: LocalStack) -> str:
    return (
        f"# Written by tools/up from Pulumi.{stack.source}.yaml; do not edit (it is rewritten on\n"
        f"# every run, and not committed). Stack {stack.name}: {stack.source}'s config on the\n"
        f"# local real node, with the test images built here; passphrase as {stack.source}'s\n"
        "# (workbench/settings.env).\n"
    )


def write(stack: LocalStack, images: Mapping[str, str], root: Path = ROOT) -> None:
    document = yaml.safe_load((root / f"Pulumi.{stack.source}.yaml").read_text())
    config = document["config"]
    beside = os.environ.get("VOTING_APP_NAMESPACE")
    config["voting-app:namespace"] = beside or stack.namespace
    for unit, reference in images.items():
        config.setdefault(f"voting-app:{unit}", {})["image"] = reference
    stack.adapt(config)
    # tools/up prints a URL only once it has answered (tools/lib/ready.py), a stronger promise
    # than the provider's 10 s endpoint settle, which it spares (docs/performance.md).
    config["voting-app:serviceAwait"] = "address"
    if beside:
        for unit in WEB_UNITS:
            config[f"voting-app:{unit}"].get("exposure", {}).pop("nodePort", None)
    (root / stack.file).write_text(header(stack) + yaml.safe_dump(document, sort_keys=False))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in STACKS:
        print(__doc__, file=sys.stderr)
        return 2
    # In the project that runs it (tools/up runs it there): a copy's tools/ may be a link to
    # another checkout's.
    write(STACKS[argv[0]], dict(line.split("=", 1) for line in argv[1:]), Path.cwd())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
