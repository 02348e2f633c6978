"""Serves the rules of rules.py as the voting-app CrossGuard policy pack."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

# The pack shares the project's rules for image references: put the project on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy import rules

ResourceRule = Callable[[str, Mapping[str, Any]], list[str]]
StackRule = Callable[[Sequence[rules.Resource]], list[str]]


def resource_policy(
    name: str, description: str, rule: ResourceRule, level: EnforcementLevel
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        for message in rule(args.resource_type, args.props):
            report(message)

    return ResourceValidationPolicy(name, description, validate, level)


def stack_policy(
    name: str, description: str, rule: StackRule, level: EnforcementLevel
) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [(r.resource_type, r.props) for r in args.resources]
        for message in rule(resources):
            report(message)

    return StackValidationPolicy(name, description, validate, level)


MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

PolicyPack(
    name="voting-app",
    policies=[
        resource_policy(
            "pinned-images", "Images are pinned to a tag or digest.", rules.pinned_images, MANDATORY
        ),
        resource_policy(
            "requests-and-limits",
            "Every container has cpu/memory requests and limits.",
            rules.requests_and_limits,
            MANDATORY,
        ),
        resource_policy(
            "readiness-probes",
            "Every container that serves a port has a readiness probe.",
            rules.readiness_probes,
            MANDATORY,
        ),
        resource_policy(
            "no-literal-secrets",
            "No secret is given as a literal env value.",
            rules.no_literal_secrets,
            MANDATORY,
        ),
        resource_policy(
            "no-default-namespace",
            "Nothing is deployed to the default namespace.",
            rules.not_in_default_namespace,
            MANDATORY,
        ),
        resource_policy(
            "no-privilege-escalation",
            "Containers do not allow privilege escalation.",
            rules.no_privilege_escalation,
            MANDATORY,
        ),
        stack_policy(
            "own-service-accounts",
            "Every workload runs as a ServiceAccount of its own.",
            rules.own_service_accounts,
            MANDATORY,
        ),
        stack_policy(
            "load-balancers-with-an-address",
            "LoadBalancer Services only where the cluster gives them an address.",
            rules.load_balancers_with_an_address,
            MANDATORY,
        ),
        resource_policy(
            "fixed-node-ports",
            "Fixed node ports can collide across a cluster.",
            rules.fixed_node_ports,
            ADVISORY,
        ),
        stack_policy(
            "redundant-web-tier-on-cloud",
            "Web units on a cloud stack run 2+ replicas.",
            rules.web_tier_redundant_on_cloud,
            ADVISORY,
        ),
        stack_policy(
            "spread-when-replicated",
            "A unit that can run several pods spreads them over nodes.",
            rules.spread_when_replicated,
            ADVISORY,
        ),
        stack_policy(
            "load-balancer-open-to-everyone-on-cloud",
            "A LoadBalancer on a cloud stack admits only the source ranges that need it.",
            rules.load_balancers_open_to_everyone_on_cloud,
            ADVISORY,
        ),
        stack_policy(
            "no-trust-auth-on-cloud",
            "Postgres on a cloud stack asks its clients for a password.",
            rules.trust_auth_on_cloud,
            ADVISORY,
        ),
    ],
)
