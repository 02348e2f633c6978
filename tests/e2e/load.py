"""Requests from this machine to one of the app's URLs, bounded, with every answer kept: the
steady probe of the rollout tests, and the load that makes the autoscaler act."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.e2e.real_node import http

RATE = 5.0  # requests per second per worker: a few, from this machine only
LIMIT = 300.0  # seconds: a loop stops by itself after this, whatever happens


@dataclass
class RequestLoop:
    """GETs `url` on `workers` threads of its own until stopped (or `limit` seconds), each at
    `rate` requests a second (None: the next as soon as the last is answered), and keeps every
    answer's status (0: refused, reset or timed out)."""

    url: str
    rate: float | None = RATE
    workers: int = 1
    limit: float = LIMIT
    statuses: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def run(self) -> None:
        deadline = time.monotonic() + self.limit
        while not self._stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            status, _ = http(self.url, timeout=5)
            self.statuses.append(status)  # list.append is atomic: no lock needed
            if self.rate is not None:
                self._stop.wait(max(0.0, 1 / self.rate - (time.monotonic() - started)))

    def __enter__(self) -> RequestLoop:
        self._threads = [
            threading.Thread(target=self.run, daemon=True) for _ in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    @property
    def failed(self) -> Counter[int]:
        return Counter(status for status in self.statuses if status != 200)
