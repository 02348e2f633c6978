"""Run the real `__main__.py` under mocks, as `pulumi up` would run it, and keep its exports."""

from __future__ import annotations

import functools
import runpy
from dataclasses import dataclass
from typing import Any
from unittest.mock import patch

import pulumi

from tests.mocks import VotingMocks, run_with_mocks
from tests.stack_files import ROOT, cli_config, stack_secret_keys, stack_values


@dataclass
class ProgramRun:
    mocks: VotingMocks
    exports: dict[str, Any]


def run_main(
    stack: str,
    values: dict[str, Any] | None = None,
    secret_keys: list[str] | None = None,
    mocks: VotingMocks | None = None,
) -> ProgramRun:
    """`values` are full `project:key` config values; by default the stack file's own."""
    exports: dict[str, Any] = {}
    resolved: dict[str, Any] = {}

    def program() -> pulumi.Output[None]:
        # The program leaves Ctrl-C to the engine by ignoring it; inside pytest that would
        # outlive the run, so its signal settings are not applied here.
        with (
            patch.object(pulumi, "export", exports.__setitem__),
            patch("signal.signal"),
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
