"""Requests from this machine to one of the app's URLs, bounded, with every answer kept: the
steady probe of the rollout tests, and the load that makes the autoscaler act.

A loop's figures are only worth something if it kept sending: every exception a request raises
is a failed request (kept by name), a thread that ended before the loop was stopped is named with
why, and a loop that sent fewer requests than the time it ran allows says so (`problems`)."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Self

from tests.e2e.real_node import http

RATE = 5.0  # requests per second per worker: a few, from this machine only
LIMIT = 300.0  # seconds: a loop stops by itself after this, whatever happens
TIMEOUT = 5.0  # seconds a request may take; longer is no answer (status 0)
# The fewest requests a loop must have sent, per worker and second it ran: half its rate (a
# request takes its own time before the pause), or, sending each as soon as the last is answered,
# 20 a second (an answer from this machine takes a few milliseconds: under the autoscaler test's
# load, about 300 a second per thread).
MARGIN = 0.5
UNTHROTTLED_FLOOR = 20.0
# How a test names `RequestLoop.failed` in its message.
FAILURES = "failed requests (status or exception: count; 0 = no answer)"


@dataclass
class RequestLoop:
    """GETs `url` on `workers` threads of its own until stopped (or `limit` seconds), each at
    `rate` requests a second (None: the next as soon as the last is answered), and keeps every
    answer's status (0: refused, reset or timed out) and every exception a request raised.
    `timeout`: how long one request may take (TIMEOUT)."""

    url: str
    rate: float | None = RATE
    workers: int = 1
    limit: float = LIMIT
    timeout: float = TIMEOUT
    statuses: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "Type: message" of each request that raised
    ended_early: list[str] = field(default_factory=list)  # a thread that ended unasked, and why
    seconds: float = 0.0  # how long the loop ran, from start to stop
    # Seconds spent in requests that got no answer (each thread's, added up): a fault that makes
    # requests time out slows the loop down without anything being wrong with it.
    unanswered: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _started: float = 0.0

    def run(self) -> None:
        deadline = time.monotonic() + self.limit
        try:
            while not self._stop.is_set():
                if time.monotonic() >= deadline:
                    self.ended_early.append(f"stopped by its limit of {self.limit:.0f} s")
                    return
                started = time.monotonic()
                try:
                    status = self._request()
                except Exception as error:  # any: it is a failed request
                    self.errors.append(f"{type(error).__name__}: {error}")  # atomic: no lock
                    self.unanswered.append(time.monotonic() - started)
                else:
                    self.statuses.append(status)
                    if status == 0:
                        self.unanswered.append(time.monotonic() - started)
                if self.rate is not None:
                    self._stop.wait(max(0.0, 1 / self.rate - (time.monotonic() - started)))
        except BaseException as error:  # any: kept, and the test told (problems())
            self.ended_early.append(f"died: {type(error).__name__}: {error}")

    def _request(self) -> int:
        """One request: its status (0: no answer)."""
        status, _ = http(self.url, timeout=self.timeout)
        return status

    def __enter__(self) -> Self:
        self._threads = [
            threading.Thread(target=self.run, daemon=True) for _ in range(self.workers)
        ]
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self.seconds = time.monotonic() - self._started
        for thread in self._threads:
            thread.join(timeout=2 * self.timeout)
            if thread.is_alive():
                waited = 2 * self.timeout
                self.ended_early.append(f"{thread.name} still running {waited:.0f} s after")

    @property
    def sent(self) -> int:
        return len(self.statuses) + len(self.errors)

    @property
    def least(self) -> int:
        """The fewest requests the loop must have sent in the time it ran, leaving out the time
        its threads waited on requests that got no answer."""
        per_second = UNTHROTTLED_FLOOR if self.rate is None else MARGIN * self.rate
        return int(per_second * max(0.0, self.workers * self.seconds - sum(self.unanswered)))

    @property
    def failed(self) -> Counter[int | str]:
        """Failed requests by status (0: no answer) or by the exception they raised."""
        failures: Counter[int | str] = Counter(s for s in self.statuses if s != 200)
        failures.update(error.split(":")[0] for error in self.errors)
        return failures

    def problems(self) -> list[str]:
        """Why the loop's figures cannot be trusted: threads that ended unasked, fewer requests
        than the time it ran allows, and the first few exceptions in full."""
        found = [f"a request loop's thread {why}" for why in self.ended_early]
        if self.sent < self.least:
            found.append(
                f"{self.sent} requests in {self.seconds:.1f} s on {self.workers} threads,"
                f" fewer than {self.least}"
            )
        found += [f"a request raised {error}" for error in self.errors[:3]]
        return found

    def __str__(self) -> str:
        rate = "unthrottled" if self.rate is None else f"{self.rate:g}/s"
        failed = sum(self.failed.values())
        return (
            f"{self.sent} requests in {self.seconds:.1f} s ({self.workers} x {rate}),"
            f" {failed} failed {dict(self.failed) or ''}"
        )


@dataclass
class VoteLoop(RequestLoop):
    """A RequestLoop that POSTs a vote with each request, each by a voter of its own (the
    `voter_id` cookie), and keeps the votes that vote took (answered 200): those the db must
    hold. A vote that got no answer may or may not have been taken; it is a failed request."""

    accepted: dict[str, str] = field(default_factory=dict)  # voter -> choice

    def _request(self) -> int:
        voter, choice = f"load-{secrets.token_hex(6)}", secrets.choice("ab")
        status, _ = http(
            self.url, {"vote": choice}, timeout=self.timeout, cookie=f"voter_id={voter}"
        )
        if status == 200:
            self.accepted[voter] = choice  # one key per thread and request: no lock needed
        return status
