"""Our Python language host (workbench/toolchain/go/language-python) does what the CLI asks of the
official one: it stops when closed whatever signal dispositions it inherited, describes the runtime
(About), lists the program's packages (GetProgramDependencies, `pulumi about`), creates the
virtualenv and installs requirements.txt (InstallDependencies, `pulumi install`), and runs a program
whose stack has no config at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stack_files import ROOT

pytestmark = pytest.mark.integration
# Far below the 5 s after which the CLI kills a host that ignored its SIGINT.
PROMPT_SECONDS = 2.0


def _host() -> Path:
    found = subprocess.run(["which", "pulumi"], check=True, capture_output=True, text=True)
    return Path(found.stdout.strip()).resolve().parent / "pulumi-language-python"


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_host_stops_at_once_even_with_sigint_ignored(sig: signal.Signals) -> None:
    # Started as a background job, nohup or some CI runners start it: SIGINT ignored. The CLI
    # closes a host with SIGINT to its process group.
    host = subprocess.Popen(
        [str(_host()), "127.0.0.1:1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint,
        start_new_session=True,
    )
    try:
        assert host.stdout is not None
        port = host.stdout.readline().strip()
        assert port.isdigit(), port
        os.killpg(host.pid, sig)
        host.wait(timeout=PROMPT_SECONDS)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    assert host.returncode is not None


def test_the_host_stops_when_its_cli_goes_away() -> None:
    """The CLI's stdin pipe ends only with the CLI: a CLI killed outright takes the host along."""
    host = subprocess.Popen(
        [str(_host()), "127.0.0.1:1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert host.stdout is not None
        assert host.stdin is not None
        assert host.stdout.readline().strip().isdigit()
        host.stdin.close()
        host.wait(timeout=PROMPT_SECONDS)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()


def _project(directory: Path, program: str, requirements: str | None = None) -> Path:
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text(
        "name: host-test\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n"
    )
    (directory / "__main__.py").write_text(program)
    if requirements is not None:
        (directory / "requirements.txt").write_text(requirements)
    return directory


def _pulumi(project: Path, backend: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pulumi", *args, "--non-interactive"],
        cwd=project,
        env={
            **os.environ,
            "PULUMI_BACKEND_URL": f"file://{backend}",
            "PULUMI_CONFIG_PASSPHRASE": "host-test",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_install_about_and_a_program_without_config(tmp_path: Path) -> None:
    # The virtualenv gets the SDK from the checkout's (a wheel cache would do as well): the
    # point is the host's part, not pip's.
    sdk = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "pip", "freeze"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pins = [line for line in sdk.splitlines() if line.split("==")[0].lower() in {"pulumi", "six"}]
    project = _project(
        tmp_path / "project",
        'import pulumi\npulumi.export("answer", 42)\n',
        "\n".join(pins) + "\n",
    )
    backend = tmp_path / "state"
    backend.mkdir()

    installed = _pulumi(project, backend, "install")
    said = installed.stdout + installed.stderr
    assert installed.returncode == 0, said[-3000:]
    assert "Creating virtual environment" in said
    assert "Finished installing dependencies" in said
    venv_python = project / "venv" / "bin" / "python"
    assert venv_python.exists()

    about = _pulumi(project, backend, "about")
    assert f"executable='{venv_python}'" in about.stdout, about.stdout + about.stderr
    version = ".".join(str(part) for part in sys.version_info[:2])
    assert f"version='{version}." in about.stdout
    assert "pulumi" in about.stdout.lower()

    assert _pulumi(project, backend, "stack", "init", "host").returncode == 0
    # No `pulumi config` of any kind: the runner must get an empty config, not null.
    up = _pulumi(project, backend, "up", "--yes", "--skip-preview", "--stack", "host")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    output = _pulumi(project, backend, "stack", "output", "answer", "--stack", "host")
    assert output.stdout.strip() == "42"
