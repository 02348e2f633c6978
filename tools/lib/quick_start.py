"""The README's quick start as one script: its lines in their order, as written, with only the
adaptations a place without a person at the keyboard needs, each named below. The CI job on kind
runs it (so the README and the job cannot drift apart), and so does the integration test of the
quick start (tests/integration/test_quick_start.py), with its own adaptations.

    python3 -m tools.lib.quick_start [--kind-image REF] [--check-votes N] [--print]

runs, in this checkout, the README's lines with the CI job's adaptations:
  - `kind create cluster ...` gets `--image REF` (the node image the workflow pins) when given;
  - `pulumi up` and `pulumi destroy` ask for a confirmation that nobody is there to give:
    PULUMI_SKIP_CONFIRMATIONS=true answers yes (as `--yes` would), set before `pulumi login`;
  - after `pulumi stack output vote_url`, the vote-and-count check (tools/lib/smoke.py) casts N
    votes through the stack's own URLs and reads them counted, before `pulumi destroy`.
Every other line, `pulumi login --local` and both `pulumi install`s among them, runs as written.
With --print it prints the script instead. Standard library only: it runs before `pulumi install`
has made the project's virtualenv.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Quick start with your own CLI and cluster"
# What a line that starts with the key becomes (one line may become none, or several).
Edits = Mapping[str, Callable[[str], list[str]]]


class QuickStartError(Exception):
    """The README's quick start is not where, or not what, an adaptation expects."""


def readme_lines(readme: str) -> list[str]:
    """The lines of the quick start's code block, as written (comments included)."""
    if SECTION not in readme:
        raise QuickStartError(f"README.md has no section {SECTION!r}")
    block = readme.split(SECTION, 1)[1].split("```", 2)[1]
    return [line for line in block.strip("\n").splitlines() if line.strip()]


def command(line: str) -> str:
    """A line without its trailing comment (two spaces and a #, as the README writes them)."""
    return line.split("  #", 1)[0].rstrip()


def adapted(lines: list[str], edits: Edits) -> list[str]:
    """`lines` with each edit applied to the one line that starts with its key. An edit whose
    line is not there (or is there twice) fails: the README changed, and the adaptation must be
    thought about again rather than silently dropped."""
    result = list(lines)
    for start, edit in edits.items():
        matches = [index for index, line in enumerate(result) if line.startswith(start)]
        if len(matches) != 1:
            raise QuickStartError(
                f"the quick start has {len(matches)} lines starting {start!r}, not one: the"
                " README changed; adapt tools/lib/quick_start.py (or the test's edits) to it"
            )
        index = matches[0]
        result[index : index + 1] = edit(result[index])
    return result


def script(lines: list[str]) -> str:
    """A bash script that runs `lines` in order, stopping at the first that fails, showing each."""
    return "set -euxo pipefail\n" + "\n".join(lines) + "\n"


def ci_edits(kind_image: str | None, votes: int | None) -> Edits:
    """The CI job's adaptations (the module's docstring says why each)."""
    edits: dict[str, Callable[[str], list[str]]] = {
        "kind create cluster": lambda line: [
            f"{command(line)} --image {shlex.quote(kind_image)}" if kind_image else line
        ],
        "pulumi login": lambda line: ["export PULUMI_SKIP_CONFIRMATIONS=true", line],
    }
    if votes is not None:
        check = (
            'python3 -m tools.lib.smoke --vote-url "$(pulumi stack output vote_url)"'
            f' --result-url "$(pulumi stack output result_url)" --votes {votes}'
        )
        edits["pulumi stack output vote_url"] = lambda line: [line, check]
    return edits


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind-image", help="the node image for `kind create cluster`")
    parser.add_argument("--check-votes", type=int, help="cast and count this many votes")
    parser.add_argument("--print", action="store_true", help="print the script, run nothing")
    args = parser.parse_args(argv)
    try:
        lines = adapted(
            readme_lines((ROOT / "README.md").read_text()),
            ci_edits(args.kind_image, args.check_votes),
        )
    except QuickStartError as error:
        print(f"tools/lib/quick_start: {error}", file=sys.stderr)
        return 2
    text = script(lines)
    if args.print:
        print(text, end="")
        return 0
    return subprocess.run(["bash", "-c", text], cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
