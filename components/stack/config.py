"""The stack config, parsed once into frozen dataclasses, with every problem reported together.

Keys are declared with type, description and default in `Pulumi.yaml`; this module enforces what
a JSON schema cannot: pinned images, quantities, port ranges and uniqueness, no unknown keys.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import pulumi
import pulumi.runtime.config

from components.app.args import (
    DEFAULT_IMAGES,
    DbArgs,
    DbStorage,
    DbWorkload,
    RedisArgs,
    StorageType,
    VotingAppArgs,
    WebUnitArgs,
    WorkerArgs,
)
from components.app.db import DEFAULT_CLIENT_AUTH, ClientAuth
from components.app.db_clients import client_auth_problems, db_client_images
from components.cluster.kubeconfig import missing_context
from components.cluster.target import (
    ClusterConfig,
    ClusterType,
    default_context,
    load_balancer_problem,
    named_types,
    node_port_range,
)
from components.stack.reader import (
    REQUIRED,
    Issues,
    ObjectReader,
    describe,
    mapping_without_prefix,
    optional_object,
    read_object,
)
from components.units.quantities import cpu_millicores, is_pinned_image, memory_bytes
from components.units.specs import (
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
)

PROJECT = "voting-app"
MAX_REPLICAS = 50
IMAGE_EXPECTED = "an image pinned to a tag or digest, e.g. redis:7.2.5-alpine (not :latest)"


@dataclass(frozen=True)
class StackConfig:
    """Everything one stack says: which cluster, and what to deploy there."""

    stack: str
    cluster: ClusterConfig
    app: VotingAppArgs


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
    top = ObjectReader(PROJECT, mapping_without_prefix(raw, f"{PROJECT}:"), issues, separator=":")

    cluster = read_object(top, "cluster", _cluster)
    namespace = top.text("namespace", REQUIRED, expected=_DNS_LABEL_EXPECTED, check=_is_dns_label)
    option_a = top.text("optionA", "Cats")
    option_b = top.text("optionB", "Dogs")
    db_password = _db_password(top, secret_keys)
    spread = read_object(top, "spread", _spread)
    awaited = top.choice("serviceAwait", ServiceAwait.ENDPOINTS, [a.value for a in ServiceAwait])
    # A value not allowed is reported (above); the default stands in until the report is raised.
    service_await = (
        ServiceAwait(awaited) if awaited in set(ServiceAwait) else ServiceAwait.ENDPOINTS
    )
    node_ports = node_port_range(cluster.type)
    vote = read_object(top, "vote", lambda unit: _web_unit(unit, "vote", node_ports))
    result = read_object(top, "result", lambda unit: _web_unit(unit, "result", node_ports))
    worker = read_object(top, "worker", _worker)
    redis = read_object(top, "redis", _redis)
    db = read_object(top, "db", lambda unit: _db(unit, {"worker": worker, "result": result}))
    top.reject_unknown()
    _check_node_ports_unique(top, {"vote": vote, "result": result})
    _check_load_balancers(top, cluster.type, {"vote": vote, "result": result})

    issues.raise_if_any()
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
            db=db,
        ),
    )


_DNS_LABEL_EXPECTED = "a DNS label: 1-63 lowercase letters, digits or '-', starting with a letter"


def _is_dns_label(value: str) -> bool:
    return (
        0 < len(value) <= 63
        and value[0].isalpha()
        and value[-1] != "-"
        and all(c.islower() or c.isdigit() or c == "-" for c in value)
    )


def _cluster(reader: ObjectReader) -> ClusterConfig:
    type_name = reader.choice("type", REQUIRED, [t.value for t in ClusterType])
    cluster_type = ClusterType(type_name) if type_name in ClusterType._value2member_map_ else None
    name = reader.optional_text(
        "name", expected="the cluster's name (kind --name, a minikube profile)"
    )
    if name is not None and cluster_type is not None and cluster_type not in named_types():
        reader.issues.add(
            reader.key("name"),
            f"{describe(name)} with type {type_name}",
            "a name only with type " + " or ".join(str(kind) for kind in named_types()),
        )
    default = default_context(cluster_type, name) if cluster_type else None
    context = reader.text(
        "context",
        default or REQUIRED,
        expected="the name of a context in your kubeconfig (required for type cloud)",
    )
    return ClusterConfig(
        type=cluster_type or ClusterType.CLOUD,
        context=context,
        kubeconfig=reader.optional_text("kubeconfig", expected="a path to a kubeconfig file"),
        node_address=reader.text(
            "nodeAddress", "localhost", expected="a host name or IP address of a node"
        ),
        render_yaml_to=reader.optional_text(
            "renderYamlTo", expected="a directory to write manifests to"
        ),
    )


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


def _image(reader: ObjectReader, unit: str) -> str:
    return reader.text(
        "image", DEFAULT_IMAGES[unit], expected=IMAGE_EXPECTED, check=is_pinned_image
    )


def _quantities(
    reader: ObjectReader, default: ComputeQuantities
) -> tuple[ComputeQuantities, dict[str, float | None]]:
    cpu = reader.text(
        "cpu",
        default.cpu,
        expected="a positive cpu quantity such as 250m or 1",
        check=lambda value: cpu_millicores(value) is not None,
    )
    memory = reader.text(
        "memory",
        default.memory,
        expected="a positive memory quantity such as 128Mi or 1Gi",
        check=lambda value: memory_bytes(value) is not None,
    )
    return ComputeQuantities(cpu=cpu, memory=memory), {
        "cpu": cpu_millicores(cpu),
        "memory": memory_bytes(memory),
    }


def _resources(reader: ObjectReader) -> Resources:
    defaults = Resources()
    requests_reader = reader.child("requests")
    requests, requested = _quantities(requests_reader, defaults.requests)
    requests_reader.reject_unknown()
    limits_reader = reader.child("limits")
    limits, limited = _quantities(limits_reader, defaults.limits)
    limits_reader.reject_unknown()
    for resource in ("cpu", "memory"):
        request, limit = requested[resource], limited[resource]
        if request is not None and limit is not None and request > limit:
            reader.issues.add(
                requests_reader.key(resource),
                f"{getattr(requests, resource)}, above limits.{resource} "
                f"{getattr(limits, resource)}",
                "a request no larger than its limit",
            )
    return Resources(requests=requests, limits=limits)


def _replicas(reader: ObjectReader, default: int) -> int:
    return reader.integer("replicas", default, minimum=1, maximum=MAX_REPLICAS)


def _scale(reader: ObjectReader) -> Scale:
    """`replicas`, or an `autoscaling` range: one or the other, never both."""
    fixed = reader.has("replicas")
    replicas = _replicas(reader, 1)
    autoscaling = optional_object(reader, "autoscaling", _autoscaling)
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


def _autoscaling(reader: ObjectReader) -> Autoscaling:
    found = len(reader.issues.found)
    low = reader.integer("minReplicas", 1, minimum=1, maximum=MAX_REPLICAS)
    high = reader.integer("maxReplicas", REQUIRED, minimum=1, maximum=MAX_REPLICAS)
    if len(reader.issues.found) == found and low > high:
        reader.issues.add(
            reader.key("minReplicas"),
            f"{describe(low)}, above maxReplicas {high}",
            "minReplicas no larger than maxReplicas",
        )
    return Autoscaling(
        min_replicas=low,
        max_replicas=max(low, high),
        cpu_utilization=reader.integer("cpuUtilization", 70, minimum=1, maximum=100),
        scale_down_stabilization_seconds=reader.integer(
            "scaleDownStabilizationSeconds", 300, minimum=0, maximum=3600
        ),
    )


SPREAD_OFF = "Off"


def _spread(reader: ObjectReader) -> Spread:
    choices = [*(w.value for w in WhenUnsatisfiable), SPREAD_OFF]

    def when(name: str, default: WhenUnsatisfiable | None) -> WhenUnsatisfiable | None:
        chosen = reader.choice(name, default.value if default else SPREAD_OFF, choices)
        return None if chosen == SPREAD_OFF else WhenUnsatisfiable(chosen)

    defaults = Spread()
    return Spread(
        hostname=when("hostname", defaults.hostname),
        zone=when("zone", defaults.zone),
        max_skew=reader.integer("maxSkew", defaults.max_skew, minimum=1, maximum=MAX_REPLICAS),
    )


def _exposure(reader: ObjectReader, node_ports: tuple[int, int]) -> Exposure:
    choices = [t.value for t in ExposureType if t is not ExposureType.NONE]
    type_name = reader.choice("type", ExposureType.NODE_PORT.value, choices)
    exposure = Exposure(
        type=ExposureType(type_name),
        node_port=reader.optional_integer("nodePort", minimum=1, maximum=65535),
    )
    problem = node_port_problem(exposure, node_ports)
    if problem is not None:
        reader.issues.add(
            reader.key("nodePort"), f"{exposure.node_port} (number) with type {type_name}", problem
        )
        return Exposure(type=exposure.type)
    return exposure


def _pull_policy(reader: ObjectReader) -> PullPolicy | None:
    chosen = reader.optional_choice("imagePullPolicy", [p.value for p in PullPolicy])
    return PullPolicy(chosen) if chosen and chosen in PullPolicy._value2member_map_ else None


def _web_unit(reader: ObjectReader, unit: str, node_ports: tuple[int, int]) -> WebUnitArgs:
    return WebUnitArgs(
        image=_image(reader, unit),
        image_pull_policy=_pull_policy(reader),
        replicas=_scale(reader),
        resources=read_object(reader, "resources", _resources),
        exposure=read_object(reader, "exposure", lambda exposure: _exposure(exposure, node_ports)),
    )


def _worker(reader: ObjectReader) -> WorkerArgs:
    return WorkerArgs(
        image=_image(reader, "worker"),
        image_pull_policy=_pull_policy(reader),
        replicas=_replicas(reader, 1),
        resources=read_object(reader, "resources", _resources),
    )


def _redis(reader: ObjectReader) -> RedisArgs:
    return RedisArgs(
        image=_image(reader, "redis"),
        image_pull_policy=_pull_policy(reader),
        resources=read_object(reader, "resources", _resources),
    )


def _storage(reader: ObjectReader) -> DbStorage:
    type_name = reader.choice("type", StorageType.EMPTY_DIR.value, [t.value for t in StorageType])
    storage_type = StorageType(type_name)
    size = reader.text(
        "size",
        DbStorage().size,
        expected="a positive memory quantity such as 1Gi",
        check=lambda value: memory_bytes(value) is not None,
    )
    storage_class = reader.optional_text("storageClass", expected="a StorageClass name")
    claim = storage_type is StorageType.PERSISTENT_VOLUME_CLAIM
    if storage_class is not None and not claim:
        reader.issues.add(
            reader.key("storageClass"),
            f'"{storage_class}" (string) with type {type_name}',
            "storageClass only with type persistentVolumeClaim",
        )
    retain = reader.boolean("retainOnDelete", DbStorage().retain_on_delete)
    if retain and not claim:
        reader.issues.add(
            reader.key("retainOnDelete"),
            f"true with type {type_name}",
            "retainOnDelete only with type persistentVolumeClaim: an emptyDir goes with its pod",
        )
    return DbStorage(
        type=storage_type, size=size, storage_class=storage_class, retain_on_delete=retain
    )


def _db(reader: ObjectReader, peers: Mapping[str, WorkerArgs | WebUnitArgs]) -> DbArgs:
    explicit = reader.has("clientAuth")
    auth = reader.choice("clientAuth", DEFAULT_CLIENT_AUTH.value, [a.value for a in ClientAuth])
    client_auth = ClientAuth(auth) if auth in ClientAuth._value2member_map_ else None
    if client_auth is not None:
        images = {unit: args.image for unit, args in peers.items()}
        _check_db_clients(reader, client_auth, explicit, images)
    return DbArgs(
        image=_image(reader, "db"),
        image_pull_policy=_pull_policy(reader),
        resources=read_object(reader, "resources", _resources),
        storage=read_object(reader, "storage", _storage),
        client_auth=client_auth or DEFAULT_CLIENT_AUTH,
        workload=DbWorkload(
            reader.choice("workload", DbWorkload.DEPLOYMENT.value, [w.value for w in DbWorkload])
        ),
    )


def _check_db_clients(
    db: ObjectReader, auth: ClientAuth, explicit: bool, images: Mapping[str, str]
) -> None:
    """db.clientAuth must be one that every known client image of the db can log in with."""
    for problem in client_auth_problems(auth, db_client_images(images)):
        given = describe(auth.value) + ("" if explicit else ", the default when unset")
        db.issues.add(
            db.key("clientAuth"),
            given,
            f"{problem.allowed()}, the only method {PROJECT}:{problem.unit}.image "
            f"{problem.image} can log in with ({problem.client.why}); or an image whose "
            f"Postgres client does {auth.value}",
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
