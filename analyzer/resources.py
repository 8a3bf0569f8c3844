"""Kubernetes resource names: the one table mapping kinds to bundle paths."""

from __future__ import annotations

# kind -> (resource key as in bundle paths, API group)
KINDS: dict[str, tuple[str, str]] = {
    "Stage": ("stages.kargo.akuity.io", "kargo.akuity.io"),
    "Promotion": ("promotions.kargo.akuity.io", "kargo.akuity.io"),
    "Freight": ("freights.kargo.akuity.io", "kargo.akuity.io"),
    "Warehouse": ("warehouses.kargo.akuity.io", "kargo.akuity.io"),
    "Project": ("projects.kargo.akuity.io", "kargo.akuity.io"),
    "ProjectConfig": ("projectconfigs.kargo.akuity.io", "kargo.akuity.io"),
    "PromotionTask": ("promotiontasks.kargo.akuity.io", "kargo.akuity.io"),
    "ClusterPromotionTask": ("clusterpromotiontasks.kargo.akuity.io", "kargo.akuity.io"),
    "Application": ("applications.argoproj.io", "argoproj.io"),
    "ApplicationSet": ("applicationsets.argoproj.io", "argoproj.io"),
    "AppProject": ("appprojects.argoproj.io", "argoproj.io"),
    "AnalysisRun": ("analysisruns.argoproj.io", "argoproj.io"),
    "AnalysisTemplate": ("analysistemplates.argoproj.io", "argoproj.io"),
    "ClusterAnalysisTemplate": ("clusteranalysistemplates.argoproj.io", "argoproj.io"),
    "Pod": ("pods", ""),
    "Event": ("events", ""),
    "Job": ("jobs", "batch"),
    "Deployment": ("deployments", "apps"),
    "StatefulSet": ("statefulsets", "apps"),
    "ReplicaSet": ("replicasets", "apps"),
    "DaemonSet": ("daemonsets", "apps"),
    "Service": ("services", ""),
    "Endpoints": ("endpoints", ""),
    "ConfigMap": ("configmaps", ""),
    "Secret": ("secrets", ""),
    "ServiceAccount": ("serviceaccounts", ""),
    "Namespace": ("namespaces", ""),
    "Node": ("nodes", ""),
    "Ingress": ("ingresses", "networking.k8s.io"),
    "ClusterRole": ("clusterroles", "rbac.authorization.k8s.io"),
    "ClusterRoleBinding": ("clusterrolebindings", "rbac.authorization.k8s.io"),
    "Role": ("roles", "rbac.authorization.k8s.io"),
    "RoleBinding": ("rolebindings", "rbac.authorization.k8s.io"),
    "CustomResourceDefinition": ("customresourcedefinitions", "apiextensions.k8s.io"),
}

RESOURCE_KIND: dict[str, str] = {resource: kind for kind, (resource, _group) in KINDS.items()}


def resource_for_kind(kind: str, api_version: str = "") -> str:
    """Bundle resource key for an object's kind; unknown kinds get a stable guess."""
    if kind in KINDS:
        return KINDS[kind][0]
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    plural = kind.lower() + "s"
    return f"{plural}.{group}" if group else plural


def kind_for_resource(resource: str) -> str:
    """Kind for a resource key or a kubectl resource argument (``stages``, ``stage``, ``stages.kargo.akuity.io``)."""
    if resource in RESOURCE_KIND:
        return RESOURCE_KIND[resource]
    short = resource.split(".", 1)[0].lower()
    for res, kind in RESOURCE_KIND.items():
        if res.split(".", 1)[0] == short or kind.lower() == short:
            return kind
    return short[:1].upper() + short[1:]


def canonical_resource(resource: str) -> str:
    """``stages`` or ``stage`` -> ``stages.kargo.akuity.io``; unknown stays as given."""
    if resource in RESOURCE_KIND:
        return resource
    kind = kind_for_resource(resource)
    return KINDS[kind][0] if kind in KINDS else resource
