"""The stack config reader over generated inputs (Hypothesis): any valid config parses to what it
says, and any one bad value, of any kind of mistake, is refused naming that key and no other.

The expectations here are written independently of the reader: what each generated value means
(a quantity's size, a default context) is stated in this file, not asked of the code under test.
Runs are derandomized (the same examples every run, no example database): set
HYPOTHESIS_PROFILE=explore for fresh random examples by hand (workbench/mutation/run sets
mutation: the same examples, a failure not shrunk).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from components.app.db import ClientAuth
from components.cluster.target import LOAD_BALANCERS, ClusterType
from components.stack.config import parse_stack_config
from components.stack.reader import ConfigError
from components.units.quantities import cpu_millicores, memory_bytes
from components.units.specs import Autoscaling
from tests.stack_files import TEST_PASSWORD, cli_config, set_path, stack_values

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("explore", max_examples=2000, deadline=None)
# Mutation testing (workbench/mutation/run) needs only whether a test fails: the same examples as
# ci, a failing one not shrunk (shrinking would outlast the mutant's time limit).
settings.register_profile(
    "mutation",
    parent=settings.get_profile("ci"),
    phases=[phase for phase in Phase if phase is not Phase.shrink],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

P = "voting-app"
PASSWORD_KEY = f"{P}:dbPassword"
STOCK = {
    "vote": "kodekloud/examplevotingapp_vote:v1",
    "result": "kodekloud/examplevotingapp_result:v1",
    "worker": "kodekloud/examplevotingapp_worker:v1",
    "redis": "redis:7.2.5-alpine",
    "db": "postgres:15.8-alpine",
}
RESERVED = {"default", "kube-system", "kube-public", "kube-node-lease"}
LOWEST_NODE_PORT = 30000
HIGHEST_NODE_PORT = {"kwok": 32699}  # every other type: 32767
MAX_MILLICORES = 10**9  # a million cores
MAX_BYTES = 2**50  # 1Pi
BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}


def parse(values: dict[str, Any]) -> Any:
    return parse_stack_config(cli_config(values), [PASSWORD_KEY], "generated")


# --- valid values ------------------------------------------------------------------------------

dns_labels = st.from_regex(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)
namespaces = dns_labels.filter(lambda name: name not in RESERVED and not name.startswith("kube-"))
_part = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
images = st.from_regex(
    rf"(?:[a-z0-9]+(?:\.[a-z0-9]+)*(?::[0-9]{{1,5}})?/)?{_part}(?:/{_part})?"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}|@sha256:[a-f0-9]{64})",
    fullmatch=True,
).filter(lambda image: not image.endswith(":latest"))
visible = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp"))
options = st.text(visible, min_size=1, max_size=20)
hosts = st.one_of(
    st.ip_addresses().map(str),
    st.from_regex(
        r"[a-z0-9](?:[-a-z0-9]{0,20}[a-z0-9])?(?:\.[a-z](?:[a-z0-9-]{0,10}[a-z0-9])?)*",
        fullmatch=True,
    ).filter(lambda host: not host.split(".")[-1].isdigit()),
)


@st.composite
def networks(draw: st.DrawFn) -> str:
    """A CIDR as Kubernetes and a load balancer read it: a network address (its host bits zero)
    and its prefix length, in the shortest form."""
    version = draw(st.sampled_from([4, 6]))
    bits = 32 if version == 4 else 128
    prefix = draw(st.integers(0, bits))
    address = draw(st.ip_addresses(v=version))
    network = type(address)(int(address) >> (bits - prefix) << (bits - prefix))
    # IPv4 written as IPv6 (::ffff:a.b.c.d) is refused: the IPv4 network says the same.
    assume(not (isinstance(network, IPv6Address) and network.ipv4_mapped))
    return f"{network}/{prefix}"


# Cron schedules Kubernetes reads: five fields of numbers, ranges, steps, lists and names, or one
# of cron's @-names.
_cron_field = st.one_of(
    st.just("*"),
    st.integers(0, 59).map(str),
    st.tuples(st.integers(0, 9), st.integers(10, 23)).map(lambda pair: f"{pair[0]}-{pair[1]}"),
    st.integers(1, 30).map(lambda step: f"*/{step}"),
    st.lists(st.integers(0, 59), min_size=2, max_size=3).map(lambda ns: ",".join(map(str, ns))),
    st.sampled_from(["MON-FRI", "JAN", "SUN", "?"]),
)
schedules = st.one_of(
    st.lists(_cron_field, min_size=5, max_size=5).map(" ".join),
    st.sampled_from(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"]),
)


@st.composite
def cpu(draw: st.DrawFn, at_least: int = 1) -> tuple[str, int]:
    """A cpu quantity as a person may write it, and its millicores."""
    millicores = draw(st.integers(at_least, MAX_MILLICORES))
    if millicores % 1000 == 0 and draw(st.booleans()):
        return str(millicores // 1000), millicores
    if draw(st.booleans()):
        return f"{millicores}m", millicores
    cores, rest = divmod(millicores, 1000)
    return f"{cores}.{rest:03d}".rstrip("0").rstrip("."), millicores


@st.composite
def memory(draw: st.DrawFn, at_least: int = 1) -> tuple[str, int]:
    """A memory quantity as a person may write it, and its bytes."""
    suffix, factor = draw(st.sampled_from([*BINARY.items(), *DECIMAL.items()]))
    low = -(-at_least // factor)  # the fewest whole units at or above `at_least` bytes
    number = draw(st.integers(min(low, MAX_BYTES // factor), MAX_BYTES // factor))
    size = number * factor
    if size < at_least or size == 0:
        return str(max(at_least, 1)), max(at_least, 1)
    half = size - factor // 2
    if suffix in BINARY and number > 1 and half >= at_least and draw(st.booleans()):
        # Half a unit less, written with a decimal point: whole bytes still.
        return f"{number - 1}.5{suffix}", half
    return f"{number}{suffix}", size


@dataclass
class Expected:
    """What a generated config must parse to (the parts this file states)."""

    checks: list[Callable[[Any], None]]

    def hold(self, config: Any) -> None:
        for check in self.checks:
            check(config)


def _equals(path: Callable[[Any], Any], value: Any, what: str) -> Callable[[Any], None]:
    def check(config: Any) -> None:
        got = path(config)
        assert got == value, f"{what}: parsed {got!r}, expected {value!r}"

    return check


@st.composite
def resources(draw: st.DrawFn, unit: str, expected: list[Callable[[Any], None]]) -> dict[str, Any]:
    request_cpu, request_mc = draw(cpu())
    limit_cpu, limit_mc = draw(cpu(at_least=request_mc))
    request_memory, request_bytes = draw(memory())
    limit_memory, limit_bytes = draw(memory(at_least=request_bytes))

    def of(config: Any) -> Any:
        return getattr(config.app, unit).resources

    expected += [
        _equals(lambda c: cpu_millicores(of(c).requests.cpu), request_mc, f"{unit} cpu request"),
        _equals(lambda c: cpu_millicores(of(c).limits.cpu), limit_mc, f"{unit} cpu limit"),
        _equals(lambda c: memory_bytes(of(c).requests.memory), request_bytes, f"{unit} memory"),
        _equals(lambda c: memory_bytes(of(c).limits.memory), limit_bytes, f"{unit} memory limit"),
    ]
    return {
        "requests": {"cpu": request_cpu, "memory": request_memory},
        "limits": {"cpu": limit_cpu, "memory": limit_memory},
    }


@st.composite
def valid_configs(draw: st.DrawFn) -> tuple[dict[str, Any], Expected]:
    expected: list[Callable[[Any], None]] = []
    values: dict[str, Any] = {PASSWORD_KEY: TEST_PASSWORD}

    cluster_type = draw(st.sampled_from(["kwok", "kind", "minikube", "docker-desktop", "cloud"]))
    cluster: dict[str, Any] = {"type": cluster_type}
    name = draw(st.none() | dns_labels) if cluster_type in ("kwok", "kind", "minikube") else None
    if name is not None:
        cluster["name"] = name
    context = draw(st.text(min_size=1, max_size=30)) if cluster_type == "cloud" else None
    if cluster_type != "cloud" and draw(st.booleans()):
        context = draw(st.text(min_size=1, max_size=30))
    if context is not None:
        cluster["context"] = context
    own = {
        "kwok": f"kwok-{name or 'voting-app'}",
        "kind": f"kind-{name or 'kind'}",
        "minikube": name or "minikube",
        "docker-desktop": "docker-desktop",
    }
    expected.append(
        _equals(lambda c: c.cluster.context, context or own.get(cluster_type), "context")
    )
    node_address = draw(st.none() | hosts)
    if node_address is not None:
        cluster["nodeAddress"] = node_address
    expected.append(_equals(lambda c: c.app.node_address, node_address or "localhost", "host"))
    values[f"{P}:cluster"] = cluster

    namespace = draw(namespaces)
    values[f"{P}:namespace"] = namespace
    expected.append(_equals(lambda c: c.app.namespace, namespace, "namespace"))
    option_a, option_b = draw(
        st.tuples(options, options).filter(
            lambda pair: pair[0].strip().casefold() != pair[1].strip().casefold()
        )
    )
    values[f"{P}:optionA"], values[f"{P}:optionB"] = option_a, option_b
    expected.append(
        _equals(lambda c: (c.app.option_a, c.app.option_b), (option_a, option_b), "options")
    )

    used_ports: set[int] = set()
    highest = HIGHEST_NODE_PORT.get(cluster_type, 32767)
    for unit in ("vote", "result"):
        web: dict[str, Any] = {}
        if draw(st.booleans()):
            web["image"] = draw(images)
        if draw(st.booleans()):
            low = draw(st.integers(1, 50))
            high = draw(st.integers(low, 50))
            target = draw(st.integers(1, 100))
            settle = draw(st.integers(0, 3600))
            web["autoscaling"] = {
                "minReplicas": low,
                "maxReplicas": high,
                "cpuUtilization": target,
                "scaleDownStabilizationSeconds": settle,
            }
            scale: Any = Autoscaling(low, high, target, settle)
        else:
            scale = draw(st.integers(1, 50))
            web["replicas"] = scale
        expected.append(
            _equals(lambda c, u=unit: getattr(c.app, u).replicas, scale, f"{unit} scale")
        )
        kinds = ["ClusterIP", "NodePort"]
        if ClusterType(cluster_type) in LOAD_BALANCERS:
            kinds.append("LoadBalancer")
        kind = draw(st.sampled_from(kinds))
        web["exposure"] = {"type": kind}
        port = None
        if kind == "NodePort" and draw(st.booleans()):
            port = draw(
                st.integers(LOWEST_NODE_PORT, highest).filter(lambda p: p not in used_ports)
            )
            used_ports.add(port)
            web["exposure"]["nodePort"] = port
        ranges: list[str] = []
        if kind == "LoadBalancer" and draw(st.booleans()):
            ranges = draw(st.lists(networks(), min_size=1, max_size=4, unique=True))
            web["exposure"]["sourceRanges"] = ranges
        expected.append(
            _equals(
                lambda c, u=unit: (
                    getattr(c.app, u).exposure.type.value,
                    getattr(c.app, u).exposure.node_port,
                    getattr(c.app, u).exposure.source_ranges,
                ),
                (kind, port, tuple(ranges)),
                f"{unit} exposure",
            )
        )
        web["resources"] = draw(resources(unit, expected))
        values[f"{P}:{unit}"] = web

    worker: dict[str, Any] = {"replicas": draw(st.integers(1, 50))}
    if draw(st.booleans()):
        worker["image"] = draw(images)
    worker["resources"] = draw(resources("worker", expected))
    values[f"{P}:worker"] = worker
    values[f"{P}:redis"] = {"resources": draw(resources("redis", expected))}

    db: dict[str, Any] = {}
    claim = draw(st.booleans())
    size, size_bytes = draw(memory())
    db["storage"] = {"type": "persistentVolumeClaim" if claim else "emptyDir", "size": size}
    if claim:
        db["storage"]["retainOnDelete"] = draw(st.booleans())
        db["workload"] = draw(st.sampled_from(["Deployment", "StatefulSet"]))
    expected.append(_equals(lambda c: memory_bytes(c.app.db.storage.size), size_bytes, "size"))
    stock_client = STOCK["worker"] == worker.get("image", STOCK["worker"]) or STOCK[
        "result"
    ] == values[f"{P}:result"].get("image", STOCK["result"])
    if draw(st.booleans()):
        auth = "trust" if stock_client else draw(st.sampled_from(["scram-sha-256", "md5", "trust"]))
        db["clientAuth"] = auth
    else:
        auth = "trust" if stock_client else "scram-sha-256"
    expected.append(_equals(lambda c: c.app.db.client_auth, ClientAuth(auth), "client auth"))
    backup = None
    if draw(st.booleans()):
        db["backup"] = {}
        schedule = draw(st.none() | schedules)
        keep = draw(st.none() | st.integers(1, 1000))
        backup_size = draw(st.none() | memory())
        storage_class = draw(st.none() | dns_labels)
        for key, value in (
            ("schedule", schedule),
            ("keep", keep),
            ("size", backup_size and backup_size[0]),
            ("storageClass", storage_class),
        ):
            if value is not None:
                db["backup"][key] = value
        backup = (
            schedule or "0 * * * *",
            keep or 24,
            backup_size[1] if backup_size else 2**30,
            storage_class,
        )
    expected.append(
        _equals(
            lambda c: (
                c.app.db.backup
                and (
                    c.app.db.backup.schedule,
                    c.app.db.backup.keep,
                    memory_bytes(c.app.db.backup.size),
                    c.app.db.backup.storage_class,
                )
            ),
            backup,
            "backup",
        )
    )
    values[f"{P}:db"] = db
    return values, Expected(expected)


@given(valid_configs())
def test_a_valid_config_parses_to_what_it_says(generated: tuple[dict[str, Any], Expected]) -> None:
    values, expected = generated
    expected.hold(parse(values))


# --- one bad value -------------------------------------------------------------------------------
# Top-level values reach the program as strings (the CLI writes `namespace: false` as "false", a
# valid name), so only keys inside objects are given values of the wrong JSON type.

non_ascii_digits = st.sampled_from(["\u0661", "\u0663", "\uff11", "\u00b2", "\u0967", "\u2075"])
trailing = st.sampled_from(["\n", " ", "\t", "\r\n"])
non_strings = st.one_of(
    st.integers(-5, 5),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
)


def _spoiled(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid text made invalid: a character added at its end or start, or a digit swapped for
    one of another script."""
    return st.one_of(
        st.tuples(valid, trailing).map("".join),
        st.tuples(trailing, valid).map("".join),
        st.tuples(valid, non_ascii_digits).map(
            lambda pair: pair[0][:-1] + pair[1] if pair[0][-1:].isdigit() else pair[0] + pair[1]
        ),
    )


bad_namespaces = st.one_of(
    _spoiled(namespaces),
    st.sampled_from(sorted(RESERVED)),
    namespaces.map(lambda name: f"kube-{name}"[:63]),
    st.text(st.characters(whitelist_categories=("Ll",), max_codepoint=0x2FF), min_size=1).filter(
        lambda name: not name.isascii()
    ),
    namespaces.map(str.upper).filter(lambda name: name != name.lower()),
    st.from_regex(r"[a-z][a-z0-9]{63,70}", fullmatch=True),
    st.from_regex(r"[0-9-][a-z0-9]{0,5}", fullmatch=True),
    st.just(""),
)
bad_cpu = st.one_of(
    _spoiled(cpu().map(lambda pair: pair[0])),
    st.sampled_from(["0", "0m", "-1", "0.5m", "1.0005", "1e3", "1Ki", "lots", "", "1000001"]),
    st.integers(MAX_MILLICORES + 1, 10**15).map(lambda m: f"{m}m"),
    non_strings,
)
bad_memory = st.one_of(
    _spoiled(memory().map(lambda pair: pair[0])),
    st.sampled_from(["0", "128MB", "128mi", "1.0001k", "0.5", "2Pi", "8Ei", "1m", "", "Mi"]),
    st.integers(2, 10**6).map(lambda n: f"{n}Pi"),
    non_strings,
)
bad_images = st.one_of(
    _spoiled(images),
    images.map(lambda image: image.split(":")[0].split("@")[0]),  # untagged
    images.map(lambda image: image.split(":")[0].split("@")[0] + ":latest"),
    images.map(str.upper).filter(lambda image: image != image.lower()),
    st.just(""),
    non_strings,
)


def bad_integers(low: int, high: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(max_value=low - 1),
        st.integers(min_value=high + 1),
        st.booleans(),
        st.floats(low, high).filter(lambda number: not number.is_integer()),
        st.integers(low, high).map(str),
    )


def bad_choice(choices: list[str], *, top_level: bool = False) -> st.SearchStrategy[Any]:
    wrong = [
        st.text(max_size=12).filter(lambda text: text not in choices),
        st.sampled_from(choices).map(str.lower).filter(lambda text: text not in choices),
        st.tuples(st.sampled_from(choices), trailing).map("".join),
    ]
    # The CLI hands a top-level value to the program as a string: `5` arrives as "5".
    return st.one_of(*wrong) if top_level else st.one_of(*wrong, non_strings)


def bad_options(other: str) -> st.SearchStrategy[Any]:
    """Wrong values of an option whose counterpart is `other` (the two must differ)."""
    return st.one_of(
        st.text(st.sampled_from(" \t\u00a0\u2003"), min_size=0, max_size=4),
        st.tuples(options, st.sampled_from(["\n", "\t", "\x00", "\x1b"])).map("".join),
        st.just(other),
        st.just(f" {other.upper()} "),
    )


bad_hosts = st.one_of(
    _spoiled(hosts),
    hosts.map(lambda host: f"http://{host}"),
    hosts.map(lambda host: f"{host}:8080").filter(lambda host: host.count(":") == 1),
    st.sampled_from(["my host", "300.1.1.1", "10.0.0.256", "host_name", "-host", "h\u00f6st", ""]),
    non_strings,
)
WEB = "vote"


@dataclass(frozen=True)
class BadKey:
    """A key, the change to the dev stack that makes it apply, and its wrong values."""

    path: str
    values: st.SearchStrategy[Any]
    prepare: Callable[[dict[str, Any]], None] | None = None


def _autoscaled(values: dict[str, Any]) -> None:
    values[f"{P}:{WEB}"].pop("replicas")
    values[f"{P}:{WEB}"]["autoscaling"] = {"minReplicas": 1, "maxReplicas": 5}


def _load_balancer(values: dict[str, Any]) -> None:
    values[f"{P}:{WEB}"]["exposure"] = {"type": "LoadBalancer"}


@st.composite
def host_bits_set(draw: st.DrawFn) -> str:
    """An address with a prefix length shorter than its own: host bits set."""
    address = draw(st.ip_addresses().filter(lambda address: int(address) != 0))
    bits = 32 if address.version == 4 else 128
    trailing_zeros = (int(address) & -int(address)).bit_length() - 1 if int(address) else bits
    prefix = draw(st.integers(0, bits - 1).filter(lambda p: bits - p > trailing_zeros))
    return f"{address}/{prefix}"


bad_range = st.one_of(
    _spoiled(networks()),
    host_bits_set(),
    networks().map(lambda cidr: cidr.split("/")[0]),  # no prefix length
    networks().map(lambda cidr: cidr.upper()).filter(lambda cidr: cidr != cidr.lower()),
    st.sampled_from(
        ["10.0.0.0/255.0.0.0", "10.0.0.0/08", "10.0.0.0/33", "::/129", "::ffff:a00:0/104", ""]
    ),
)
bad_source_ranges = st.one_of(
    st.just([]),
    st.text(max_size=12),
    st.integers(),
    st.booleans(),
    st.tuples(st.lists(networks(), max_size=2), bad_range).map(lambda pair: [*pair[0], pair[1]]),
    st.tuples(st.lists(networks(), max_size=2), non_strings).map(lambda p: [*p[0], p[1]]),
    networks().map(lambda cidr: [cidr, cidr]),
)


def _claim(values: dict[str, Any]) -> None:
    values[f"{P}:db"]["storage"] = {"type": "persistentVolumeClaim", "size": "1Gi"}


def _backed_up(values: dict[str, Any]) -> None:
    values[f"{P}:db"]["backup"] = {}


bad_schedules = st.one_of(
    _spoiled(schedules),
    st.lists(_cron_field, min_size=1, max_size=8)
    .filter(lambda fields: len(fields) != 5)
    .map(" ".join),
    st.lists(_cron_field, min_size=5, max_size=5).map("  ".join),
    st.sampled_from(["", "@often", "@HOURLY", "every hour", "0 * * * * *"]),
    non_strings,
)


BAD_KEYS = [
    BadKey("namespace", bad_namespaces),
    # The dev stack's options are Cats and Dogs; a clash is reported at optionB.
    BadKey("optionA", bad_options("").filter(lambda value: value != "  ")),
    BadKey("optionB", bad_options("Cats")),
    BadKey("cluster.type", bad_choice(["kwok", "kind", "minikube", "docker-desktop", "cloud"])),
    BadKey("cluster.nodeAddress", bad_hosts),
    BadKey("serviceAwait", bad_choice(["endpoints", "address"], top_level=True)),
    BadKey("spread.hostname", bad_choice(["DoNotSchedule", "ScheduleAnyway", "Off"])),
    BadKey("spread.maxSkew", bad_integers(1, 50)),
    *(BadKey(f"{unit}.image", bad_images) for unit in ("vote", "result", "worker", "redis", "db")),
    BadKey("worker.imagePullPolicy", bad_choice(["Always", "IfNotPresent", "Never"])),
    BadKey(f"{WEB}.replicas", bad_integers(1, 50)),
    BadKey("worker.replicas", bad_integers(1, 50)),
    BadKey(f"{WEB}.autoscaling.maxReplicas", bad_integers(1, 50), _autoscaled),
    BadKey(f"{WEB}.autoscaling.cpuUtilization", bad_integers(1, 100), _autoscaled),
    BadKey(f"{WEB}.autoscaling.scaleDownStabilizationSeconds", bad_integers(0, 3600), _autoscaled),
    BadKey(f"{WEB}.exposure.type", bad_choice(["ClusterIP", "NodePort", "LoadBalancer"])),
    BadKey(
        f"{WEB}.exposure.nodePort",
        st.one_of(bad_integers(1, 65535), st.integers(1, 29999), st.integers(32700, 65535)),
    ),
    BadKey(f"{WEB}.exposure.sourceRanges", bad_source_ranges, _load_balancer),
    *(
        BadKey(f"{unit}.resources.{kind}.cpu", bad_cpu)
        for unit in ("vote", "worker", "db")
        for kind in ("requests", "limits")
    ),
    *(
        BadKey(f"{unit}.resources.{kind}.memory", bad_memory)
        for unit in ("result", "redis", "db")
        for kind in ("requests", "limits")
    ),
    BadKey("db.storage.type", bad_choice(["emptyDir", "persistentVolumeClaim"])),
    BadKey("db.storage.size", bad_memory),
    BadKey(
        "db.storage.storageClass",
        st.one_of(
            _spoiled(dns_labels), st.sampled_from(["Fast", "fast ssd", "-x", ""]), non_strings
        ),
        _claim,
    ),
    BadKey(
        "db.storage.retainOnDelete",
        st.one_of(st.sampled_from(["true", "false", "yes"]), st.integers(0, 1)),
        _claim,
    ),
    BadKey("db.clientAuth", bad_choice(["scram-sha-256", "md5", "trust"])),
    BadKey("db.backup.schedule", bad_schedules, _backed_up),
    BadKey("db.backup.keep", bad_integers(1, 1000), _backed_up),
    BadKey("db.backup.size", bad_memory, _backed_up),
    BadKey(
        "db.backup.storageClass",
        st.one_of(
            _spoiled(dns_labels), st.sampled_from(["Fast", "fast ssd", "-x", ""]), non_strings
        ),
        _backed_up,
    ),
    BadKey("db.workload", bad_choice(["Deployment", "StatefulSet"])),
]


# Fewer examples per key than for whole configs: there are 40 keys, each its own test.
@settings(max_examples=25)
@given(st.data())
@pytest.mark.parametrize("bad", BAD_KEYS, ids=lambda bad: bad.path)
def test_one_bad_value_is_refused_naming_that_key_alone(bad: BadKey, data: st.DataObject) -> None:
    values = copy.deepcopy(stack_values("dev"))
    if bad.prepare is not None:
        bad.prepare(values)
    value = data.draw(bad.values, label=bad.path)
    set_path(values, bad.path, value)
    with pytest.raises(ConfigError) as refused:
        parse(values)
    keys = [issue.key for issue in refused.value.issues]
    assert keys == [f"{P}:{bad.path}"], f"{value!r}: {refused.value}"
