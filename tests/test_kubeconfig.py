"""Which kubeconfig files a stack's provider reads, the contexts they hold, and what is said when
the stack's context is not among them (components/cluster/kubeconfig.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from components.cluster.kubeconfig import contexts, kubeconfig_files, missing_context


def write(path: Path, document: object) -> Path:
    path.write_text(yaml.safe_dump(document))
    return path


def kubeconfig(path: Path, *contexts_to_clusters: tuple[str, str], servers: dict[str, str]) -> Path:
    return write(
        path,
        {
            "clusters": [
                {"name": name, "cluster": {"server": server}} for name, server in servers.items()
            ],
            "contexts": [
                {"name": context, "context": {"cluster": cluster}}
                for context, cluster in contexts_to_clusters
            ],
        },
    )


def test_the_files_are_the_explicit_one_else_kubeconfig_s_list_else_the_home_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(["/a/one", "", "~/two"]))
    assert kubeconfig_files("~/explicit") == [tmp_path / "home" / "explicit"]
    assert kubeconfig_files() == [Path("/a/one"), tmp_path / "home" / "two"]
    monkeypatch.delenv("KUBECONFIG")
    assert kubeconfig_files() == [tmp_path / "home" / ".kube" / "config"]


def test_each_context_maps_to_its_cluster_s_server(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path / "config",
        ("dev", "local"),
        ("prod", "cloud"),
        ("lost", "nowhere"),
        servers={"local": "https://127.0.0.1:6443", "cloud": "https://k8s.example:443"},
    )
    assert contexts([path]) == {
        "dev": "https://127.0.0.1:6443",
        "prod": "https://k8s.example:443",
        "lost": "?",
    }


def test_a_cluster_without_a_server_and_entries_without_a_name_are_told_apart(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "config",
        {
            "clusters": [{"name": "bare", "cluster": {}}, "not a mapping"],
            "contexts": [
                {"name": "ctx", "context": {"cluster": "bare"}},
                {"context": {"cluster": "bare"}},
                {"name": "", "context": {"cluster": "bare"}},
                "not a mapping",
            ],
        },
    )
    assert contexts([path]) == {"ctx": "?"}


def test_files_that_are_missing_or_not_a_kubeconfig_hold_none_and_the_rest_still_count(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken"
    broken.write_text("clusters: [unclosed\n")
    listed = write(tmp_path / "listed", ["a", "list"])
    good = kubeconfig(tmp_path / "good", ("dev", "local"), servers={"local": "https://h:1"})
    files = [tmp_path / "missing", broken, listed, good]
    assert contexts(files) == {"dev": "https://h:1"}


def test_the_first_file_holding_a_context_wins(tmp_path: Path) -> None:
    first = kubeconfig(tmp_path / "first", ("dev", "a"), servers={"a": "https://first:1"})
    second = kubeconfig(tmp_path / "second", ("dev", "a"), servers={"a": "https://second:1"})
    assert contexts([first, second]) == {"dev": "https://first:1"}


def test_a_missing_context_names_the_files_read_their_contexts_and_the_ways_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    one = kubeconfig(tmp_path / "one", ("b", "x"), ("a", "x"), servers={"x": "https://h:1"})
    two = tmp_path / "two"
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(one), str(two)]))
    assert missing_context("a") is None
    assert missing_context("kind-kind") == (
        f"context 'kind-kind' is not in the kubeconfig read ({one}{os.pathsep}{two}; contexts"
        " there: a, b): create the cluster, point KUBECONFIG (or cluster.kubeconfig) at the"
        " file that has it, or set cluster.context"
    )
    # cluster.kubeconfig, when the stack sets it, is the only file read.
    assert missing_context("a", str(two)) == (
        f"context 'a' is not in the kubeconfig read ({two}; contexts there: none): create the"
        " cluster, point KUBECONFIG (or cluster.kubeconfig) at the file that has it, or set"
        " cluster.context"
    )
