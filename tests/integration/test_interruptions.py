"""Deploys that survive interruption: the README's main job (`tools/up --simulated`, in a copy of
the project, see main_job.py) killed at points spread over its run, cancelled as a CI runner
cancels, meeting an API server that goes away, and run twice at once. After each, running the
main job again converges with nobody's help: every declared object exists once, nothing in the
cluster carries the app's labels without being in the state, nothing is pending, a preview sees
no change, and `destroy` removes everything."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.integration.main_job import MainJob, interrupt, main_job_copy
from tests.stack_files import ROOT

pytestmark = pytest.mark.integration
# The kill points are drawn from this seed: a failure names its point, and the same seed replays
# it. One point in each of KILL_POINTS equal slices of a full run, so they spread over all of it.
SEED = 20261128
KILL_POINTS = 3
CLUSTER = str(ROOT / "workbench" / "control-plane" / "cluster")


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MainJob]:
    with main_job_copy(tmp_path_factory.mktemp("main-job")) as job:
        yield job


@pytest.fixture(scope="module")
def full_run(job: MainJob) -> float:
    """Seconds of an uninterrupted main job from empty (then destroyed again)."""
    started = time.monotonic()
    result = job.run()
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-3000:]
    job.converged()
    job.destroy()
    return took


def _guard_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("==> stack dev:")]


def _converges_again(job: MainJob, what: str) -> str:
    """Run the main job again: it must succeed, converge, and a run after it change nothing."""
    started = time.monotonic()
    rerun = job.run()
    took = time.monotonic() - started
    assert rerun.returncode == 0, f"{what}: the next tools/up failed:\n{rerun.stdout[-3000:]}"
    job.converged(preview=False)  # the run below is the preview: it must change nothing
    again = job.run()
    assert again.returncode == 0, again.stdout[-3000:]
    summary = again.stdout[again.stdout.rfind("Resources:") :]
    assert re.search(r"\d+ unchanged", summary), summary
    assert not re.search(r"\d+ (to )?(create|update|delete|replace)", summary), summary
    said = "; ".join(_guard_lines(rerun.stdout)) or "nothing to clear"
    print(f"  {what}: next tools/up converged in {took:.1f}s ({said})")
    return rerun.stdout


def test_a_killed_or_cancelled_main_job_converges_on_the_next_run(
    job: MainJob, full_run: float
) -> None:
    rng = random.Random(SEED)
    slices = [(i + rng.random()) / KILL_POINTS * full_run for i in range(KILL_POINTS)]
    # SIGKILL (the runner's last resort: nothing can clean up) at every point; SIGINT (Ctrl-C,
    # the first signal of a CI cancel) and SIGTERM (the second) once each, in the middle third.
    plan = [(signal.SIGKILL, at) for at in slices]
    plan += [(sig, (1 + rng.random()) / 3 * full_run) for sig in (signal.SIGINT, signal.SIGTERM)]
    print(f"\nfull run {full_run:.1f}s; seed {SEED}; interruption points (s): {plan}")
    locks = job.project / ".state" / ".pulumi" / "locks"
    for sig, at in plan:
        process = job.start()
        time.sleep(at)
        output, outlived = interrupt(process, sig)
        left_lock = any(locks.rglob("*.json"))
        pending = _pending_creates(job)
        said = [line for line in output.splitlines() if line.startswith("tools/up:")]
        what = (
            f"{sig.name} at {at:.1f}s (exit {process.returncode}; said: {said or 'nothing'};"
            f" left: lock {left_lock}, {pending} pending creates)"
        )
        assert "Traceback" not in output, f"{what}:\n{output[-3000:]}"
        # Nothing of the run may linger: a plugin left running holds the state's files open and
        # a port, long after the runner moved on.
        assert not outlived, f"{what}: processes outlived the run by 30 s: {outlived}"
        if sig is not signal.SIGKILL:
            # A cancel is graceful: Pulumi finishes what is in flight, saves, and unlocks (and
            # before the update began, nothing was under way).
            assert not left_lock, f"{what}:\n{output[-3000:]}"
            assert pending == 0, f"{what}:\n{output[-3000:]}"
            if process.returncode != 0 and "Updating (dev)" in output:
                assert "tools/up: cancelled" in output, f"{what}:\n{output[-3000:]}"
        rerun = _converges_again(job, what)
        # What the dead run left, the next one clears and says so.
        assert ("removing the lock of a run that died" in rerun) == left_lock, rerun[-3000:]
        assert ("died while creating" in rerun) == bool(pending), rerun[-3000:]
        job.destroy()


def _pending_creates(job: MainJob) -> int:
    exported = job.pulumi("stack", "export", check=False)
    if exported.returncode != 0:
        return 0
    operations = json.loads(exported.stdout)["deployment"].get("pending_operations") or []
    return sum(1 for operation in operations if operation.get("type") == "creating")


def test_an_api_server_that_goes_away_mid_run_is_ridden_out_or_named(
    job: MainJob, full_run: float
) -> None:
    process = job.start()
    time.sleep(0.5 * full_run)
    # A crash (SIGKILL), not a graceful stop: nothing drains, every connection breaks at once.
    subprocess.run([CLUSTER, "apiserver", "kill"], check=True, capture_output=True, timeout=120)
    down = time.monotonic()
    time.sleep(5)
    subprocess.run([CLUSTER, "apiserver", "start"], check=True, capture_output=True, timeout=300)
    outage = time.monotonic() - down
    output, _ = process.communicate(timeout=600)
    if process.returncode == 0:
        outcome = "rode it out"
    else:
        assert "the cluster stopped answering during the update" in output, output[-3000:]
        outcome = f"failed (exit {process.returncode}) saying the cluster stopped answering"
    print(
        f"\nAPI server killed at {0.5 * full_run:.1f}s, back {outage:.1f}s later: the run {outcome}"
    )
    _converges_again(job, "after the API server restart")
    job.destroy()


def test_a_second_main_job_on_the_same_stack_stops_and_names_the_lock(job: MainJob) -> None:
    first = job.start()
    locks = job.project / ".state" / ".pulumi" / "locks"
    deadline = time.monotonic() + 120
    while not any(locks.rglob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert any(locks.rglob("*.json")), "the first run never took the stack's lock"
    second = job.run(timeout=120)
    output, _ = first.communicate(timeout=600)
    assert first.returncode == 0, output[-3000:]
    assert second.returncode == 3, second.stdout[-3000:]
    assert "is locked by a running update (pid" in second.stdout
    print(f"\nsecond tools/up: {second.stdout.strip().splitlines()[-1]}")
    job.converged()
    job.destroy()
