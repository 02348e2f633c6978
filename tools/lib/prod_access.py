"""How the prod job (.github/workflows/prod.yml) reaches prod's cluster: by OIDC to a cloud
(short-lived credentials, no stored secret), or by a static kubeconfig kept in the environment's
secret KUBECONFIG. docs/delivery-security.md says how to set each up.

    python -m tools.lib.prod_access route
        reads the repository's (and the environment's) variables as JSON from $VARS (the
        workflow's `toJSON(vars)`) and prints, for $GITHUB_OUTPUT, `route=aws|gcp|azure|static`
        and `context=` the kube context Pulumi.prod.yaml deploys through (the name the cloud
        step gives the context it writes). A route with a variable missing, or more than one
        route, fails naming the variables.
    python -m tools.lib.prod_access static-kubeconfig FILE
        writes $PROD_KUBECONFIG (the secret) to FILE (mode 0600) after checking that it holds
        the context Pulumi.prod.yaml names with static credentials: a user that runs an exec
        plugin or an auth provider (what EKS, GKE and AKS write by default) cannot log in on a
        runner that has neither the plugin nor its cloud login, so it fails here, naming the
        user and the OIDC route to use instead.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from tools.lib.preflight import PreflightError, stack_file

ROOT = Path(__file__).resolve().parents[2]
PROD_STACK_FILE = ROOT / "Pulumi.prod.yaml"
# Each cloud route: the variable that chooses it, then the others it needs.
ROUTES = {
    "aws": ("AWS_ROLE_TO_ASSUME", "AWS_REGION", "EKS_CLUSTER_NAME"),
    "gcp": ("GCP_WORKLOAD_IDENTITY_PROVIDER", "GKE_CLUSTER_NAME", "GKE_LOCATION"),
    "azure": (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_SUBSCRIPTION_ID",
        "AKS_RESOURCE_GROUP",
        "AKS_CLUSTER_NAME",
    ),
}
GUIDE = "docs/delivery-security.md, Prod's credentials"


class AccessError(Exception):
    """What is wrong with prod's access settings, and what to set."""


def route(variables: dict[str, str]) -> str:
    """The route the variables choose: a cloud's, when its first variable is set, else static."""
    chosen = [name for name, needed in ROUTES.items() if variables.get(needed[0])]
    if len(chosen) > 1:
        firsts = ", ".join(ROUTES[name][0] for name in chosen)
        raise AccessError(f"more than one cloud route is set ({firsts}): keep one ({GUIDE})")
    if not chosen:
        return "static"
    missing = [name for name in ROUTES[chosen[0]] if not variables.get(name)]
    if missing:
        raise AccessError(
            f"the {chosen[0]} route ({ROUTES[chosen[0]][0]} is set) also needs the variables"
            f" {', '.join(missing)} ({GUIDE})"
        )
    return chosen[0]


def prod_context(path: Path = PROD_STACK_FILE) -> str:
    _, context = stack_file(path)
    if not context:
        raise AccessError(f"{path.name} names no cluster.context: set it to prod's kube context")
    return context


def static_problem(kubeconfig: str, context: str) -> str | None:
    """Why `kubeconfig` cannot reach `context` from a runner, or None when it can."""
    if not kubeconfig.strip():
        return (
            "the secret KUBECONFIG (environment prod) is empty and no cloud route is set: set"
            f" one or the other ({GUIDE})"
        )
    try:
        document: Any = yaml.safe_load(kubeconfig)
    except yaml.YAMLError as error:
        return f"the secret KUBECONFIG is not YAML ({str(error).splitlines()[0]})"
    if not isinstance(document, dict):
        return "the secret KUBECONFIG is not a kubeconfig (no mapping at its top)"
    contexts = {
        entry.get("name"): entry.get("context") or {}
        for entry in document.get("contexts") or []
        if isinstance(entry, dict)
    }
    if context not in contexts:
        held = ", ".join(sorted(str(name) for name in contexts)) or "none"
        return (
            f"the secret KUBECONFIG has no context {context!r} (Pulumi.prod.yaml's"
            f" cluster.context; it has: {held})"
        )
    user_name = contexts[context].get("user")
    users = {
        entry.get("name"): entry.get("user") or {}
        for entry in document.get("users") or []
        if isinstance(entry, dict)
    }
    user = users.get(user_name, {})
    if "exec" in user or "auth-provider" in user:
        plugin = (user.get("exec") or {}).get("command") or (user.get("auth-provider") or {}).get(
            "name", "?"
        )
        return (
            f"the secret KUBECONFIG's user {user_name!r} (context {context!r}) logs in through"
            f" {'an exec plugin' if 'exec' in user else 'an auth provider'} ({plugin}), which a"
            " runner has neither installed nor logged in: store static credentials (a service"
            " account token or a client certificate), or use the cloud's OIDC route instead"
            f" ({GUIDE})"
        )
    return None


def main(argv: list[str]) -> int:
    try:
        if argv == ["route"]:
            variables = {
                str(key): str(value) for key, value in json.loads(os.environ["VARS"]).items()
            }
            print(f"route={route(variables)}")
            print(f"context={prod_context()}")
        elif len(argv) == 2 and argv[0] == "static-kubeconfig":
            kubeconfig = os.environ.get("PROD_KUBECONFIG", "")
            problem = static_problem(kubeconfig, prod_context())
            if problem:
                raise AccessError(problem)
            descriptor = os.open(argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as target:
                target.write(kubeconfig if kubeconfig.endswith("\n") else kubeconfig + "\n")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (AccessError, PreflightError) as error:
        print(f"prod access: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
