"""The URL at which a Service can be reached from where its exposure type says."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.specs import ExposureType

PENDING = "pending: no load balancer address yet"


def _http_url(host: str, port: int) -> str:
    return f"http://{host}" if port == 80 else f"http://{host}:{port}"


def _ingress_host(entry: Any) -> str | None:
    # Entries arrive as typed objects from the provider, or as plain dicts where the SDK could
    # not translate the nested list.
    def read(field: str) -> str | None:
        value = entry.get(field) if isinstance(entry, dict) else getattr(entry, field, None)
        return value if isinstance(value, str) and value else None

    return read("ip") or read("hostname")


def _load_balancer_url(ingress: list[Any] | None, port: int) -> str:
    host = _ingress_host(ingress[0]) if ingress else None
    return _http_url(host, port) if host else PENDING


def service_url(
    service: k8s.core.v1.Service, exposure: ExposureType, node_address: str
) -> pulumi.Output[str]:
    """NodePort: node address and node port. LoadBalancer: its ingress IP or host name.
    ClusterIP: the in-cluster DNS name (reachable only from inside the cluster)."""
    port = service.spec.ports[0]
    if exposure is ExposureType.NODE_PORT:
        return port.node_port.apply(lambda node_port: _http_url(node_address, node_port))
    if exposure is ExposureType.LOAD_BALANCER:
        return pulumi.Output.all(service.status.load_balancer.ingress, port.port).apply(
            lambda values: _load_balancer_url(values[0], values[1])
        )
    return pulumi.Output.all(service.metadata.name, service.metadata.namespace, port.port).apply(
        lambda values: _http_url(f"{values[0]}.{values[1]}.svc.cluster.local", values[2])
    )
