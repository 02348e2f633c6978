"""The URL of a LoadBalancer Service, whatever shape its status arrives in."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from components.units.endpoints import PENDING, load_balancer_url


@pytest.mark.parametrize(
    ("status", "port", "url"),
    [
        (None, 80, PENDING),
        ({}, 80, PENDING),
        ({"loadBalancer": {"ingress": []}}, 80, PENDING),
        ({"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}, 80, "http://203.0.113.7"),
        (
            {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}},
            8080,
            "http://lb.example:8080",
        ),
        (
            SimpleNamespace(load_balancer=SimpleNamespace(ingress=[{"hostname": "lb.example"}])),
            80,
            "http://lb.example",
        ),
        (
            SimpleNamespace(
                load_balancer=SimpleNamespace(ingress=[SimpleNamespace(ip="", hostname="h")])
            ),
            80,
            "http://h",
        ),
        ({"loadBalancer": {"ingress": [{"ip": "2001:db8::7"}]}}, 80, "http://[2001:db8::7]"),
        ({"loadBalancer": {"ingress": [{"ip": "2001:db8::7"}]}}, 81, "http://[2001:db8::7]:81"),
        # Only a host name or address makes a URL, whatever else the status holds there.
        ({"loadBalancer": {"ingress": [{"ip": {"unexpected": "shape"}}]}}, 80, PENDING),
    ],
)
def test_load_balancer_url(status: Any, port: int, url: str) -> None:
    assert load_balancer_url(status, port) == url
