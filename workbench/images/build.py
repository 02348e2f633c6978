"""Builds the local cluster's test images without a registry of anyone else's, and pushes them to
the local one (workbench/real-node/registry).

crane assembles each image: `crane append` puts the image's own files (one layer) on its base
and pushes it, `crane mutate` sets its entrypoint, command, environment, working directory and
user. Its tag is its version plus a hash of everything that goes into it, so a rebuild with
nothing changed finds the tag already in the registry and does nothing, and a change gets a new
tag (and so a rollout). The Debian root filesystem shared by redis, db and the stand-ins is built
once by mmdebstrap from Debian's packages and cached by its package list, as an image tarball
that crane pushes again (its layer already compressed) whenever the registry has forgotten it:
the registry keeps blobs on disk but manifests only in memory.

    build.py [--registry HOST:PORT] [NAME ...]   build (or find) the images; print NAME=REF lines
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
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
            version=os.environ["PAUSE_VERSION"],
            base="scratch",
            entrypoint=("/pause",),
            files={"/pause": built_tool("pause", "pause")},
            user="65535:65535",
        ),
        Image(
            name="coredns",
            version=os.environ["COREDNS_VERSION"],
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
            # The official image's STOPSIGNAL (SIGINT, a fast shutdown) is the entrypoint's:
            # crane cannot set an image's stop signal (db/docker-entrypoint.sh).
            env={"PATH": f"{PG_BIN}:{DEFAULT_PATH}", "PGDATA": "/var/lib/postgresql/data"},
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
        sys.exit(f"workbench/images: {what} failed; last lines of {log_file}:\n" + "\n".join(tail))
    print(f"    {what}: {time.monotonic() - start:.0f}s", file=sys.stderr, flush=True)


def rootfs_key() -> str:
    recipe = json.dumps([SUITE, ROOTFS_PACKAGES, ROOTFS_HOOK]).encode()
    return hashlib.sha256(recipe).hexdigest()[:16]


def apt_sources() -> Path:
    for path in APT_SOURCES:
        if path.is_file() and path.read_text().strip():
            return path
    sys.exit(f"workbench/images: no apt sources found at {', '.join(map(str, APT_SOURCES))}")


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


def base_image(registry: str) -> str:
    """The Debian root filesystem as an image in the registry: pushed from its cached tarball
    (crane compressed the layer once), built first if need be."""
    ref = f"{registry}/{REPOSITORY}/rootfs:{rootfs_key()}"
    if in_registry(ref):
        return ref
    tarball = CACHE / f"rootfs-{rootfs_key()}.image.tar"
    if not tarball.exists():
        partial = tarball.with_suffix(".partial.tar")
        log("compressing the root filesystem into an image (crane append)")
        run_with_progress(
            "crane append",
            [
                *("crane", "append", "--new_layer", str(rootfs_tar())),
                *("--new_tag", ref, "--output", str(partial)),
            ],
            CACHE / "rootfs-append.log",
        )
        partial.rename(tarball)
    run_with_progress(
        "pushing the root filesystem",
        ["crane", "push", str(tarball), ref],
        CACHE / "rootfs-push.log",
    )
    return ref


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
    digest.update(image.user.encode())
    if image.base == "rootfs":
        digest.update(rootfs_key().encode())
    for target in sorted(image.files):
        digest.update(target.encode() + b"\0" + image.files[target]().read_bytes())
    return digest.digest()


def reference(registry: str, image: Image) -> str:
    tag = f"{image.version}-{hashlib.sha256(image_inputs(image)).hexdigest()[:12]}"
    return f"{registry}/{REPOSITORY}/{image.name}:{tag}"


def in_registry(ref: str) -> bool:
    found = subprocess.run(["crane", "digest", ref], capture_output=True, text=True, check=False)
    return found.returncode == 0


def build(image: Image, registry: str) -> str:
    ref = reference(registry, image)
    if in_registry(ref):
        print(f"    {image.name}: in the registry ({ref})", file=sys.stderr, flush=True)
        return ref
    log(f"building image {image.name}")
    start = time.monotonic()
    staging = f"{ref}-layers"
    with tempfile.TemporaryDirectory() as work:
        append = ["crane", "append", "--new_layer", str(own_layer(image, Path(work)))]
        if image.base == "rootfs":
            append += ["--base", base_image(registry)]
        run_with_progress(f"{image.name}: layers", [*append, "--new_tag", staging], _log(image))
    mutate = ["crane", "mutate", staging, "--tag", ref, "--workdir", image.workdir]
    mutate += ["--entrypoint", ",".join(image.entrypoint)]
    if image.cmd:
        mutate += ["--cmd", ",".join(image.cmd)]
    for key, value in image.env.items():
        mutate += ["--env", f"{key}={value}"]
    if image.user:
        mutate += ["--user", image.user]
    mutate += ["--label", f"org.opencontainers.image.title=voting-app test image: {image.name}"]
    run_with_progress(f"{image.name}: config", mutate, _log(image))
    print(f"    {image.name} built in {time.monotonic() - start:.0f}s", file=sys.stderr, flush=True)
    return ref


def _log(image: Image) -> Path:
    return CACHE / f"build-{image.name}.log"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=os.environ.get("VOTING_APP_REGISTRY"))
    parser.add_argument("names", nargs="*", help=f"images to build (default all: {list(IMAGES)})")
    args = parser.parse_args()
    if not args.registry:
        sys.exit("workbench/images: no registry given (--registry or VOTING_APP_REGISTRY)")
    unknown = [name for name in args.names if name not in IMAGES]
    if unknown:
        sys.exit(f"workbench/images: unknown image(s) {unknown}; known: {list(IMAGES)}")
    CACHE.mkdir(parents=True, exist_ok=True)
    refs = {name: build(IMAGES[name], args.registry) for name in args.names or IMAGES}
    for name, ref in refs.items():
        print(f"{name}={ref}")  # the one output on stdout


if __name__ == "__main__":
    main()
