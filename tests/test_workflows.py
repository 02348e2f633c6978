"""The GitHub workflows fit GitHub's hosted runners and keep their logic in the project's commands:
every job has a timeout and minimal permissions, every action is pinned, no hosted-runner job
needs root or runs the offline suite, the offline suite runs only on an opted-in self-hosted
runner, and every shell step calls commands that our own tests run here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.stack_files import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# A full version tag, or a commit (with its version in a comment).
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")
# The inputs each action takes (their action.yml, at the pinned versions): actionlint checks
# inputs only for major-version refs, so pinned ones are checked here.
ACTION_INPUTS = {
    "actions/checkout": {"fetch-depth", "ref", "path", "persist-credentials"},
    "actions/setup-python": {"python-version", "cache", "cache-dependency-path"},
    "actions/cache/restore": {"path", "key", "restore-keys"},
    "actions/cache/save": {"path", "key"},
    "helm/kind-action": {"version", "node_image", "cluster_name", "config", "kubectl_version"},
    "pulumi/actions": {"pulumi-version", "command", "stack-name", "work-dir"},
    "actions/github-script": {"script", "github-token"},
}
# What a shell step may run: the project's commands that our tests run here, and the runner's
# own tools for the glue (docker for the kind image cache, kubectl to show what ran).
PROJECT_COMMANDS = {
    "tools/test --unit",
    "tools/lib/venv",
    "tools/up --external",
    "tools/up --stack prod --external",
    "tools/down --external",
    "tools/pr-preview --external",
    ".venv/bin/python -m tools.lib.retarget",
    "python3 -m tools.lib.smoke",
    ".ci/run",
}
GLUE = ("if ", "then", "else", "fi", "docker ", "mkdir ", "printf ", "echo ", "live=", "kubectl ")
# The offline suite and what only the workbench can do: never on a hosted runner.
OFFLINE_ONLY = (".ci/run", "workbench/", "tools/test\n", "sudo", "apt-get")


def workflows() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, yaml.safe_load(path.read_text())) for path in WORKFLOWS]


def jobs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{name}: {job_name}", job)
        for name, workflow in workflows()
        for job_name, job in workflow["jobs"].items()
    ]


def hosted(job: dict[str, Any]) -> bool:
    return str(job["runs-on"]).startswith("ubuntu-")


def test_there_are_workflows() -> None:
    assert {path.name for path in WORKFLOWS} == {"ci.yml", "pull-request.yml", "deploy.yml"}


@pytest.mark.parametrize(("name", "workflow"), workflows(), ids=[p.name for p in WORKFLOWS])
def test_a_workflow_reads_by_default_and_does_not_run_twice(
    name: str, workflow: dict[str, Any]
) -> None:
    assert workflow["permissions"] == {"contents": "read"}, name
    assert "group" in workflow["concurrency"], name


@pytest.mark.parametrize(("name", "job"), jobs(), ids=[name for name, _ in jobs()])
def test_a_job_has_a_timeout_and_asks_only_for_what_it_writes(
    name: str, job: dict[str, Any]
) -> None:
    assert 0 < job["timeout-minutes"] <= 120, name
    for permission, level in (job.get("permissions") or {}).items():
        assert level in ("read", "write"), name
        if level == "write":
            assert permission == "pull-requests", f"{name}: writes {permission}"


@pytest.mark.parametrize(("name", "job"), jobs(), ids=[name for name, _ in jobs()])
def test_every_action_is_pinned_and_given_only_inputs_it_takes(
    name: str, job: dict[str, Any]
) -> None:
    for step in job["steps"]:
        if "uses" not in step:
            continue
        assert PINNED.match(step["uses"]), f"{name}: {step['uses']} is not pinned to a version"
        action = step["uses"].split("@")[0]
        assert action in ACTION_INPUTS, f"{name}: {action} is not one the project knows"
        unknown = set(step.get("with") or {}) - ACTION_INPUTS[action]
        assert not unknown, f"{name}: {action} takes no {unknown}"


@pytest.mark.parametrize(("name", "job"), jobs(), ids=[name for name, _ in jobs()])
def test_hosted_jobs_need_no_root_and_never_run_the_offline_suite(
    name: str, job: dict[str, Any]
) -> None:
    if not hosted(job):
        assert "self-hosted" in job["runs-on"], name
        assert "vars.VOTING_APP_SELF_HOSTED" in job["if"], f"{name}: must be opted into"
        return
    for step in job["steps"]:
        script = step.get("run", "") + "\n"
        for forbidden in OFFLINE_ONLY:
            assert forbidden not in script, f"{name}: {step.get('name')} runs {forbidden!r}"


def test_every_shell_step_runs_the_project_s_commands_or_glue() -> None:
    for name, job in jobs():
        for step in job["steps"]:
            for line in step.get("run", "").splitlines():
                line = line.strip()
                if not line or line.startswith(("--", "#")) or line.endswith("\\"):
                    continue
                command = re.sub(r"^[A-Z_]+=\S+ ", "", line)
                assert command.startswith(tuple(PROJECT_COMMANDS) + GLUE), f"{name}: {line}"


def test_the_project_commands_the_workflows_call_exist() -> None:
    for command in PROJECT_COMMANDS:
        first = command.split()[0]
        if first.startswith(("tools/", ".ci/")):
            assert Path(ROOT / first).is_file(), command
        else:
            module = command.split(" -m ")[1].split()[0]
            assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), command


def test_the_preview_comments_only_where_it_may_and_the_summary_always() -> None:
    (job,) = [job for name, job in jobs() if name == "pull-request.yml: preview"]
    comment = [step for step in job["steps"] if "github-script" in step.get("uses", "")]
    assert comment[0]["if"] == "env.FORK == 'false'"
    (preview,) = [step for step in job["steps"] if "tools/pr-preview" in step.get("run", "")]
    assert '--summary "$GITHUB_STEP_SUMMARY"' in preview["run"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
