"""What the app's pods share: the writable /tmp, how the data stores run, the probes' shapes, and
the scanner findings the stock images rule out (each with its reason)."""

from __future__ import annotations

from components.units.specs import (
    EmptyDirVolume,
    Exec,
    Probe,
    PullPolicy,
    SecurityProfile,
    default_pull_policy,
)

# The official redis and postgres images support running as an arbitrary uid; fsGroup makes
# their data volume writable for it. A high uid cannot collide with a host user.
DATA_STORE_UID = 10999
DATA_STORE_SECURITY = SecurityProfile(
    run_as_user=DATA_STORE_UID,
    run_as_group=DATA_STORE_UID,
    fs_group=DATA_STORE_UID,
    run_as_non_root=True,
)

# gunicorn (vote) keeps its worker heartbeat files and CoreCLR (worker) its IPC files in /tmp,
# and postgres its sockets' lock files: each unit keeps a writable /tmp on a read-only root.
TMP = EmptyDirVolume(name="tmp", mount_path="/tmp", size_limit="64Mi")

PINNED_BY_TAG = (
    "images are pinned to a tag by stack config, which refuses :latest and untagged images; "
    "a digest (image@sha256:...) is accepted there too"
)
DATA_STORE_SCAN_EXCEPTIONS = {"CKV_K8S_43": PINNED_BY_TAG}
NOT_ALWAYS_PULLED = (
    "a pinned tag or digest is pulled once per node (Kubernetes' own default, IfNotPresent): a "
    "node reuses what it pulled, and an image loaded by hand (kind load) starts without a "
    "registry; set <unit>.imagePullPolicy Always to ask the registry on every start"
)


def pull_policy_exceptions(image: str, policy: PullPolicy | None) -> dict[str, str]:
    """checkov's image-pull check (Always, or it fails) where the unit's policy is not Always."""
    effective = policy or default_pull_policy(image)
    return {} if effective is PullPolicy.ALWAYS else {"CKV_K8S_15": NOT_ALWAYS_PULLED}


def exec_probe(command: tuple[str, ...], failure_threshold: int) -> Probe:
    return Probe(check=Exec(command), period_seconds=10, failure_threshold=failure_threshold)
