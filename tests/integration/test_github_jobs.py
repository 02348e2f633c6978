"""What the GitHub workflows run, run here (README "GitHub workflows"): the lint and unit step as a
user who is not root but has sudo, as on a hosted runner; the PR preview's Markdown for dev, cut
to a limit as GitHub's, and a preview against a live stack. Only the actions' glue (checkout,
kind, the comment's API call) is GitHub's alone. The vote-and-count smoke check runs against
the real node in tests/e2e/test_real_node.py."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cluster import require_cluster
from tests.stack_files import ROOT
from tools.lib.pr_preview import MARKER
from tools.lib.project_copy import LOCAL_KUBECONFIG, link_virtualenv
from workbench import settings

pytestmark = pytest.mark.integration


def _clone(tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    return clone


@pytest.fixture
def runner_user() -> Iterator[tuple[str, Path]]:
    """A user like a hosted runner's: not root, with password-less sudo, and a work directory of
    its own (pytest's are root's alone). Removed afterwards, with its sudoers entry and home."""
    subprocess.run(
        ["bash", "-c", f'source "{ROOT}/workbench/lib.sh" && ensure_packages sudo'], check=True
    )
    name = f"vapp-ci-{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    sudoers = Path(f"/etc/sudoers.d/{name}")
    subprocess.run(["useradd", "--home-dir", str(work / "home"), "--create-home", name], check=True)
    try:
        sudoers.write_text(f"{name} ALL=(ALL) NOPASSWD:ALL\n")
        sudoers.chmod(0o440)
        user = pwd.getpwnam(name)
        os.chown(work, user.pw_uid, user.pw_gid)
        yield name, work
    finally:
        sudoers.unlink(missing_ok=True)
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def test_the_lint_and_unit_step_passes_as_a_user_with_sudo(
    runner_user: tuple[str, Path],
) -> None:
    name, work = runner_user
    user = pwd.getpwnam(name)
    as_user = ["sudo", "--user", name, "--set-home", "--", "env"]
    env = ["PATH=/usr/local/bin:/usr/bin:/bin", "PYTHON=python3.11", "LANG=C.UTF-8"]
    clone = work / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(clone)], check=True)
    has_sudo = subprocess.run([*as_user, *env, "sudo", "-n", "true"], capture_output=True)
    assert has_sudo.returncode == 0, has_sudo.stderr
    result = subprocess.run(
        [*as_user, *env, "bash", "-c", f'cd "{clone}" && tools/test --unit'],
        capture_output=True,
        text=True,
        timeout=900,
    )
    said = result.stdout + result.stderr
    assert result.returncode == 0, said[-4000:]
    assert "passed" in said
    print(f"\nas {name} (uid {user.pw_uid}): {said.strip().splitlines()[-1]}")


def _preview(clone: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(ROOT / "tools" / "pr-preview"), "--repo", str(clone), "--base", "HEAD", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout


def test_the_preview_of_dev_is_cut_to_the_comment_limit(tmp_path: Path) -> None:
    """A diff larger than the limit (here 1,500 characters, where GitHub's is 65,536): the
    comment is cut at a line, its code fence and <details> closed, a note saying so."""
    require_cluster()
    clone = _clone(tmp_path)
    stack_file = clone / "Pulumi.dev.yaml"
    text = stack_file.read_text()
    for old, new in (("optionA: Cats", "optionA: Tacos"), ("optionB: Dogs", "optionB: Burritos")):
        text = text.replace(f"voting-app:{old}", f"voting-app:{new}")
    stack_file.write_text(text)
    comment, summary = tmp_path / "comment.md", tmp_path / "summary.md"
    output = _preview(
        clone,
        "--stacks",
        "dev",
        "--markdown",
        str(comment),
        "--comment-limit",
        "1500",
        "--summary",
        str(summary),
    )
    assert '"Cats" => "Tacos"' in output
    cut = comment.read_text()
    assert len(cut) <= 1500
    assert cut.startswith(MARKER)
    assert "**dev**: 1 to update" in cut
    assert "Cut to fit GitHub's limit of 1,500 characters" in cut
    assert sum(1 for line in cut.splitlines() if line.startswith("```")) % 2 == 0
    assert cut.count("<details>") == cut.count("</details>")
    whole = summary.read_text()
    assert '"Cats" => "Tacos"' in whole
    assert "Cut to fit" not in whole


def test_a_preview_against_a_live_stack(tmp_path: Path) -> None:
    """What the workflow does for prod where the repository has its credentials: the working
    tree previewed against the stack as it runs (here dev, deployed to a backend of the test's)."""
    require_cluster()
    clone = _clone(tmp_path)
    link_virtualenv(clone)
    backend = tmp_path / "state"
    backend.mkdir()
    namespace = f"it-live-{secrets.token_hex(3)}"
    env = {
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": settings.PASSPHRASES["dev"],
        "KUBECONFIG": str(LOCAL_KUBECONFIG),
    }

    def pulumi(*args: str) -> None:
        subprocess.run(
            ["pulumi", *args, "--stack", "dev", "--non-interactive"],
            cwd=clone,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            timeout=600,
        )

    pulumi("stack", "init")
    pulumi("config", "set", "namespace", namespace)
    pulumi("config", "set", "--path", "vote.exposure.nodePort", "30324")
    pulumi("config", "set", "--path", "result.exposure.nodePort", "30325")
    try:
        pulumi("up", "--yes", "--skip-preview", "--suppress-progress")
        comment = tmp_path / "comment.md"
        _preview(clone, "--stacks", "", "--live-stack", "dev", "--markdown", str(comment), env=env)
        text = comment.read_text()
        assert "**dev**: no changes" in text
        assert "dev against the live stack" in text
    finally:
        pulumi("destroy", "--yes", "--skip-preview", "--suppress-progress")
        shutil.rmtree(backend, ignore_errors=True)
