"""workbench/settings.env, for Python: the workbench's shared names, ports, ranges and the demo
stacks' passphrases (one place; the shell scripts source the same file)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _read(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line and not line.startswith("#")
    )
    return dict(pairs)


SETTINGS = _read(ROOT / "workbench" / "settings.env")

# The local control plane's directory (workbench/lib.sh's CLUSTER_DIR): VOTING_APP_CLUSTER_DIR
# names another one (tools/test runs the integration suite on a control plane of its own).
CLUSTER_DIR = Path(os.environ.get("VOTING_APP_CLUSTER_DIR") or ROOT / ".cluster")
PASSPHRASES = {"dev": SETTINGS["DEV_PASSPHRASE"], "prod": SETTINGS["PROD_PASSPHRASE"]}
LOCAL_CONTEXT = SETTINGS["LOCAL_CONTEXT"]
LOCAL_NAMESPACE = SETTINGS["LOCAL_NAMESPACE"]
LOCAL_NODE_PORTS = {
    "vote": int(SETTINGS["LOCAL_VOTE_NODE_PORT"]),
    "result": int(SETTINGS["LOCAL_RESULT_NODE_PORT"]),
}
LOCAL_PROD_NAMESPACE = SETTINGS["LOCAL_PROD_NAMESPACE"]
LOCAL_PROD_MAX_REPLICAS = int(SETTINGS["LOCAL_PROD_MAX_REPLICAS"])
LOCAL_STORAGE_CLASS = SETTINGS["LOCAL_STORAGE_CLASS"]
NODE_NAME = SETTINGS["NODE_NAME"]
# Selects the real node and its volumes (kwok's simulated nodes carry no such label).
REAL_NODE_SELECTOR = f"{SETTINGS['REAL_NODE_LABEL']}=real"
_low, _high = SETTINGS["NODE_PORT_RANGE"].split("-")
NODE_PORT_RANGE = (int(_low), int(_high))
# MetalLB's pool for LoadBalancer Services on the local cluster (loopback).
LOAD_BALANCER_ADDRESSES = SETTINGS["LOAD_BALANCER_ADDRESSES"]
