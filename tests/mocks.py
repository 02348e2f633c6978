"""One Mocks class for every unit test: records registrations, fills in computed fields."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs, rpc
from pulumi.runtime.mocks import MockMonitor

SECRET_SIG = "4dabf18193072939515e22adb298388d"
FIRST_AUTO_NODE_PORT = 31500


class VotingMocks(pulumi.runtime.Mocks):
    """Answers like an API server would: a Service gets a clusterIP, NodePort and LoadBalancer
    Services get node ports, and a LoadBalancer gets an ingress address (all camelCase)."""

    def __init__(self) -> None:
        self.registered: list[MockResourceArgs] = []
        self.urns: list[str] = []
        # By URN: what each resource was told to wait for (URNs), and each component's outputs.
        self.dependencies: dict[str, list[str]] = {}
        self.retained: set[str] = set()  # the URNs registered with retainOnDelete
        self.ignored: dict[str, list[str]] = {}  # by URN: its ignoreChanges, when it has any
        self.alias_names: dict[str, list[str]] = {}  # the old names each resource answers to
        self.alias_types: dict[str, list[str]] = {}  # the other types each resource answers to
        self.component_outputs: dict[str, dict[str, Any]] = {}
        self._cluster_ips = (f"10.96.0.{n}" for n in itertools.count(10))
        self._node_ports = itertools.count(FIRST_AUTO_NODE_PORT)
        self._ingress_ips = (f"203.0.113.{n}" for n in itertools.count(10))

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append(args)
        outputs = dict(args.inputs)
        if args.typ == "kubernetes:core/v1:Service":
            outputs = self._service(outputs)
        return f"{args.name}-id", outputs

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        raise AssertionError(f"the program made an unexpected call: {args.token}")

    def _service(self, outputs: dict[str, Any]) -> dict[str, Any]:
        spec = dict(unwrap(outputs.get("spec", {})))
        service_type = spec.get("type", "ClusterIP")
        spec["clusterIP"] = next(self._cluster_ips)
        if service_type in ("NodePort", "LoadBalancer"):
            spec["ports"] = [
                {**port, "nodePort": port.get("nodePort") or next(self._node_ports)}
                for port in spec.get("ports", [])
            ]
        outputs["spec"] = spec
        if service_type == "LoadBalancer":
            outputs["status"] = {"loadBalancer": {"ingress": [{"ip": next(self._ingress_ips)}]}}
        return outputs

    # Queries used by the tests.

    def of_type(self, typ: str) -> list[MockResourceArgs]:
        return [r for r in self.registered if r.typ == typ]

    def ignored_changes(self, typ: str) -> dict[str, list[str]]:
        """By name: the ignoreChanges of each resource of type `typ` that has any."""
        return {
            urn.rsplit("::", 1)[-1]: fields
            for urn, fields in self.ignored.items()
            if urn.split("::")[-2].rsplit("$", 1)[-1] == typ
        }


class RecordingMonitor(MockMonitor):  # type: ignore[misc]
    """The SDK's mock monitor, also recording what it otherwise drops: each registration's
    dependencies, retainOnDelete, ignoreChanges, aliases, and each component's registered
    outputs."""

    def __init__(self, mocks: VotingMocks) -> None:
        super().__init__(mocks)
        self.voting_mocks = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        response = super().RegisterResource(request)
        self.voting_mocks.dependencies[response.urn] = list(request.dependencies)
        if request.HasField("retainOnDelete") and request.retainOnDelete:
            self.voting_mocks.retained.add(response.urn)
        if request.ignoreChanges:
            self.voting_mocks.ignored[response.urn] = list(request.ignoreChanges)
        self.voting_mocks.alias_names[response.urn] = [
            alias.spec.name for alias in request.aliases if alias.spec.name
        ]
        self.voting_mocks.alias_types[response.urn] = [
            alias.spec.type for alias in request.aliases if alias.spec.type
        ]
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        outputs = rpc.deserialize_properties(request.outputs)
        self.voting_mocks.component_outputs[request.urn] = dict(outputs)
        return super().RegisterResourceOutputs(request)


def is_secret(value: object) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) is not None


def unwrap(value: Any) -> Any:
    """A value with its secret markers removed."""
    if is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def plain_strings(value: Any) -> Iterator[str]:
    """Every string in `value` that is not inside a secret."""
    if is_secret(value):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from plain_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from plain_strings(item)


def run_with_mocks(
    program: Callable[[], Any],
    *,
    stack: str = "dev",
    config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
    mocks: VotingMocks | None = None,
) -> VotingMocks:
    """Run `program` against `mocks` (fresh ones by default) and wait for every registration
    and for the Output it returns."""
    mocks = mocks or VotingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="voting-app", stack=stack, preview=False, monitor=monitor
    )
    pulumi.runtime.set_all_config(config or {}, secret_keys or [])

    @pulumi.runtime.test  # type: ignore[misc]
    def run() -> Any:
        return program()

    try:
        run()
    finally:
        mocks.urns = list(monitor.resources)
    return mocks
