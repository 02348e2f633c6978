"""Every object of each stack, rendered to YAML by the provider, scanned by checkov and accepted
by the real API server in a server-side dry run."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.app.traffic import OUTSIDE, TRAFFIC_GRAPH
from tests.integration.cluster import kubectl, require_cluster
from tests.integration.workspace import throwaway_stack
from tests.stack_files import ROOT

pytestmark = pytest.mark.integration
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
REDACTED = "REDACTED"


@dataclass
class Rendered:
    stack: str
    directory: Path
    namespace: str
    password: str
    written: dict[str, str]  # every file as the provider wrote it (path in directory -> text)


def _redact_secrets(directory: Path) -> None:
    """Nothing kept on disk after the check below may hold a secret value: blank every Secret's
    data (the rendered Secret holds the password, base64-encoded)."""
    for path in directory.rglob("*.yaml"):
        document = yaml.safe_load(path.read_text())
        if document and document.get("kind") == "Secret":
            for field in ("data", "stringData"):
                if field in document:
                    document[field] = dict.fromkeys(document[field], REDACTED)
            path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module", params=["dev", "prod"])
def rendered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rendered]:
    workdir = tmp_path_factory.mktemp(f"render-{request.param}")
    directory = workdir / "manifests"
    with throwaway_stack(request.param, workdir, render_to=directory) as test:
        test.up()
        written = {
            str(path.relative_to(directory)): path.read_text()
            for path in sorted(directory.rglob("*"))
            if path.is_file()
        }
        _redact_secrets(directory)
        yield Rendered(request.param, directory, test.namespace, test.password, written)


def _documents(rendered: Rendered) -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(rendered.directory.rglob("*.yaml"))]


def _forms(secret: str) -> set[str]:
    """`secret` as a file could hold it: plain, and base64-encoded at each of the three byte
    offsets it may have inside a longer encoded value (only the characters its bytes alone
    decide)."""
    forms = {secret}
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + secret.encode()).decode()
        forms.add(encoded[-(-offset * 4 // 3) : (offset + len(secret.encode())) * 8 // 6])
    return forms


def test_every_object_is_rendered(rendered: Rendered) -> None:
    kinds = sorted(document["kind"] for document in _documents(rendered))
    # One workload per unit: Deployments, and db's StatefulSet where the stack asks for one.
    assert kinds.count("Deployment") + kinds.count("StatefulSet") == 5
    assert kinds.count("ServiceAccount") == 5
    assert kinds.count("ResourceQuota") == kinds.count("LimitRange") == 1
    assert kinds.count("Service") == 4
    # The default deny, and one per direction that has edges (TRAFFIC_GRAPH).
    directions = {(edge.target, "in") for edge in TRAFFIC_GRAPH}
    directions |= {(edge.source, "out") for edge in TRAFFIC_GRAPH if edge.source != OUTSIDE}
    assert kinds.count("NetworkPolicy") == 1 + len(directions)
    assert "Secret" in kinds


def test_the_password_is_written_only_into_the_secret_base64_encoded(rendered: Rendered) -> None:
    """What the provider's renderYamlToDirectory writes today, unredacted: the Secret's
    stringData becomes `data`, so the password is on disk, base64-encoded (readable by anyone who
    reads the file), in the one key `db-credentials` data.password, and in no other form or
    place: no other file, no other field of the Secret (no stringData, no annotation)."""
    forms = _forms(rendered.password)
    (secret_file,) = [name for name, text in rendered.written.items() if "kind: Secret" in text]
    secret = yaml.safe_load(rendered.written[secret_file])
    assert secret["metadata"]["name"] == "db-credentials"
    assert "stringData" not in secret
    assert set(secret["data"]) == {"username", "password"}
    assert base64.b64decode(secret["data"]["password"]).decode() == rendered.password
    assert base64.b64decode(secret["data"]["username"]).decode() == "postgres"
    # Nowhere else, in any form.
    del secret["data"]["password"]
    elsewhere = {**rendered.written, secret_file: yaml.safe_dump(secret)}
    found = [(name, form) for name, text in elsewhere.items() for form in forms if form in text]
    assert found == []
    # And after the redaction, in no file left on disk.
    for path in rendered.directory.rglob("*"):
        if path.is_file():
            assert not [form for form in forms if form in path.read_text()], path


def test_checkov_finds_nothing_unjustified(rendered: Rendered) -> None:
    scan = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(rendered.directory),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--output",
            "json",
            "--compact",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(scan.stdout)
    results = report["results"]
    failed = [(c["check_id"], c["resource"]) for c in results["failed_checks"]]
    assert failed == [], failed
    assert report["summary"]["passed"] > 100
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["skipped"] == len(results["skipped_checks"]) > 0
    for skipped in results["skipped_checks"]:
        reason = skipped.get("check_result", {}).get("suppress_comment", "")
        assert len(reason) > 20, (skipped["check_id"], skipped["resource"], reason)


def test_the_api_server_accepts_every_object_in_a_dry_run(rendered: Rendered) -> None:
    require_cluster()
    # Namespaced objects can only be dry-run into a namespace that exists.
    kubectl("create", "namespace", rendered.namespace)
    try:
        result = kubectl(
            "apply",
            "--dry-run=server",
            "--server-side",
            "--recursive",
            "--filename",
            str(rendered.directory),
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("(server dry run)") == len(_documents(rendered))
    finally:
        kubectl("delete", "namespace", rendered.namespace, "--wait=false")
