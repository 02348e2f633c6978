"""The typed inputs of VotingApp: what may differ between stacks, per unit (the db's own are in
components/app/db.py, re-exported here).

Defaults here are the documented defaults of the stack config (`Pulumi.yaml`, the README's
configuration reference).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.app import db
from components.app.db import Credentials, DbArgs, DbBackup, DbStorage, DbWorkload, StorageType
from components.app.redis import AppendFsync, RedisPersistence
from components.cluster.target import ClusterType
from components.units.specs import (
    DEFAULT_NODE_ADDRESS,
    ComputeQuantities,
    Exposure,
    ExposureType,
    PullPolicy,
    Resources,
    Scale,
    ServiceAwait,
    Spread,
)

DEFAULT_IMAGES = {
    "vote": "kodekloud/examplevotingapp_vote:v1",
    "result": "kodekloud/examplevotingapp_result:v1",
    "worker": "kodekloud/examplevotingapp_worker:v1",
    "redis": "redis:7.2.5-alpine",
    "db": db.IMAGE,
}


# The web units' default: the upstream vote app (gunicorn, 4 workers) was measured at 117 MB
# resident (124 MB at its peak) under load, too close to a 128Mi limit.
WEB_RESOURCES = Resources(
    requests=ComputeQuantities(cpu="50m", memory="128Mi"),
    limits=ComputeQuantities(cpu="250m", memory="256Mi"),
)


@dataclass(frozen=True)
class WebUnitArgs:
    """vote or result: a web front end.

    image: default the course's `kodekloud/examplevotingapp_<unit>:v1`.
    image_pull_policy: default None, Kubernetes' own (IfNotPresent for a pinned tag).
    replicas: a fixed count, or an `Autoscaling` range (a HorizontalPodAutoscaler on cpu);
      default 1. resources: default `WEB_RESOURCES` (50m/128Mi requested, 250m/256Mi limit).
    exposure: default NodePort with an allocated port.
    """

    image: str
    image_pull_policy: PullPolicy | None = None
    replicas: Scale = 1
    resources: Resources = WEB_RESOURCES
    exposure: Exposure = Exposure(type=ExposureType.NODE_PORT)


@dataclass(frozen=True)
class WorkerArgs:
    """worker: moves votes from redis to db; no port. replicas: default 1.
    image_pull_policy: default None, Kubernetes' own (IfNotPresent for a pinned tag)."""

    image: str = DEFAULT_IMAGES["worker"]
    image_pull_policy: PullPolicy | None = None
    replicas: int = 1
    resources: Resources = Resources()


@dataclass(frozen=True)
class RedisArgs:
    """redis: the vote queue, one pod.
    image_pull_policy: default None, Kubernetes' own (IfNotPresent for a pinned tag).
    persistence: default None, the queue in memory (an emptyDir at /data): votes the worker has
      not taken yet die with the pod. `RedisPersistence`: an append-only file on a claim, read
      back by the next pod (components/app/redis.py).
    """

    image: str = DEFAULT_IMAGES["redis"]
    image_pull_policy: PullPolicy | None = None
    resources: Resources = Resources()
    persistence: RedisPersistence | None = None


@dataclass(frozen=True)
class VotingAppArgs:
    """The whole voting app of one stack.

    namespace: created by the app; every object lives in it (required).
    db_password: the Postgres password, a secret Output (required). Clients must present it
      unless db.client_auth is trust.
    option_a / option_b: the two choices vote shows; default Cats / Dogs.
    node_address: host used in NodePort URLs; default `localhost`.
    cluster_type: what kind of cluster the stack targets, recorded as the namespace label
      `voting-app/cluster-type` (the policy pack allows LoadBalancers only on `cloud`);
      default kwok.
    spread: how the pods of units that can run more than one spread over nodes and zones;
      default `Spread()` (prefer other nodes, never block scheduling for it).
    service_await: what `pulumi up` waits for on every unit's Service; default
      `ServiceAwait.ENDPOINTS` (the provider's own wait).
    """

    namespace: str
    db_password: pulumi.Output[str]
    option_a: str = "Cats"
    option_b: str = "Dogs"
    node_address: str = DEFAULT_NODE_ADDRESS
    cluster_type: ClusterType = ClusterType.KWOK
    spread: Spread = Spread()
    service_await: ServiceAwait = ServiceAwait.ENDPOINTS
    vote: WebUnitArgs = WebUnitArgs(image=DEFAULT_IMAGES["vote"])
    result: WebUnitArgs = WebUnitArgs(image=DEFAULT_IMAGES["result"])
    worker: WorkerArgs = WorkerArgs()
    redis: RedisArgs = RedisArgs()
    db: DbArgs = DbArgs()


def unit_images(args: VotingAppArgs) -> dict[str, str]:
    """The image of every unit, by unit name."""
    return {
        "vote": args.vote.image,
        "result": args.result.image,
        "worker": args.worker.image,
        "redis": args.redis.image,
        "db": args.db.image,
    }


__all__ = [
    "DEFAULT_IMAGES",
    "AppendFsync",
    "Credentials",
    "DbArgs",
    "DbBackup",
    "DbStorage",
    "DbWorkload",
    "RedisArgs",
    "RedisPersistence",
    "StorageType",
    "VotingAppArgs",
    "WebUnitArgs",
    "WorkerArgs",
    "unit_images",
]
