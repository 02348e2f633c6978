"""The README's main job, `tools/up` (stack `local`: dev's config with the test images), from empty
on the real node, in a copy of the project beside a person's own deployment: it prints each URL
only once the URL has answered, and how long its waits after `pulumi up` took."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.main_job_on_node import ROLLED_OUT, URL_LINE, main_job_on_node
from tests.e2e.real_node import http

pytestmark = pytest.mark.e2e


def test_tools_up_prints_urls_that_answered(images: dict[str, str], tmp_path: Path) -> None:
    del images  # built, and the real node checked, by the session's fixture
    with main_job_on_node("dev", tmp_path) as app:
        printed = {unit: (url, took) for unit, url, took in URL_LINE.findall(app.output)}
        assert set(printed) == {"vote", "result"}, app.output[-3000:]
        rolled = ROLLED_OUT.search(app.output)
        assert rolled, app.output[-3000:]
        for unit, (url, _) in printed.items():
            service = app.get("service", unit)
            assert url == f"http://localhost:{service['spec']['ports'][0]['nodePort']}", url
            assert http(url)[0] == 200, (unit, url)
        print(
            f"\ntools/up (stack local) from empty: {app.took:.0f} s; after pulumi up, rollouts"
            f" {rolled.group(1)} s, then "
            + ", ".join(
                f"{unit} {url} answered in {took} s" for unit, (url, took) in printed.items()
            )
        )
