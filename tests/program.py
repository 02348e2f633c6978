"""Run the real `__main__.py` under mocks, as `pulumi up` would run it, and keep its exports."""

from __future__ import annotations

import functools
import runpy
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pulumi
import yaml

from tests.mocks import VotingMocks, run_with_mocks
from tests.stack_files import ROOT, cli_config, stack_secret_keys, stack_values


@dataclass
class ProgramRun:
    mocks: VotingMocks
    exports: dict[str, Any]


# The contexts the program may be pointed at in these tests: every default one, and the shipped
# prod stack's.
KNOWN_CONTEXTS = ("kwok-voting-app", "kind-kind", "minikube", "docker-desktop", "voting-prod")


@functools.cache
def kubeconfig(contexts: tuple[str, ...] = KNOWN_CONTEXTS) -> Path:
    """A kubeconfig that holds `contexts` (the program checks the stack's context is there)."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "test", "user": {"token": "test"}}],
        "contexts": [
            {"name": name, "context": {"cluster": "test", "user": "test"}} for name in contexts
        ],
    }
    path = Path(tempfile.mkdtemp(prefix="voting-app-kubeconfig-")) / "config"
    path.write_text(yaml.safe_dump(document))
    return path


def run_main(
    stack: str,
    values: dict[str, Any] | None = None,
    secret_keys: list[str] | None = None,
    mocks: VotingMocks | None = None,
    contexts: tuple[str, ...] = KNOWN_CONTEXTS,
) -> ProgramRun:
    """`values` are full `project:key` config values; by default the stack file's own. The
    program reads a kubeconfig that holds `contexts`."""
    exports: dict[str, Any] = {}
    resolved: dict[str, Any] = {}

    def program() -> pulumi.Output[None]:
        # The program leaves Ctrl-C to the engine by ignoring it; inside pytest that would
        # outlive the run, so its signal settings are not applied here.
        with (
            patch.object(pulumi, "export", exports.__setitem__),
            patch("signal.signal"),
            patch.dict("os.environ", {"KUBECONFIG": str(kubeconfig(contexts))}),
        ):
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        return pulumi.Output.all(**exports).apply(resolved.update)

    mocks = run_with_mocks(
        program,
        mocks=mocks,
        stack=stack,
        config=cli_config(stack_values(stack) if values is None else values),
        secret_keys=stack_secret_keys(stack) if secret_keys is None else secret_keys,
    )
    return ProgramRun(mocks=mocks, exports=resolved)


@functools.cache
def shipped_stack(stack: str) -> ProgramRun:
    """The program with a shipped stack file's config, run once per test session (about 0.25 s a
    run) for every module that checks the shipped stacks: read it, never change it."""
    return run_main(stack)
