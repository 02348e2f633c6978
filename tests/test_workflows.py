"""The GitHub workflows call only commands that the project's own test command runs too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.stack_files import ROOT

# tools/test is CI's own command; it runs tools/lib/venv first; tests/integration/test_pr_preview.py
# runs tools/pr-preview.
TESTED_COMMANDS = {"tools/test", "tools/lib/venv", "tools/pr-preview"}


def workflow_steps() -> list[tuple[str, dict[str, Any]]]:
    steps = []
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        for job in workflow["jobs"].values():
            steps += [
                (f"{path.name}: {step.get('name', step.get('uses'))}", step)
                for step in job["steps"]
            ]
    return steps


def test_every_shell_step_runs_a_tested_command() -> None:
    shell_steps = [(name, step["run"]) for name, step in workflow_steps() if "run" in step]
    assert shell_steps
    for name, script in shell_steps:
        commands = [line.split()[0] for line in script.strip().splitlines() if line.strip()]
        assert commands, name
        assert set(commands) <= TESTED_COMMANDS, (name, commands)


def test_the_pull_request_workflow_tests_previews_and_comments() -> None:
    scripts = [step.get("run", "") for _, step in workflow_steps()]
    assert "tools/test" in scripts
    assert any(script.startswith("tools/pr-preview") for script in scripts)
    uses = {step.get("uses", "").split("@")[0] for _, step in workflow_steps()}
    assert {"actions/cache", "actions/github-script", "pulumi/actions"} <= uses


def test_tools_exist_for_every_tested_command() -> None:
    for command in TESTED_COMMANDS:
        assert Path(ROOT / command).is_file(), command
