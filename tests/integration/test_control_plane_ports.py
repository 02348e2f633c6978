"""No Service can be given a node port that the local control plane itself listens on. kwokctl
binds the API server, etcd and the rest to free ports counted down from 32767, inside Kubernetes'
default NodePort range, and the real node's kube-proxy takes 127.0.0.1:PORT for every Service's
node port: a LoadBalancer that was allocated the API server's port cut this machine off its own
cluster. The control plane's start narrows the API server's NodePort range
(workbench/settings.env)."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.integration.cluster import kubectl, require_cluster

pytestmark = pytest.mark.integration

# The processes kwokctl runs for the local control plane (as `ss` names them: 15 characters).
CONTROL_PLANE = {
    "kube-apiserver",
    "etcd",
    "kube-controller",
    "kube-scheduler",
    "kwok-controller",
    "metrics-server",
}
# kwokctl counts down from 32767 and never binds 32767 itself: asking for it is harmless.
UNUSED_TOP_PORT = 32767


def control_plane_ports() -> dict[int, str]:
    listening = subprocess.run(
        ["ss", "-Htlnp"], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    ports: dict[int, str] = {}
    for line in listening:
        process = re.search(r'users:\(\("([^"]+)"', line)
        if process and process.group(1) in CONTROL_PLANE:
            ports[int(line.split()[3].rsplit(":", 1)[1])] = process.group(1)
    return ports


def test_node_ports_stay_below_every_port_of_the_control_plane() -> None:
    require_cluster()
    ports = control_plane_ports()
    assert {"kube-apiserver", "etcd"} <= set(ports.values()), ports
    created = kubectl(
        "create",
        "service",
        "nodeport",
        "port-range-probe",
        "--tcp=80",
        f"--node-port={UNUSED_TOP_PORT}",
        "--namespace",
        "default",
        check=False,
    )
    if created.returncode == 0:
        kubectl("delete", "service", "port-range-probe", "--namespace", "default")
    refusal = re.search(r"range of valid ports is (\d+)-(\d+)", created.stderr)
    assert refusal, f"node port {UNUSED_TOP_PORT} was not refused: {created.stdout}{created.stderr}"
    highest = int(refusal.group(2))
    inside = {port: name for port, name in ports.items() if port <= highest}
    assert not inside, f"control plane ports inside the NodePort range 30000-{highest}: {inside}"
