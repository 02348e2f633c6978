"""The request loop of the rollout and autoscaler tests (tests/e2e/load.py) against a small HTTP
server of this test's own on 127.0.0.1: a request that raises is a failure kept by name and the
loop goes on, a thread that ends unasked and a loop that sent too few requests are named, and a
loop that answered every request says nothing wrong."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e import load
from tests.e2e.load import RequestLoop, VoteLoop

RUN = 0.3  # seconds each loop here runs
RATE = 20.0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/truncated":
            # Promises 100 bytes and sends 2: the client's read raises IncompleteRead.
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"ok")
            self.close_connection = True
            return
        self.send_response(200 if self.path == "/" else 503)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_POST(self) -> None:
        """A vote: taken (200) unless the voter's id ends in an odd hex digit (503); kept."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        voter = (self.headers.get("Cookie") or "").removeprefix("voter_id=")
        taken = int(voter[-1], 16) % 2 == 0
        if taken:
            VOTES.append((voter, body))
        self.send_response(200 if taken else 503)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: object) -> None:
        pass


VOTES: list[tuple[str, str]] = []  # what the server took: (voter id, form body)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _run(loop: RequestLoop) -> RequestLoop:
    with loop:
        time.sleep(RUN)
    return loop


def test_a_loop_answered_every_time_has_no_failure_and_no_problem(server: str) -> None:
    loop = _run(RequestLoop(f"{server}/", rate=RATE, workers=2))
    assert loop.statuses
    assert set(loop.statuses) == {200}
    assert loop.failed == {}
    assert loop.problems() == []
    # Paced at its rate: neither fewer than the margin allows nor more than the rate.
    assert loop.least <= loop.sent <= 2 * RATE * loop.seconds + 2


def test_an_error_status_is_a_failure(server: str) -> None:
    loop = _run(RequestLoop(f"{server}/unwell", rate=RATE))
    assert loop.failed == {503: loop.sent}
    assert loop.problems() == []


def test_a_request_that_raises_is_a_failure_by_name_and_the_loop_goes_on(server: str) -> None:
    loop = _run(RequestLoop(f"{server}/truncated", rate=RATE))
    assert loop.sent >= loop.least > 1  # it kept sending
    assert loop.statuses == []
    assert loop.failed == {"IncompleteRead": loop.sent}
    problems = loop.problems()
    assert problems[0].startswith("a request raised IncompleteRead: IncompleteRead(2 bytes read")
    assert "thread" not in " ".join(problems)


def test_a_thread_that_dies_is_named(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def exits(*_: object, **__: object) -> tuple[int, str]:
        raise SystemExit("gone")  # not an Exception: nothing in the loop may swallow it

    monkeypatch.setattr(load, "http", exits)
    loop = _run(RequestLoop(f"{server}/", rate=RATE))
    assert loop.ended_early == ["died: SystemExit: gone"]
    assert "a request loop's thread died: SystemExit: gone" in loop.problems()
    assert loop.sent == 0


def test_a_loop_that_reached_its_limit_before_it_was_stopped_says_so(server: str) -> None:
    loop = _run(RequestLoop(f"{server}/", rate=RATE, limit=0.1))
    assert loop.ended_early == ["stopped by its limit of 0 s"]
    # It also sent fewer requests than the time it ran allows.
    assert loop.problems() == [
        "a request loop's thread stopped by its limit of 0 s",
        f"{loop.sent} requests in {loop.seconds:.1f} s on 1 threads, fewer than {loop.least}",
    ]


def test_an_unthrottled_loop_must_send_at_least_its_floor(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow(*_: object, **__: object) -> tuple[int, str]:
        time.sleep(0.25)  # 4 a second per thread: below the floor
        return 200, ""

    monkeypatch.setattr(load, "http", slow)
    loop = _run(RequestLoop(f"{server}/", rate=None, workers=2))
    assert loop.failed == {}
    assert loop.least == int(2 * load.UNTHROTTLED_FLOOR * loop.seconds)
    assert loop.problems() == [
        f"{loop.sent} requests in {loop.seconds:.1f} s on 2 threads, fewer than {loop.least}"
    ]


def test_a_vote_loop_keeps_exactly_the_votes_taken_each_by_a_voter_of_its_own(server: str) -> None:
    VOTES.clear()
    loop = _run(VoteLoop(server, rate=RATE, workers=2))
    assert loop.problems() == []
    taken = dict(VOTES)
    assert taken, "the server took no vote"
    assert len(taken) == len(VOTES), "a voter id was sent twice"
    assert loop.accepted == {voter: body.removeprefix("vote=") for voter, body in taken.items()}
    assert set(loop.accepted.values()) <= {"a", "b"}
    # Every refused one is a failure, never a vote taken.
    assert sum(loop.failed.values()) == loop.sent - len(taken) > 0
    assert set(loop.failed) == {503}


def test_time_spent_on_requests_with_no_answer_is_left_out_of_the_floor(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault that makes requests time out (no answer: status 0) slows the loop down with
    nothing wrong in it; a request answered as slowly is held to the floor."""

    def times_out(*_: object, **__: object) -> tuple[int, str]:
        time.sleep(0.25)
        return 0, ""

    monkeypatch.setattr(load, "http", times_out)
    loop = _run(RequestLoop(f"{server}/", rate=None, workers=2))
    assert loop.failed == {0: loop.sent}
    assert len(loop.unanswered) == loop.sent
    assert sum(loop.unanswered) >= 0.25 * loop.sent
    assert loop.least == int(
        load.UNTHROTTLED_FLOOR * max(0.0, 2 * loop.seconds - sum(loop.unanswered))
    )
    assert loop.least < 2 * load.UNTHROTTLED_FLOOR * loop.seconds / 2
    assert loop.problems() == []
