"""A line for the person watching the run, written past pytest's capture: what a test waits for,
and the figures a passing run records (pytest shows a passing test's own output to nobody)."""

from __future__ import annotations

import pytest


def tell(config: pytest.Config, text: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(text)
