"""The kubeconfig a stack's provider will read, and the contexts in it: so that a stack whose
context is not there fails at once, naming the files and what they hold, instead of previewing
against no cluster at all. Plain data (PyYAML, no Pulumi SDK): tools/lib/preflight.py uses it
too."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


def kubeconfig_files(explicit: str | None = None) -> list[Path]:
    """What kubectl and the provider read: `explicit` (cluster.kubeconfig), else every file of
    $KUBECONFIG, else ~/.kube/config."""
    if explicit:
        return [Path(explicit).expanduser()]
    listed = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    return [Path(name).expanduser() for name in listed.split(os.pathsep) if name]


def contexts(files: list[Path]) -> dict[str, str]:
    """Context name -> its cluster's server URL, over every file (the first file wins, as in
    kubectl). Files that are missing or not YAML hold none."""
    found: dict[str, str] = {}
    for path in files:
        try:
            document: Any = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(document, dict):
            continue
        servers = {
            entry.get("name"): (entry.get("cluster") or {}).get("server", "?")
            for entry in document.get("clusters") or []
            if isinstance(entry, dict)
        }
        for entry in document.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name"):
                cluster = (entry.get("context") or {}).get("cluster")
                found.setdefault(str(entry["name"]), servers.get(cluster, "?"))
    return found


def missing_context(context: str, explicit: str | None = None) -> str | None:
    """What to say when `context` is in none of the kubeconfig files; None when it is there."""
    files = kubeconfig_files(explicit)
    known = contexts(files)
    if context in known:
        return None
    read = os.pathsep.join(str(path) for path in files)
    held = ", ".join(sorted(known)) or "none"
    return (
        f"context {context!r} is not in the kubeconfig read ({read}; contexts there: {held}):"
        " create the cluster, point KUBECONFIG (or cluster.kubeconfig) at the file that has it,"
        " or set cluster.context"
    )
