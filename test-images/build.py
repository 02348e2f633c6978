"""Builds the local cluster's test images without a registry of anyone else's, and pushes them to
the local one (real-node/registry).

Each image is written as an OCI image layout (layers, config, manifest) and pushed with crane.
Its tag is its version plus a hash of everything that goes into it, so a rebuild with nothing
changed finds the tag already in the registry and does nothing, and a change gets a new tag (and
so a rollout). The Debian root filesystem shared by redis, db and the stand-ins is built once by
mmdebstrap from Debian's packages and cached by its package list.

    build.py [--registry HOST:PORT] [NAME ...]   build (or find) the images; print NAME=REF lines
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = Path(os.environ["VOTING_APP_CACHE"]) / "images"
REPOSITORY = "voting-app-test"

# Debian 12's packages; the suite of the machine's own apt sources.
SUITE = "bookworm"
ROOTFS_PACKAGES = ("redis-server", "postgresql-15", "libnss-wrapper", "python3")
# The postgresql package's own cluster and the docs are not part of an image.
ROOTFS_HOOK = "rm -rf $1/var/lib/postgresql/15 $1/etc/postgresql/15 $1/usr/share/doc/*"
APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))

PG_BIN = "/usr/lib/postgresql/15/bin"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STANDIN_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PATH": DEFAULT_PATH}
FIXTURES = HERE / "fixtures"


@dataclass(frozen=True)
class Image:
    """One test image. base: "rootfs" (the Debian base) or "scratch". files: path in the image ->
    a file here (or a function that produces it); dirs: empty directories to create."""

    name: str
    version: str
    base: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...] = ()
    files: Mapping[str, Callable[[], Path]] = field(default_factory=dict)
    dirs: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: {"PATH": DEFAULT_PATH})
    workdir: str = "/"
    user: str = ""
    stop_signal: str = "SIGTERM"


def source(path: Path) -> Callable[[], Path]:
    return lambda: path


def built_tool(tool: str, binary: str) -> Callable[[], Path]:
    """A binary of the Go-built toolchain (its directory is passed in the environment)."""
    return lambda: Path(os.environ[f"VOTING_APP_{tool.upper().replace('-', '_')}_BIN"]) / binary


def standin(unit: str) -> Image:
    modules = ("pgwire.py", "resp.py", "web.py", f"{unit}.py")
    return Image(
        name=unit,
        version="fixture",
        base="rootfs",
        entrypoint=("python3", f"/app/{unit}.py"),
        files={f"/app/{module}": source(FIXTURES / module) for module in modules},
        env=STANDIN_ENV,
        workdir="/app",
    )


IMAGES: dict[str, Image] = {
    image.name: image
    for image in (
        Image(
            name="pause",
            version="3.10",
            base="scratch",
            entrypoint=("/pause",),
            files={"/pause": built_tool("pause", "pause")},
            user="65535:65535",
        ),
        Image(
            name="coredns",
            version="1.14.7",
            base="scratch",
            entrypoint=("/coredns",),
            files={"/coredns": built_tool("coredns", "coredns")},
        ),
        Image(
            name="redis",
            version="7.0.15",
            base="rootfs",
            # As the official image does without a config file: every address, no protected mode.
            entrypoint=("redis-server",),
            cmd=("--protected-mode", "no", "--dir", "/data"),
            dirs=("/data",),
            workdir="/data",
        ),
        Image(
            name="db",
            version="15",
            base="rootfs",
            entrypoint=("docker-entrypoint.sh",),
            cmd=("postgres",),
            files={"/usr/local/bin/docker-entrypoint.sh": source(HERE / "db/docker-entrypoint.sh")},
            dirs=("/docker-entrypoint-initdb.d", "/var/lib/postgresql/data", "/var/run/postgresql"),
            env={"PATH": f"{PG_BIN}:{DEFAULT_PATH}", "PGDATA": "/var/lib/postgresql/data"},
            # As the official image: a fast shutdown, which does not wait for clients to leave.
            stop_signal="SIGINT",
        ),
        standin("vote"),
        standin("worker"),
        standin("result"),
    )
}


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the NAME=REFERENCE lines."""
    print(f"==> {message}", file=sys.stderr, flush=True)


def run_with_progress(what: str, command: list[str], log_file: Path) -> None:
    """Run `command` (output to `log_file`), saying what it does every 30 s."""
    start = time.monotonic()
    done = threading.Event()

    def tick() -> None:
        while not done.wait(30):
            print(
                f"    ... {what}: {time.monotonic() - start:.0f}s elapsed",
                file=sys.stderr,
                flush=True,
            )

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        with log_file.open("w") as out:
            result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    finally:
        done.set()
    if result.returncode != 0:
        tail = log_file.read_text().splitlines()[-25:]
        sys.exit(f"test-images: {what} failed; last lines of {log_file}:\n" + "\n".join(tail))
    print(f"    {what}: {time.monotonic() - start:.0f}s", file=sys.stderr, flush=True)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def rootfs_key() -> str:
    recipe = json.dumps([SUITE, ROOTFS_PACKAGES, ROOTFS_HOOK]).encode()
    return hashlib.sha256(recipe).hexdigest()[:16]


def apt_sources() -> Path:
    for path in APT_SOURCES:
        if path.is_file() and path.read_text().strip():
            return path
    sys.exit(f"test-images: no apt sources found at {', '.join(map(str, APT_SOURCES))}")


def rootfs_tar() -> Path:
    """The Debian root filesystem (a tar), built once per package list."""
    target = CACHE / f"rootfs-{rootfs_key()}.tar"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial.tar")
    command = [
        "mmdebstrap",
        "--variant=minbase",
        "--include=" + ",".join(ROOTFS_PACKAGES),
        "--customize-hook=" + ROOTFS_HOOK,
        SUITE,
        str(partial),
        str(apt_sources()),
    ]
    log(f"building the Debian root filesystem ({', '.join(ROOTFS_PACKAGES)}) with mmdebstrap")
    run_with_progress("mmdebstrap", command, CACHE / "mmdebstrap.log")
    partial.rename(target)
    return target


@dataclass(frozen=True)
class Blob:
    """A gzipped layer: its digest, its uncompressed digest (diff id) and its file."""

    digest: str
    diff_id: str
    path: Path


def gzip_layer(tar_path: Path, blobs: Path) -> Blob:
    """Gzip a layer tar into the blob store (deterministic: no name, no mtime)."""
    diff = hashlib.sha256()
    packed = hashlib.sha256()
    blobs.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=blobs, delete=False) as out:

        class Hashing(io.RawIOBase):
            def writable(self) -> bool:
                return True

            def write(self, data: bytes) -> int:  # type: ignore[override]
                packed.update(data)
                out.write(data)
                return len(data)

        with (
            tar_path.open("rb") as source_file,
            gzip.GzipFile(
                filename="", mode="wb", fileobj=Hashing(), compresslevel=1, mtime=0
            ) as zipped,
        ):
            while chunk := source_file.read(1 << 20):
                diff.update(chunk)
                zipped.write(chunk)
    blob = Blob(
        digest="sha256:" + packed.hexdigest(),
        diff_id="sha256:" + diff.hexdigest(),
        path=blobs / packed.hexdigest(),
    )
    os.replace(out.name, blob.path)
    return blob


def base_layer() -> Blob:
    """The gzipped root filesystem layer, cached beside the tar."""
    record = CACHE / f"rootfs-{rootfs_key()}.layer.json"
    if record.exists():
        saved = json.loads(record.read_text())
        blob = Blob(saved["digest"], saved["diff_id"], Path(saved["path"]))
        if blob.path.exists():
            return blob
    tar_path = rootfs_tar()
    log("compressing the root filesystem layer")
    start = time.monotonic()
    blob = gzip_layer(tar_path, CACHE / "blobs")
    print(f"    compressed in {time.monotonic() - start:.0f}s", file=sys.stderr, flush=True)
    record.write_text(json.dumps({**blob.__dict__, "path": str(blob.path)}))
    return blob


def _tar_info(name: str, *, directory: bool, size: int = 0, mode: int = 0o755) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name.lstrip("/"))
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.size, info.mode, info.mtime, info.uid, info.gid = size, mode, 0, 0, 0
    return info


def own_layer(image: Image, work: Path) -> Path:
    """The image's own files and directories as a deterministic tar."""
    path = work / "layer.tar"
    entries: dict[str, tuple[bool, Path | None]] = {}
    for directory in image.dirs:
        entries[directory] = (True, None)
    for target, produce in image.files.items():
        parent = str(Path(target).parent)
        while parent != "/":
            entries.setdefault(parent, (True, None))
            parent = str(Path(parent).parent)
        entries[target] = (False, produce())
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            directory, file_path = entries[name]
            if directory:
                tar.addfile(_tar_info(name, directory=True))
                continue
            assert file_path is not None
            data = file_path.read_bytes()
            mode = 0o755 if os.access(file_path, os.X_OK) else 0o644
            tar.addfile(
                _tar_info(name, directory=False, size=len(data), mode=mode), io.BytesIO(data)
            )
    return path


def image_inputs(image: Image) -> bytes:
    """Everything that decides an image: its recipe, its files' contents and its base."""
    digest = hashlib.sha256()
    digest.update(json.dumps([image.name, image.version, image.base, image.entrypoint]).encode())
    digest.update(json.dumps([image.cmd, image.dirs, dict(image.env), image.workdir]).encode())
    digest.update(f"{image.user}\0{image.stop_signal}".encode())
    if image.base == "rootfs":
        digest.update(rootfs_key().encode())
    for target in sorted(image.files):
        digest.update(target.encode() + b"\0" + image.files[target]().read_bytes())
    return digest.digest()


def reference(registry: str, image: Image) -> str:
    tag = f"{image.version}-{hashlib.sha256(image_inputs(image)).hexdigest()[:12]}"
    return f"{registry}/{REPOSITORY}/{image.name}:{tag}"


def write_layout(image: Image, layers: list[Blob], layout: Path) -> None:
    """An OCI image layout (index, manifest, config, layers) that crane pushes."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> str:
        digest = digest_of(data)
        (blobs / digest.removeprefix("sha256:")).write_bytes(data)
        return digest

    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": list(image.entrypoint),
            "Cmd": list(image.cmd) or None,
            "Env": [f"{key}={value}" for key, value in image.env.items()],
            "WorkingDir": image.workdir,
            "User": image.user,
            "StopSignal": image.stop_signal,
            "Labels": {"org.opencontainers.image.title": f"voting-app test image: {image.name}"},
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created_by": "voting-app test-images/build.py"} for _ in layers],
    }
    config_data = json.dumps(config, sort_keys=True).encode()
    for layer in layers:
        target = blobs / layer.digest.removeprefix("sha256:")
        if not target.exists():
            try:
                os.link(layer.path, target)  # the cache and the layout share a file system
            except OSError:
                shutil.copy(layer.path, target)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": put(config_data),
            "size": len(config_data),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer.digest,
                "size": layer.path.stat().st_size,
            }
            for layer in layers
        ],
    }
    manifest_data = json.dumps(manifest, sort_keys=True).encode()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": put(manifest_data),
                "size": len(manifest_data),
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))


def in_registry(ref: str) -> bool:
    found = subprocess.run(["crane", "digest", ref], capture_output=True, text=True, check=False)
    return found.returncode == 0


def layout_of(image: Image, ref: str) -> Path:
    """The image's OCI layout in the cache, written once per tag. The registry keeps blobs on
    disk but manifests only in memory, so a restarted registry is given the layout again."""
    layout = CACHE / "layouts" / ref.rsplit("/", 1)[-1].replace(":", "-")
    if layout.exists():
        return layout
    log(f"building image {image.name}")
    start = time.monotonic()
    layout.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=layout.parent) as work_dir:
        work = Path(work_dir)
        layers = [base_layer()] if image.base == "rootfs" else []
        layers.append(gzip_layer(own_layer(image, work), work / "blobs"))
        write_layout(image, layers, work / "layout")
        (work / "layout").rename(layout)
    print(f"    {image.name} built in {time.monotonic() - start:.0f}s", file=sys.stderr, flush=True)
    return layout


def build(image: Image, registry: str) -> str:
    ref = reference(registry, image)
    if in_registry(ref):
        print(f"    {image.name}: in the registry ({ref})", file=sys.stderr, flush=True)
        return ref
    layout = layout_of(image, ref)
    run_with_progress(
        f"pushing {image.name}",
        ["crane", "push", str(layout), ref],
        CACHE / f"push-{image.name}.log",
    )
    return ref


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=os.environ.get("VOTING_APP_REGISTRY"))
    parser.add_argument("names", nargs="*", help=f"images to build (default all: {list(IMAGES)})")
    args = parser.parse_args()
    if not args.registry:
        sys.exit("test-images: no registry given (--registry or VOTING_APP_REGISTRY)")
    unknown = [name for name in args.names if name not in IMAGES]
    if unknown:
        sys.exit(f"test-images: unknown image(s) {unknown}; known: {list(IMAGES)}")
    CACHE.mkdir(parents=True, exist_ok=True)
    refs = {name: build(IMAGES[name], args.registry) for name in args.names or IMAGES}
    for name, ref in refs.items():
        print(f"{name}={ref}")  # the one output on stdout


if __name__ == "__main__":
    main()
