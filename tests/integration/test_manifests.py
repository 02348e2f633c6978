"""Every object of each stack, rendered to YAML by the provider, scanned by checkov and accepted
by the real API server in a server-side dry run."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.app.traffic import OUTSIDE, traffic_graph
from tests.integration.cluster import kubectl, require_cluster
from tests.integration.workspace import throwaway_stack
from tests.stack_files import ROOT
from tools.lib.project_copy import StackConfig

pytestmark = pytest.mark.integration
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@dataclass
class Rendered:
    stack: str
    directory: Path
    namespace: str
    password: str
    warnings: str


@pytest.fixture(scope="module", params=["dev", "prod"])
def rendered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rendered]:
    workdir = tmp_path_factory.mktemp(f"render-{request.param}")
    directory = workdir / "manifests"
    with throwaway_stack(request.param, workdir, render_to=directory) as test:
        up = test.up()
        said = up.stdout + up.stderr
        yield Rendered(request.param, directory, test.namespace, test.password, said)


def _documents(rendered: Rendered) -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(rendered.directory.rglob("*.yaml"))]


def test_every_object_is_rendered_and_no_secret_value_is_kept(rendered: Rendered) -> None:
    kinds = sorted(document["kind"] for document in _documents(rendered))
    # One workload per unit: Deployments, and db's StatefulSet where the stack asks for one;
    # prod's backups, a CronJob with an account of its own.
    backups = int(rendered.stack == "prod")
    assert kinds.count("Deployment") + kinds.count("StatefulSet") == 5
    assert kinds.count("CronJob") == backups
    assert kinds.count("ServiceAccount") == 5 + backups
    assert kinds.count("ResourceQuota") == kinds.count("LimitRange") == 1
    assert kinds.count("Service") == 4
    # The default deny, and one per direction that has edges (the stack's traffic graph).
    graph = traffic_graph(backup=bool(backups))
    directions = {(edge.target, "in") for edge in graph}
    directions |= {(edge.source, "out") for edge in graph if edge.source != OUTSIDE}
    assert kinds.count("NetworkPolicy") == 1 + len(directions)
    # The db's Secret is left out (cluster.renderSecrets: reference, the default), and the
    # program said how to create it; its password is nowhere, plain or base64.
    assert "Secret" not in kinds
    assert "the Secret db-credentials is not written" in rendered.warnings
    for path in rendered.directory.rglob("*"):
        if path.is_file():
            text = path.read_text()
            for form in _forms(rendered.password):
                assert form not in text, f"{path} holds the password ({form})"


def _forms(secret: str) -> set[str]:
    """`secret` as a file could hold it: plain, and base64-encoded at each of the three byte
    offsets it may have inside a longer encoded value (only the characters its bytes alone
    decide)."""
    forms = {secret}
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + secret.encode()).decode()
        forms.add(encoded[-(-offset * 4 // 3) : (offset + len(secret.encode())) * 8 // 6])
    return forms


def test_a_render_writes_the_secret_only_when_the_stack_says_so(tmp_path: Path) -> None:
    directory = tmp_path / "manifests"

    def plaintext(config: StackConfig) -> None:
        config["voting-app:cluster"]["renderSecrets"] = "plaintext"

    with throwaway_stack("dev", tmp_path, render_to=directory, edit=plaintext) as test:
        up = test.up()
        assert "db password in plain text (base64)" in up.stdout + up.stderr
        secrets = [
            document
            for path in directory.rglob("*.yaml")
            if (document := yaml.safe_load(path.read_text())) and document["kind"] == "Secret"
        ]
        try:
            (secret,) = secrets
            # The provider writes stringData as data: the password, base64, in the one key
            # data.password, and in no other form or place (no other file, no other field).
            assert "stringData" not in secret
            assert base64.b64decode(secret["data"]["password"]).decode() == test.password
            del secret["data"]["password"]
            written = {
                str(path): path.read_text() for path in directory.rglob("*") if path.is_file()
            }
            elsewhere = [
                (name, form)
                for name, text in written.items()
                for form in _forms(test.password)
                if form in text and "kind: Secret" not in text
            ]
            assert elsewhere == []
            assert not [form for form in _forms(test.password) if form in yaml.safe_dump(secret)]
        finally:
            # Nothing kept on disk holds the password.
            shutil.rmtree(directory)


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
