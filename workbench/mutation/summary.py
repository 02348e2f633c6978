"""Reads mutmut's verdicts (mutants/**/*.meta) and prints where a run stands, or its summary.

    python -m workbench.mutation.summary --progress   one line: how many mutants are decided
    python -m workbench.mutation.summary --survivors  the names of the mutants that survived
                                                      (the equivalent ones left out)
    python -m workbench.mutation.summary --commit     the commit measured (and if it is changed)
    python -m workbench.mutation.summary SECONDS      the summary of a run that took SECONDS: the
                                                      figures, the score per file and overall,
                                                      every survivor with its diff; also written
                                                      to mutants/summary.md and survivors.md

Run from the repository's root (mutmut reads its settings from pyproject.toml there).
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

MUTANTS = Path("mutants")
EQUIVALENT_LIST = Path("workbench/mutation/equivalent.toml")
# A test failed (killed), or the mutant made the tests run past their time limit (an endless
# loop): both are the mutant detected.
DETECTED = ("killed", "timeout")
# The project's mypy --strict (tools/test --unit) refuses these before any test runs.
TYPE_CHECKED = "caught by type check"
# Left standing by the unit suite: no test failed, or no test even ran the function.
STANDING = ("survived", "no tests")
# A survivor that equivalent.toml shows no test could tell apart from the code.
EQUIVALENT = "equivalent"


@dataclass
class FileResult:
    path: str
    statuses: dict[str, str] = field(default_factory=dict)  # mutant name -> its status

    def count(self, *statuses: str) -> int:
        return sum(1 for status in self.statuses.values() if status in statuses)


@dataclass(frozen=True)
class Equivalent:
    """An entry of equivalent.toml: a mutant of `function` whose diff is `change`."""

    function: str
    change: tuple[str, ...]
    why: str


def read_results() -> list[FileResult]:
    results = []
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        data = _read_json(meta)
        statuses = {
            name: status_by_exit_code[code] for name, code in data["exit_code_by_key"].items()
        }
        if statuses:
            results.append(FileResult(str(meta.relative_to(MUTANTS))[: -len(".meta")], statuses))
    return results


def _read_json(path: Path) -> dict[str, Any]:
    # mutmut rewrites a file after each mutant: a read may meet it half written.
    for _ in range(10):
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        except json.JSONDecodeError:
            time.sleep(0.1)
    return dict(json.loads(path.read_text()))


def read_equivalents() -> list[Equivalent]:
    entries = tomllib.loads(EQUIVALENT_LIST.read_text()).get("mutant", [])
    return [
        Equivalent(e["function"], tuple(_normal(line) for line in e["diff"]), e["why"])
        for e in entries
    ]


def change_of(path: str, name: str) -> tuple[str, ...]:
    """The mutant's removed and added lines, stripped: what identifies it across runs (mutmut's
    numbers change whenever its function does)."""
    diff = get_diff_for_mutant(name, path=path).splitlines()
    return tuple(
        _normal(line) for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


def _normal(line: str) -> str:
    """`-` or `+` and the line without its indentation."""
    return line[0] + line[1:].strip()


def function_of(name: str) -> str:
    return name.rpartition("__mutmut_")[0]


def mark_equivalents(results: list[FileResult]) -> list[Equivalent]:
    """Marks each survivor that equivalent.toml lists; returns the entries that matched none
    (the code they describe changed: each is to be judged again, or removed)."""
    entries = read_equivalents()
    unmatched = list(entries)
    for result in results:
        for name, status in result.statuses.items():
            if status != "survived":
                continue
            candidates = [e for e in entries if e.function == function_of(name)]
            if not candidates:
                continue
            change = change_of(result.path, name)
            for entry in candidates:
                if entry.change == change:
                    result.statuses[name] = EQUIVALENT
                    if entry in unmatched:
                        unmatched.remove(entry)
    return unmatched


def score(detected: int, tested: int) -> str:
    return f"{100 * detected / tested:.1f}%" if tested else "n/a"


def progress(results: list[FileResult]) -> str:
    statuses = Counter(s for result in results for s in result.statuses.values())
    total = sum(statuses.values())
    decided = total - statuses["not checked"]
    return (
        f"{decided}/{total} mutants decided: {statuses['killed']} killed, "
        f"{statuses[TYPE_CHECKED]} by mypy, {statuses['survived']} survived, "
        f"{statuses['no tests']} without a test, {statuses['timeout']} timed out"
    )


def survivors(results: list[FileResult]) -> list[tuple[str, str, str]]:
    """(file, mutant name, status) of every mutant the unit suite left standing."""
    return [
        (result.path, name, status)
        for result in results
        for name, status in sorted(result.statuses.items(), key=lambda item: _number(item[0]))
        if status in STANDING
    ]


def _number(name: str) -> tuple[str, int]:
    function, _, number = name.rpartition("__mutmut_")
    return function, int(number)


def commit() -> str:
    """The commit measured: HEAD, and whether the product or its tests differ from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "components", "policy", "tests"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return f"{head} (with uncommitted changes)" if dirty else head


def summary(results: list[FileResult], seconds: int) -> tuple[str, str]:
    """The run's figures and its survivors, each as Markdown."""
    unmatched = mark_equivalents(results)
    rows = []
    totals: Counter[str] = Counter()
    for result in results:
        counts = {
            "mutants": len(result.statuses),
            "mypy": result.count(TYPE_CHECKED),
            "equivalent": result.count(EQUIVALENT),
            "killed": result.count(*DETECTED),
            "standing": result.count(*STANDING),
            "other": result.count("suspicious", "segfault", "skipped", "not checked")
            + result.count("check was interrupted by user"),
        }
        totals.update(counts)
        tested = counts["killed"] + counts["standing"]
        rows.append((result.path, counts, score(counts["killed"], tested)))
    timeouts = sum(result.count("timeout") for result in results)
    no_tests = sum(result.count("no tests") for result in results)
    tested = totals["killed"] + totals["standing"]
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    # As the run began (run writes it): the tree may change while it runs.
    measured = (
        (MUTANTS / "commit").read_text().strip() if (MUTANTS / "commit").exists() else commit()
    )
    lines = [
        f"- {today}, commit {measured}, mutmut {version('mutmut')}, one worker: "
        f"{seconds // 60} min {seconds % 60} s",
        f"- {totals['mutants']} mutants of components/ and policy/",
        f"- caught by mypy --strict before any test: {totals['mypy']}",
        f"- equivalent (workbench/mutation/equivalent.toml): {totals['equivalent']}",
        f"- run against the unit tests, not equivalent: {tested}: killed {totals['killed']} "
        f"(of which {timeouts} by timeout), survived {totals['standing'] - no_tests}, "
        f"no test reaches it {no_tests}",
        f"- **score {score(totals['killed'], tested)}** (killed / non-equivalent mutants run "
        "against the tests)",
    ]
    if totals["other"]:
        lines.append(f"- undecided (suspicious, segfault, interrupted, not run): {totals['other']}")
    lines += [
        "",
        "| file | mutants | mypy | equivalent | killed | survived | score |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {path} | {c['mutants']} | {c['mypy']} | {c['equivalent']} | {c['killed']} "
        f"| {c['standing']} | {s} |"
        for path, c, s in rows
    ]
    for entry in unmatched:
        lines.append(f"\nequivalent.toml lists a mutant of {entry.function} that no longer exists")
    standing = survivors(results)
    listed = [f"## Left standing by the unit suite: {len(standing)}", ""]
    for path, name, status in standing:
        note = " (no test runs this function)" if status == "no tests" else ""
        diff = get_diff_for_mutant(name, path=path)
        listed += [f"### {name}{note}", "", "```diff", diff, "```", ""]
    equivalent = [
        (result.path, name)
        for result in results
        for name, status in sorted(result.statuses.items(), key=lambda item: _number(item[0]))
        if status == EQUIVALENT
    ]
    listed += [f"## Equivalent, left out of the score: {len(equivalent)}", ""]
    entries = read_equivalents()
    for path, name in equivalent:
        change = change_of(path, name)
        (why,) = {e.why for e in entries if e.function == function_of(name) and e.change == change}
        listed += [f"### {name}", "", "```diff", *change, "```", "", why, ""]
    return "\n".join(lines) + "\n", "\n".join(listed)


def main(argv: list[str]) -> int:
    results = read_results()
    if argv == ["--progress"]:
        print(progress(results))
    elif argv == ["--commit"]:
        print(commit())
    elif argv == ["--survivors"]:
        mark_equivalents(results)
        # One name a line, and nothing at all when there are none (not an empty line, which the
        # run script would read as one mutant named "").
        for _, name, _ in survivors(results):
            print(name)
    elif len(argv) == 1 and argv[0].isdigit():
        figures, listed = summary(results, int(argv[0]))
        (MUTANTS / "summary.md").write_text(figures)
        (MUTANTS / "survivors.md").write_text(listed)
        for _, name, status in survivors(results):
            print(f"  {status}: {name}")
        print()
        print(figures, end="")
        print(f"\n(written to {MUTANTS}/summary.md; every survivor's diff: {MUTANTS}/survivors.md)")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
