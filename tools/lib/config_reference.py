"""The configuration reference, made from what the config reader asks for: every key, what it
allows and its default come from `components.stack.config.read_keys` (the reader records them as
it reads, and takes each default from the dataclasses), so docs/configuration.md's table and
Pulumi.yaml's declarations cannot drift from the parser. Only what each key is for is written here.

    python -m tools.lib.config_reference           exit 1 naming each file that is not current
    python -m tools.lib.config_reference --write   rewrite their generated parts
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.cluster.target import KUBERNETES_NODE_PORTS, NODE_PORT_RANGES
from components.stack.config import PROJECT, read_keys
from components.stack.reader import KeyDoc

ROOT = Path(__file__).resolve().parents[2]
UNITS = ("vote", "result", "worker", "redis", "db")
# A config that opens every optional object, so that the reader asks for every key there is.
DOCUMENTED_CONFIG = {
    f"{PROJECT}:cluster": {"type": "kwok"},
    f"{PROJECT}:vote": {"autoscaling": {"maxReplicas": 1}},
    f"{PROJECT}:result": {"autoscaling": {"maxReplicas": 1}},
    f"{PROJECT}:redis": {"persistence": {}},
    f"{PROJECT}:db": {"backup": {}},
}


def _node_port_ranges() -> str:
    special = ", ".join(f"{low}-{high} on {kind}" for kind, (low, high) in NODE_PORT_RANGES.items())
    low, high = KUBERNETES_NODE_PORTS
    return f"{special}, {low}-{high} elsewhere"


# What each key is for, by its key without the project and the unit (`<unit>.image`). Nothing
# here states a default or a bound: those come from the reader.
ABOUT: dict[str, str] = {
    "cluster.type": "the kind of cluster (README: Targeting a cluster)",
    "cluster.name": "the cluster's name, for the types whose tool names clusters",
    "cluster.context": "the kubeconfig context the stack deploys through",
    "cluster.kubeconfig": "the kubeconfig file",
    "cluster.nodeAddress": "the host in NodePort URLs",
    "cluster.renderYamlTo": "write every object's manifest there instead of deploying",
    "cluster.renderSecrets": "with renderYamlTo, whether the db's Secret is written: reference "
    "leaves it out (the manifests refer to it; the preview says how to create it), plaintext "
    "writes its value in plain text (base64)",
    "namespace": "the namespace the stack creates and deploys every object into",
    "optionA": "the first choice on the vote page (OPTION_A; the stock result page says Cats)",
    "optionB": "the second choice on the vote page (OPTION_B; the stock result page says Dogs)",
    "dbPassword": "the Postgres password, kept only in the Secret db-credentials",
    "spread.hostname": "how the pods of a unit that can run more than one spread across nodes",
    "spread.zone": "the same across topology.kubernetes.io/zone (only where nodes carry it)",
    "spread.maxSkew": "the most one node's (zone's) count of a unit's pods may exceed another's",
    "serviceAwait": "what `pulumi up` waits for on each Service (README: When pulumi up returns)",
    "<unit>.image": "the container image",
    "<unit>.imagePullPolicy": "when the kubelet asks the registry for the image",
    "<unit>.replicas": "the number of pods",
    "<unit>.autoscaling": "a HorizontalPodAutoscaler on cpu owns the count; no update resets it",
    "<unit>.autoscaling.minReplicas": "the fewest pods",
    "<unit>.autoscaling.maxReplicas": "the most pods",
    "<unit>.autoscaling.cpuUtilization": "the cpu use aimed at, in percent of the cpu request",
    "<unit>.autoscaling.scaleDownStabilizationSeconds": "how long a higher count is kept after "
    "the load drops",
    "<unit>.resources.requests.cpu": "the cpu each pod asks for",
    "<unit>.resources.requests.memory": "the memory each pod asks for (no more than its limit)",
    "<unit>.resources.limits.cpu": "the most cpu a pod may use",
    "<unit>.resources.limits.memory": "the most memory a pod may use",
    "<unit>.exposure.type": "the Service's type (LoadBalancer only where the cluster type gives "
    "it an address)",
    "<unit>.exposure.nodePort": "a fixed node port (NodePort only), unique, within the cluster's "
    f"range: {_node_port_ranges()}",
    "<unit>.exposure.sourceRanges": "the client networks the load balancer admits (all others "
    "refused), and the only ones the unit's NetworkPolicy admits from outside (docs/operations.md)",
    "redis.persistence": "keep the vote queue in an append-only file on a claim, so votes the "
    "worker has not taken yet outlive the redis pod (docs/operations.md: What a fault loses)",
    "redis.persistence.size": "the claim's size",
    "redis.persistence.storageClass": "the claim's StorageClass",
    "redis.persistence.fsync": "when the file is forced to disk: everysec (a node crash loses at "
    "most the last second or two) or always (before each write is answered); a crash of redis "
    "loses nothing either way",
    "db.storage.type": "where Postgres keeps its data",
    "db.storage.size": "the claim's size, or the emptyDir's cap",
    "db.storage.storageClass": "the claim's StorageClass (persistentVolumeClaim only)",
    "db.storage.retainOnDelete": "true: `pulumi destroy` keeps the claim and its namespace, with "
    "the votes (persistentVolumeClaim only; docs/operations.md, Tearing down)",
    "db.clientAuth": "how worker and result log in to Postgres (docs/images.md)",
    "db.workload": "what runs the db pod; a StatefulSet's claim (data-db-0) outlives it",
    "db.backup": "pg_dump of the votes on a schedule into a claim of its own (db-backup-data); "
    "tools/backup lists, takes and restores them (docs/operations.md: Backups and restores)",
    "db.backup.schedule": "when a backup is taken, in cron's notation, read in UTC",
    "db.backup.keep": "how many of the newest backups are kept; a new one deletes the oldest",
    "db.backup.size": "the backups' claim's size",
    "db.backup.storageClass": "the backups' claim's StorageClass",
}


@dataclass(frozen=True)
class Declaration:
    """A top-level key of Pulumi.yaml: its schema type and what it is for."""

    type: str
    lead: str
    secret: bool = False


DECLARATIONS: dict[str, Declaration] = {
    "cluster": Declaration("object", "The target cluster."),
    "namespace": Declaration("string", "The namespace of every object."),
    "optionA": Declaration("string", "The first choice on the vote page (OPTION_A)."),
    "optionB": Declaration("string", "The second choice on the vote page (OPTION_B)."),
    "dbPassword": Declaration(
        "string",
        "The Postgres password, kept only in the Secret db-credentials.",
        secret=True,
    ),
    "spread": Declaration("object", "How the pods of a unit that can run more than one spread."),
    "serviceAwait": Declaration("string", "What `pulumi up` waits for on the Services."),
    "vote": Declaration("object", "The vote web unit."),
    "result": Declaration("object", "The result web unit."),
    "worker": Declaration("object", "The worker: no port, no Service."),
    "redis": Declaration("object", "The redis queue: one pod, Service redis."),
    "db": Declaration("object", "PostgreSQL: one pod, Service db."),
}


def documented_keys() -> list[KeyDoc]:
    raw = {key: json.dumps(value) for key, value in DOCUMENTED_CONFIG.items()}
    return read_keys(raw)


def _short(key: str) -> str:
    return key.removeprefix(f"{PROJECT}:")


def _generic(short: str) -> tuple[str, str | None]:
    """`vote.resources.limits.cpu` -> (`<unit>.resources.limits.cpu`, `vote`)."""
    unit, _, rest = short.partition(".")
    if unit in UNITS and rest:
        return f"<unit>.{rest}", unit
    return short, None


def _about(generic: str, short: str) -> str:
    return ABOUT.get(short) or ABOUT[generic]


def _shown(key: KeyDoc) -> str:
    return f"`{key.default}`" if key.literal else key.default


def _cell(text: str) -> str:
    """Text as a Markdown table cell shows it: no column break, no HTML tag."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def reference_table(keys: list[KeyDoc]) -> str:
    """One row per key, the units' keys merged into one row where they allow the same."""
    groups: dict[tuple[str, str], list[tuple[str | None, KeyDoc]]] = {}
    for key in keys:
        generic, unit = _generic(_short(key.key))
        about = _about(generic, _short(key.key))
        groups.setdefault((generic, about), []).append((unit, key))
    lines = ["| key | what it is | what it may be | default |", "|---|---|---|---|"]
    for (generic, about), members in groups.items():
        units = [unit for unit, _ in members if unit is not None]
        rest = generic.removeprefix("<unit>")
        if not units or len(units) == len(UNITS):
            label = f"`{generic}`"
        elif len(units) == 1:
            label = f"`{units[0]}{rest}`"
        else:
            label = "/".join(f"`{unit}`" for unit in units) + f" `{rest}`"
        expected = {key.expected for _, key in members}
        if len(expected) != 1:
            raise ValueError(f"{generic}: the units allow different things: {sorted(expected)}")
        defaults = {_shown(key) for _, key in members}
        if len(defaults) == 1:
            default = _cell(defaults.pop())
        else:
            default = "<br>".join(f"{unit} {_cell(_shown(key))}" for unit, key in members)
        lines.append(f"| {label} | {_cell(about)} | {_cell(expected.pop())} | {default} |")
    return "\n".join(lines) + "\n"


def _described(top: str, keys: list[KeyDoc]) -> str:
    """A Pulumi.yaml description: what the key is for, then its keys and their defaults."""
    declaration = DECLARATIONS[top]
    inside = [key for key in keys if _short(key.key).split(".")[0] == top]
    if declaration.type != "object":
        (key,) = inside
        allowed = f"{key.expected[0].upper()}{key.expected[1:]}"
        return f"{declaration.lead} {allowed}. {_default_sentence(key)}"
    parts = [f"{_short(key.key).split('.', 1)[1]} ({_default_phrase(key)})" for key in inside]
    return f"{declaration.lead} Keys: {'; '.join(parts)}. What each allows: docs/configuration.md."


def _default_phrase(key: KeyDoc) -> str:
    return "required" if key.default == "required" else f"default {key.default}"


def _default_sentence(key: KeyDoc) -> str:
    phrase = _default_phrase(key)
    return f"{phrase[0].upper()}{phrase[1:]}."


def _folded(text: str) -> list[str]:
    wrapped = textwrap.wrap(text, width=94, break_long_words=False, break_on_hyphens=False)
    return ["    description: >-", *(f"      {line}" for line in wrapped)]


def pulumi_yaml_config(keys: list[KeyDoc]) -> str:
    """The `config:` block of Pulumi.yaml."""
    literal_defaults = {_short(key.key): key.default for key in keys if key.literal}
    lines = ["config:"]
    for top, declaration in DECLARATIONS.items():
        lines += [f"  {top}:", f"    type: {declaration.type}"]
        if declaration.secret:
            lines.append("    secret: true")
        lines += _folded(_described(top, keys))
        if declaration.type == "object" and top != "cluster":
            lines.append("    default: {}")
        elif top in literal_defaults:
            lines.append(f"    default: {literal_defaults[top]}")
    return "\n".join(lines) + "\n"


REFERENCE = "docs/configuration.md"
MARK_START = (
    "<!-- configuration reference: made by python -m tools.lib.config_reference --write -->"
)
MARK_END = "<!-- end of the configuration reference -->"


def _reference(current: str, keys: list[KeyDoc]) -> str:
    pattern = re.compile(re.escape(MARK_START) + r"\n.*?" + re.escape(MARK_END), re.S)
    if not pattern.search(current):
        raise ValueError(f"{REFERENCE}: no section between {MARK_START} and {MARK_END}")
    return pattern.sub(lambda _: f"{MARK_START}\n{reference_table(keys)}{MARK_END}", current)


def _pulumi_yaml(current: str, keys: list[KeyDoc]) -> str:
    head, separator, _ = current.partition("\nconfig:\n")
    if not separator:
        raise ValueError("Pulumi.yaml: no config: block")
    return f"{head}\n{pulumi_yaml_config(keys)}"


GENERATED: dict[str, Callable[[str, list[KeyDoc]], str]] = {
    REFERENCE: _reference,
    "Pulumi.yaml": _pulumi_yaml,
}


def stale(root: Path = ROOT) -> dict[str, str]:
    """Each file whose generated part is not what the reader says, with what it should be."""
    keys = documented_keys()
    found = {}
    for name, make in GENERATED.items():
        current = (root / name).read_text()
        wanted = make(current, keys)
        if wanted != current:
            found[name] = wanted
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the generated parts")
    args = parser.parse_args(argv)
    found = stale()
    for name, wanted in found.items():
        if args.write:
            (ROOT / name).write_text(wanted)
            print(f"{name}: rewritten")
        else:
            print(f"{name}: not current; run python -m tools.lib.config_reference --write")
    return 1 if found and not args.write else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
