"""A throwaway copy of the project, driven by the Automation API against the local cluster."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pulumi.automation as auto

from tests.integration.cluster import (
    CONTEXT,
    KUBECONFIG,
    delete_namespaces,
    destroying,
    require_cluster,
)
from tests.stack_files import ROOT
from tools.lib.project_copy import (
    StackConfig,
    copy_program,
    edit_stack_config,
    point_at_local_cluster,
)
from workbench import settings

# Every preview and up the tests make runs the project's policy pack, as tools/up does.
POLICY_PACK = str(ROOT / "policy")
PASSPHRASES = settings.PASSPHRASES
# A tools/up deployment of dev may hold the stack file's own node ports on the same cluster.
TEST_NODE_PORTS = {"vote": 30104, "result": 30105}


@dataclass
class StackUnderTest:
    name: str
    stack: auto.Stack
    namespace: str
    password: str
    backend: Path

    def edit_config(self, edit: Callable[[StackConfig], None]) -> None:
        """Change the stack file's config in place, as a person editing it would."""
        edit_stack_config(Path(self.stack.workspace.work_dir), self.name, edit)

    def up(self) -> auto.UpResult:
        return self.stack.up(policy_packs=[POLICY_PACK], suppress_progress=True)

    def preview(self) -> auto.PreviewResult:
        return self.stack.preview(policy_packs=[POLICY_PACK], diff=True, suppress_progress=True)

    def destroy(self) -> auto.DestroyResult:
        """`pulumi destroy`, failing at once with the reason if the namespace cannot go."""
        with destroying(self.namespace, Path(self.stack.workspace.work_dir)):
            return self.stack.destroy(suppress_progress=True)

    def state_text(self) -> str:
        return "\n".join(
            path.read_text() for path in self.backend.rglob("*.json") if ".pulumi" in path.parts
        )


@contextmanager
def throwaway_stack(
    stack: str,
    workdir: Path,
    render_to: Path | None = None,
    node_ports: Mapping[str, int] = TEST_NODE_PORTS,
    edit: Callable[[StackConfig], None] | None = None,
    program: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[StackUnderTest]:
    """The stack file's own config, pointed at the local cluster, in a namespace of its own,
    with a fresh random password (so any plaintext leak is detectable). With `render_to`, the
    provider writes manifests there instead of deploying; `node_ports` replace the stack's fixed
    ones; `edit` changes the config further before anything is deployed; `program` replaces
    `__main__.py` and `env` adds to the CLI's environment. Afterwards the stack is destroyed and
    every namespace of the test removed, those a stack keeps on destroy included."""
    if render_to is None:
        require_cluster()
    project = workdir / "project"
    backend = workdir / "state"
    project.mkdir()
    backend.mkdir()
    copy_program(ROOT, project, [stack])
    if program is not None:
        shutil.copy(program, project / "__main__.py")
    options = auto.LocalWorkspaceOptions(
        work_dir=str(project),
        env_vars={
            **(env or {}),
            "PULUMI_BACKEND_URL": f"file://{backend}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASES[stack],
            # Rendering contacts no cluster, and the provider refuses a kubeconfig with it.
            **({} if render_to else {"KUBECONFIG": str(KUBECONFIG)}),
        },
        pulumi_command=auto.PulumiCommand(skip_version_check=True),
    )
    handle = auto.create_or_select_stack(stack, work_dir=str(project), opts=options)
    namespace = f"it-{stack}-{secrets.token_hex(3)}"
    password = f"it-{secrets.token_urlsafe(12)}"
    test = StackUnderTest(stack, handle, namespace, password, backend)

    def for_this_test(config: StackConfig) -> None:
        point_at_local_cluster(config, namespace, node_ports, CONTEXT)
        if render_to is not None:
            config["voting-app:cluster"]["renderYamlTo"] = str(render_to)
        if edit is not None:
            edit(config)

    test.edit_config(for_this_test)
    handle.set_config("voting-app:dbPassword", auto.ConfigValue(value=password, secret=True))
    try:
        yield test
    finally:
        # Whatever a test left behind is removed; the destroy test asserts this works by itself.
        test.destroy()
        handle.workspace.remove_stack(stack)
        if render_to is None:
            delete_namespaces(namespace)
