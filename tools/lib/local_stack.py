"""Writes Pulumi.local.yaml: the dev stack's config (its encrypted password included), pointed at
the local cluster's real node, with the test images (workbench/images/build) instead of the stock
ones, which cannot be pulled here. The program is the same; only this stack config differs.

    local_stack.py NAME=REFERENCE ...    (the lines workbench/images/build prints)
"""

from __future__ import annotations

import sys

import yaml

from tools.lib.project_copy import ROOT
from workbench import settings

NAMESPACE = settings.LOCAL_NAMESPACE
# dev's own node ports (30004/30005) stay free for a tools/up of dev on the same cluster.
NODE_PORTS = settings.LOCAL_NODE_PORTS
HEADER = (
    "# Written by `tools/up --real-node` from Pulumi.dev.yaml; do not edit (it is rewritten on\n"
    "# every run, and not committed). The dev stack's config on the local real node, with the\n"
    "# test images built here; passphrase as dev's (workbench/settings.env).\n"
)


def main(lines: list[str]) -> None:
    images = dict(line.split("=", 1) for line in lines)
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    config = document["config"]
    config["voting-app:namespace"] = NAMESPACE
    for unit, reference in images.items():
        config.setdefault(f"voting-app:{unit}", {})["image"] = reference
    for unit, port in NODE_PORTS.items():
        config[f"voting-app:{unit}"]["exposure"]["nodePort"] = port
    text = HEADER + yaml.safe_dump(document, sort_keys=False)
    (ROOT / "Pulumi.local.yaml").write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
