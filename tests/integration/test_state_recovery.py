"""State you can recover (docs/operations.md, "Recovering the state"): the local file backend
keeps a backup of the checkpoint before every update; a stack whose checkpoint is lost is
restored from one with `pulumi stack import`, and the main job (refresh, then up) brings the
cluster back in step."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.cluster import get_json
from tests.integration.main_job import MainJob, main_job_copy
from tools.lib.project_copy import StackConfig, edit_stack_config

pytestmark = pytest.mark.integration
STACKS = Path(".state/.pulumi/stacks/voting-app")
BACKUPS = Path(".state/.pulumi/backups/voting-app/dev")


@pytest.fixture
def job(tmp_path: Path) -> Iterator[MainJob]:
    with main_job_copy(tmp_path) as job:
        yield job


def _option_a(job: MainJob) -> str:
    deployment = get_json("deployment", "vote", "--namespace", job.namespace)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    return str(env["OPTION_A"])


def _deploy_otters(job: MainJob) -> None:
    """An update after the state was saved: the cluster now runs optionA "Otters"."""

    def change(config: StackConfig) -> None:
        config["voting-app:optionA"] = "Otters"

    edit_stack_config(job.project, "dev", change)
    assert job.run().returncode == 0
    assert _option_a(job) == "Otters"


def _converges_to(job: MainJob, stack_file: str) -> None:
    """The main job refreshes first (it reads "Otters" from the cluster), then applies the
    config in `stack_file`."""
    (job.project / "Pulumi.dev.yaml").write_text(stack_file)
    rerun = job.run()
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert _option_a(job) == yaml.safe_load(stack_file)["config"]["voting-app:optionA"]
    job.converged()


def test_a_lost_checkpoint_is_restored_from_a_backup_or_an_export(
    job: MainJob, tmp_path: Path
) -> None:
    original = (job.project / "Pulumi.dev.yaml").read_text()
    assert job.run().returncode == 0
    exported = tmp_path / "dev-state.json"
    job.pulumi("stack", "export", "--file", str(exported))
    # Every save of the checkpoint leaves a copy among the backups, named by its time: the
    # newest now holds the first deployment.
    backup = max((job.project / BACKUPS).glob("*.json"), key=lambda path: path.name)

    # 1. The checkpoint is lost (a disk, a bad hand edit) after a further update; the config
    #    goes back too. A backup copied into its place is the stack again.
    _deploy_otters(job)
    checkpoint = job.project / STACKS / "dev.json"
    checkpoint.unlink()
    assert job.pulumi("stack", "export", check=False).returncode != 0
    shutil.copyfile(backup, checkpoint)
    assert json.loads(job.pulumi("stack", "export").stdout)["deployment"]["resources"]
    _converges_to(job, original)

    # 2. An export taken earlier, imported over a newer state (moving a stack between
    #    backends is the same pair of commands).
    _deploy_otters(job)
    job.pulumi("stack", "import", "--file", str(exported))
    _converges_to(job, original)
    print(f"\nrestored from backup {backup.name}, then from an export: each converged")
    job.destroy()
