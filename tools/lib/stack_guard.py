"""What a run that died leaves in a stack's state, found and cleared before the main job updates it.

    python -m tools.lib.stack_guard STACK
        then prints `exists` when a file backend holds the stack, else `unknown` (a new stack, or
        a backend read through the CLI: tools/up lets `pulumi stack select --create` decide);
        what it clears, it says on stderr

- A cut-off sidecar (file backend): next to each file it writes, the backend keeps a `.attrs`
  file of metadata (content type, checksum), truncated and rewritten in place before the file
  itself is swapped in whole. A run killed in between leaves it empty or half-written, and every
  later read of that file fails ("failed to load checkpoint: EOF"). The file itself is intact (it
  is only ever replaced whole), and the backend reads a file without a sidecar as plain bytes,
  so the cut-off sidecar is removed, saying so.
- A lock (file backend): one held by a live `pulumi` process on this machine stops the main job
  with exit status 3 and a message naming the process, before anything reads the state (that run
  may be writing it, and a half-written checkpoint does not parse); one whose process is gone
  (killed, or its machine slept through a CI cancel) is removed with `pulumi cancel`, saying so.
- Pending operations: Pulumi records an operation before it starts and clears it when it ends, so
  a run killed in between leaves it behind. Pending creates are dropped with
  `pulumi refresh --clear-pending-creates`: the main job's update then creates those objects again,
  and the Kubernetes provider creates by server-side apply, so an object that did reach the
  cluster is adopted by name, never duplicated or orphaned (every object here has a fixed name).
  The update's own refresh settles pending updates and deletes.

Run with the Pulumi environment of workbench/lib.sh (`pulumi` on PATH, PULUMI_BACKEND_URL set).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.lib.stack_state import PROJECT, backend_dir, checkpoint_file, deployment, pulumi


@dataclass(frozen=True)
class Lock:
    path: Path
    pid: int
    hostname: str
    timestamp: str

    @property
    def here(self) -> bool:
        return self.hostname == os.uname().nodename

    @property
    def alive(self) -> bool:
        """Held by a pulumi process that still runs on this machine."""
        try:
            command = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return False
        return b"pulumi" in command


def locks(stack: str) -> list[Lock]:
    backend = backend_dir()
    if backend is None:
        return []
    found = []
    for path in sorted((backend / ".pulumi" / "locks").glob(f"*/{PROJECT}/{stack}/*.json")):
        try:
            content = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        found.append(
            Lock(
                path,
                int(content.get("pid", 0)),
                content.get("hostname", "?"),
                content.get("timestamp", "?"),
            )
        )
    return found


def pending_operations(stack: str) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = deployment(stack).get("pending_operations") or []
    return operations


def describe(operation: dict[str, Any]) -> str:
    resource = operation.get("resource") or {}
    name = str(resource.get("urn", "?")).rsplit("::", 1)[-1]
    kind = str(resource.get("type", "?")).rsplit(":", 1)[-1]
    return f"{kind} {name}"


def say(message: str) -> None:
    """What it clears: on stderr, since stdout carries the stack's status for tools/up."""
    print(f"==> {message}", file=sys.stderr, flush=True)


def cut_off_sidecars() -> list[Path]:
    """The file backend's `.attrs` files that do not hold a JSON object: written by a run that
    was killed while it wrote them."""
    backend = backend_dir()
    if backend is None:
        return []
    found = []
    for path in sorted((backend / ".pulumi").rglob("*.attrs")):
        try:
            whole = isinstance(json.loads(path.read_bytes()), dict)
        except ValueError:
            whole = False
        if not whole:
            found.append(path)
    return found


def live_lock(stack: str, held: list[Lock]) -> bool:
    """Whether a running update holds the stack's lock; if so, says so on stderr."""
    live = [lock for lock in held if not lock.here or lock.alive]
    if live:
        lock = live[0]
        who = f"pid {lock.pid}" if lock.here else f"pid {lock.pid} on {lock.hostname}"
        print(
            f"tools/up: stack {stack!r} is locked by a running update ({who}, since"
            f" {lock.timestamp}; lock file {lock.path}). Another tools/up or pulumi is deploying"
            " it: wait for it to finish, or stop it. A lock whose process has died is cleared by"
            " the next tools/up (or by hand: pulumi cancel --stack " + stack + ").",
            file=sys.stderr,
        )
    return bool(live)


def guard(stack: str) -> int:
    held = locks(stack)
    if live_lock(stack, held):
        return 3
    for sidecar in cut_off_sidecars():
        say(
            f"state: removing {sidecar.name}, the backend's metadata for"
            f" {sidecar.with_suffix('').name}, cut off by a run that died while writing it"
            f" ({sidecar.stat().st_size} bytes, not a JSON object); the file it describes is"
            " whole and reads without it"
        )
        sidecar.unlink()
    for lock in held:
        say(
            f"stack {stack}: removing the lock of a run that died (pid {lock.pid}, since"
            f" {lock.timestamp}): pulumi cancel"
        )
    if held:
        pulumi("cancel", "--yes", "--stack", stack)
    operations = pending_operations(stack)
    creates = [operation for operation in operations if operation.get("type") == "creating"]
    if creates:
        say(
            f"stack {stack}: the last run died while creating {len(creates)} object(s)"
            f" ({', '.join(describe(operation) for operation in creates)}); dropping them from"
            " the state (pulumi refresh --clear-pending-creates): this update creates them again"
            " by server-side apply, adopting any that did reach the cluster"
        )
        pulumi(
            "refresh",
            "--stack",
            stack,
            "--yes",
            "--skip-preview",
            "--suppress-progress",
            "--clear-pending-creates",
        )
    others = [operation for operation in operations if operation.get("type") != "creating"]
    if others:
        what = ", ".join(f"{operation.get('type')} {describe(operation)}" for operation in others)
        say(
            f"stack {stack}: the last run died during {len(others)} other operation(s)"
            f" ({what}); this update's refresh reads their real state first"
        )
    print("exists" if checkpoint_file(stack) else "unknown")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    # A Ctrl-C or a CI cancel reaches the pulumi this runs too: let it finish cleanly (a
    # KeyboardInterrupt here would kill it mid-operation), then say what happened.
    signal.signal(signal.SIGINT, lambda *_: None)
    try:
        return guard(argv[0])
    except subprocess.CalledProcessError as error:
        print(
            f"tools/up: clearing what the last run left failed ({' '.join(error.cmd[:3])}):"
            f" {((error.stderr or '').strip().splitlines() or ['no message'])[-1]}; fix that and"
            " run tools/up again",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
