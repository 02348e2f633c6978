"""tools/lib/stack_guard.py: the file backend's metadata files a killed run cut off are found
(and only those). tests/integration/test_interruptions.py runs the repair through tools/up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.lib import stack_guard

WHOLE = b'{"user.content_type":"text/plain; charset=utf-8","md5":"hmNWcydRSYwWJJMaPmhCWA=="}\n'


def test_empty_and_half_written_attrs_files_are_cut_off_and_whole_ones_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    stacks = tmp_path / ".pulumi" / "stacks" / "voting-app"
    locks = tmp_path / ".pulumi" / "locks" / "organization" / "voting-app" / "dev"
    for folder in (stacks, locks):
        folder.mkdir(parents=True)
    (stacks / "dev.json.attrs").write_bytes(b"")
    (stacks / "dev.json.bak.attrs").write_bytes(WHOLE[:20])
    (stacks / "prod.json.attrs").write_bytes(WHOLE)
    (locks / "1234.json.attrs").write_bytes(b"[]")
    (stacks / "dev.json").write_bytes(b"")  # the files themselves are not judged
    assert stack_guard.cut_off_sidecars() == [
        locks / "1234.json.attrs",
        stacks / "dev.json.attrs",
        stacks / "dev.json.bak.attrs",
    ]


def test_no_file_backend_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", "https://api.pulumi.com")
    assert stack_guard.cut_off_sidecars() == []
