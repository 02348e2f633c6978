"""The vote-and-count check: N votes through the vote URL, counted exactly on the result page.

    python -m tools.lib.smoke --vote-url URL --result-url URL [--votes N] [--timeout S]

What it reads is what a person sees: the result page's counts, as the stock result server sends
them to its page (socket.io's "scores" event over the polling transport, Engine.IO protocol 3 for
the socket.io 1.x/2.x of the stock image, protocol 4 for newer upstream images), or the stand-in's
JSON (`/api/results`) where there is no socket.io. Each vote carries a voter id of its own (the
stock worker stores one row per voter id and overwrites a repeated one), so N votes are N rows;
the count it expects is what the page said before plus what it cast. Every wait is bounded; it
only talks to the two URLs it is given.

Exit 0 when the counts match, 1 when they do not (or never arrive), saying what it saw.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

Scores = dict[str, int]
CHOICES = ("a", "b")
REQUEST_SECONDS = 10.0


def _http(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> str:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as response:
        body: bytes = response.read()
    return body.decode()


def engine_io_packets(payload: str, protocol: int) -> list[str]:
    """The packets of a polling payload: protocol 3 frames each as `<length>:<packet>` (the
    length in characters), protocol 4 separates them with the record separator 0x1e."""
    if protocol == 4:
        return [packet for packet in payload.split("\x1e") if packet]
    packets, at = [], 0
    while at < len(payload):
        colon = payload.index(":", at)
        length = int(payload[at:colon])
        packets.append(payload[colon + 1 : colon + 1 + length])
        at = colon + 1 + length
    return packets


def scores_in(packets: list[str]) -> Scores | None:
    """The counts of the first "scores" event among `packets` (its argument is a JSON string)."""
    for packet in packets:
        if packet.startswith("42"):
            name, *args = json.loads(packet[2:])
            if name == "scores" and args:
                counts = json.loads(args[0]) if isinstance(args[0], str) else args[0]
                return {choice: int(counts.get(choice, 0)) for choice in CHOICES}
    return None


def socket_io_scores(result_url: str) -> Scores | None:
    """One session of the result page's socket.io: protocol 3, then 4; None if neither answers
    with scores within a few polls."""
    for protocol in (3, 4):
        base = f"{result_url.rstrip('/')}/socket.io/?EIO={protocol}&transport=polling&b64=1"
        try:
            opened = engine_io_packets(_http(base), protocol)
            session = f"{base}&sid={json.loads(opened[0][1:])['sid']}"
            if protocol == 4:  # socket.io 3+ connects to the default namespace only when asked
                _http(session, b"40", {"Content-Type": "text/plain;charset=UTF-8"})
            for _ in range(3):
                found = scores_in(opened) or scores_in(engine_io_packets(_http(session), protocol))
                if found is not None:
                    return found
                opened = []
        except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError):
            continue
    return None


def json_scores(result_url: str) -> Scores | None:
    try:
        counts = json.loads(_http(f"{result_url.rstrip('/')}/api/results"))
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return {choice: int(counts.get(choice, 0)) for choice in CHOICES}


def read_scores(result_url: str) -> tuple[Scores | None, str]:
    """The result page's counts, and how they were read."""
    found = socket_io_scores(result_url)
    if found is not None:
        return found, "socket.io scores"
    found = json_scores(result_url)
    return found, "/api/results" if found is not None else "nothing"


def cast(vote_url: str, choice: str, voter: str) -> int:
    """POST one vote as the vote page's form does; the HTTP status (0: no answer)."""
    body = urllib.parse.urlencode({"vote": choice}).encode()
    request = urllib.request.Request(vote_url, data=body, headers={"Cookie": f"voter_id={voter}"})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0


def wait_for(check: Callable[[], object], timeout: float) -> object:
    """`check()` until it is truthy or `timeout` seconds have passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vote-url", required=True)
    parser.add_argument("--result-url", required=True)
    parser.add_argument("--votes", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=120.0, help="for each wait, seconds")
    args = parser.parse_args(argv)

    start = time.monotonic()
    answered = wait_for(lambda: cast_probe(args.vote_url), args.timeout)
    if not answered:
        print(f"smoke: {args.vote_url} did not answer 200 within {args.timeout:.0f} s")
        return 1
    before = wait_for(lambda: read_scores(args.result_url)[0], args.timeout)
    if not isinstance(before, dict):
        print(f"smoke: {args.result_url} gave no counts within {args.timeout:.0f} s")
        return 1
    run = secrets.token_hex(3)
    expected = dict(before)
    failed = 0
    for index in range(args.votes):
        choice = CHOICES[index % 2]
        if cast(args.vote_url, choice, f"smoke-{run}-{index}") == 200:
            expected[choice] += 1
        else:
            failed += 1
    if failed:
        print(f"smoke: {failed} of {args.votes} votes were not answered 200 by {args.vote_url}")
        return 1
    # The stock worker moves at most about 10 votes a second from redis to the db.
    settle = args.timeout + args.votes / 10
    counted = wait_for(lambda: read_scores(args.result_url)[0] == expected, settle)
    seen, how = read_scores(args.result_url)
    print(
        f"smoke: cast {args.votes} votes through {args.vote_url} "
        f"(a {expected['a'] - before['a']}, b {expected['b'] - before['b']}); the result page"
        f" ({how} at {args.result_url}) said {before} before and {seen} after, expected"
        f" {expected}; {time.monotonic() - start:.0f} s"
    )
    return 0 if counted else 1


def cast_probe(vote_url: str) -> bool:
    """The vote page answers a GET with 200."""
    try:
        return _http(vote_url) is not None
    except (urllib.error.URLError, OSError):
        return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
