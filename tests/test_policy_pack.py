"""The policy pack's wiring (policy/__main__.py): each rule of rules.py served under its name and
enforcement level, with what it is given and every violation it finds reported."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pulumi_policy
import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from policy import rules
from tests.stack_files import ROOT

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

# Written out by hand: the names are what a policy violation and `--policy-pack` output show.
EXPECTED = {
    "pinned-images": ("pinned_images", ResourceValidationPolicy, MANDATORY),
    "requests-and-limits": ("requests_and_limits", ResourceValidationPolicy, MANDATORY),
    "readiness-probes": ("readiness_probes", ResourceValidationPolicy, MANDATORY),
    "no-literal-secrets": ("no_literal_secrets", ResourceValidationPolicy, MANDATORY),
    "no-default-namespace": ("not_in_default_namespace", ResourceValidationPolicy, MANDATORY),
    "no-privilege-escalation": ("no_privilege_escalation", ResourceValidationPolicy, MANDATORY),
    "own-service-accounts": ("own_service_accounts", StackValidationPolicy, MANDATORY),
    "load-balancers-with-an-address": (
        "load_balancers_with_an_address",
        StackValidationPolicy,
        MANDATORY,
    ),
    "fixed-node-ports": ("fixed_node_ports", ResourceValidationPolicy, ADVISORY),
    "redundant-web-tier-on-cloud": ("web_tier_redundant_on_cloud", StackValidationPolicy, ADVISORY),
    "spread-when-replicated": ("spread_when_replicated", StackValidationPolicy, ADVISORY),
    "no-trust-auth-on-cloud": ("trust_auth_on_cloud", StackValidationPolicy, ADVISORY),
    "load-balancer-open-to-everyone-on-cloud": (
        "load_balancers_open_to_everyone_on_cloud",
        StackValidationPolicy,
        ADVISORY,
    ),
}


def _served_pack(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """policy/__main__.py imported with a PolicyPack that records what it is given instead of
    serving it over gRPC."""
    served = SimpleNamespace()

    def recording_pack(name: str, policies: list[Any], **options: Any) -> None:
        served.name = name
        served.policies = policies
        served.options = options

    monkeypatch.setattr(pulumi_policy, "PolicyPack", recording_pack)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "policy.__main__", raising=False)
    importlib.import_module("policy.__main__")
    return served


def _recording_rules(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple[Any, ...]]]:
    """Every rule replaced by one that records its arguments and reports two violations named
    after it."""
    calls: dict[str, list[tuple[Any, ...]]] = {}
    for rule, *_ in EXPECTED.values():
        calls[rule] = []

        def recorder(*args: Any, rule: str = rule) -> list[str]:
            calls[rule].append(args)
            return [f"{rule} 1", f"{rule} 2"]

        monkeypatch.setattr(rules, rule, recorder)
    return calls


def test_the_pack_serves_every_rule_under_its_name_and_level(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = _served_pack(monkeypatch)
    assert served.name == "voting-app"
    assert served.options == {}
    assert {p.name: (type(p), p.enforcement_level) for p in served.policies} == {
        name: (kind, level) for name, (_, kind, level) in EXPECTED.items()
    }
    for policy in served.policies:
        assert policy.description.endswith("."), policy.name


def test_a_resource_policy_reports_each_violation_of_its_rule_for_the_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _recording_rules(monkeypatch)
    served = _served_pack(monkeypatch)
    props = {"metadata": {"namespace": "default"}}
    args = SimpleNamespace(resource_type="kubernetes:apps/v1:Deployment", props=props)
    for policy in served.policies:
        if not isinstance(policy, ResourceValidationPolicy):
            continue
        rule = EXPECTED[policy.name][0]
        reported: list[str] = []
        policy.validate(args, reported.append)
        assert reported == [f"{rule} 1", f"{rule} 2"], policy.name
        assert calls[rule] == [("kubernetes:apps/v1:Deployment", props)], policy.name


def test_a_stack_policy_reports_each_violation_of_its_rule_for_the_whole_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _recording_rules(monkeypatch)
    served = _served_pack(monkeypatch)
    resources = [
        SimpleNamespace(resource_type="kubernetes:core/v1:Namespace", props={"a": 1}),
        SimpleNamespace(resource_type="kubernetes:core/v1:Service", props={"b": 2}),
    ]
    for policy in served.policies:
        if not isinstance(policy, StackValidationPolicy):
            continue
        rule = EXPECTED[policy.name][0]
        reported: list[str] = []
        policy.validate(SimpleNamespace(resources=resources), reported.append)
        assert reported == [f"{rule} 1", f"{rule} 2"], policy.name
        assert calls[rule] == [
            (
                [
                    ("kubernetes:core/v1:Namespace", {"a": 1}),
                    ("kubernetes:core/v1:Service", {"b": 2}),
                ],
            )
        ], policy.name


def test_the_served_rule_is_the_real_one(monkeypatch: pytest.MonkeyPatch) -> None:
    served = _served_pack(monkeypatch)
    (policy,) = (p for p in served.policies if p.name == "no-default-namespace")
    validate: Callable[[Any, Callable[[str], None]], None] = policy.validate
    reported: list[str] = []
    props = {"metadata": {"name": "x", "namespace": "default"}}
    validate(
        SimpleNamespace(resource_type="kubernetes:core/v1:ConfigMap", props=props), reported.append
    )
    assert reported == rules.not_in_default_namespace("kubernetes:core/v1:ConfigMap", props)
    assert reported


def test_docs_testing_lists_every_policy_with_its_level(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "docs" / "testing.md").read_text()
    section = text.split("## The policy pack", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z-]+)` \| (mandatory|advisory) \|", section, flags=re.M)
    served = _served_pack(monkeypatch)
    assert sorted(rows) == sorted((p.name, p.enforcement_level.value) for p in served.policies)
