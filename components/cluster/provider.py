"""The explicit provider that targets a stack's cluster.

A stack never falls back to whatever kube context happens to be current: the provider is always
given the context its config names.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.cluster.target import ClusterConfig


def cluster_provider(name: str, cluster: ClusterConfig) -> k8s.Provider:
    """The Kubernetes provider for `cluster`, pinned to its context (or rendering manifests)."""
    if cluster.render_yaml_to is not None:
        # An empty kubeconfig, not None: the SDK fills None in from $KUBECONFIG, and the provider
        # refuses any kubeconfig beside renderYamlToDirectory (a render contacts no cluster).
        return k8s.Provider(name, render_yaml_to_directory=cluster.render_yaml_to, kubeconfig="")
    return k8s.Provider(name, context=cluster.context, kubeconfig=cluster.kubeconfig)
