"""The GitHub workflows, held to the rules a security review asks of them
(docs/delivery-security.md) and to fitting GitHub's hosted runners with their logic in the
project's commands. Each test is one rule, named after it. Conditions (`if:`) are judged by what
they do for a given event (tests/workflow_expressions.py evaluates them): a fork's pull request,
one from this repository's own branch, a push, a maintainer's dispatch, a CI run that failed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.stack_files import ROOT
from tests.workflow_expressions import admits
from tools.lib import quick_start
from tools.lib.prod_access import ROUTES

WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
# A commit, with the version it is in a comment: `owner/action@<40 hex> # vX.Y.Z`.
PINNED = re.compile(r"^\s*(?:- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
# The only workflow another may call, and the environment its job runs in.
PROD_WORKFLOW = "./.github/workflows/prod.yml"
PROD = "prod"
# The inputs each action takes (their action.yml, at the pinned versions): actionlint checks
# inputs only for major-version refs, so pinned ones are checked here.
ACTION_INPUTS = {
    "actions/checkout": {"fetch-depth", "ref", "path", "persist-credentials"},
    "actions/setup-python": {"python-version", "cache", "cache-dependency-path"},
    "helm/kind-action": {
        "version", "node_image", "cluster_name", "config", "kubectl_version", "install_only",
    },
    "pulumi/actions": {"pulumi-version", "command", "stack-name", "work-dir"},
    "actions/github-script": {"script", "github-token"},
    "aws-actions/configure-aws-credentials": {"role-to-assume", "aws-region"},
    "google-github-actions/auth": {"workload_identity_provider", "service_account"},
    "google-github-actions/get-gke-credentials": {
        "cluster_name", "location", "project_id", "context_name",
    },
    "azure/login": {"client-id", "tenant-id", "subscription-id"},
}  # fmt: skip
# The actions that log in to a cloud with the job's OIDC token, and the route each serves
# (tools/lib/prod_access.py).
OIDC_ACTIONS = {
    "aws-actions/configure-aws-credentials": "aws",
    "google-github-actions/auth": "gcp",
    "azure/login": "azure",
}
# What a shell step may run: the project's commands that our tests run here, and the runner's
# own tools for the glue (the cloud CLIs' kubeconfig commands; kubectl to show what ran).
PROJECT_COMMANDS = {
    "tools/test --unit",
    "tools/lib/venv",
    "tools/up --stack prod --external",
    "tools/pr-preview --external",
    ".venv/bin/python -m tools.lib.prod_access",
    "python3 -m tools.lib.quick_start",
    ".ci/run",
}
GLUE = (
    "echo ",
    "kubectl ",
    "aws eks update-kubeconfig ",
    "az aks get-credentials ",
    "az aks install-cli ",
    '"$RUNNER_TEMP/bin/kubelogin" convert-kubeconfig ',
)
# The offline suite and what only the workbench can do: never on a hosted runner.
OFFLINE_ONLY = (".ci/run", "workbench/", "tools/test\n", "sudo", "apt-get")
# The secrets GitHub gives every job (its own token): not prod's.
GITHUB_OWN_SECRETS = {"GITHUB_TOKEN"}


def _load(path: Path) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as true.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def workflows() -> dict[str, dict[str, Any]]:
    return {path.name: _load(path) for path in WORKFLOWS}


def jobs() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, workflow in workflows().items():
        for job_name, job in workflow["jobs"].items():
            yield f"{name}: {job_name}", job


def job(name: str) -> dict[str, Any]:
    (found,) = [found for job_name, found in jobs() if job_name == name]
    return found


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = job.get("steps", [])
    return steps


def called_jobs(caller: dict[str, Any]) -> list[dict[str, Any]]:
    """The jobs of the workflow a job calls (none for a job of steps)."""
    if "uses" not in caller:
        return []
    assert caller["uses"] == PROD_WORKFLOW, f"{caller['uses']}: not a workflow the project calls"
    return list(_load(ROOT / caller["uses"]).get("jobs", {}).values())


def action(step: dict[str, Any]) -> str:
    return str(step.get("uses", "")).split("@")[0]


def uses_oidc(job: dict[str, Any]) -> bool:
    """Whether the job (or a job it calls) logs in to a cloud with its OIDC token."""
    return any(action(step) in OIDC_ACTIONS for step in steps(job)) or any(
        uses_oidc(called) for called in called_jobs(job)
    )


def text_of(job: dict[str, Any]) -> str:
    return yaml.safe_dump(job)


def secrets_referenced(job: dict[str, Any]) -> set[str]:
    return set(re.findall(r"secrets\.(\w+)", text_of(job))) - GITHUB_OWN_SECRETS


def hosted(job: dict[str, Any]) -> bool:
    return str(job["runs-on"]).startswith("ubuntu-")


def called_only(workflow: dict[str, Any]) -> bool:
    return set(workflow["on"]) == {"workflow_call"}


# The events a condition is judged against.
REPOSITORY = "voting-org/voting-app"
MAIN_SHA = "a" * 40
ALL_VARS = {"VOTING_APP_SELF_HOSTED": "true", "VOTING_APP_CLOUD": "true"}


def context(event_name: str, event: dict[str, Any], **github: Any) -> dict[str, Any]:
    return {
        "github": {
            "event_name": event_name,
            "repository": REPOSITORY,
            "sha": MAIN_SHA,
            "event": event,
            **github,
        },
        "vars": dict(ALL_VARS),
    }


def pull_request(head_repository: str | None, event_name: str = "pull_request") -> dict[str, Any]:
    head = {"repo": {"full_name": head_repository} if head_repository else None}
    return context(event_name, {"pull_request": {"number": 7, "head": head}})


FORK_PULL_REQUEST = pull_request("someone/voting-app")
# A fork whose repository was deleted since: GitHub sends no head repository.
GONE_FORK_PULL_REQUEST = pull_request(None)
OWN_PULL_REQUEST = pull_request(REPOSITORY)
PUSH = context("push", {}, ref="refs/heads/main")
DISPATCH = context("workflow_dispatch", {}, ref="refs/heads/a-branch")


def ci_run(**changes: Any) -> dict[str, Any]:
    """deploy.yml's event: ci.yml's run completed, by default a push to main that passed and is
    still main's newest commit (github.sha is main's head when the event fires)."""
    run = {
        "conclusion": "success",
        "event": "push",
        "head_branch": "main",
        "head_sha": MAIN_SHA,
        "head_repository": {"full_name": REPOSITORY},
        **changes,
    }
    return context("workflow_run", {"workflow_run": run})


def test_there_are_workflows() -> None:
    assert {path.name for path in WORKFLOWS} == {
        "ci.yml",
        "pull-request.yml",
        "deploy.yml",
        "prod.yml",
    }


@pytest.mark.parametrize("name", [path.name for path in WORKFLOWS])
def test_a_workflow_reads_by_default_and_does_not_run_twice(name: str) -> None:
    workflow = workflows()[name]
    assert workflow["permissions"] == {"contents": "read"}, name
    if called_only(workflow):
        # It runs under its caller's group: one of its own would put prod's previews and its
        # deploys in one group, where a preview could wait for a deploy, or cancel it.
        assert "concurrency" not in workflow, name
    else:
        assert "group" in workflow["concurrency"], name


@pytest.mark.parametrize(("name", "job"), list(jobs()), ids=[name for name, _ in jobs()])
def test_a_job_has_a_timeout(name: str, job: dict[str, Any]) -> None:
    for runs in called_jobs(job) or [job]:
        assert 0 < runs["timeout-minutes"] <= 120, name


def test_no_workflow_runs_on_pull_request_target() -> None:
    """pull_request_target runs with the base repository's secrets and a writing token: a job
    that checked out and ran the pull request's code there would hand both to a fork. None is
    needed: forks get their preview from pull_request, with no secret at all."""
    for name, workflow in workflows().items():
        assert "pull_request_target" not in workflow["on"], name


@pytest.mark.parametrize(("name", "job"), list(jobs()), ids=[name for name, _ in jobs()])
def test_every_job_that_references_a_prod_secret_runs_in_the_prod_environment(
    name: str, job: dict[str, Any]
) -> None:
    """prod's secrets live only in the environment `prod` (its reviewers approve every run):
    a job outside it would read nothing there, and must not ask."""
    if secrets_referenced(job):
        assert job.get("environment") == PROD, f"{name} reads {secrets_referenced(job)}"
    assert job.get("secrets") != "inherit", f"{name} hands every secret to what it calls"


def test_no_workflow_passes_a_secret_to_every_job() -> None:
    for name, workflow in workflows().items():
        assert "secrets." not in yaml.safe_dump(workflow.get("env") or {}), name


def test_prod_s_credentials_are_held_by_one_job_called_from_a_preview_and_a_deploy() -> None:
    holders = [name for name, job in jobs() if secrets_referenced(job) or uses_oidc(job)]
    assert holders == ["deploy.yml: prod", "prod.yml: prod", "pull-request.yml: prod-preview"]
    assert job("prod.yml: prod")["environment"] == PROD
    assert secrets_referenced(job("prod.yml: prod")) == {
        "KUBECONFIG",
        "PULUMI_ACCESS_TOKEN",
        "PULUMI_CONFIG_PASSPHRASE",
    }
    callers = {"pull-request.yml: prod-preview": "preview", "deploy.yml: prod": "deploy"}
    for caller, operation in callers.items():
        assert job(caller)["uses"] == PROD_WORKFLOW
        assert job(caller)["with"]["operation"] == operation
    commands = [step for step in steps(job("prod.yml: prod")) if "tools/" in step.get("run", "")]
    operations = {step.get("if") for step in commands}
    assert {"inputs.operation == 'preview'", "inputs.operation == 'deploy'"} <= operations


def test_a_fork_s_pull_request_never_reaches_prod_s_credentials() -> None:
    preview = job("pull-request.yml: prod-preview")
    for fork in (FORK_PULL_REQUEST, GONE_FORK_PULL_REQUEST):
        assert not admits(preview.get("if"), fork), f"a fork's pull request runs {preview['if']}"
    assert admits(preview.get("if"), OWN_PULL_REQUEST)
    # Where the repository deploys no prod, no preview of it asks for approval.
    assert not admits(preview.get("if"), {**OWN_PULL_REQUEST, "vars": {}})


def test_the_prod_preview_runs_the_commit_of_its_event() -> None:
    """What the reviewers approved: the commit of the run (a later push is a run of its own)."""
    assert job("pull-request.yml: prod-preview")["with"]["ref"] == "${{ github.sha }}"
    (checkout,) = [s for s in steps(job("prod.yml: prod")) if action(s) == "actions/checkout"]
    assert checkout["with"]["ref"] == "${{ inputs.ref }}"


def test_the_self_hosted_job_never_runs_fork_code() -> None:
    """It runs what it checks out as root on the runner's machine."""
    (offline,) = [job for _, job in jobs() if "self-hosted" in job.get("runs-on", [])]
    assert "voting-app-offline" in offline["runs-on"]
    for fork in (
        FORK_PULL_REQUEST,
        GONE_FORK_PULL_REQUEST,
        pull_request("someone/voting-app", "pull_request_target"),
    ):
        assert not admits(offline["if"], fork), fork["github"]["event_name"]
    for own in (OWN_PULL_REQUEST, PUSH, DISPATCH):
        assert admits(offline["if"], own), own["github"]["event_name"]
    # Opted into: without the variable, never.
    assert not admits(offline["if"], {**PUSH, "vars": {}})


def test_deploy_runs_only_for_a_commit_whose_ci_passed_on_main() -> None:
    deploy = workflows()["deploy.yml"]
    assert deploy["on"] == {
        "workflow_run": {"workflows": ["ci"], "types": ["completed"], "branches": ["main"]}
    }
    assert workflows()["ci.yml"]["name"] == "ci"
    prod = job("deploy.yml: prod")
    assert admits(prod["if"], ci_run())
    refused = {
        "CI failed": ci_run(conclusion="failure"),
        "CI cancelled": ci_run(conclusion="cancelled"),
        # A fork's pull request from a branch it named main matches `branches: [main]`.
        "a pull request's CI": ci_run(event="pull_request"),
        "a fork's branch": ci_run(head_repository={"full_name": "someone/voting-app"}),
        "another branch": ci_run(head_branch="feature"),
        # A re-run of an old CI run: main has moved on since.
        "not main's newest commit": ci_run(head_sha="b" * 40),
    }
    for why, event in refused.items():
        assert not admits(prod["if"], event), why
    assert prod["with"]["ref"] == "${{ github.event.workflow_run.head_sha }}"


def test_deploys_run_one_at_a_time_and_are_never_cancelled_midway() -> None:
    concurrency = workflows()["deploy.yml"]["concurrency"]
    assert concurrency == {"group": "deploy-prod", "cancel-in-progress": False}


@pytest.mark.parametrize(("name", "job"), list(jobs()), ids=[name for name, _ in jobs()])
def test_id_token_write_only_where_oidc_is_used(name: str, job: dict[str, Any]) -> None:
    grants = (job.get("permissions") or {}).get("id-token") == "write"
    problem = "grants id-token: write and uses no OIDC" if grants else "uses OIDC without id-token"
    assert grants == uses_oidc(job), f"{name} {problem}"


@pytest.mark.parametrize(("name", "job"), list(jobs()), ids=[name for name, _ in jobs()])
def test_a_job_writes_only_what_it_must(name: str, job: dict[str, Any]) -> None:
    """The pull request's comment, by the one job that holds no secret; the OIDC token, by
    the job that holds prod's credentials (which writes nothing to the repository)."""
    writes = {
        permission
        for permission, level in (job.get("permissions") or {}).items()
        if level == "write"
    }
    comments = any(action(step) == "actions/github-script" for step in steps(job))
    allowed = {"pull-requests"} if comments else {"id-token"}
    assert writes <= allowed, f"{name} writes {writes - allowed}"
    if comments:
        assert not secrets_referenced(job), name
    for level in (job.get("permissions") or {}).values():
        assert level in ("read", "write"), name


def test_every_oidc_step_is_optional_and_gated_on_its_route() -> None:
    """A cloud's steps run only where the environment's variables choose that cloud
    (tools/lib/prod_access.py); the static kubeconfig only where none does."""
    prod_steps = steps(job("prod.yml: prod"))
    gated = {}
    for step in prod_steps:
        route = step.get("if", "")
        if route.startswith("steps.access.outputs.route == "):
            gated.setdefault(route.split("'")[1], []).append(step)
    assert set(gated) == {*ROUTES, "static"}
    for oidc_action, route in OIDC_ACTIONS.items():
        assert route in ROUTES
        assert oidc_action in {action(step) for step in gated[route]}
    assert any("secrets.KUBECONFIG" in text_of(step) for step in gated["static"])
    for step in prod_steps:
        if "secrets.KUBECONFIG" in text_of(step):
            assert step in gated["static"]


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            if re.match(r"^\s*(- )?uses: ", line) and PROD_WORKFLOW not in line:
                assert PINNED.match(line), f"{path.name}: {line.strip()}"


@pytest.mark.parametrize(("name", "job"), list(jobs()), ids=[name for name, _ in jobs()])
def test_every_action_is_one_the_project_knows_given_only_inputs_it_takes(
    name: str, job: dict[str, Any]
) -> None:
    for step in steps(job):
        if "uses" not in step:
            continue
        assert action(step) in ACTION_INPUTS, f"{name}: {action(step)} is not one the project knows"
        unknown = set(step.get("with") or {}) - ACTION_INPUTS[action(step)]
        assert not unknown, f"{name}: {action(step)} takes no {unknown}"


@pytest.mark.parametrize(("name", "job"), list(jobs()), ids=[name for name, _ in jobs()])
def test_no_checkout_leaves_the_job_s_token_in_the_working_tree(
    name: str, job: dict[str, Any]
) -> None:
    """The code a job checks out runs next (a pull request's, in its previews): it gets no token
    from .git/config; nothing of ours pushes or fetches after the checkout."""
    for step in steps(job):
        if action(step) == "actions/checkout":
            assert step["with"]["persist-credentials"] is False, name


@pytest.mark.parametrize(("name", "job"), list(jobs()), ids=[name for name, _ in jobs()])
def test_hosted_jobs_need_no_root_and_never_run_the_offline_suite(
    name: str, job: dict[str, Any]
) -> None:
    if "uses" in job:
        return  # its steps are the called workflow's job's, checked as that job
    if not hosted(job):
        assert "self-hosted" in job["runs-on"], name
        assert "vars.VOTING_APP_SELF_HOSTED" in job["if"], f"{name}: must be opted into"
        return
    for step in steps(job):
        script = step.get("run", "") + "\n"
        for forbidden in OFFLINE_ONLY:
            assert forbidden not in script, f"{name}: {step.get('name')} runs {forbidden!r}"


def test_no_hosted_job_installs_the_manifest_scanner() -> None:
    """checkov runs only in tools/test's manifest scan (the offline suite): the hosted jobs'
    commands make .venv and policy/venv at most (tools/lib/venv without --all)."""
    for name, job in jobs():
        for step in steps(job):
            assert "checkov" not in text_of(step), f"{name}: {step.get('name')}"
            assert "venv --all" not in step.get("run", ""), f"{name}: {step.get('name')}"


def test_every_shell_step_runs_the_project_s_commands_or_glue() -> None:
    for name, job in jobs():
        for step in steps(job):
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
    preview = job("pull-request.yml: preview")
    comment = [step for step in steps(preview) if action(step) == "actions/github-script"]
    assert comment[0]["if"] == "env.FORK == 'false'"
    (run,) = [step for step in steps(preview) if "tools/pr-preview" in step.get("run", "")]
    assert '--summary "$GITHUB_STEP_SUMMARY"' in run["run"]
    assert preview["permissions"] == {"contents": "read", "pull-requests": "write"}
    (prod_run,) = [
        s for s in steps(job("prod.yml: prod")) if "tools/pr-preview" in s.get("run", "")
    ]
    assert '--summary "$GITHUB_STEP_SUMMARY"' in prod_run["run"]


def test_the_kind_job_runs_the_readme_s_quick_start_with_the_official_cli() -> None:
    """Its steps install kind and the official CLI, then run the README's lines through
    tools/lib/quick_start.py (which reads them from README.md); nothing else deploys."""
    kind_job = job("ci.yml: quick-start-on-kind")
    (kind,) = [step for step in steps(kind_job) if action(step) == "helm/kind-action"]
    assert kind["with"]["install_only"] is True, "the README's first line makes the cluster"
    assert any(action(step) == "pulumi/actions" for step in steps(kind_job))
    runs = [step["run"] for step in steps(kind_job) if "run" in step and "if" not in step]
    assert runs == [
        'python3 -m tools.lib.quick_start --kind-image "$KIND_NODE_IMAGE" --check-votes 20'
    ]
    # The quick start's own lines include the CLI's installs of both projects' dependencies.
    lines = quick_start.readme_lines((ROOT / "README.md").read_text())
    assert "pulumi install" in map(quick_start.command, lines)
    assert "(cd policy && pulumi install)" in map(quick_start.command, lines)
    for name, other in jobs():
        if name != "ci.yml: quick-start-on-kind":
            assert "quick_start" not in text_of(other), name
