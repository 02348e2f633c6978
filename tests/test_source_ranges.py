"""Source ranges of a LoadBalancer (`Exposure.source_ranges`): the Service carries them and keeps
the client's address, the unit's NetworkPolicy admits only them from outside, and what cannot
work is refused before anything is registered. The expected objects are written out by hand."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.app.args import DbArgs, VotingAppArgs, WebUnitArgs
from components.app.db import ClientAuth
from components.app.voting_app import VotingApp
from components.units.service_deployment import ServiceDeployment
from components.units.specs import Exposure, ExposureType, source_range_problem
from tests.mocks import VotingMocks, run_with_mocks, unwrap
from tests.test_service_deployment import SERVICE, web_args
from tests.test_service_deployment import build as build_unit

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RANGES = ("203.0.113.0/24", "2001:db8::/32")
INSTANCE = "app.kubernetes.io/instance"


def load_balancer(*source_ranges: str) -> Exposure:
    return Exposure(ExposureType.LOAD_BALANCER, source_ranges=source_ranges)


def test_a_load_balancer_with_source_ranges_carries_them_and_keeps_the_client_address() -> None:
    mocks, _ = build_unit(web_args(exposure=load_balancer(*RANGES)))
    (service,) = mocks.of_type(SERVICE)
    spec = unwrap(service.inputs)["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["loadBalancerSourceRanges"] == ["203.0.113.0/24", "2001:db8::/32"]
    assert spec["externalTrafficPolicy"] == "Local"


@pytest.mark.parametrize(
    "exposure",
    [Exposure(ExposureType.LOAD_BALANCER), Exposure(ExposureType.NODE_PORT), Exposure()],
)
def test_without_source_ranges_the_service_is_as_before(exposure: Exposure) -> None:
    """Kubernetes' defaults: every source, and the Cluster traffic policy."""
    mocks, _ = build_unit(web_args(exposure=exposure))
    (service,) = mocks.of_type(SERVICE)
    spec = unwrap(service.inputs)["spec"]
    assert "loadBalancerSourceRanges" not in spec
    assert "externalTrafficPolicy" not in spec


@pytest.mark.parametrize(
    ("exposure", "message"),
    [
        (
            Exposure(ExposureType.NODE_PORT, source_ranges=("203.0.113.0/24",)),
            "source_ranges with exposure NodePort: only a LoadBalancer Service has source ranges",
        ),
        (
            Exposure(ExposureType.CLUSTER_IP, source_ranges=("203.0.113.0/24",)),
            "source_ranges with exposure ClusterIP",
        ),
        (
            load_balancer("203.0.113.0/24", "10.1.2.3/8"),
            "source range '10.1.2.3/8': host bits set (the network of that prefix is 10.0.0.0/8",
        ),
        (load_balancer("10.0.0.1"), "source range '10.0.0.1': not a network address"),
        (
            load_balancer("10.0.0.0/8", "10.0.0.0/8"),
            "source_ranges ['10.0.0.0/8', '10.0.0.0/8'] repeat a range",
        ),
    ],
)
def test_source_ranges_that_cannot_work_are_refused_before_registration(
    exposure: Exposure, message: str
) -> None:
    mocks = VotingMocks()
    with pytest.raises(ValueError, match=r"^ServiceDeployment 'web': ") as raised:
        run_with_mocks(lambda: ServiceDeployment("web", web_args(exposure=exposure)), mocks=mocks)
    assert message in str(raised.value)
    assert mocks.registered == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("203.0.113.0/24", None),
        ("2001:db8::/32", None),
        # One slash: what follows the first is the prefix length.
        ("10.0.0.0/8/8", "not a network address and a prefix length"),
        # A zone index names an interface of one machine, which a load balancer has not.
        ("fe80::%eth0/64", "not a network address and a prefix length"),
        ("10.0.0.0/33", "not an IPv4 or IPv6 address with a prefix length it can have"),
        ("::ffff:a00:0/104", "an IPv4-mapped IPv6 network: write the IPv4 network"),
        (
            "10.1.2.3/8",
            "host bits set (the network of that prefix is 10.0.0.0/8; one address is /32)",
        ),
        ("2001:DB8::/32", "not in its shortest form, 2001:db8::/32"),
    ],
)
def test_what_is_wrong_with_a_source_range_word_for_word(text: str, problem: str | None) -> None:
    assert source_range_problem(text) == problem


def policies(vote: Exposure, result: Exposure) -> dict[str, dict[str, Any]]:
    """The app's NetworkPolicies by name, with vote and result exposed as given."""
    args = VotingAppArgs(
        namespace="team",
        db_password=pulumi.Output.secret("pw"),
        vote=WebUnitArgs(image="example/vote:1", exposure=vote),
        result=WebUnitArgs(image="example/result:1", exposure=result),
        db=DbArgs(client_auth=ClientAuth.TRUST),
    )
    mocks = run_with_mocks(lambda: VotingApp("voting", args))
    return {
        plain["metadata"]["name"]: plain
        for plain in (unwrap(p.inputs) for p in mocks.of_type(NETWORK_POLICY))
    }


def test_the_unit_s_network_policy_admits_only_its_source_ranges_from_outside() -> None:
    found = policies(vote=load_balancer(*RANGES), result=Exposure(ExposureType.LOAD_BALANCER))
    assert found["vote-ingress"]["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "vote", INSTANCE: "team"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {"ipBlock": {"cidr": "203.0.113.0/24"}},
                    {"ipBlock": {"cidr": "2001:db8::/32"}},
                ],
                "ports": [{"protocol": "TCP", "port": 80}],
            }
        ],
    }
    # result names no ranges: its rule has no `from`, which admits every source.
    assert found["result-ingress"]["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "result", INSTANCE: "team"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"protocol": "TCP", "port": 80}]}],
    }


def test_source_ranges_change_no_other_policy() -> None:
    """Only the OUTSIDE edge into the unit is narrowed: the edges between units are as before."""
    narrowed = policies(vote=load_balancer(*RANGES), result=load_balancer("192.0.2.0/24"))
    open_to_all = policies(Exposure(ExposureType.LOAD_BALANCER), Exposure(ExposureType.NODE_PORT))
    assert set(narrowed) == set(open_to_all)
    changed = {name for name in narrowed if narrowed[name] != open_to_all[name]}
    assert changed == {"vote-ingress", "result-ingress"}
    assert narrowed["result-ingress"]["spec"]["ingress"][0]["from"] == [
        {"ipBlock": {"cidr": "192.0.2.0/24"}}
    ]
