"""The URL at which a Service can be reached from where its exposure type says."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.units.specs import Exposure, ExposureType

PENDING = "pending: no load balancer address yet"


def _http_url(host: str, port: int) -> str:
    # An IPv6 address is bracketed in a URL, or its colons would read as the port's.
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}" if port == 80 else f"http://{host}:{port}"


def _read(value: Any, *names: str) -> Any:
    """A field of a typed output object or of a plain dict (the SDK leaves some nested values
    untranslated): the first of `names` that is present and not empty, else None."""
    for name in names:
        found = value.get(name) if isinstance(value, dict) else getattr(value, name, None)
        if found is not None and found != "":
            return found
    return None


def load_balancer_url(status: Any, port: int) -> str:
    # No status at all when the provider only renders manifests, or before an address is given.
    ingress = _read(status, "load_balancer", "loadBalancer")
    entries = _read(ingress, "ingress") or []
    host = _read(entries[0], "ip", "hostname") if entries else None
    return _http_url(host, port) if isinstance(host, str) and host else PENDING


def service_url(service: k8s.core.v1.Service, exposure: Exposure) -> pulumi.Output[str]:
    """NodePort: the exposure's node address and the node port. LoadBalancer: its ingress IP or
    host name. ClusterIP: the in-cluster DNS name (reachable only from inside the cluster)."""
    port = service.spec.ports[0]
    if exposure.type is ExposureType.NODE_PORT:
        return port.node_port.apply(lambda node_port: _http_url(exposure.node_address, node_port))
    if exposure.type is ExposureType.LOAD_BALANCER:
        return pulumi.Output.all(service.status, port.port).apply(
            lambda values: load_balancer_url(values[0], values[1])
        )
    return pulumi.Output.all(service.metadata.name, service.metadata.namespace, port.port).apply(
        lambda values: _http_url(f"{values[0]}.{values[1]}.svc.cluster.local", values[2])
    )
