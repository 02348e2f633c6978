"""The processes a test run starts, found and ended.

Every process started under a test run carries `VOTING_APP_TEST_RUN=<run>/<scope>` in its
environment: Pulumi's CLI passes its environment to its plugins, and they to the programs they
run, so the mark survives what a process tree does not (a plugin whose CLI died is re-parented to
init, and Pulumi starts each plugin in a process group of its own). The local cluster's
components are started without it (workbench/control-plane/cluster and workbench/real-node/
unset it): they outlive tests by design, until the cluster's stop.

    python -m tests.processes check RUN   list (and end) what of run RUN is still running; exit 1
                                          if anything was (tools/test, after each suite)
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

MARK = "VOTING_APP_TEST_RUN"
# After SIGTERM, what a process gets to finish (Pulumi saves its state on a cancel) before SIGKILL.
GRACE_SECONDS = 5.0
# What a process gets to end by itself once the command that started it returned (a plugin the
# CLI is closing as it exits) before it counts as left behind.
SETTLE_SECONDS = 2.0


@dataclass(frozen=True)
class Process:
    pid: int
    mark: str
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid}: {self.command[:160]}"


def _environ_mark(pid: str) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None  # gone meanwhile, or a kernel thread
    prefix = MARK.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def _command(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _is_zombie(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _ancestors() -> set[int]:
    """This process and its ancestors: they carry the run's mark too, and are not leftovers."""
    found, pid = set(), os.getpid()
    while pid > 1:
        found.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return found


def marked(matches: Callable[[str], bool]) -> list[Process]:
    """The live processes whose mark `matches`, this process and its ancestors excepted."""
    mine = _ancestors()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        mark = _environ_mark(entry.name)
        if mark is not None and matches(mark) and not _is_zombie(entry.name):
            found.append(Process(int(entry.name), mark, _command(entry.name)))
    return found


def working_in(directory: Path) -> list[Process]:
    """The live processes whose working directory is `directory` or below it: a Pulumi CLI run
    in a project, and its plugins."""
    mine, inside = _ancestors(), str(directory.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if (cwd == inside or cwd.startswith(f"{inside}/")) and not _is_zombie(entry.name):
            found.append(
                Process(int(entry.name), _environ_mark(entry.name) or "", _command(entry.name))
            )
    return found


def still_running(matches: Callable[[str], bool], settle: float = SETTLE_SECONDS) -> list[Process]:
    """The processes whose mark `matches` that are still there after up to `settle` seconds of
    waiting for them to end by themselves (no wait when there are none)."""
    deadline = time.monotonic() + settle
    while (found := marked(matches)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def end(processes: list[Process], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM, then SIGKILL for what is still there after `grace` seconds."""
    for process in processes:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = list(processes)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if Path(f"/proc/{p.pid}").exists() and not _is_zombie(str(p.pid))]
    for process in alive:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, signal.SIGKILL)


def end_marked(matches: Callable[[str], bool], grace: float = GRACE_SECONDS) -> list[Process]:
    """End every process whose mark `matches` (and what they start meanwhile); what was ended."""
    ended: list[Process] = []
    for _ in range(5):  # a dying CLI may start or leave one more plugin
        found = marked(matches)
        if not found:
            break
        end(found, grace)
        ended += found
    return ended


def of_run(run: str) -> Callable[[str], bool]:
    return lambda mark: mark == run or mark.startswith(f"{run}/")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "check":
        print("usage: python -m tests.processes check RUN", file=sys.stderr)
        return 2
    ended = end_marked(of_run(argv[1]))
    if not ended:
        print("no process of the test run outlived it")
        return 0
    print(f"{len(ended)} processes of the test run outlived it (now ended):", file=sys.stderr)
    for process in ended:
        print(f"  {process} [{process.mark}]", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
