"""The stack config, parsed once into frozen dataclasses, with every problem reported together.

Keys are declared with type and description in `Pulumi.yaml`; this module enforces what a JSON
schema cannot: pinned images, quantities, port ranges and uniqueness, no unknown keys. Every
default is the one the dataclasses carry (`VotingAppArgs` and the args it holds), and the
configuration reference (docs/configuration.md, the README's table, `Pulumi.yaml`) is generated
from what this reader asks for (components/stack/reference.py).

One problem per bad key: a reader that refuses a value puts a placeholder in its place, and
every check of several keys together skips a key that already has a problem.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi
import pulumi.runtime.config

from components.app import db
from components.app.args import (
    AppendFsync,
    DbArgs,
    DbStorage,
    DbWorkload,
    RedisArgs,
    RedisPersistence,
    StorageType,
    VotingAppArgs,
    WebUnitArgs,
    WorkerArgs,
)
from components.app.db import MOST_BACKUPS_KEPT, ClientAuth, Credentials, DbBackup
from components.app.db_clients import client_auth_problems, db_client_images, default_client_auth
from components.cluster.kubeconfig import missing_context
from components.cluster.target import (
    ClusterConfig,
    ClusterType,
    RenderSecrets,
    default_context,
    default_contexts_described,
    default_names_described,
    load_balancer_problem,
    named_types,
    node_port_range,
)
from components.stack.reader import (
    REQUIRED,
    Issues,
    KeyDoc,
    ObjectReader,
    describe,
    mapping_without_prefix,
    optional_object,
    read_object,
)
from components.units.quantities import (
    CPU_EXPECTED,
    MEMORY_EXPECTED,
    cpu_millicores,
    is_pinned_image,
    memory_bytes,
)
from components.units.scheduled_job import CRON_EXPECTED, schedule_problem
from components.units.specs import (
    SOURCE_RANGE_EXPECTED,
    Autoscaling,
    ComputeQuantities,
    Exposure,
    ExposureType,
    PullPolicy,
    Resources,
    Scale,
    ServiceAwait,
    Spread,
    WhenUnsatisfiable,
    node_port_problem,
    source_range_problem,
)

PROJECT = "voting-app"
MAX_REPLICAS = 50
# An autoscaler's fewest pods when the stack does not say: the least there can be.
MIN_REPLICAS = 1
IMAGE_EXPECTED = "an image pinned to a tag or digest, e.g. redis:7.2.5-alpine (not :latest)"
# Namespaces Kubernetes itself runs in (and every `kube-` name, which it reserves): the app's
# default-deny NetworkPolicies would cut off what runs there.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
RESERVED_PREFIX = "kube-"

T = TypeVar("T")


def default_of(owner: type[Any], name: str, kind: type[T]) -> T:
    """The default of dataclass `owner`'s field `name`, which is a `kind`: where every default of
    the stack config comes from."""
    for field in dataclasses.fields(owner):
        if field.name == name:
            value = field.default
            if value is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
                value = field.default_factory()
            if not isinstance(value, kind):
                raise TypeError(f"{owner.__name__}.{name}: default {value!r} is no {kind}")
            return value
    raise KeyError(f"{owner.__name__} has no field {name}")


@dataclass(frozen=True)
class StackConfig:
    """Everything one stack says: which cluster, and what to deploy there.

    notes: what the reader decided that the stack did not say and a person should know (a
    default weaker than the strongest), for the program to print.
    """

    stack: str
    cluster: ClusterConfig
    app: VotingAppArgs
    notes: tuple[str, ...] = ()


def load_stack_config() -> StackConfig:
    """Read and validate the running stack's config, and check that the kubeconfig holds its
    context; raises ConfigError listing every problem."""
    raw = {**pulumi.runtime.config.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    secret_keys = [key for key in raw if pulumi.runtime.config.is_config_secret(key)]
    secret_keys += pulumi.runtime.config.get_config_secret_keys_env()
    config = parse_stack_config(raw, secret_keys, pulumi.get_stack())
    cluster = config.cluster
    if cluster.render_yaml_to is None:
        problem = missing_context(cluster.context, cluster.kubeconfig)
        if problem is not None:
            issues = Issues()
            issues.add(f"{PROJECT}:cluster.context", describe(cluster.context), problem)
            issues.raise_if_any()
    return config


def parse_stack_config(
    raw: Mapping[str, str], secret_keys: Collection[str], stack: str
) -> StackConfig:
    """Parse raw Pulumi config (`project:key` -> string, objects as JSON) into a StackConfig."""
    issues = Issues()
    config = _read(raw, secret_keys, stack, issues)
    issues.raise_if_any()
    return config


def read_keys(raw: Mapping[str, str]) -> list[KeyDoc]:
    """Every key the reader asks for when given `raw`, with what it allows and its default, in
    the order it asks (problems ignored): what the configuration reference is made from."""
    keys: list[KeyDoc] = []
    _read(raw, [f"{PROJECT}:dbPassword"], "reference", Issues(), keys)
    return keys


def _read(
    raw: Mapping[str, str],
    secret_keys: Collection[str],
    stack: str,
    issues: Issues,
    keys: list[KeyDoc] | None = None,
) -> StackConfig:
    mapping = mapping_without_prefix(raw, f"{PROJECT}:")
    top = ObjectReader(PROJECT, mapping, issues, separator=":", keys=keys)

    cluster = read_object(top, "cluster", _cluster)
    cluster_type = None if issues.about(top.key("cluster") + ".type") else cluster.type
    namespace = top.text("namespace", REQUIRED, expected=NAMESPACE_EXPECTED, check=is_namespace)
    option_a = top.text(
        "optionA", _app_default("option_a", str), expected=OPTION_EXPECTED, check=is_option
    )
    option_b = top.text(
        "optionB", _app_default("option_b", str), expected=OPTION_EXPECTED, check=is_option
    )
    _check_options_differ(top, option_a, option_b)
    db_password = _db_password(top, secret_keys)
    spread = read_object(top, "spread", _spread)
    default_await = _app_default("service_await", ServiceAwait)
    awaited = top.choice("serviceAwait", default_await.value, [a.value for a in ServiceAwait])
    service_await = ServiceAwait(awaited) if awaited in set(ServiceAwait) else default_await
    node_ports = node_port_range(cluster_type) if cluster_type else None
    vote = read_object(top, "vote", lambda unit: _web_unit(unit, "vote", node_ports))
    result = read_object(top, "result", lambda unit: _web_unit(unit, "result", node_ports))
    worker = read_object(top, "worker", _worker)
    redis = read_object(top, "redis", _redis)
    db_args, notes = _db_with_notes(top, {"worker": worker, "result": result})
    if cluster.render_yaml_to is not None and cluster.render_secrets is RenderSecrets.REFERENCE:
        db_args = dataclasses.replace(db_args, credentials=Credentials.REFERENCED)
    notes += tuple(_rendering_notes(cluster, namespace))
    top.reject_unknown()
    _check_node_ports_unique(top, {"vote": vote, "result": result})
    if cluster_type is not None:
        _check_load_balancers(top, cluster_type, {"vote": vote, "result": result})

    return StackConfig(
        stack=stack,
        cluster=cluster,
        app=VotingAppArgs(
            namespace=namespace,
            db_password=db_password,
            option_a=option_a,
            option_b=option_b,
            node_address=cluster.node_address,
            cluster_type=cluster.type,
            spread=spread,
            service_await=service_await,
            vote=vote,
            result=result,
            worker=worker,
            redis=redis,
            db=db_args,
        ),
        notes=notes,
    )


def _app_default(name: str, kind: type[T]) -> T:
    return default_of(VotingAppArgs, name, kind)


# --- single values ----------------------------------------------------------------------------

_DNS_LABEL = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?", re.ASCII)
NAMESPACE_EXPECTED = (
    "a DNS label of the app's own: 1-63 lowercase ASCII letters, digits or '-', starting with a "
    f"letter, not {', '.join(RESERVED_NAMESPACES)} or another {RESERVED_PREFIX} name (Kubernetes "
    "runs there, and the app's default-deny NetworkPolicies would cut it off)"
)


def is_namespace(value: str) -> bool:
    return (
        _DNS_LABEL.fullmatch(value) is not None
        and value not in RESERVED_NAMESPACES
        and not value.startswith(RESERVED_PREFIX)
    )


OPTION_EXPECTED = "a text with a visible character and no control characters (a newline, a tab)"


def is_option(value: str) -> bool:
    return bool(value.strip()) and not any(unicodedata.category(c) == "Cc" for c in value)


def _check_options_differ(top: ObjectReader, option_a: str, option_b: str) -> None:
    if top.issues.about(top.key("optionA")) or top.issues.about(top.key("optionB")):
        return
    if option_a.strip().casefold() == option_b.strip().casefold():
        top.issues.add(
            top.key("optionB"),
            f"{describe(option_b)}, the same as optionA {describe(option_a)}",
            "a choice other than optionA's (ignoring case and surrounding spaces): the vote page "
            "could not tell the two apart",
        )


_HOST_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?", re.ASCII | re.IGNORECASE)
HOST_EXPECTED = (
    "a host name (ASCII letters, digits, '-' and '.', at most 253 characters) or an IPv4 or IPv6 "
    "address, without scheme, port or path"
)


def is_host(value: str) -> bool:
    """A DNS host name or an IP address, as a URL's host (no port, no zone index)."""
    if not value.isascii() or "%" in value:
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    labels = value.split(".")
    return (
        len(value) <= 253
        and all(_HOST_LABEL.fullmatch(label) for label in labels)
        # An all-digit last label is an IPv4 address gone wrong (300.1.1.1), not a name.
        and not labels[-1].isdigit()
    )


_DNS_SUBDOMAIN = re.compile(
    r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*", re.ASCII
)
STORAGE_CLASS_EXPECTED = (
    "a StorageClass name: lowercase ASCII letters, digits, '-' and '.', at most 253 characters"
)


def is_object_name(value: str) -> bool:
    return len(value) <= 253 and _DNS_SUBDOMAIN.fullmatch(value) is not None


# --- cluster ----------------------------------------------------------------------------------


def _cluster(reader: ObjectReader) -> ClusterConfig:
    type_name = reader.choice("type", REQUIRED, [t.value for t in ClusterType])
    cluster_type = ClusterType(type_name) if type_name in ClusterType._value2member_map_ else None
    name = reader.optional_text(
        "name",
        absent=default_names_described(),
        expected="the cluster's name (kind --name, a minikube profile)",
    )
    if name is not None and cluster_type is not None and cluster_type not in named_types():
        reader.issues.add(
            reader.key("name"),
            f"{describe(name)} with type {type_name}",
            "a name only with type " + " or ".join(str(kind) for kind in named_types()),
        )
    # With no valid type the default context is unknown: nothing to report of an absent one.
    default = (default_context(cluster_type, name) or REQUIRED) if cluster_type else ""
    context = reader.text(
        "context",
        default,
        expected="the name of a context in your kubeconfig (required for type cloud)",
        documented=default_contexts_described(),
    )
    kubeconfig = reader.optional_text(
        "kubeconfig",
        absent="$KUBECONFIG, or ~/.kube/config",
        expected="a path to a kubeconfig file",
    )
    node_address = reader.text(
        "nodeAddress", _app_default("node_address", str), expected=HOST_EXPECTED, check=is_host
    )
    render_yaml_to = reader.optional_text(
        "renderYamlTo",
        absent="unset: deploy to the cluster",
        expected="a directory to write manifests to instead of deploying",
    )
    return ClusterConfig(
        type=cluster_type or ClusterType.CLOUD,
        context=context,
        kubeconfig=kubeconfig,
        node_address=node_address,
        render_yaml_to=render_yaml_to,
        render_secrets=_render_secrets(reader, render_yaml_to),
    )


def _render_secrets(reader: ObjectReader, render_yaml_to: str | None) -> RenderSecrets:
    choices = [r.value for r in RenderSecrets]
    explicit = reader.has("renderSecrets")
    chosen = reader.choice("renderSecrets", RenderSecrets.REFERENCE.value, choices)
    if chosen not in choices:
        return RenderSecrets.REFERENCE
    rendering = render_yaml_to is not None or reader.issues.about(reader.key("renderYamlTo"))
    if explicit and not rendering:
        reader.issues.add(
            reader.key("renderSecrets"),
            f"{describe(chosen)} without renderYamlTo",
            "renderSecrets only with renderYamlTo: a deploy keeps the Secret's value encrypted "
            "in the state",
        )
    return RenderSecrets(chosen)


def _rendering_notes(cluster: ClusterConfig, namespace: str) -> list[str]:
    """What a render to files does with the db's Secret, said when the program runs."""
    if cluster.render_yaml_to is None:
        return []
    if cluster.render_secrets is RenderSecrets.PLAINTEXT:
        return [
            f"{PROJECT}:cluster.renderSecrets is plaintext: the Secret {db.SECRET_NAME} is "
            f"written into {cluster.render_yaml_to} with the db password in plain text (base64); "
            "keep those files as secret as the password itself."
        ]
    return [
        f"{PROJECT}:cluster.renderYamlTo: the Secret {db.SECRET_NAME} is not written (its value "
        "would be plain text in the files); the manifests refer to it. Create it in namespace "
        f"{namespace} before applying them, with the keys username ({db.USER}) and password: "
        f"kubectl create secret generic {db.SECRET_NAME} --namespace {namespace} "
        f"--from-literal=username={db.USER} --from-literal=password=..., or with your secrets "
        "operator. cluster.renderSecrets: plaintext writes it instead."
    ]


def _check_load_balancers(
    top: ObjectReader, cluster: ClusterType, units: Mapping[str, WebUnitArgs]
) -> None:
    """A LoadBalancer Service only where the cluster gives it an address."""
    problem = load_balancer_problem(cluster)
    for unit, args in units.items():
        if problem is not None and args.exposure.type is ExposureType.LOAD_BALANCER:
            top.issues.add(
                f"{top.key(unit)}.exposure.type",
                f'"LoadBalancer" (string) with cluster.type {cluster}',
                problem,
            )


def _db_password(top: ObjectReader, secret_keys: Collection[str]) -> pulumi.Output[str]:
    password = top.secret(
        "dbPassword",
        is_secret=f"{PROJECT}:dbPassword" in secret_keys,
        expected="a non-empty secret: pulumi config set --secret dbPassword <password>",
    )
    return pulumi.Output.secret(password)


# --- units ------------------------------------------------------------------------------------


def _image(reader: ObjectReader, default: str) -> str:
    return reader.text("image", default, expected=IMAGE_EXPECTED, check=is_pinned_image)


def _memory(reader: ObjectReader, name: str, default: str) -> str:
    return reader.text(
        name, default, expected=MEMORY_EXPECTED, check=lambda value: memory_bytes(value) is not None
    )


def _quantities(reader: ObjectReader, default: ComputeQuantities) -> ComputeQuantities:
    return ComputeQuantities(
        cpu=reader.text(
            "cpu",
            default.cpu,
            expected=CPU_EXPECTED,
            check=lambda value: cpu_millicores(value) is not None,
        ),
        memory=_memory(reader, "memory", default.memory),
    )


def _resources(reader: ObjectReader, default: Resources) -> Resources:
    requests = read_object(reader, "requests", lambda r: _quantities(r, default.requests))
    limits = read_object(reader, "limits", lambda r: _quantities(r, default.limits))
    for resource, size in (("cpu", cpu_millicores), ("memory", memory_bytes)):
        key = f"{reader.key('requests')}.{resource}"
        limit_key = f"{reader.key('limits')}.{resource}"
        if reader.issues.about(key) or reader.issues.about(limit_key):
            continue
        request, limit = getattr(requests, resource), getattr(limits, resource)
        if (size(request) or 0) > (size(limit) or 0):
            reader.issues.add(
                key,
                f"{request}, above limits.{resource} {limit}",
                "a request no larger than its limit",
            )
    return Resources(requests=requests, limits=limits)


def _scale(reader: ObjectReader, default: Scale) -> Scale:
    """`replicas`, or an `autoscaling` range: one or the other, never both."""
    fixed = reader.has("replicas")
    replicas = _replicas(reader, default if isinstance(default, int) else MIN_REPLICAS)
    autoscaling = optional_object(
        reader,
        "autoscaling",
        _autoscaling,
        expected="an object of the keys below, instead of replicas: a HorizontalPodAutoscaler "
        "sets the count",
        absent="off: replicas sets the count",
    )
    if autoscaling is None:
        return replicas
    if fixed:
        reader.issues.add(
            reader.key("replicas"),
            f"{describe(replicas)} together with autoscaling",
            "replicas or autoscaling, not both: the autoscaler sets the count between "
            "minReplicas and maxReplicas, and a fixed count would reset it on every update",
        )
    return autoscaling


def _replicas(reader: ObjectReader, default: int) -> int:
    return reader.integer("replicas", default, minimum=1, maximum=MAX_REPLICAS)


def _autoscaling(reader: ObjectReader) -> Autoscaling:
    low = reader.integer("minReplicas", MIN_REPLICAS, minimum=1, maximum=MAX_REPLICAS)
    high = reader.integer("maxReplicas", REQUIRED, minimum=1, maximum=MAX_REPLICAS)
    bad = reader.issues.about(reader.key("minReplicas")) or reader.issues.about(
        reader.key("maxReplicas")
    )
    if not bad and low > high:
        reader.issues.add(
            reader.key("minReplicas"),
            f"{describe(low)}, above maxReplicas {high}",
            "minReplicas no larger than maxReplicas",
        )
    return Autoscaling(
        min_replicas=low,
        max_replicas=max(low, high),
        cpu_utilization=reader.integer(
            "cpuUtilization",
            default_of(Autoscaling, "cpu_utilization", int),
            minimum=1,
            maximum=100,
        ),
        scale_down_stabilization_seconds=reader.integer(
            "scaleDownStabilizationSeconds",
            default_of(Autoscaling, "scale_down_stabilization_seconds", int),
            minimum=0,
            maximum=3600,
        ),
    )


SPREAD_OFF = "Off"


def _spread(reader: ObjectReader) -> Spread:
    choices = [*(w.value for w in WhenUnsatisfiable), SPREAD_OFF]
    defaults = _app_default("spread", Spread)

    def when(name: str, default: WhenUnsatisfiable | None) -> WhenUnsatisfiable | None:
        chosen = reader.choice(name, default.value if default else SPREAD_OFF, choices)
        return None if chosen == SPREAD_OFF else WhenUnsatisfiable(chosen)

    return Spread(
        hostname=when("hostname", defaults.hostname),
        zone=when("zone", defaults.zone),
        max_skew=reader.integer("maxSkew", defaults.max_skew, minimum=1, maximum=MAX_REPLICAS),
    )


SOURCE_RANGES_EXPECTED = (
    "a non-empty list of distinct CIDRs, each " + SOURCE_RANGE_EXPECTED + "; only with type "
    "LoadBalancer"
)


def _exposure(
    reader: ObjectReader, default: Exposure, node_ports: tuple[int, int] | None
) -> Exposure:
    choices = [t.value for t in ExposureType if t is not ExposureType.NONE]
    type_name = reader.choice("type", default.type.value, choices)
    exposure_type = ExposureType(type_name)
    exposure = Exposure(
        type=exposure_type,
        node_port=reader.optional_integer(
            "nodePort",
            minimum=1,
            maximum=65535,
            absent="allocated by the cluster",
        ),
        source_ranges=reader.optional_texts(
            "sourceRanges",
            absent="every source",
            expected=SOURCE_RANGES_EXPECTED,
            problem=source_range_problem,
        )
        or (),
    )
    if reader.issues.about(reader.key("type")):
        return Exposure(type=exposure.type)
    problem = node_port_problem(exposure, node_ports)
    if problem is not None:
        reader.issues.add(
            reader.key("nodePort"), f"{exposure.node_port} (number) with type {type_name}", problem
        )
        exposure = dataclasses.replace(exposure, node_port=None)
    if exposure.source_ranges and exposure.type is not ExposureType.LOAD_BALANCER:
        reader.issues.add(
            reader.key("sourceRanges"),
            f"{describe(list(exposure.source_ranges))} with type {type_name}",
            "sourceRanges only with type LoadBalancer: the load balancer enforces them",
        )
        exposure = dataclasses.replace(exposure, source_ranges=())
    return exposure


_PULL_POLICY_ABSENT = "Kubernetes' own: IfNotPresent for an image pinned to a tag or digest"


def _pull_policy(reader: ObjectReader) -> PullPolicy | None:
    chosen = reader.optional_choice(
        "imagePullPolicy", [p.value for p in PullPolicy], absent=_PULL_POLICY_ABSENT
    )
    return PullPolicy(chosen) if chosen else None


def _web_unit(reader: ObjectReader, unit: str, node_ports: tuple[int, int] | None) -> WebUnitArgs:
    default = _app_default(unit, WebUnitArgs)
    return WebUnitArgs(
        image=_image(reader, default.image),
        image_pull_policy=_pull_policy(reader),
        replicas=_scale(reader, default.replicas),
        resources=read_object(reader, "resources", lambda r: _resources(r, default.resources)),
        exposure=read_object(
            reader, "exposure", lambda exposure: _exposure(exposure, default.exposure, node_ports)
        ),
    )


def _worker(reader: ObjectReader) -> WorkerArgs:
    default = _app_default("worker", WorkerArgs)
    return WorkerArgs(
        image=_image(reader, default.image),
        image_pull_policy=_pull_policy(reader),
        replicas=_replicas(reader, default.replicas),
        resources=read_object(reader, "resources", lambda r: _resources(r, default.resources)),
    )


def _redis(reader: ObjectReader) -> RedisArgs:
    default = _app_default("redis", RedisArgs)
    return RedisArgs(
        image=_image(reader, default.image),
        image_pull_policy=_pull_policy(reader),
        resources=read_object(reader, "resources", lambda r: _resources(r, default.resources)),
        persistence=optional_object(
            reader,
            "persistence",
            _redis_persistence,
            expected="an object of the keys below: an append-only file on a claim (redis-data)",
            absent="off: the queue is in memory and dies with the pod",
        ),
    )


def _storage_class(reader: ObjectReader) -> str | None:
    """A claim's `storageClass`, or None for the cluster's default."""
    return reader.optional_text(
        "storageClass",
        absent="the cluster's default StorageClass",
        expected=STORAGE_CLASS_EXPECTED,
        check=is_object_name,
    )


def _redis_persistence(reader: ObjectReader) -> RedisPersistence:
    default = RedisPersistence()
    # A value not allowed is reported, and the default stands in.
    fsync = reader.choice("fsync", default.fsync.value, [f.value for f in AppendFsync])
    return RedisPersistence(
        size=_memory(reader, "size", default.size),
        storage_class=_storage_class(reader),
        fsync=AppendFsync(fsync),
    )


# --- db ---------------------------------------------------------------------------------------


def _storage(reader: ObjectReader) -> DbStorage:
    default = default_of(DbArgs, "storage", DbStorage)
    choices = [t.value for t in StorageType]
    type_name = reader.choice("type", default.type.value, choices)
    storage_type = StorageType(type_name)
    size = _memory(reader, "size", default.size)
    storage_class = _storage_class(reader)
    claim = storage_type is StorageType.PERSISTENT_VOLUME_CLAIM
    type_known = not reader.issues.about(reader.key("type"))
    if storage_class is not None and type_known and not claim:
        reader.issues.add(
            reader.key("storageClass"),
            f'"{storage_class}" (string) with type {type_name}',
            "storageClass only with type persistentVolumeClaim",
        )
    retain = reader.boolean("retainOnDelete", default.retain_on_delete)
    if retain and type_known and not claim:
        reader.issues.add(
            reader.key("retainOnDelete"),
            f"true with type {type_name}",
            "retainOnDelete only with type persistentVolumeClaim: an emptyDir goes with its pod",
        )
    return DbStorage(
        type=storage_type, size=size, storage_class=storage_class, retain_on_delete=retain
    )


CLIENT_AUTH_DEFAULT = (
    "the strongest method that the worker and result images can log in with: scram-sha-256, "
    "or trust with the stock images, which can do nothing else"
)


def _db_with_notes(
    top: ObjectReader, peers: Mapping[str, WorkerArgs | WebUnitArgs]
) -> tuple[DbArgs, tuple[str, ...]]:
    notes: list[str] = []
    db = read_object(top, "db", lambda reader: _db(reader, peers, notes))
    return db, tuple(notes)


def _db(
    reader: ObjectReader, peers: Mapping[str, WorkerArgs | WebUnitArgs], notes: list[str]
) -> DbArgs:
    default = _app_default("db", DbArgs)
    # Only images that were read: a refused one's placeholder says nothing of the stack.
    images = {
        unit: args.image
        for unit, args in peers.items()
        if not reader.issues.about(f"{PROJECT}:{unit}.image")
    }
    image = _image(reader, default.image)
    image_pull_policy = _pull_policy(reader)
    resources = read_object(reader, "resources", lambda r: _resources(r, default.resources))
    storage = read_object(reader, "storage", _storage)
    clients = db_client_images(images)
    derived = default_client_auth(clients)
    explicit = reader.has("clientAuth")
    choices = [a.value for a in ClientAuth]
    auth = reader.choice("clientAuth", derived.value, choices, documented=CLIENT_AUTH_DEFAULT)
    client_auth = ClientAuth(auth) if auth in choices else derived
    if explicit and auth in choices:
        _check_db_clients(reader, client_auth, clients)
    elif not explicit and derived is not next(iter(ClientAuth)):
        notes.append(_weaker_default_note(derived, clients))
    workloads = [w.value for w in DbWorkload]
    workload = reader.choice("workload", default.workload.value, workloads)
    backup = optional_object(
        reader,
        "backup",
        _db_backup,
        expected="an object of the keys below: pg_dump on a schedule into a claim (db-backup-data)",
        absent="off: no backups",
    )
    return DbArgs(
        image=image,
        image_pull_policy=image_pull_policy,
        resources=resources,
        storage=storage,
        client_auth=client_auth,
        workload=DbWorkload(workload),
        backup=backup,
    )


def _db_backup(reader: ObjectReader) -> DbBackup:
    default = DbBackup()
    return DbBackup(
        schedule=reader.text(
            "schedule",
            default.schedule,
            expected=CRON_EXPECTED,
            check=lambda schedule: schedule_problem(schedule) is None,
        ),
        keep=reader.integer("keep", default.keep, minimum=1, maximum=MOST_BACKUPS_KEPT),
        size=_memory(reader, "size", default.size),
        storage_class=_storage_class(reader),
    )


def _weaker_default_note(auth: ClientAuth, clients: Mapping[str, str]) -> str:
    strongest = next(iter(ClientAuth))
    unable = [problem.unit for problem in client_auth_problems(strongest, clients)]
    images = " and ".join(f"{PROJECT}:{unit}.image {clients[unit]}" for unit in unable)
    return (
        f"{PROJECT}:db.clientAuth is not set: the db uses {auth.value}, the strongest method "
        f"that {images} can log in with ({strongest.value} needs clients that do it). Only the "
        "units the traffic graph lets dial the db reach it; set db.clientAuth to say so "
        "explicitly, or use images whose Postgres client does scram-sha-256."
    )


def _check_db_clients(db: ObjectReader, auth: ClientAuth, images: Mapping[str, str]) -> None:
    """db.clientAuth must be one that every known client image of the db can log in with: one
    problem naming every image that cannot."""
    problems = client_auth_problems(auth, images)
    if not problems:
        return
    allowed = set.intersection(*(set(problem.client.can_use) for problem in problems))
    methods = " or ".join(a.value for a in ClientAuth if a in allowed) or "no method at all"
    unable = "; ".join(
        f"{PROJECT}:{problem.unit}.image {problem.image} ({problem.client.why})"
        for problem in problems
    )
    db.issues.add(
        db.key("clientAuth"),
        describe(auth.value),
        f"{methods}, the only method that these images can log in with: {unable}; or images "
        f"whose Postgres client does {auth.value}",
    )


def _check_node_ports_unique(top: ObjectReader, units: Mapping[str, WebUnitArgs]) -> None:
    owners: dict[int, str] = {}
    for unit, args in units.items():
        port = args.exposure.node_port
        if port is None:
            continue
        key = f"{top.key(unit)}.exposure.nodePort"
        if port in owners:
            top.issues.add(
                key, f"{port} (number), already used by {owners[port]}", "a unique node port"
            )
        else:
            owners[port] = key
