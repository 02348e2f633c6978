"""What the app's pods share: the writable /tmp, how the data stores run, the probes' shapes, and
the scanner findings the stock images rule out (each with its reason)."""

from __future__ import annotations

from components.units.specs import EmptyDirVolume, Exec, Probe, SecurityProfile

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


def exec_probe(command: tuple[str, ...], failure_threshold: int) -> Probe:
    return Probe(check=Exec(command), period_seconds=10, failure_threshold=failure_threshold)
