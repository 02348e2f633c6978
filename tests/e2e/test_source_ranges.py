"""A load balancer's source ranges, enforced on the real node at both layers.

dev's config with vote and result as LoadBalancers (MetalLB gives them loopback addresses that
the real node's kube-proxy answers): vote admits this machine (its requests to a loopback address
come from 127.0.0.1) and the address of a probe pod in a namespace of its own, started before the
app; result admits only a documentation network (RFC 5737) that holds no address of this machine.

- The load balancer (kube-proxy's firewall for `loadBalancerSourceRanges`): from this machine,
  vote's address answers and result's refuses, while result's ClusterIP answers (from a pod's
  node every policy admits): the refusal is the range, nothing else.
- The NetworkPolicy (kube-router): from the probe pod, the same source for both, vote's port
  answers (its address is in vote's ranges) and result's does not (it is not in result's). A
  pod of another namespace reaches both when the stack sets no ranges (test_reachability.py's
  row `outside`).
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.probe import OPEN, connect
from tests.e2e.reachability import Targets, observe_from_pod, probe_pod
from tests.e2e.real_node import OnRealNode, deployed_on_real_node, http
from tests.integration.cluster import get_json, kubectl
from tests.waiting import wait_until
from tools.lib.project_copy import StackConfig
from workbench import settings

pytestmark = pytest.mark.e2e

THIS_MACHINE = "127.0.0.1/32"
# Networks reserved for documentation: no one's clients. A machine may still hold an address in
# one (this workplace's have had 192.0.2.2): result admits one that holds none of its addresses.
DOCUMENTATION_NETWORKS = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
POOL = ipaddress.ip_network(settings.LOAD_BALANCER_ADDRESSES)
CONNECT_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def outside_pod(images: dict[str, str]) -> Iterator[tuple[str, str]]:
    """A pod in a namespace of its own (no policy of the app applies to its side), running
    before the app is deployed: ("namespace/pod", its address)."""
    namespace = f"e2e-ranges-{secrets.token_hex(3)}"
    kubectl("create", "namespace", namespace)
    try:
        document = probe_pod("probe-outside", namespace, {}, images["vote"])
        kubectl("apply", "-f", "-", input=json.dumps(document))
        pod = wait_until(
            "the outside probe pod running with an address",
            lambda: _running_address(namespace, "probe-outside"),
            timeout=120,
        )
        yield f"{namespace}/probe-outside", pod
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def app(
    images: dict[str, str],
    outside_pod: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OnRealNode]:
    _, pod_address = outside_pod
    elsewhere = _a_network_without_this_machine()
    ranges = {"vote": [THIS_MACHINE, f"{pod_address}/32"], "result": [elsewhere]}

    def load_balancers(config: StackConfig) -> None:
        for unit, unit_ranges in ranges.items():
            exposure = {"type": "LoadBalancer", "sourceRanges": unit_ranges}
            config[f"voting-app:{unit}"]["exposure"] = exposure

    workdir: Path = tmp_path_factory.mktemp("e2e-source-ranges")
    started = time.monotonic()
    # The node ports are dev's, replaced by the LoadBalancers' allocated ones.
    with deployed_on_real_node(
        "dev", workdir, images, {"vote": 30244, "result": 30245}, load_balancers
    ) as app:
        print(f"\ndev with source ranges {ranges} up in {time.monotonic() - started:.0f} s")
        yield app


def test_each_service_carries_its_ranges_and_keeps_the_client_address(app: OnRealNode) -> None:
    for unit in ("vote", "result"):
        spec = app.get("service", unit)["spec"]
        assert spec["type"] == "LoadBalancer"
        assert spec["externalTrafficPolicy"] == "Local"
        (rule,) = app.get("networkpolicy", f"{unit}-ingress")["spec"]["ingress"]
        networks = [peer["ipBlock"]["cidr"] for peer in rule["from"]]
        assert networks == spec["loadBalancerSourceRanges"], unit
    (elsewhere,) = app.get("service", "result")["spec"]["loadBalancerSourceRanges"]
    assert elsewhere in DOCUMENTATION_NETWORKS


def test_the_load_balancer_answers_inside_its_ranges_and_refuses_outside(app: OnRealNode) -> None:
    addresses = {unit: _load_balancer_address(app, unit) for unit in ("vote", "result")}
    result_cluster_ip = app.get("service", "result")["spec"]["clusterIP"]
    vote = http(f"http://{addresses['vote']}")[0]
    result = connect((addresses["result"], 80), CONNECT_TIMEOUT)
    result_in_cluster = http(f"http://{result_cluster_ip}")[0]
    print(
        f"\nfrom this machine (127.0.0.1): vote's load balancer {addresses['vote']} answered"
        f" {vote}; result's {addresses['result']}: {result}; result's ClusterIP"
        f" {result_cluster_ip} answered {result_in_cluster}"
    )
    assert vote == 200
    assert result != OPEN
    assert result_in_cluster == 200


def test_the_network_policy_admits_only_the_ranges(
    app: OnRealNode, outside_pod: tuple[str, str]
) -> None:
    pod, address = outside_pod
    services = {
        unit: (app.get("service", unit)["spec"]["clusterIP"], 80) for unit in ("vote", "result")
    }
    row = observe_from_pod(pod, Targets(services, f"vote.{app.namespace}.svc.cluster.local"))
    print(f"\nfrom pod {pod} ({address}), to each ClusterIP:80: {row}")
    assert row["vote"] == OPEN
    assert row["result"] != OPEN


def _a_network_without_this_machine() -> str:
    shown = subprocess.run(
        ["ip", "-o", "addr", "show"], check=True, capture_output=True, text=True, timeout=10
    ).stdout
    addresses = {ipaddress.ip_interface(line.split()[3]).ip for line in shown.splitlines()}
    for candidate in DOCUMENTATION_NETWORKS:
        if not any(address in ipaddress.ip_network(candidate) for address in addresses):
            return candidate
    raise AssertionError(f"this machine has an address in each of {DOCUMENTATION_NETWORKS}")


def _running_address(namespace: str, name: str) -> str | None:
    status = get_json("pod", "--namespace", namespace, name)["status"]
    statuses = status.get("containerStatuses") or []
    running = bool(statuses) and "running" in statuses[0]["state"]
    address: str | None = status.get("podIP")
    return address if running else None


def _load_balancer_address(app: OnRealNode, unit: str) -> str:
    def address() -> str | None:
        ingress = app.get("service", unit)["status"].get("loadBalancer", {}).get("ingress")
        return str(ingress[0]["ip"]) if ingress else None

    found: str = wait_until(f"{unit}'s load balancer address", address, timeout=60)
    assert ipaddress.ip_address(found) in POOL, found
    return found
