"""redis's own: where it keeps the vote queue. By default in memory (an emptyDir at /data), so
votes the worker has not taken yet die with the pod; with `RedisPersistence`, in an append-only
file on a claim, read back when a new pod starts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from components.units.specs import ClaimVolume, EmptyDirVolume, Volume

DATA_PATH = "/data"


class AppendFsync(StrEnum):
    """When redis forces its append-only file to the disk (its `appendfsync`). redis writes every
    command to the file before it answers, so a crash of redis (a killed or deleted pod) loses
    nothing it accepted either way; the choice is what a crash of the node itself may lose."""

    # Once a second, in the background: a node crash loses at most the last second or two.
    EVERYSEC = "everysec"
    # Before answering each write: a node crash loses nothing accepted; each write waits for the
    # disk.
    ALWAYS = "always"


@dataclass(frozen=True)
class RedisPersistence:
    """An append-only file on the claim `redis-data`, so that the queue outlives the pod.

    size: default 1Gi (the claim's size). storage_class: default None, the cluster's default
      StorageClass.
    fsync: default everysec (AppendFsync says what each can lose).
    """

    size: str = "1Gi"
    storage_class: str | None = None
    fsync: AppendFsync = AppendFsync.EVERYSEC


def data_volume(persistence: RedisPersistence | None) -> Volume:
    if persistence is None:
        return EmptyDirVolume(name="data", mount_path=DATA_PATH)
    return ClaimVolume(
        name="data",
        mount_path=DATA_PATH,
        size=persistence.size,
        storage_class=persistence.storage_class,
    )


def server_args(persistence: RedisPersistence | None) -> tuple[str, ...]:
    """redis-server's options, none to keep the image's own. Options only (they start with
    `--`): the official image's entrypoint puts `redis-server` in front of them, and an image
    whose entrypoint is redis-server takes them as they are. Protected mode is off as in the
    official image (which builds it so): the NetworkPolicies decide who reaches redis."""
    if persistence is None:
        return ()
    return (
        "--appendonly",
        "yes",
        "--appendfsync",
        persistence.fsync.value,
        "--dir",
        DATA_PATH,
        "--protected-mode",
        "no",
    )
