"""Benchmark: prints figures from one run on the local cluster; asserts nothing about speed.

Run through workbench/benchmark/run, which sets up the offline environment first. Measures:
  - the toolchain build: cold figures recorded when each tool was built, and a warm run now;
  - `pulumi up` of dev from empty until every Deployment is Available;
  - a no-change `pulumi up` and a no-change `pulumi preview`
    (each with the policy pack, as every preview and up of the project's commands);
  - the same objects applied with `kubectl apply` plus `kubectl rollout status`, on the same
    cluster, and the Pulumi/kubectl ratio; and a fair baseline: kubectl made to guarantee what
    Pulumi's await does (every Deployment Available, every Service with a ready endpoint, a
    LoadBalancer's address), and that ratio;
  - a breakdown of one `pulumi up` from empty: phases and every resource's create and await;
  - how it scales: 1, 5 and 20 copies of the app in one stack (copies_program.py beside this
    file), `up` from empty, no-change `preview`, `destroy`, peak memory of the CLI, provider and
    program, against kubectl doing the same with Pulumi's guarantees; the largest once more with
    wide parallelism (`workbench/benchmark/run --scaling [N...]` prints only this table);
  - on the real node (started here, stopped at the end), the dev config with the test images:
    `pulumi up` from empty, and the time from the start of that `up` to the first vote counted
    on the result page, beside the simulated `up` of the same run; the main job from empty for
    both real-node stacks (`tools/up`, `tools/up --prod`: prod's config, its load balancers
    answering), with the part its waits after `pulumi up` took.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pulumi.automation as auto
import yaml

from tools.lib.local_stack import prod_on_real_node
from tools.lib.project_copy import (
    LOCAL_CONTEXT,
    LOCAL_KUBECONFIG,
    copy_program,
    edit_stack_config,
    link_workbench,
    point_at_local_cluster,
)
from workbench.settings import PASSPHRASES

ROOT = Path(__file__).resolve().parents[2]

STACK = "dev"
TIMINGS = Path(os.environ["VOTING_APP_CACHE"]) / "logs" / "build-timings.tsv"


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> str:
    result = subprocess.run(
        args, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    if result.returncode:
        sys.exit(f"benchmark: {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def kubectl(*args: str) -> str:
    return run("kubectl", "--kubeconfig", str(LOCAL_KUBECONFIG), "--context", LOCAL_CONTEXT, *args)


def cold_build_figures() -> list[tuple[str, str, str]]:
    """The first (cold) build of each step recorded in the timings log: step, seconds, MiB."""
    first: dict[str, tuple[str, str, str]] = {}
    if TIMINGS.exists():
        for line in TIMINGS.read_text().splitlines():
            _, step, seconds, rss = [*line.split("\t"), ""][:4]
            first.setdefault(step, (step, seconds, rss or "?"))
    return list(first.values())


SECRET_SIG = "4dabf18193072939515e22adb298388d"


def reveal(value: Any) -> Any:
    """A state value with its secrets unwrapped (`export --show-secrets` keeps the markers)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) and "plaintext" in value:
            return reveal(json.loads(value["plaintext"]))
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal(item) for item in value]
    return value


def pulumi_objects(workdir: Path, namespace: str | Callable[[str], str]) -> Path:
    """The Kubernetes objects the dev stack applied, as Pulumi sent them, moved to `namespace`
    (or each to the namespace the function gives for its own)."""
    move = namespace if callable(namespace) else lambda _: namespace
    exported = json.loads(
        run("pulumi", "stack", "export", "--stack", STACK, "--show-secrets", cwd=workdir)
    )
    objects: list[dict[str, Any]] = []
    for resource in exported["deployment"]["resources"]:
        if not resource["type"].startswith("kubernetes:") or not resource.get("custom"):
            continue
        if resource["type"].startswith("pulumi:providers:"):
            continue
        body = {k: reveal(v) for k, v in resource["inputs"].items() if not k.startswith("__")}
        metadata = body["metadata"]
        key = "name" if body["kind"] == "Namespace" else "namespace"
        metadata[key] = move(metadata[key])
        objects.append(body)
    path = workdir / f"objects-{len(list(workdir.glob('objects-*')))}.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    return path


def bench_stack(
    workdir: Path, edit: Callable[[dict[str, Any]], None], policy: bool = True, stack: str = STACK
) -> tuple[str, ...]:
    """A copy of the program in `workdir` with the stack's config edited, a file backend and the
    stack of its own; returns its `pulumi up` command (with the policy pack, as every preview and
    up of the project's commands, unless `policy` is False)."""
    copy_program(ROOT, workdir, [stack])
    edit_stack_config(workdir, stack, edit)
    (workdir / "state").mkdir()
    os.environ["PULUMI_BACKEND_URL"] = f"file://{workdir / 'state'}"
    run("pulumi", "stack", "init", stack, "--non-interactive", cwd=workdir)
    return (
        "pulumi",
        "up",
        "--stack",
        stack,
        "--yes",
        "--skip-preview",
        "--suppress-progress",
        *(("--policy-pack", str(workdir / "policy")) if policy else ()),
    )


def main() -> None:
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    warm = timed(lambda: run(str(ROOT / "workbench" / "toolchain" / "build")))
    print("toolchain build, cold (first build recorded on this machine):")
    for step, seconds, rss in cold_build_figures():
        print(f"  {step:28} {seconds:>8} s   peak {rss:>6} MiB")
    print(f"toolchain build, warm (all cached): {warm:.1f} s")

    with tempfile.TemporaryDirectory() as temp:
        workdir = Path(temp)
        up = bench_stack(workdir, lambda config: point_at_local_cluster(config, "bench-pulumi"))
        policy = ("--policy-pack", str(workdir / "policy"))
        first_up = timed(lambda: run(*up, cwd=workdir))
        no_change_up = timed(lambda: run(*up, cwd=workdir))
        no_change_preview = timed(
            lambda: run(
                "pulumi", "preview", "--stack", STACK, "--suppress-progress", *policy, cwd=workdir
            )
        )
        preview_parts = preview_floor(workdir, policy)
        objects = pulumi_objects(workdir, "bench-kubectl")
        fair_objects = pulumi_objects(workdir, "bench-fair")
        run("pulumi", "destroy", "--stack", STACK, "--yes", "--suppress-progress", cwd=workdir)

        def kubectl_apply() -> None:
            kubectl("apply", "--server-side", "-f", str(objects))
            for unit in ("redis", "db", "vote", "worker", "result"):
                kubectl(
                    "rollout",
                    "status",
                    f"deployment/{unit}",
                    "-n",
                    "bench-kubectl",
                    "--timeout=600s",
                )

        kubectl_seconds = timed(kubectl_apply)
        kubectl("delete", "namespace", "bench-kubectl", "--wait=true")
        fair_seconds = timed(lambda: kubectl_with_pulumis_guarantees(fair_objects, "bench-fair"))
        kubectl("delete", "namespace", "bench-fair", "--wait=true")

    print(f"pulumi up of dev, from empty until all Available: {first_up:.1f} s")
    print(f"pulumi up, no change:                             {no_change_up:.1f} s")
    print(f"pulumi preview, no change:                        {no_change_preview:.1f} s")
    print("  what a no-change preview is made of (best of 3 each):")
    for part, part_seconds in preview_parts:
        print(f"    {part:66} {part_seconds:.1f} s")
    print(f"kubectl apply + rollout status, same objects:     {kubectl_seconds:.1f} s")
    print(f"ratio pulumi up / kubectl:                        {first_up / kubectl_seconds:.1f}x")
    print(f"kubectl with Pulumi's guarantees (fair baseline): {fair_seconds:.1f} s")
    print(f"ratio pulumi up / fair baseline:                  {first_up / fair_seconds:.1f}x")
    with tempfile.TemporaryDirectory() as temp:
        breakdown(Path(temp))
    service_await_figures(
        "dev, pods simulated",
        STACK,
        lambda config: point_at_local_cluster(config, "bench-await"),
        answers=False,
    )
    commands()
    scaling()
    real_node_section(first_up)


def real_node_section(simulated_up: float | None = None) -> None:
    """The real node's figures (`workbench/benchmark/run --real-node` prints only these)."""
    real_up, first_vote, main_job_rerun = real_node_figures()
    print(f"pulumi up of dev on the real node, from empty:    {real_up:.1f} s")
    if simulated_up is not None:
        print(f"  the same up on simulated pods (above):          {simulated_up:.1f} s")
    print(f"from the start of that up to the first counted vote: {first_vote:.1f} s")
    print(f"main job rerun, no change (tools/up, real node, best of 3): {main_job_rerun:.1f} s")


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """os.environ with `values` set (None: unset) for the block, then as it was."""
    saved = {key: os.environ.get(key) for key in values}

    def apply(settings: dict[str, str | None]) -> None:
        for key, value in settings.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    apply(values)
    try:
        yield
    finally:
        apply(saved)


def commands() -> None:
    """The project's own commands as a user runs them: the main job's no-change rerun (the
    simulated one here; the real node's is below), the pull-request preview of both stacks
    (the working tree against HEAD) and the unit suite."""
    # The unit suite first: the PR preview leaves the cluster emptying its namespaces for a
    # while, which would share the cores with it.
    unit_suite = min(
        timed(
            lambda: run(
                str(ROOT / ".venv" / "bin" / "pytest"), "-q", "-m", "not integration and not e2e"
            )
        )
        for _ in range(3)
    )
    simulated_up = (str(ROOT / "tools" / "up"), "--simulated")
    # The checkout's own backend (.state), as the README's commands use it.
    with environment(PULUMI_BACKEND_URL=None):
        run(*simulated_up)
        rerun = min(timed(lambda: run(*simulated_up)) for _ in range(3))
        pr_preview = timed(lambda: run(str(ROOT / "tools" / "pr-preview"), "--base", "HEAD"))
    print(f"main job rerun, no change (tools/up --simulated, best of 3): {rerun:.1f} s")
    print(f"pull-request preview of dev and prod (tools/pr-preview):     {pr_preview:.1f} s")
    print(f"unit suite (pytest, whole command, best of 3):               {unit_suite:.1f} s")


FLOOR_PROJECT = "preview-floor"


def preview_floor(workdir: Path, policy: tuple[str, ...]) -> list[tuple[str, float]]:
    """A no-change preview of the deployed bench stack in `workdir`, taken apart: the same CLI
    previewing a Python program that registers nothing, then one that only imports the
    Kubernetes SDK classes the stack's resources use, then the program itself, then with the
    policy pack. The best of three runs each."""
    exported = json.loads(run("pulumi", "stack", "export", "--stack", STACK, cwd=workdir))
    classes = sorted(
        {
            sdk_class(resource["type"])
            for resource in exported["deployment"]["resources"]
            if resource["type"].startswith("kubernetes:") and resource.get("custom")
        }
    )
    imports = f"import pulumi_kubernetes as k8s\n_ = (k8s.Provider, {', '.join(classes)})\n"
    one_object = (
        f"cluster = k8s.Provider('cluster', context={LOCAL_CONTEXT!r},"
        f" kubeconfig={str(LOCAL_KUBECONFIG)!r})\n"
        "k8s.core.v1.ConfigMap('one', metadata={'namespace': 'default', 'name': 'preview-floor'},"
        " opts=pulumi.ResourceOptions(provider=cluster))\n"
    )

    def best_preview(project: Path, stack: str, *extra: str) -> float:
        command = ("pulumi", "preview", "--stack", stack, "--suppress-progress", *extra)
        return min(timed(lambda: run(*command, cwd=project)) for _ in range(3))

    def floor_program(name: str, body: str) -> float:
        project = workdir / name
        (project / "state").mkdir(parents=True)
        (project / "Pulumi.yaml").write_text(
            f"name: {FLOOR_PROJECT}\nruntime:\n  name: python\n"
            f"  options:\n    toolchain: pip\n    virtualenv: {ROOT / '.venv'}\n"
        )
        # One config value: the language host fails on a stack with none.
        (project / "Pulumi.floor.yaml").write_text(f"config:\n  {FLOOR_PROJECT}:x: '1'\n")
        (project / "__main__.py").write_text("import pulumi\n" + body)
        with environment(PULUMI_BACKEND_URL=f"file://{project / 'state'}"):
            run("pulumi", "stack", "init", "floor", "--non-interactive", cwd=project)
            run("pulumi", "up", "--stack", "floor", "--yes", "--skip-preview", cwd=project)
            seconds = best_preview(project, "floor")
            run("pulumi", "destroy", "--stack", "floor", "--yes", "--skip-preview", cwd=project)
            return seconds

    return [
        (
            "an empty Python program (CLI, language host, interpreter, pulumi SDK)",
            floor_program("empty", ""),
        ),
        (
            f"+ importing the {len(classes)} Kubernetes SDK classes the stack uses",
            floor_program("imports", imports),
        ),
        (
            "+ the provider started and configured, one object",
            floor_program("one", imports + one_object),
        ),
        (
            f"the program ({len(exported['deployment']['resources'])} resources), no policy pack",
            best_preview(workdir, STACK),
        ),
        (
            "the program with the policy pack (the figure above)",
            best_preview(workdir, STACK, *policy),
        ),
    ]


def sdk_class(type_token: str) -> str:
    """`kubernetes:networking.k8s.io/v1:NetworkPolicy` -> `k8s.networking.v1.NetworkPolicy`."""
    _, group_version, kind = type_token.split(":")
    group, version = group_version.split("/")
    return f"k8s.{group.split('.')[0]}.{version}.{kind}"


def kubectl_with_pulumis_guarantees(objects: Path, *namespaces: str) -> None:
    """What Pulumi's await guarantees when `up` returns, done with kubectl: the objects created
    server-side, every Deployment Available, every Service with a selector backed by a ready
    endpoint, and every LoadBalancer Service with an address. One `kubectl get` per poll, every
    0.1 s, whatever the number of namespaces."""
    kubectl("apply", "--server-side", "-f", str(objects))
    wait_ready(*namespaces)


def wait_ready(*namespaces: str) -> None:
    """Until every Deployment and Service of `namespaces` is what Pulumi's await waits for."""
    deadline = time.monotonic() + 600
    while waiting := _not_ready(set(namespaces)):
        if time.monotonic() > deadline:
            sys.exit(f"benchmark: not ready after 600 s: {', '.join(sorted(waiting))}")
        time.sleep(0.1)


def _not_ready(namespaces: set[str]) -> set[str]:
    """The Deployments and Services of `namespaces` that Pulumi would still be waiting for."""
    listed = json.loads(
        kubectl("get", "deployments,services,endpointslices", "--all-namespaces", "-o", "json")
    )["items"]
    mine = [item for item in listed if item["metadata"]["namespace"] in namespaces]
    ready_endpoints = {
        (item["metadata"]["namespace"], item["metadata"]["labels"]["kubernetes.io/service-name"])
        for item in mine
        if item["kind"] == "EndpointSlice"
        and any((e.get("conditions") or {}).get("ready") for e in item.get("endpoints") or [])
    }
    waiting = set()
    for item in mine:
        where = (item["metadata"]["namespace"], item["metadata"]["name"])
        label = f"{item['kind']} {'/'.join(where)}"
        if item["kind"] == "Deployment":
            conditions = item.get("status", {}).get("conditions") or []
            if not any(c["type"] == "Available" and c["status"] == "True" for c in conditions):
                waiting.add(label)
        elif item["kind"] == "Service":
            if item["spec"].get("selector") and where not in ready_endpoints:
                waiting.add(label)
            if item["spec"]["type"] == "LoadBalancer" and not (
                item.get("status", {}).get("loadBalancer", {}).get("ingress")
            ):
                waiting.add(label)
    return waiting


def breakdown(workdir: Path) -> None:
    """Where a `pulumi up` from empty spends its time: the engine's events as they arrive (the
    Automation API's event stream, stamped here on arrival), phase by phase and per resource."""
    copy_program(ROOT, workdir, [STACK])
    edit_stack_config(workdir, STACK, lambda config: point_at_local_cluster(config, "bench-why"))
    (workdir / "state").mkdir()
    options = auto.LocalWorkspaceOptions(
        work_dir=str(workdir),
        env_vars={"PULUMI_BACKEND_URL": f"file://{workdir / 'state'}"},
        pulumi_command=auto.PulumiCommand(skip_version_check=True),
    )
    stack = auto.create_or_select_stack(STACK, work_dir=str(workdir), opts=options)
    seen: list[tuple[float, auto.EngineEvent]] = []
    start = time.perf_counter()
    stack.up(
        on_event=lambda event: seen.append((time.perf_counter() - start, event)),
        policy_packs=[str(workdir / "policy")],
        suppress_progress=True,
    )
    total = time.perf_counter() - start
    stack.destroy(suppress_progress=True)

    def first(kind: str) -> float:
        return next((at for at, event in seen if getattr(event, kind, None)), float("nan"))

    began: dict[str, float] = {}
    spans: list[tuple[str, float, float]] = []
    for at, event in seen:
        if event.resource_pre_event:
            began[event.resource_pre_event.metadata.urn] = at
        elif event.res_outputs_event:
            urn = event.res_outputs_event.metadata.urn
            spans.append((urn.rsplit("::", 1)[-1], began.get(urn, at), at))
    first_resource = min((b for _, b, _ in spans), default=float("nan"))
    last_resource = max((e for _, _, e in spans), default=float("nan"))
    print(f"breakdown of one pulumi up from empty ({total:.1f} s, events stamped on arrival):")
    print(f"  engine ready (prelude):                   {first('prelude_event'):.1f} s")
    print(f"  first resource registered by the program: {first_resource:.1f} s")
    print(f"  last resource done:                       {last_resource:.1f} s")
    print(f"  after it, to the CLI's exit:              {total - last_resource:.1f} s")
    print("  resources by start (start, duration, name); the longest waits mark the critical path:")
    for name, began_at, ended in sorted(spans, key=lambda span: span[1]):
        print(f"    {began_at:5.1f} s  {ended - began_at:5.1f} s  {name}")


COPIES = (1, 5, 20)
WIDE = {"PARALLEL": "128"}
FAST_CLIENT = {"PULUMI_K8S_CLIENT_QPS": "500", "PULUMI_K8S_CLIENT_BURST": "1000"}
PROGRAM_OF_COPIES = ROOT / "workbench" / "benchmark" / "copies_program.py"


def stat_fields(pid: int | str) -> list[str]:
    """/proc/PID/stat after the command name (which may hold spaces): state, ppid, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(root: int) -> list[int]:
    """`root` and every process descended from it, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_fields(stat.parent.name)
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def role(pid: int) -> str:
    """What a process of a run is, from its executable: CLI, language host, program, provider."""
    name = Path(os.readlink(f"/proc/{pid}/exe")).name
    if name == "pulumi":
        return "CLI"
    if name.startswith("pulumi-resource-"):
        return "provider"
    if name.startswith("pulumi-language-"):
        return "language host"
    if name.startswith("python"):
        return "program"
    return name


def peak_rss_kib(pid: int) -> int:
    """The process's own peak resident set so far (VmHWM), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """The process's own CPU time so far (user + system)."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> tuple[float, dict[str, float], dict[str, float]]:
    """Runs a command to its end; its wall time, and by role the peak resident memory (MiB) of
    its processes (each process's own peak, VmHWM) and their CPU seconds, read every 0.1 s and
    summed per role."""
    start = time.perf_counter()
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.append(process.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    peaks: dict[int, tuple[str, int, float]] = {}
    while process.poll() is None:
        for pid in process_tree(process.pid):
            try:
                kib, cpu = peak_rss_kib(pid), cpu_seconds(pid)
                if kib:
                    peaks[pid] = (peaks[pid][0] if pid in peaks else role(pid), kib, cpu)
            except OSError:
                continue
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    reader.join()
    if process.returncode:
        sys.exit(f"benchmark: {' '.join(args)} failed:\n{''.join(output)}")
    by_role: dict[str, float] = {}
    cpu_by_role: dict[str, float] = {}
    for name, kib, cpu in peaks.values():
        by_role[name] = by_role.get(name, 0.0) + kib / 1024
        cpu_by_role[name] = cpu_by_role.get(name, 0.0) + cpu
    return seconds, by_role, cpu_by_role


def scaling(counts: tuple[int, ...] = COPIES) -> None:
    """The same program's objects 1, 5 and 20 times in one stack (copies_program.py beside this
    file), simulated pods, no policy pack, Pulumi's default parallelism; against kubectl doing the
    same with Pulumi's guarantees."""
    rows = []
    for copies in counts:
        with tempfile.TemporaryDirectory() as temp:
            rows.append(scaling_row(Path(temp), copies))
    # Each Service's await holds one of the engine's parallel steps for its 10 s settle: the
    # largest count once more with room for all of them at once, then also with the provider's
    # client-side rate limit (50 requests/s, burst 120) raised.
    for settings in (WIDE, {**WIDE, **FAST_CLIENT}):
        with tempfile.TemporaryDirectory() as temp:
            rows.append(scaling_row(Path(temp), counts[-1], settings))
    print("how it scales: N copies of the app in one stack, one namespace each (simulated pods,")
    print("no policy pack); peak resident MiB of the up and the preview (each process's own peak),")
    print("then CPU seconds the up used, by role; last, kubectl's peak MiB:")
    print(
        f"  {'copies':>6} {'settings':>14} {'resources':>9} {'objects':>7} "
        f"{'up':>7} {'preview':>7} {'destroy':>7} {'kubectl':>7} {'ratio':>6} "
        f"{'CLI':>5} {'provider':>8} {'program':>7} {'CLI':>5} {'prov.':>6} {'prog.':>6} "
        f"{'kubectl':>7}"
    )
    for row in rows:
        print("  " + row)


def scaling_row(workdir: Path, copies: int, settings: dict[str, str] | None = None) -> str:
    """One row of the table; `settings`: PARALLEL (the engine's `--parallel`) and environment
    variables for the provider."""
    settings = dict(settings or {})
    up = bench_stack(workdir, lambda config: point_at_local_cluster(config, "scale"), policy=False)
    parallel = settings.pop("PARALLEL", None)
    if parallel is not None:
        up = (*up, "--parallel", parallel)
    shutil.copy(PROGRAM_OF_COPIES, workdir / "__main__.py")
    env = {"VOTING_APP_COPIES": str(copies), **settings}
    qps = settings.get("PULUMI_K8S_CLIENT_QPS")
    label = ", ".join(
        part for part in (parallel and f"-p {parallel}", qps and f"qps {qps}") if part
    )
    up_seconds, up_peaks, up_cpu = measured(*up, cwd=workdir, env=env)
    preview = ("pulumi", "preview", "--stack", STACK, "--suppress-progress")
    preview_seconds, preview_peaks, _ = measured(*preview, cwd=workdir, env=env)
    exported = json.loads(run("pulumi", "stack", "export", "--stack", STACK, cwd=workdir))
    resources = len(exported["deployment"]["resources"])
    objects = pulumi_objects(workdir, lambda namespace: f"k{namespace}")
    object_count = len(json.loads(objects.read_text())["items"])
    destroy: tuple[str, ...] = (
        "pulumi",
        "destroy",
        "--stack",
        STACK,
        "--yes",
        "--suppress-progress",
    )
    if parallel is not None:
        destroy = (*destroy, "--parallel", parallel)
    destroy_seconds = timed(lambda: run(*destroy, cwd=workdir, env=env))
    namespaces = [f"kscale-{index}" for index in range(1, copies + 1)]
    start = time.perf_counter()
    _, kubectl_peaks, _ = measured(
        "kubectl",
        "--kubeconfig",
        str(LOCAL_KUBECONFIG),
        "--context",
        LOCAL_CONTEXT,
        "apply",
        "--server-side",
        "-f",
        str(objects),
    )
    wait_ready(*namespaces)
    kubectl_seconds = time.perf_counter() - start
    kubectl("delete", "namespace", *namespaces, "--wait=true")

    def peak(name: str) -> float:
        return max(up_peaks.get(name, 0.0), preview_peaks.get(name, 0.0))

    return (
        f"{copies:>6} {label or 'default':>14} {resources:>9} {object_count:>7} "
        f"{up_seconds:>6.1f}s {preview_seconds:>6.1f}s "
        f"{destroy_seconds:>6.1f}s {kubectl_seconds:>6.1f}s {up_seconds / kubectl_seconds:>5.1f}x "
        f"{peak('CLI'):>5.0f} {peak('provider'):>8.0f} {peak('program'):>7.0f} "
        f"{up_cpu.get('CLI', 0):>5.1f} {up_cpu.get('provider', 0):>6.1f} "
        f"{up_cpu.get('program', 0):>6.1f} "
        f"{kubectl_peaks.get('kubectl', 0.0):>7.0f}"
    )


REAL_NODE_PORTS = {"vote": 30304, "result": 30305}
UNITS = ("vote", "result", "worker", "redis", "db")


def answer(url: str, data: bytes | None = None) -> str | None:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as reply:
            return str(reply.read().decode())
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return None


def service_await_figures(
    label: str, stack: str, edit: Callable[[dict[str, Any]], None], answers: bool
) -> None:
    """`pulumi up` from empty with each `serviceAwait` (the provider's Service await, and only a
    LoadBalancer's address), and with `answers` the time from the start of that up until both
    exported URLs answer a GET; best of 2 each."""
    figures = []
    for service_await in ("endpoints", "address"):
        best: tuple[float, float] | None = None
        for _ in range(2):
            with tempfile.TemporaryDirectory() as temp:
                workdir = Path(temp)

                def config(values: dict[str, Any], mode: str = service_await) -> None:
                    edit(values)
                    values["voting-app:serviceAwait"] = mode

                up = bench_stack(workdir, config, stack=stack)
                written = yaml.safe_load((workdir / f"Pulumi.{stack}.yaml").read_text())
                namespace = written["config"]["voting-app:namespace"]
                try:
                    start = time.perf_counter()
                    run(*up, cwd=workdir)
                    took = time.perf_counter() - start
                    outputs = json.loads(
                        run("pulumi", "stack", "output", "--json", "--stack", stack, cwd=workdir)
                    )
                    while answers and time.perf_counter() - start < took + 120:
                        if all(answer(outputs[f"{unit}_url"]) for unit in ("vote", "result")):
                            break
                        time.sleep(0.1)
                    answered = time.perf_counter() - start
                    destroy = ("destroy", "--stack", stack, "--yes", "--suppress-progress")
                    run("pulumi", *destroy, cwd=workdir)
                finally:
                    # Also after a failed up: nothing of the run is left (prod keeps its claim).
                    kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true")
            if best is None or took < best[0]:
                best = (took, answered)
        assert best is not None
        figures.append(
            f"{service_await} {best[0]:.1f} s"
            + (f" (both URLs answered at {best[1]:.1f} s)" if answers else "")
        )
    print(f"pulumi up from empty, {label}, by serviceAwait: {'; '.join(figures)}")


def service_await_on_the_node(images: dict[str, str]) -> None:
    """service_await_figures for dev and the prod-like config (tools/up --prod's) on the real
    node, with the test images."""

    def dev_on_node(config: dict[str, Any]) -> None:
        point_at_local_cluster(config, "bench-await-dev", REAL_NODE_PORTS)
        for unit, image in images.items():
            config[f"voting-app:{unit}"]["image"] = image

    def prod_on_node(config: dict[str, Any]) -> None:
        point_at_local_cluster(config, "bench-await-prod")
        for unit, image in images.items():
            config[f"voting-app:{unit}"]["image"] = image
        prod_on_real_node(config)

    service_await_figures("dev on the real node", STACK, dev_on_node, answers=True)
    with environment(PULUMI_CONFIG_PASSPHRASE=PASSPHRASES["prod"]):
        service_await_figures("prod-like on the real node", "prod", prod_on_node, answers=True)


def service_await_only() -> None:
    """`workbench/benchmark/run --service-await`: only the serviceAwait figures."""
    service_await_figures(
        "dev, pods simulated",
        STACK,
        lambda config: point_at_local_cluster(config, "bench-await"),
        answers=False,
    )
    run(str(ROOT / "workbench" / "control-plane" / "cluster"), "start", "--real-node")
    try:
        refs = run(str(ROOT / "workbench" / "images" / "build"), *UNITS)
        service_await_on_the_node(
            dict(line.split("=", 1) for line in refs.splitlines() if "=" in line)
        )
    finally:
        run(str(ROOT / "workbench" / "real-node" / "node"), "stop")


READY_FIGURES = re.compile(r"rolled out \(([\d.]+) s\)|answered in ([\d.]+) s")


def main_job_from_empty(*args: str) -> str:
    """`tools/up ARGS` (a real-node stack) from empty, in a copy of the project with a backend
    and namespace of its own, then its `tools/down`: the whole run's seconds, and how much of it
    was the waits after `pulumi up` (rollouts, then each URL until it answered)."""
    with tempfile.TemporaryDirectory() as temp:
        project = Path(temp)
        copy_program(ROOT, project, ["dev", "prod"])
        link_workbench(project)
        namespace = f"bench-main-{'-'.join(arg.strip('-') for arg in args) or 'dev'}"
        # Its own backend, namespace and the stack's own passphrase (tools/up's default).
        own = {"PULUMI_BACKEND_URL": None, "PULUMI_CONFIG_PASSPHRASE": None}
        with environment(**own, VOTING_APP_NAMESPACE=namespace):
            start = time.perf_counter()
            output = run(str(project / "tools" / "up"), *args, cwd=project)
            took = time.perf_counter() - start
            run(str(project / "tools" / "down"), *args, cwd=project)
        kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true")
    waits = [float(rolled or answered) for rolled, answered in READY_FIGURES.findall(output)]
    parts = f"rollouts {waits[0]:.1f} s, URLs " + " + ".join(f"{wait:.1f}" for wait in waits[1:])
    return f"{took:.1f} s (after pulumi up: {parts} s)"


def real_node_figures() -> tuple[float, float, float]:
    """`up` of the dev config with the test images on the real node, the time from its start
    until a vote posted to the exported vote URL shows in the result JSON, the main job from
    empty for both real-node stacks (tools/up, tools/up --prod), and the main job's no-change
    rerun (tools/up, best of 3)."""
    run(str(ROOT / "workbench" / "control-plane" / "cluster"), "start", "--real-node")
    try:
        refs = run(
            str(ROOT / "workbench" / "images" / "build"), "vote", "result", "worker", "redis", "db"
        )
        images = dict(line.split("=", 1) for line in refs.splitlines() if "=" in line)

        service_await_on_the_node(images)
        # Before the checkout's own tools/up below, whose stack local takes the same node ports.
        for args in ((), ("--prod",)):
            figure = main_job_from_empty(*args)
            print(f"main job from empty, tools/up {' '.join(args)}: {figure}".replace("  ", " "))
        with tempfile.TemporaryDirectory() as temp:
            workdir = Path(temp)

            def on_real_node(config: dict[str, Any]) -> None:
                point_at_local_cluster(config, "bench-real", REAL_NODE_PORTS)
                for unit, image in images.items():
                    config[f"voting-app:{unit}"]["image"] = image

            up = bench_stack(workdir, on_real_node)
            start = time.perf_counter()
            run(*up, cwd=workdir)
            up_seconds = time.perf_counter() - start
            vote_url = f"http://localhost:{REAL_NODE_PORTS['vote']}"
            result_url = f"http://localhost:{REAL_NODE_PORTS['result']}/api/results"
            while answer(vote_url, b"vote=a") is None and time.perf_counter() - start < 300:
                time.sleep(0.2)
            counted = None
            while time.perf_counter() - start < 300:
                counted = json.loads(answer(result_url) or "null")
                if counted and counted.get("a"):
                    break
                time.sleep(0.2)
            first_vote = time.perf_counter() - start
            if not (counted and counted.get("a")):
                sys.exit("benchmark: no vote was counted on the real node within 300 s")
            run("pulumi", "destroy", "--stack", STACK, "--yes", "--suppress-progress", cwd=workdir)
        # The README's main job itself, on the checkout's own backend: deployed once, then rerun.
        with environment(PULUMI_BACKEND_URL=None):
            run(str(ROOT / "tools" / "up"))
            rerun = min(timed(lambda: run(str(ROOT / "tools" / "up"))) for _ in range(3))
        return up_seconds, first_vote, rerun
    finally:
        run(str(ROOT / "workbench" / "real-node" / "node"), "stop")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--scaling"]:
        scaling(tuple(int(count) for count in sys.argv[2:]) or COPIES)
    elif sys.argv[1:2] == ["--service-await"]:
        service_await_only()
    elif sys.argv[1:2] == ["--real-node"]:
        real_node_section()
    else:
        main()
