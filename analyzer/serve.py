"""A read-only Kubernetes API server over a bundle.

Point the real ``kubectl`` at a snapshot: ``gitops-master serve BUNDLE``
writes a kubeconfig for ``http://127.0.0.1:PORT`` and answers the requests
``kubectl get``, ``describe``, ``logs``, ``api-resources`` and ``version``
make, from the objects :func:`analyzer.bundle.open_bundle` read. Nothing is
ever served by path: every answer is built from parsed objects and log files.

What it answers, like the real apiserver:

* discovery (``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/G``,
  ``/apis/G/V``) in the legacy, unaggregated form. Newer clients ask for
  aggregated discovery first and fall back when the answer is plain JSON.
* get and list of every resource in the bundle, all namespaces or one, with
  ``labelSelector`` and ``fieldSelector``; ``meta.k8s.io/v1`` Tables for
  ``kubectl get``, with the printer columns of the built-in kinds and of the
  Kargo, Argo CD and Argo Rollouts CRDs. Ages in tables are measured from the
  bundle's reference time (the collection instant), never from now.
* container logs (``/pods/NAME/log``) with ``container``, ``previous``,
  ``timestamps``, ``sinceSeconds``, ``sinceTime``, ``tailLines`` and
  ``limitBytes``; ``sinceSeconds`` counts back from the reference time.

What it refuses:

* every method but GET and HEAD (405 ``MethodNotAllowed``): the server is
  read-only, so ``kubectl auth can-i`` (a POST of a SelfSubjectAccessReview),
  ``apply``, ``edit``, ``exec`` and ``port-forward`` fail;
* watches (405), ``/openapi/v2`` and ``/openapi/v3`` (404: ``kubectl explain``
  and client-side validation are unavailable);
* a list of something the bundle does not hold for that namespace answers 404
  "were not collected in this bundle", never an empty list, so "not collected"
  is not mistaken for "not there" (``uncollected="empty"`` turns this off).

Ages that kubectl computes itself (``kubectl describe``) are still measured
from the client's clock. Plain HTTP without authentication: the server binds
loopback addresses only.

Test hooks: ``deny`` answers 403 Forbidden with the apiserver's RBAC message for
a resource (optionally in one namespace); ``delay`` holds the answer for a
resource so that ``kubectl --request-timeout`` fires. Every request is recorded
(method, path with query, status) in memory and, with ``request_log``, as one
JSON object per line in a file: the proof that a client only read.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import signal
import sys
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from analyzer.bundle import Bundle, open_bundle, parse_time
from analyzer.resources import RESOURCE_KIND

# The kubectl on this kind of host runs the client matching the server's minor
# version; outside this range it has no client to run.
KUBECTL_MINORS = (27, 33)
DEFAULT_SERVER_VERSION = "v1.30.0"
DENIED_USER = "system:serviceaccount:support:gitops-collector"
READ_VERBS = ("get", "list")
MAX_DISCOVERY_FILE = 16 * 1024**2
MAX_REQUEST_BODY = 1024**2

# ------------------------------------------------------------------ types


@dataclass(frozen=True)
class Column:
    """One printer column: ``additionalPrinterColumns`` of a CRD."""

    name: str
    type: str
    json_path: str
    priority: int = 0
    description: str = ""


AGE = Column("Age", "date", ".metadata.creationTimestamp", 0, "Time since resource was created")
READY_STATUS = Column("Ready", "string", '.status.conditions[?(@.type=="Ready")].status')
READY_MESSAGE = Column("Status", "string", '.status.conditions[?(@.type=="Ready")].message')

# Copied from the CRDs of Kargo v1.11.2, Argo CD v3.5.1 and Argo Rollouts v1.9.1.
# A bundle that holds the CRDs themselves overrides these.
CRD_COLUMNS: dict[tuple[str, str], tuple[Column, ...]] = {
    ("kargo.akuity.io", "stages"): (
        Column("Shard", "string", ".spec.shard"),
        Column("Current Freight", "string", ".status.freightSummary"),
        Column("Health", "string", ".status.health.status"),
        READY_STATUS,
        READY_MESSAGE,
        AGE,
    ),
    ("kargo.akuity.io", "promotions"): (
        Column("Shard", "string", ".metadata.labels.kargo\\.akuity\\.io/shard"),
        Column("Stage", "string", ".spec.stage"),
        Column("Freight", "string", ".spec.freight"),
        Column("Phase", "string", ".status.phase"),
        AGE,
    ),
    ("kargo.akuity.io", "freights"): (
        Column("Alias", "string", ".metadata.labels.kargo\\.akuity\\.io/alias"),
        Column("Origin (Kind)", "string", ".origin.kind"),
        Column("Origin (Name)", "string", ".origin.name"),
        AGE,
    ),
    ("kargo.akuity.io", "warehouses"): (Column("Shard", "string", ".spec.shard"), AGE),
    ("kargo.akuity.io", "projects"): (READY_STATUS, READY_MESSAGE, AGE),
    ("kargo.akuity.io", "projectconfigs"): (READY_STATUS, READY_MESSAGE, AGE),
    ("kargo.akuity.io", "clusterconfigs"): (READY_STATUS, READY_MESSAGE, AGE),
    ("kargo.akuity.io", "promotiontasks"): (AGE,),
    ("kargo.akuity.io", "clusterpromotiontasks"): (AGE,),
    ("argoproj.io", "applications"): (
        Column("Sync Status", "string", ".status.sync.status"),
        Column("Health Status", "string", ".status.health.status"),
        Column("Revision", "string", ".status.sync.revision", 10),
        Column("Project", "string", ".spec.project", 10),
    ),
    ("argoproj.io", "analysisruns"): (Column("Status", "string", ".status.phase", 0, "AnalysisRun status"), AGE),
    ("argoproj.io", "analysistemplates"): (AGE,),
    ("argoproj.io", "clusteranalysistemplates"): (AGE,),
}
# Kargo up to v1.4 printed the Stage phase instead of the Ready condition.
KARGO_1_4_STAGE_COLUMNS = (
    Column("Shard", "string", ".spec.shard"),
    Column("Current Freight", "string", ".status.freightSummary"),
    Column("Health", "string", ".status.health.status"),
    Column("Phase", "string", ".status.phase"),
    AGE,
)


@dataclass
class ResourceType:
    """One served resource and the objects the bundle holds of it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = READ_VERBS
    custom: bool = False  # served from a CRD: CRD printer columns, CR list shape
    columns: tuple[Column, ...] | None = None
    advertised: bool = False
    derived_from: tuple[str, str] | None = None  # (group, plural) whose objects this one converts
    objects: dict[tuple[str, str], dict] = field(default_factory=dict)  # (namespace, name) -> object
    covered_all: bool = False  # collected in every namespace (or cluster-scoped and collected)
    covered_ns: set[str] = field(default_factory=set)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``stages.kargo.akuity.io``, ``pods``: how the apiserver names it in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def names(self) -> set[str]:
        return {self.plural, self.qualified}

    def discovery(self) -> dict:
        entry = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        return entry


# group, version, plural, kind, namespaced, short names, categories, always served
_B = tuple[str, str, str, str, bool, tuple[str, ...], tuple[str, ...], bool]
BUILTIN_TYPES: tuple[_B, ...] = (
    ("", "v1", "pods", "Pod", True, ("po",), ("all",), True),
    ("", "v1", "events", "Event", True, ("ev",), (), True),
    ("", "v1", "services", "Service", True, ("svc",), ("all",), True),
    ("", "v1", "endpoints", "Endpoints", True, ("ep",), (), True),
    ("", "v1", "configmaps", "ConfigMap", True, ("cm",), (), True),
    ("", "v1", "secrets", "Secret", True, (), (), True),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",), (), True),
    ("", "v1", "namespaces", "Namespace", False, ("ns",), (), True),
    ("", "v1", "nodes", "Node", False, ("no",), (), True),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), (), False),
    ("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), (), False),
    ("", "v1", "replicationcontrollers", "ReplicationController", True, ("rc",), ("all",), False),
    ("", "v1", "resourcequotas", "ResourceQuota", True, ("quota",), (), False),
    ("", "v1", "limitranges", "LimitRange", True, ("limits",), (), False),
    ("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("all",), True),
    ("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), ("all",), True),
    ("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), ("all",), True),
    ("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), ("all",), True),
    ("apps", "v1", "controllerrevisions", "ControllerRevision", True, (), (), False),
    ("batch", "v1", "jobs", "Job", True, (), ("all",), True),
    ("batch", "v1", "cronjobs", "CronJob", True, ("cj",), ("all",), True),
    ("events.k8s.io", "v1", "events", "Event", True, ("ev",), (), True),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",), (), True),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("netpol",), (), False),
    ("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False, (), (), False),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, (), (), True),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, (), (), True),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, (), (), True),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, (), (), True),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False, ("crd", "crds"), ("api-extensions",), True),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",), (), False),
    ("coordination.k8s.io", "v1", "leases", "Lease", True, (), (), False),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ("hpa",), ("all",), False),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), (), False),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, (), (), False),
    ("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ("pc",), (), False),
    ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False, (), ("api-extensions",), False),
    ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False, (), ("api-extensions",), False),
    ("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, (), ("api-extensions",), False),
    ("kargo.akuity.io", "v1alpha1", "stages", "Stage", True, (), (), True),
    ("kargo.akuity.io", "v1alpha1", "promotions", "Promotion", True, ("promo", "promos"), (), True),
    ("kargo.akuity.io", "v1alpha1", "freights", "Freight", True, (), (), True),
    ("kargo.akuity.io", "v1alpha1", "warehouses", "Warehouse", True, (), (), True),
    ("kargo.akuity.io", "v1alpha1", "projects", "Project", False, (), (), True),
    ("kargo.akuity.io", "v1alpha1", "projectconfigs", "ProjectConfig", True, (), (), False),
    ("kargo.akuity.io", "v1alpha1", "clusterconfigs", "ClusterConfig", False, ("clusterconfig", "clusterconfigs"), (), False),
    ("kargo.akuity.io", "v1alpha1", "promotiontasks", "PromotionTask", True, ("promotask", "promotasks"), (), False),
    ("kargo.akuity.io", "v1alpha1", "clusterpromotiontasks", "ClusterPromotionTask", False, ("clusterpromotask", "clusterpromotasks"), (), False),
    ("argoproj.io", "v1alpha1", "applications", "Application", True, ("app", "apps"), (), True),
    ("argoproj.io", "v1alpha1", "applicationsets", "ApplicationSet", True, ("appset", "appsets"), (), True),
    ("argoproj.io", "v1alpha1", "appprojects", "AppProject", True, ("appproj", "appprojs"), (), True),
    ("argoproj.io", "v1alpha1", "analysisruns", "AnalysisRun", True, ("ar",), (), True),
    ("argoproj.io", "v1alpha1", "analysistemplates", "AnalysisTemplate", True, ("at",), (), True),
    ("argoproj.io", "v1alpha1", "clusteranalysistemplates", "ClusterAnalysisTemplate", False, ("cat",), (), False),
    ("argoproj.io", "v1alpha1", "rollouts", "Rollout", True, ("ro",), (), False),
)
CUSTOM_GROUPS = {"kargo.akuity.io", "argoproj.io"}
# Only these subresources are served; the rest of a pod (exec, attach, ...) is live-cluster only.
CORE_SUBRESOURCES = {"pods/log": "Pod"}
SELF_REVIEWS = ("selfsubjectaccessreviews", "SelfSubjectAccessReview"), ("selfsubjectrulesreviews", "SelfSubjectRulesReview")

# Group order as a real apiserver lists them; CRD groups follow, alphabetically.
GROUP_ORDER = (
    "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
    "storage.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
    "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io", "flowcontrol.apiserver.k8s.io",
)

# Field selectors each built-in resource supports; everything has metadata.name and metadata.namespace.
FIELD_LABELS: dict[tuple[str, str], dict[str, str]] = {
    ("", "pods"): {
        "spec.nodeName": "spec.nodeName", "spec.restartPolicy": "spec.restartPolicy",
        "spec.schedulerName": "spec.schedulerName", "spec.serviceAccountName": "spec.serviceAccountName",
        "spec.hostNetwork": "spec.hostNetwork", "status.phase": "status.phase", "status.podIP": "status.podIP",
        "status.nominatedNodeName": "status.nominatedNodeName",
    },
    ("", "events"): {
        **{f"involvedObject.{k}": f"involvedObject.{k}" for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": "reason", "reportingComponent": "reportingComponent", "source": "source.component", "type": "type",
    },
    ("events.k8s.io", "events"): {
        **{f"regarding.{k}": f"involvedObject.{k}" for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": "reason", "reportingController": "reportingComponent", "deprecatedSource": "source.component", "type": "type",
    },
    ("", "namespaces"): {"status.phase": "status.phase"},
    ("", "nodes"): {"spec.unschedulable": "spec.unschedulable"},
    ("", "secrets"): {"type": "type"},
    ("", "services"): {"spec.clusterIP": "spec.clusterIP", "spec.type": "spec.type"},
    ("", "replicationcontrollers"): {"status.replicas": "status.replicas"},
    ("apps", "replicasets"): {"status.replicas": "status.replicas"},
    ("batch", "jobs"): {"status.successful": "status.succeeded"},
}
FIELD_DEFAULTS = {"spec.hostNetwork": "false", "spec.unschedulable": "false", "status.succeeded": "0", "status.replicas": "0"}

# ---------------------------------------------------------------- errors


class ApiError(Exception):
    """An answer that is a ``Status`` object, as the apiserver sends."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict:
        out = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            out["details"] = self.details
        return out


def _not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(405, "MethodNotAllowed", message, {})


# ------------------------------------------------------------ the registry


class Registry:
    """Every served resource type, with the bundle's objects sorted into them."""

    def __init__(self, bundle: Bundle, discovery_files: dict[str, bytes] | None = None, uncollected: str = "notfound"):
        self.bundle = bundle
        self.uncollected = uncollected
        self.types: dict[tuple[str, str], ResourceType] = {}  # (group, plural)
        self.preferred: dict[str, str] = {}
        discovery_files = discovery_files or {}
        authoritative = self._load_discovery(discovery_files)
        for entry in BUILTIN_TYPES:
            group, version, plural, kind, namespaced, shorts, cats, always = entry
            t = self.types.get((group, plural))
            if t is None:
                t = ResourceType(group, version, plural, kind, namespaced, kind.lower(), shorts, cats,
                                 custom=group in CUSTOM_GROUPS, advertised=always and not authoritative)
                self.types[(group, plural)] = t
            else:
                t.custom = t.custom or group in CUSTOM_GROUPS
                t.short_names = t.short_names or shorts
        self._load_crds()
        self._load_objects()
        self._load_commands()
        events = self.types[("events.k8s.io", "events")]
        if not events.objects:
            events.derived_from = ("", "events")
        self._choose_stage_columns()

    # -- discovery data from the bundle

    def _load_discovery(self, files: dict[str, bytes]) -> bool:
        """Types from ``cluster-resources/resources.json``; True when it gave any."""
        found = False
        try:
            lists = orjson.loads(files["resources.json"]) if "resources.json" in files else []
        except orjson.JSONDecodeError:
            lists = []
        if isinstance(lists, dict):
            lists = lists.get("resources") or lists.get("items") or []
        for rl in lists if isinstance(lists, list) else []:
            if not isinstance(rl, dict) or not isinstance(rl.get("groupVersion"), str):
                continue
            group, _, version = rl["groupVersion"].rpartition("/")
            for r in rl.get("resources") or []:
                if not isinstance(r, dict) or not _is_name(r.get("name")) or "/" in r["name"] or not _is_kind(r.get("kind")):
                    continue
                if (group, r["name"]) in self.types:
                    continue
                verbs = tuple(v for v in r.get("verbs") or () if v in READ_VERBS) or tuple(str(v) for v in r.get("verbs") or ())[:8]
                self.types[(group, r["name"])] = ResourceType(
                    group, version, r["name"], r["kind"], bool(r.get("namespaced")),
                    str(r.get("singularName") or "") or r["kind"].lower(),
                    _names(r.get("shortNames")), _names(r.get("categories")), verbs,
                    custom=group in CUSTOM_GROUPS, advertised=True,
                )
                found = True
        try:
            groups = orjson.loads(files["groups.json"]) if "groups.json" in files else []
        except orjson.JSONDecodeError:
            groups = []
        if isinstance(groups, dict):
            groups = groups.get("groups") or []
        for g in groups if isinstance(groups, list) else []:
            pv = g.get("preferredVersion") if isinstance(g, dict) else None
            if isinstance(pv, dict) and isinstance(g.get("name"), str) and isinstance(pv.get("version"), str):
                self.preferred[g["name"]] = pv["version"]
        return found

    def _load_crds(self) -> None:
        for obj in self._raw_objects("customresourcedefinitions"):
            spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
            names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
            group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
            if not (isinstance(group, str) and _is_name(plural) and _is_kind(kind)):
                continue
            versions = [v for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("served", True) and isinstance(v.get("name"), str)]
            if not versions:
                continue
            chosen = next((v for v in versions if v.get("storage")), versions[0])
            cols = tuple(
                Column(str(c["name"]), str(c.get("type", "string")), str(c["jsonPath"]), _int(c.get("priority")), str(c.get("description", "")))
                for c in chosen.get("additionalPrinterColumns") or spec.get("additionalPrinterColumns") or []
                if isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("jsonPath"), str)
            )
            t = self.types.get((group, plural))
            if t is None:
                t = ResourceType(group, chosen["name"], plural, kind, spec.get("scope") != "Cluster")
                self.types[(group, plural)] = t
            t.custom = True
            t.advertised = True
            t.version = chosen["name"] if _is_name(chosen["name"]) else t.version
            t.singular = str(names.get("singular") or t.singular or kind.lower())
            t.short_names = _names(names.get("shortNames")) or t.short_names
            t.categories = _names(names.get("categories")) or t.categories
            t.columns = cols or (AGE,)

    def _raw_objects(self, plural: str) -> Iterable[dict]:
        for key, docs in self.bundle.documents.items():
            if key.split(".", 1)[0] not in (plural, "custom-resource-definitions"):
                continue
            for doc in docs:
                yield from (o for o in _items(doc.data) or [] if isinstance(o, dict) and o.get("kind") in (None, "CustomResourceDefinition"))

    def _load_objects(self) -> None:
        by_kind: dict[tuple[str, str], ResourceType] = {}
        for t in self.types.values():
            by_kind.setdefault((t.group, t.kind), t)
        for key, docs in sorted(self.bundle.documents.items()):
            for doc in docs:
                items = _items(doc.data)
                if items is None:
                    continue  # a broken file proves nothing was collected
                hit: dict[int, ResourceType] = {}
                keyed = self._type_for_key(key, by_kind)
                if keyed is not None:
                    hit[id(keyed)] = keyed  # an empty list proves the resource was collected, too
                for obj in items:
                    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
                        continue
                    name = obj["metadata"].get("name")
                    if not isinstance(name, str) or not name:
                        continue
                    t = self._type_for(obj, key, doc.namespace, by_kind)
                    if t is None:
                        continue
                    ns = obj["metadata"].get("namespace") if t.namespaced else ""
                    if t.namespaced and not isinstance(ns, str):
                        ns = doc.namespace or ""
                    if not obj.get("kind") or not obj.get("apiVersion"):
                        obj = {"apiVersion": t.group_version, "kind": t.kind, **obj}
                    t.objects[(ns, name)] = obj
                    hit[id(t)] = t
                for t in hit.values():
                    t.advertised = True
                    if doc.namespace and t.namespaced:
                        t.covered_ns.add(doc.namespace)
                    else:
                        t.covered_all = True

    def _type_for_key(self, key: str, by_kind: dict) -> ResourceType | None:
        plural, _, group = key.partition(".")
        plural = TROUBLESHOOT_NAMES.get(plural, plural)
        if (group, plural) in self.types:
            return self.types[(group, plural)]
        kind = RESOURCE_KIND.get(key)
        return next((t for (g, k), t in by_kind.items() if k == kind and g == group), None) if kind else None

    def _type_for(self, obj: dict, key: str, doc_ns: str | None, by_kind: dict) -> ResourceType | None:
        api_version = obj.get("apiVersion") if isinstance(obj.get("apiVersion"), str) else ""
        kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ""
        if not kind:
            return self._type_for_key(key, by_kind)
        if not _is_kind(kind):
            return None
        group, _, version = api_version.rpartition("/")
        if not version:
            version = "v1"
        t = by_kind.get((group, kind))
        if t is not None:
            return t
        plural, _, key_group = key.partition(".")
        if key_group != group or not _is_name(plural) or plural in TROUBLESHOOT_NAMES or (group == "" and RESOURCE_KIND.get(key) not in (None, kind)):
            plural = guess_plural(kind)
        if (group, plural) in self.types:
            return None  # a second kind under a taken name: refuse to guess
        namespaced = isinstance(obj["metadata"].get("namespace"), str) or doc_ns is not None
        t = ResourceType(group, version if _is_name(version) else "v1", plural, kind, namespaced, kind.lower(),
                         custom="." in group and not group.endswith(".k8s.io"))
        self.types[(group, plural)] = t
        by_kind[(group, kind)] = t
        return t

    def _load_commands(self) -> None:
        """Successful ``kubectl get`` runs in the manifest prove coverage, empty answers included."""
        commands = (self.bundle.manifest or {}).get("commands")
        for c in commands if isinstance(commands, list) else []:
            if not isinstance(c, dict) or c.get("exit_code") != 0 or not isinstance(c.get("argv"), list):
                continue
            argv = [str(a) for a in c["argv"]]
            if "get" not in argv:
                continue
            words, ns, all_ns, i = [], None, False, 1
            while i < len(argv):
                a = argv[i]
                if a in ("-A", "--all-namespaces", "--all-namespaces=true"):
                    all_ns = True
                elif a in ("-n", "--namespace") and i + 1 < len(argv):
                    ns, i = argv[i + 1], i + 1
                elif a.startswith("--namespace="):
                    ns = a.split("=", 1)[1]
                elif a.startswith("-n") and len(a) > 2:
                    ns = a[2:]
                elif a in VALUE_FLAGS:
                    i += 1
                elif not a.startswith("-") and i > argv.index("get"):
                    words.append(a)
                i += 1
            if len(words) != 1 or "/" in words[0]:
                continue  # named objects prove nothing about the rest
            for name in words[0].split(","):
                t = self.resolve(name)
                if t is None:
                    continue
                if all_ns or not t.namespaced:
                    t.covered_all = True
                elif ns:
                    t.covered_ns.add(ns)

    def _choose_stage_columns(self) -> None:
        t = self.types.get(("kargo.akuity.io", "stages"))
        if t is None or t.columns is not None:
            return
        stages = list(t.objects.values())
        old = any(isinstance((s.get("status") or {}).get("phase"), str) for s in stages) and not any(
            _condition(s, "Ready") is not None for s in stages)
        t.columns = KARGO_1_4_STAGE_COLUMNS if old else None

    # -- lookups

    def served(self) -> list[ResourceType]:
        return [t for t in self.types.values() if t.advertised]

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        t = self.types.get((group, plural))
        if t is None or not t.advertised or t.version != version:
            return None
        return t

    def resolve(self, name: str) -> ResourceType | None:
        """What kubectl would make of a resource argument (``stage``, ``promo``, ``pods``, ``stages.kargo.akuity.io``)."""
        name = name.lower()
        plural, _, group = name.partition(".")
        candidates = [t for t in self.types.values() if not group or t.group == group or t.group.startswith(group + ".")]
        for match in (lambda t: t.plural == plural, lambda t: t.singular == plural or t.kind.lower() == plural, lambda t: plural in t.short_names):
            found = [t for t in candidates if match(t)]
            if found:
                return sorted(found, key=lambda t: (t.group != "", t.group))[0]
        return None

    def group_versions(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for t in self.served():
            versions = out.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)
        for group, versions in out.items():
            pref = self.preferred.get(group)
            if pref in versions:
                versions.remove(pref)
                versions.insert(0, pref)
        out.setdefault("authorization.k8s.io", ["v1"])
        return out

    def objects(self, t: ResourceType) -> dict[tuple[str, str], dict]:
        if t.derived_from and not t.objects:
            source = self.types.get(t.derived_from)
            return {k: _event_v1(o) for k, o in source.objects.items()} if source else {}
        return t.objects

    def covered(self, t: ResourceType, namespace: str | None) -> bool:
        if self.uncollected == "empty":
            return True
        if t.derived_from and t.derived_from in self.types:
            t = self.types[t.derived_from]
        if t.covered_all:
            return True
        namespaces = self.types.get(("", "namespaces"))
        if namespace is not None and namespaces is not None and namespaces.covered_all and ("", namespace) not in namespaces.objects:
            return True  # the namespace did not exist when the bundle was taken: nothing in it
        if namespace is None:
            return bool(t.covered_ns or t.objects)
        return namespace in t.covered_ns or any(ns == namespace for ns, _ in t.objects)


# kubectl flags that take a value, skipped when reading a command's resource argument.
VALUE_FLAGS = {"-o", "--output", "-l", "--selector", "--field-selector", "--request-timeout", "--chunk-size", "-L",
               "--label-columns", "--sort-by", "--kubeconfig", "--context", "--cluster", "--user", "--template", "-c", "--container"}
TROUBLESHOOT_NAMES = {
    "pvcs": "persistentvolumeclaims", "pvs": "persistentvolumes", "ingress": "ingresses",
    "storage-classes": "storageclasses", "custom-resource-definitions": "customresourcedefinitions",
    "cronjobs": "cronjobs", "priorityclasses": "priorityclasses",
}


def guess_plural(kind: str) -> str:
    """The apiserver's guess: ``Policy`` -> ``policies``, ``Ingress`` -> ``ingresses``."""
    low = kind.lower()
    if low.endswith("s"):
        return low + "es"
    if low.endswith("y"):
        return low[:-1] + "ies"
    return low + "s"


_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
_KIND_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(_NAME_RE.match(value))


def _is_kind(value: object) -> bool:
    return isinstance(value, str) and bool(_KIND_RE.match(value))


def _names(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if _is_name(v))[:16] if isinstance(value, list) else ()


def _int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _items(data: bytes) -> list | None:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("items"), list):
        return parsed["items"]
    if isinstance(parsed, dict) and isinstance(parsed.get("metadata"), dict):
        return [parsed]
    if isinstance(parsed, list):
        return parsed
    return None


def _event_v1(ev: dict) -> dict:
    """A core/v1 Event as ``events.k8s.io/v1`` shows it."""
    md = ev.get("metadata") if isinstance(ev.get("metadata"), dict) else {}
    out = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": md}
    source = ev.get("source") if isinstance(ev.get("source"), dict) else {}
    for new, old in (("eventTime", "eventTime"), ("action", "action"), ("reason", "reason"), ("regarding", "involvedObject"),
                     ("related", "related"), ("note", "message"), ("type", "type"), ("deprecatedFirstTimestamp", "firstTimestamp"),
                     ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count")):
        if ev.get(old) is not None:
            out[new] = ev[old]
    out["reportingController"] = ev.get("reportingComponent") or source.get("component") or ""
    out["reportingInstance"] = ev.get("reportingInstance") or source.get("host") or ""
    if source:
        out["deprecatedSource"] = source
    if isinstance(ev.get("series"), dict):
        out["series"] = {"count": ev["series"].get("count"), "lastObservedTime": ev["series"].get("lastObservedTime")}
    return out


# -------------------------------------------------------------- selectors


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()


_LABEL_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def parse_label_selector(text: str) -> list[Requirement]:
    """``a=b,c!=d,e in (x,y),!f,g`` as ``kubectl -l`` sends it."""
    reqs: list[Requirement] = []
    for part in _split_outside_parens(text):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^(\S+)\s+(in|notin)\s*\(([^()]*)\)$", part)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(Requirement(_label_key(m.group(1)), m.group(2), values))
            continue
        if part.startswith("!"):
            reqs.append(Requirement(_label_key(part[1:].strip()), "!"))
            continue
        m = re.match(r"^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*([^=!<>\s]*)$", part)
        if m:
            op = {"==": "=", "<": "lt", ">": "gt"}.get(m.group(2), m.group(2))
            if op in ("lt", "gt") and not re.match(r"^-?\d+$", m.group(3)):
                raise _bad_request(f"unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer: {part}")
            reqs.append(Requirement(_label_key(m.group(1)), op, (m.group(3),)))
            continue
        if re.match(r"^[^=!<>\s()]+$", part):
            reqs.append(Requirement(_label_key(part), "exists"))
            continue
        raise _bad_request(f"unable to parse requirement: {part!r}")
    return reqs


def _label_key(key: str) -> str:
    if len(key) > 317 or not _LABEL_KEY_RE.match(key):
        raise _bad_request(f"unable to parse requirement: invalid label key {key!r}")
    return key


def _split_outside_parens(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def labels_match(labels: dict, reqs: list[Requirement]) -> bool:
    for r in reqs:
        has = r.key in labels
        value = str(labels.get(r.key, ""))
        if r.op == "=" and not (has and value == r.values[0]):
            return False
        if r.op == "!=" and has and value == r.values[0]:
            return False
        if r.op == "in" and not (has and value in r.values):
            return False
        if r.op == "notin" and has and value in r.values:
            return False
        if r.op == "exists" and not has:
            return False
        if r.op == "!" and has:
            return False
        if r.op in ("gt", "lt"):
            if not has or not re.match(r"^-?\d+$", value):
                return False
            if (int(value) > int(r.values[0])) != (r.op == "gt") or int(value) == int(r.values[0]):
                return False
    return True


def parse_field_selector(text: str) -> list[tuple[str, str, str]]:
    """``status.phase!=Running,metadata.name=x`` -> [(field, op, value)]; ``\\,`` escapes a comma."""
    terms: list[tuple[str, str, str]] = []
    for part in re.split(r"(?<!\\),", text):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise _bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        value = re.sub(r"\\(.)", r"\1", m.group(3))
        terms.append((m.group(1).strip(), "!=" if m.group(2) == "!=" else "=", value))
    return terms


def _field_value(obj: dict, path: str) -> str:
    cur: object = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return FIELD_DEFAULTS.get(path, "")
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(t: ResourceType, obj: dict, terms: list[tuple[str, str, str]]) -> bool:
    supported = FIELD_LABELS.get((t.group, t.plural), {})
    for name, op, value in terms:
        if name in ("metadata.name", "metadata.namespace"):
            path = name
        elif name in supported:
            path = supported[name]
        else:
            raise _bad_request(f"field label not supported: {name}")
        actual = _field_value(obj, path)
        if (actual == value) != (op == "="):
            return False
    return True


def check_field_selector(t: ResourceType, terms: list[tuple[str, str, str]]) -> None:
    supported = FIELD_LABELS.get((t.group, t.plural), {})
    for name, _op, _value in terms:
        if name not in ("metadata.name", "metadata.namespace") and name not in supported:
            raise _bad_request(f"field label not supported: {name}")


# --------------------------------------------------------------- jsonpath


def parse_jsonpath(expr: str) -> list[tuple[str, object]]:
    """The JSONPath subset of printer columns: ``.a.b``, ``\\.`` in names, ``[0]``, ``[*]``, ``[?(@.k=="v")]``."""
    expr = expr.strip()
    if len(expr) > 512:
        raise ValueError("JSONPath too long")
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    if expr.startswith("$"):
        expr = expr[1:]
    steps: list[tuple[str, object]] = []
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch == ".":
            i += 1
            name = []
            while i < len(expr) and expr[i] not in ".[":
                if expr[i] == "\\" and i + 1 < len(expr):
                    name.append(expr[i + 1])
                    i += 2
                    continue
                name.append(expr[i])
                i += 1
            if name:
                steps.append(("*", None) if name == ["*"] else ("field", "".join(name)))
        elif ch == "[":
            end = _bracket_end(expr, i)
            inner = expr[i + 1 : end].strip()
            i = end + 1
            if inner == "*":
                steps.append(("*", None))
            elif re.match(r"^-?\d+$", inner):
                steps.append(("index", int(inner)))
            elif inner[:1] in "'\"" and inner[-1:] == inner[:1]:
                steps.append(("field", inner[1:-1]))
            elif inner.startswith("?(") and inner.endswith(")"):
                steps.append(("filter", _parse_filter(inner[2:-1].strip())))
            else:
                raise ValueError(f"unsupported JSONPath step [{inner}]")
        else:
            raise ValueError(f"unsupported JSONPath at {expr[i:]!r}")
    return steps


def _bracket_end(expr: str, start: int) -> int:
    quote = None
    for j in range(start + 1, len(expr)):
        c = expr[j]
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "]":
            return j
    raise ValueError("unterminated [ in JSONPath")


def _parse_filter(text: str) -> tuple[list[str], str, object]:
    m = re.match(r"^@(\.[A-Za-z0-9_\-/\\.]+)\s*(==|!=|<=|>=|<|>)?\s*(.*)$", text)
    if not m:
        raise ValueError(f"unsupported JSONPath filter {text!r}")
    path = [p for p in re.split(r"(?<!\\)\.", m.group(1)) if p]
    path = [p.replace("\\.", ".") for p in path]
    op = m.group(2) or "exists"
    raw = m.group(3).strip()
    value: object = None
    if op != "exists":
        if raw[:1] in "'\"" and raw[-1:] == raw[:1] and len(raw) >= 2:
            value = raw[1:-1]
        elif raw in ("true", "false"):
            value = raw == "true"
        else:
            try:
                value = float(raw) if "." in raw else int(raw)
            except ValueError:
                value = raw
    return path, op, value


def jsonpath_find(obj: object, steps: list[tuple[str, object]]) -> list:
    results = [obj]
    for kind, arg in steps:
        nxt: list = []
        for cur in results:
            if kind == "field" and isinstance(cur, dict) and arg in cur:
                nxt.append(cur[arg])
            elif kind == "index" and isinstance(cur, list) and -len(cur) <= arg < len(cur):
                nxt.append(cur[arg])
            elif kind == "*":
                nxt.extend(cur if isinstance(cur, list) else cur.values() if isinstance(cur, dict) else [])
            elif kind == "filter" and isinstance(cur, list):
                nxt.extend(el for el in cur if _filter_match(el, arg))
        results = nxt
    return results


def _filter_match(el: object, flt: tuple[list[str], str, object]) -> bool:
    path, op, value = flt
    cur = el
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return False
        cur = cur[p]
    if op == "exists":
        return cur is not None
    if op == "==":
        return cur == value
    if op == "!=":
        return cur != value
    try:
        return {"<": cur < value, ">": cur > value, "<=": cur <= value, ">=": cur >= value}[op]  # type: ignore[operator]
    except TypeError:
        return False


# ----------------------------------------------------------------- tables


def human_duration(d: timedelta) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``: ``5m``, ``3h2m``, ``2d``."""
    seconds = int(d.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


class Printer:
    """Server-side printing: the cells ``kubectl get`` shows, aged against the reference time."""

    def __init__(self, now: datetime):
        self.now = now

    def since(self, value: object) -> str:
        t = parse_time(value) if isinstance(value, str) and value else None
        return "<unknown>" if t is None else human_duration(self.now - t)

    def table(self, t: ResourceType, objects: list[dict], include: str, resource_version: str) -> dict:
        columns, cells_of = self.columns_for(t)
        rows = []
        for obj in objects:
            row: dict = {"cells": cells_of(obj)}
            if include == "Object":
                row["object"] = obj
            elif include != "None":
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}
            if t.plural == "pods" and t.group == "":
                phase = (obj.get("status") or {}).get("phase")
                if phase in ("Succeeded", "Failed"):
                    row["conditions"] = [{"type": "Completed", "status": "True", "reason": phase,
                                          "message": "The pod has completed successfully." if phase == "Succeeded" else "The pod failed."}]
            rows.append(row)
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": [
                {"name": name, "type": typ, "format": fmt, "description": desc, "priority": prio}
                for name, typ, fmt, desc, prio in columns
            ],
            "rows": rows,
        }

    def columns_for(self, t: ResourceType):
        name_col = ("Name", "string", "name", "Name must be unique within a namespace.", 0)
        builtin = None if t.custom else BUILTIN_PRINTERS.get((t.group, t.plural))
        if builtin is not None:
            cols, fn = builtin
            defs = [(n, ty, "name" if n == "Name" else "", d, p) for n, ty, d, p in cols]
            if t.plural == "events":  # the one printer whose name is a late, wide-only column
                return defs, lambda o: fn(self, o)
            return [name_col] + defs, lambda o: [_meta(o, "name")] + fn(self, o)
        if t.custom or t.columns is not None:
            crd_cols = t.columns if t.columns is not None else CRD_COLUMNS.get((t.group, t.plural), (AGE,))
            compiled = []
            for c in crd_cols:
                try:
                    compiled.append((c, parse_jsonpath(c.json_path)))
                except ValueError:
                    compiled.append((c, None))
            defs = [name_col] + [(c.name, c.type, "", c.description, c.priority) for c in crd_cols]
            return defs, lambda o: [_meta(o, "name")] + [self.crd_cell(o, c, steps) for c, steps in compiled]
        if (t.group, t.plural) in CREATED_AT_TYPES:
            return [name_col, ("Created At", "date", "", "Creation timestamp", 0)], lambda o: [_meta(o, "name"), _meta(o, "creationTimestamp") or None]
        return [name_col, ("Age", "string", "", "Time since resource was created", 0)], lambda o: [_meta(o, "name"), self.since(_meta(o, "creationTimestamp"))]

    def crd_cell(self, obj: dict, c: Column, steps) -> object:
        if steps is None:
            return None
        found = jsonpath_find(obj, steps)
        if not found:
            return None
        value = found[0]
        if c.type == "date":
            return self.since(value) if isinstance(value, str) else None
        if c.type == "integer":
            return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if c.type == "number":
            return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if c.type == "boolean":
            return value if isinstance(value, bool) else None
        return _text(value)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return orjson.dumps(value).decode()


def _meta(obj: dict, key: str) -> object:
    md = obj.get("metadata")
    return md.get(key) if isinstance(md, dict) else None


def _get(obj: object, *path: str, default: object = None) -> object:
    cur = obj
    for p in path:
        if not isinstance(cur, dict):
            return default
        cur = cur.get(p)
    return default if cur is None else cur


def _lst(value: object) -> list:
    return value if isinstance(value, list) else []


def _num(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _condition(obj: dict, ctype: str) -> dict | None:
    for c in _lst(_get(obj, "status", "conditions")):
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def _pod_cells(p: Printer, pod: dict) -> list:
    spec, status = _get(pod, "spec", default={}), _get(pod, "status", default={})
    containers = _lst(_get(spec, "containers"))
    init_specs = {c.get("name"): c for c in _lst(_get(spec, "initContainers")) if isinstance(c, dict)}
    restartable = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total = len(containers) + len(restartable)
    ready = restarts = sidecar_restarts = 0
    last_restart = sidecar_last = None
    phase = _get(status, "phase", default="")
    reason = _get(status, "reason") or phase
    for c in _lst(_get(status, "conditions")):
        if isinstance(c, dict) and c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    def later(current, when):
        t = parse_time(when) if isinstance(when, str) else None
        return t if t is not None and (current is None or t > current) else current

    initializing = False
    init_statuses = [c for c in _lst(_get(status, "initContainerStatuses")) if isinstance(c, dict)]
    for i, c in enumerate(init_statuses):
        restarts += _num(c.get("restartCount"))
        finished = _get(c, "lastState", "terminated", "finishedAt")
        last_restart = later(last_restart, finished)
        is_sidecar = c.get("name") in restartable
        if is_sidecar:
            sidecar_restarts += _num(c.get("restartCount"))
            sidecar_last = later(sidecar_last, finished)
        term, wait = _get(c, "state", "terminated"), _get(c, "state", "waiting")
        if isinstance(term, dict) and _num(term.get("exitCode")) == 0:
            continue
        if is_sidecar and c.get("started") is True:
            ready += 1 if c.get("ready") else 0
            continue
        if isinstance(term, dict):
            if term.get("reason"):
                reason = "Init:" + str(term["reason"])
            elif _num(term.get("signal")):
                reason = f"Init:Signal:{_num(term.get('signal'))}"
            else:
                reason = f"Init:ExitCode:{_num(term.get('exitCode'))}"
        elif isinstance(wait, dict) and wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = "Init:" + str(wait["reason"])
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    initialized = (_condition(pod, "Initialized") or {}).get("status") == "True"
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, sidecar_last
        has_running = False
        for c in reversed([c for c in _lst(_get(status, "containerStatuses")) if isinstance(c, dict)]):
            restarts += _num(c.get("restartCount"))
            last_restart = later(last_restart, _get(c, "lastState", "terminated", "finishedAt"))
            term, wait = _get(c, "state", "terminated"), _get(c, "state", "waiting")
            if isinstance(wait, dict) and wait.get("reason"):
                reason = str(wait["reason"])
            elif isinstance(term, dict) and term.get("reason"):
                reason = str(term["reason"])
            elif isinstance(term, dict):
                reason = f"Signal:{_num(term.get('signal'))}" if _num(term.get("signal")) else f"ExitCode:{_num(term.get('exitCode'))}"
            elif c.get("ready") and isinstance(_get(c, "state", "running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if (_condition(pod, "Ready") or {}).get("status") == "True" else "NotReady"
    if _meta(pod, "deletionTimestamp") and _get(status, "reason") == "NodeLost":
        reason = "Unknown"
    elif _meta(pod, "deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(p.now - last_restart)} ago)"
    ips = _lst(_get(status, "podIPs"))
    ip = (ips[0].get("ip") if ips and isinstance(ips[0], dict) else None) or _get(status, "podIP") or "<none>"
    gates = _lst(_get(spec, "readinessGates"))
    gates_text = "<none>"
    if gates:
        true = sum(1 for g in gates if isinstance(g, dict) and (_condition(pod, str(g.get("conditionType"))) or {}).get("status") == "True")
        gates_text = f"{true}/{len(gates)}"
    return [f"{ready}/{total}", reason, restarts_text, p.since(_meta(pod, "creationTimestamp")),
            ip, _get(spec, "nodeName") or "<none>", _get(status, "nominatedNodeName") or "<none>", gates_text]


def _event_cells(p: Printer, ev: dict) -> list:
    first = p.since(ev.get("firstTimestamp")) if ev.get("firstTimestamp") else p.since(ev.get("eventTime"))
    last = p.since(ev.get("lastTimestamp")) if ev.get("lastTimestamp") else first
    count = _num(ev.get("count"))
    series = ev.get("series")
    if isinstance(series, dict):
        last = p.since(series.get("lastObservedTime"))
        count = _num(series.get("count"))
    elif count == 0:
        count = 1
    kind = str(_get(ev, "involvedObject", "kind", default="")).lower()
    name = _get(ev, "involvedObject", "name", default="")
    target = f"{kind}/{name}" if name else kind
    source = _get(ev, "source", default={})
    component = ev.get("reportingComponent") or _get(source, "component", default="")
    host = ev.get("reportingInstance") or _get(source, "host", default="")
    src = f"{component}, {host}" if host else str(component)
    return [last, ev.get("type", ""), ev.get("reason", ""), target, _get(ev, "involvedObject", "fieldPath", default=""),
            src, str(ev.get("message", "")).strip(), first, count, _meta(ev, "name")]


def _event_v1_cells(p: Printer, ev: dict) -> list:
    core = {"firstTimestamp": ev.get("deprecatedFirstTimestamp"), "lastTimestamp": ev.get("deprecatedLastTimestamp"),
            "eventTime": ev.get("eventTime"), "count": ev.get("deprecatedCount"), "series": ev.get("series"),
            "involvedObject": ev.get("regarding"), "type": ev.get("type"), "reason": ev.get("reason"),
            "message": ev.get("note"), "reportingComponent": ev.get("reportingController"),
            "reportingInstance": ev.get("reportingInstance"), "source": ev.get("deprecatedSource"), "metadata": ev.get("metadata")}
    return _event_cells(p, {k: v for k, v in core.items() if v is not None})


def _node_cells(p: Printer, node: dict) -> list:
    ready = _condition(node, "Ready")
    status = ["Unknown" if ready is None or ready.get("status") not in ("True", "False") else "Ready" if ready.get("status") == "True" else "NotReady"]
    if _get(node, "spec", "unschedulable") is True:
        status.append("SchedulingDisabled")
    labels = _get(node, "metadata", "labels", default={})
    roles = sorted({k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1]}
                   | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set()))
    addrs = [a for a in _lst(_get(node, "status", "addresses")) if isinstance(a, dict)]

    def addr(kind):
        return next((a.get("address") for a in addrs if a.get("type") == kind), None) or "<none>"

    info = _get(node, "status", "nodeInfo", default={})
    return [",".join(status), ",".join(roles) or "<none>", p.since(_meta(node, "creationTimestamp")), info.get("kubeletVersion", ""),
            addr("InternalIP"), addr("ExternalIP"), info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def _containers(obj: dict) -> tuple[str, str]:
    cs = [c for c in _lst(_get(obj, "spec", "template", "spec", "containers")) if isinstance(c, dict)]
    return ",".join(str(c.get("name", "")) for c in cs), ",".join(str(c.get("image", "")) for c in cs)


def _selector(obj: dict) -> str:
    sel = _get(obj, "spec", "selector", default={})
    if not isinstance(sel, dict):
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in _lst(sel.get("matchExpressions")):
        if isinstance(e, dict):
            op = {"In": "in", "NotIn": "notin"}.get(e.get("operator"))
            if op:
                parts.append(f"{e.get('key')} {op} ({','.join(map(str, _lst(e.get('values'))))})")
            else:
                parts.append(("!" if e.get("operator") == "DoesNotExist" else "") + str(e.get("key")))
    return ",".join(parts) or "<none>"


def _deployment_cells(p: Printer, d: dict) -> list:
    names, images = _containers(d)
    st = _get(d, "status", default={})
    desired = _get(d, "spec", "replicas", default=1)
    return [f"{_num(st.get('readyReplicas'))}/{_num(desired)}", _num(st.get("updatedReplicas")), _num(st.get("availableReplicas")),
            p.since(_meta(d, "creationTimestamp")), names, images, _selector(d)]


def _replicaset_cells(p: Printer, r: dict) -> list:
    names, images = _containers(r)
    st = _get(r, "status", default={})
    return [_num(_get(r, "spec", "replicas", default=1)), _num(st.get("replicas")), _num(st.get("readyReplicas")),
            p.since(_meta(r, "creationTimestamp")), names, images, _selector(r)]


def _statefulset_cells(p: Printer, s: dict) -> list:
    names, images = _containers(s)
    return [f"{_num(_get(s, 'status', 'readyReplicas'))}/{_num(_get(s, 'spec', 'replicas', default=1))}",
            p.since(_meta(s, "creationTimestamp")), names, images]


def _daemonset_cells(p: Printer, d: dict) -> list:
    names, images = _containers(d)
    st = _get(d, "status", default={})
    ns = _get(d, "spec", "template", "spec", "nodeSelector", default={})
    node_sel = ",".join(f"{k}={v}" for k, v in sorted(ns.items())) if isinstance(ns, dict) and ns else "<none>"
    return [_num(st.get("desiredNumberScheduled")), _num(st.get("currentNumberScheduled")), _num(st.get("numberReady")),
            _num(st.get("updatedNumberScheduled")), _num(st.get("numberAvailable")), node_sel,
            p.since(_meta(d, "creationTimestamp")), names, images, _selector(d)]


def _job_cells(p: Printer, j: dict) -> list:
    spec, st = _get(j, "spec", default={}), _get(j, "status", default={})
    succeeded = _num(st.get("succeeded"))
    if isinstance(spec.get("completions"), int):
        completions = f"{succeeded}/{spec['completions']}"
    elif _num(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {_num(spec.get('parallelism'))}"
    else:
        completions = f"{succeeded}/1"
    start = parse_time(st["startTime"]) if isinstance(st.get("startTime"), str) else None
    done = parse_time(st["completionTime"]) if isinstance(st.get("completionTime"), str) else None
    duration = "" if start is None else human_duration((done or p.now) - start)

    def has(ctype):
        c = _condition(j, ctype)
        return c is not None and c.get("status") == "True"

    if has("Complete"):
        status = "Complete"
    elif has("Failed"):
        status = "Failed"
    elif _meta(j, "deletionTimestamp"):
        status = "Terminating"
    elif has("Suspended"):
        status = "Suspended"
    elif has("FailureTarget"):
        status = "FailureTarget"
    elif has("SuccessCriteriaMet"):
        status = "SuccessCriteriaMet"
    else:
        status = "Running"
    cs = [c for c in _lst(_get(j, "spec", "template", "spec", "containers")) if isinstance(c, dict)]
    return [status, completions, duration, p.since(_meta(j, "creationTimestamp")),
            ",".join(str(c.get("name", "")) for c in cs), ",".join(str(c.get("image", "")) for c in cs), _selector(j)]


def _namespace_cells(p: Printer, n: dict) -> list:
    return [_get(n, "status", "phase", default=""), p.since(_meta(n, "creationTimestamp"))]


def _service_cells(p: Printer, s: dict) -> list:
    spec = _get(s, "spec", default={})
    typ = spec.get("type") or "ClusterIP"
    ingress = [i.get("ip") or i.get("hostname") for i in _lst(_get(s, "status", "loadBalancer", "ingress")) if isinstance(i, dict)]
    external = [str(x) for x in _lst(spec.get("externalIPs"))]
    if typ == "LoadBalancer":
        ext = ",".join([x for x in ingress if x] + external) or "<pending>"
    elif typ == "ExternalName":
        ext = spec.get("externalName") or "<none>"
    else:
        ext = ",".join(external) or "<none>"
    ports = []
    for port in _lst(spec.get("ports")):
        if isinstance(port, dict):
            proto = port.get("protocol") or "TCP"
            ports.append(f"{port.get('port')}:{port['nodePort']}/{proto}" if port.get("nodePort") else f"{port.get('port')}/{proto}")
    sel = spec.get("selector")
    selector = ",".join(f"{k}={v}" for k, v in sorted(sel.items())) if isinstance(sel, dict) and sel else "<none>"
    return [typ, spec.get("clusterIP") or "<none>", ext, ",".join(ports) or "<none>", p.since(_meta(s, "creationTimestamp")), selector]


def _configmap_cells(p: Printer, c: dict) -> list:
    n = len(c.get("data") or {}) + len(c.get("binaryData") or {})
    return [n, p.since(_meta(c, "creationTimestamp"))]


def _secret_cells(p: Printer, s: dict) -> list:
    return [s.get("type", ""), len(s.get("data") or {}), p.since(_meta(s, "creationTimestamp"))]


def _endpoints_cells(p: Printer, e: dict) -> list:
    addrs = []
    for subset in _lst(e.get("subsets")):
        if not isinstance(subset, dict):
            continue
        ports = [pt.get("port") for pt in _lst(subset.get("ports")) if isinstance(pt, dict)] or [None]
        for a in _lst(subset.get("addresses")):
            for port in ports:
                ip = a.get("ip") if isinstance(a, dict) else None
                addrs.append(f"{ip}:{port}" if port is not None else str(ip))
    text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "") if addrs else "<none>"
    return [text, p.since(_meta(e, "creationTimestamp"))]


STR, INT = "string", "integer"
BUILTIN_PRINTERS = {
    ("", "pods"): ((("Ready", STR, "The aggregate readiness state of this pod for accepting traffic.", 0),
                    ("Status", STR, "The aggregate status of the containers in this pod.", 0),
                    ("Restarts", STR, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0),
                    ("Age", STR, "CreationTimestamp is a timestamp representing the server time when this object was created.", 0),
                    ("IP", STR, "IP address allocated to the pod.", 1), ("Node", STR, "Name of the node the pod runs on.", 1),
                    ("Nominated Node", STR, "Nominated node name.", 1), ("Readiness Gates", STR, "Pod readiness gates.", 1)), _pod_cells),
    ("", "events"): ((("Last Seen", STR, "The time at which the most recent occurrence of this event was recorded.", 0),
                      ("Type", STR, "Type of this event (Normal, Warning).", 0), ("Reason", STR, "Why the action was taken.", 0),
                      ("Object", STR, "The object that this event is about.", 0), ("Subobject", STR, "The field path of the object.", 1),
                      ("Source", STR, "The component reporting this event.", 1), ("Message", STR, "A human-readable description.", 0),
                      ("First Seen", STR, "The time at which the event was first recorded.", 1), ("Count", STR, "The number of times this event has occurred.", 1),
                      ("Name", STR, "Name of the event.", 1)), _event_cells),
    ("events.k8s.io", "events"): None,  # filled below: same columns, converted cells
    ("", "nodes"): ((("Status", STR, "The status of the node", 0), ("Roles", STR, "The roles of the node", 0),
                     ("Age", STR, "Time since the node was created.", 0), ("Version", STR, "Kubelet Version reported by the node.", 0),
                     ("Internal-IP", STR, "List of internal IPs.", 1), ("External-IP", STR, "List of external IPs.", 1),
                     ("OS-Image", STR, "OS Image reported by the node.", 1), ("Kernel-Version", STR, "Kernel Version reported by the node.", 1),
                     ("Container-Runtime", STR, "Container Runtime Version reported by the node.", 1)), _node_cells),
    ("", "namespaces"): ((("Status", STR, "The status of the namespace", 0), ("Age", STR, "Time since the namespace was created.", 0)), _namespace_cells),
    ("", "services"): ((("Type", STR, "The type of the service.", 0), ("Cluster-IP", STR, "The IP address of the service.", 0),
                        ("External-IP", STR, "The external IP addresses of the service.", 0), ("Port(s)", STR, "The ports of the service.", 0),
                        ("Age", STR, "Time since the service was created.", 0), ("Selector", STR, "The selector of the service.", 1)), _service_cells),
    ("", "configmaps"): ((("Data", INT, "Number of data keys.", 0), ("Age", STR, "Time since the config map was created.", 0)), _configmap_cells),
    ("", "secrets"): ((("Type", STR, "The type of the secret.", 0), ("Data", INT, "Number of data keys.", 0),
                       ("Age", STR, "Time since the secret was created.", 0)), _secret_cells),
    ("", "endpoints"): ((("Endpoints", STR, "Endpoints of the service.", 0), ("Age", STR, "Time since the endpoints were created.", 0)), _endpoints_cells),
    ("apps", "deployments"): ((("Ready", STR, "Number of the pod with ready state", 0), ("Up-to-date", INT, "Total number of non-terminated pods that have the desired template spec.", 0),
                               ("Available", INT, "Total number of available pods.", 0), ("Age", STR, "Time since the deployment was created.", 0),
                               ("Containers", STR, "Names of each container in the template.", 1), ("Images", STR, "Images referenced by each container in the template.", 1),
                               ("Selector", STR, "Label selector for pods.", 1)), _deployment_cells),
    ("apps", "replicasets"): ((("Desired", INT, "Number of desired pods.", 0), ("Current", INT, "Number of actual replicas.", 0),
                               ("Ready", INT, "The number of ready replicas.", 0), ("Age", STR, "Time since the replica set was created.", 0),
                               ("Containers", STR, "Names of each container in the template.", 1), ("Images", STR, "Images referenced by each container in the template.", 1),
                               ("Selector", STR, "Label selector for pods.", 1)), _replicaset_cells),
    ("apps", "statefulsets"): ((("Ready", STR, "Number of the pod with ready state", 0), ("Age", STR, "Time since the stateful set was created.", 0),
                                ("Containers", STR, "Names of each container in the template.", 1), ("Images", STR, "Images referenced by each container in the template.", 1)), _statefulset_cells),
    ("apps", "daemonsets"): ((("Desired", INT, "Number of nodes that should run the daemon pod.", 0), ("Current", INT, "Number of nodes running the daemon pod.", 0),
                              ("Ready", INT, "Number of nodes with the daemon pod ready.", 0), ("Up-to-date", INT, "Number of nodes running the updated daemon pod.", 0),
                              ("Available", INT, "Number of nodes with the daemon pod available.", 0), ("Node Selector", STR, "Node selector of the pod template.", 0),
                              ("Age", STR, "Time since the daemon set was created.", 0), ("Containers", STR, "Names of each container in the template.", 1),
                              ("Images", STR, "Images referenced by each container in the template.", 1), ("Selector", STR, "Label selector for pods.", 1)), _daemonset_cells),
    ("batch", "jobs"): ((("Status", STR, "Status of the job.", 0), ("Completions", STR, "The completion status of the job.", 0),
                         ("Duration", STR, "Time required to complete the job.", 0), ("Age", STR, "Time since the job was created.", 0),
                         ("Containers", STR, "Names of each container in the template.", 1), ("Images", STR, "Images referenced by each container in the template.", 1),
                         ("Selector", STR, "Label selector for pods.", 1)), _job_cells),
}
BUILTIN_PRINTERS[("events.k8s.io", "events")] = (BUILTIN_PRINTERS[("", "events")][0], _event_v1_cells)
# Built-ins without a printer of their own show the default convertor's absolute creation time.
CREATED_AT_TYPES = {
    ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "clusterroles"),
    ("apiextensions.k8s.io", "customresourcedefinitions"), ("apiregistration.k8s.io", "apiservices"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"), ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
}


# ------------------------------------------------------------------- logs


_TS_RE = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ")


def render_log(data: bytes, now: datetime, *, timestamps: bool, since: datetime | None, tail: int | None, limit: int | None) -> bytes:
    """A stored ``kubectl logs --timestamps`` file, cut the way the kubelet cuts live logs."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if tail is not None:
        lines = lines[len(lines) - tail:] if tail < len(lines) else lines
    out: list[bytes] = []
    stamp: datetime | None = None
    for line in lines:
        m = _TS_RE.match(line)
        if m:
            stamp = parse_time(m.group(1).decode()) or stamp
        if since is not None and (stamp is None or stamp < since):
            continue
        out.append(line if timestamps or not m else line[m.end():])
    body = b"".join(line + b"\n" for line in out)
    return body[:limit] if limit is not None else body


# ------------------------------------------------------------------ the api


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"


class Api:
    """Request -> answer, with no HTTP in it: the part the tests could call directly."""

    def __init__(self, bundle: Bundle, registry: Registry, version: dict,
                 deny: dict[str, set[str | None]] | None = None, delay: dict[str, float] | None = None):
        self.bundle = bundle
        self.registry = registry
        self.version = version
        self.deny: dict[str, set[str | None]] = {}
        for key, namespaces in (deny or {}).items():
            for name in self._aliases(key):
                self.deny.setdefault(name, set()).update(namespaces)
        self.delay = {name: float(secs) for key, secs in (delay or {}).items() for name in self._aliases(key)}
        self.printer = Printer(bundle.reference_time)
        self.logs = {(lf.namespace, lf.pod, lf.container, lf.previous): lf.data for lf in bundle.logs}
        versions = [str(_meta(o, "resourceVersion") or "") for t in registry.types.values() for o in t.objects.values()]
        self.resource_version = str(max([int(v) for v in versions if v.isdigit() and len(v) < 20] or [1]))

    def _aliases(self, key: str) -> set[str]:
        """``promo``, ``stage/log`` -> the names requests are matched by (``promotions.kargo.akuity.io``, ...)."""
        key = key.strip().lower()
        base, slash, sub = key.partition("/")
        t = self.registry.resolve(base)
        out = {key}
        if t is not None:
            out |= {f"{n}/{sub}" for n in t.names()} if slash else t.names()
        return out

    # -- routing

    def delay_for(self, path: str) -> float:
        """Seconds to hold the answer to ``path`` (0 when no delay applies)."""
        if not self.delay:
            return 0.0
        try:
            target = self._target(urlsplit(path).path)
        except ApiError:
            return 0.0
        if target is None:
            return 0.0
        t, _ns, _name, sub = target
        names = {f"{t.plural}/{sub}", f"{t.qualified}/{sub}"} if sub else t.names()
        return max((float(s) for k, s in self.delay.items() if k in names), default=0.0)

    def handle(self, method: str, raw_path: str, accept: str) -> Answer:
        try:
            if method not in ("GET", "HEAD"):
                raise _method_not_allowed(
                    f"the server does not allow this method on the requested resource: {method} is refused, this server is a read-only replay of a bundle")
            split = urlsplit(raw_path)
            query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            return self._get(split.path, query, accept)
        except ApiError as exc:
            return Answer(exc.code, orjson.dumps(exc.status()))

    def _get(self, path: str, query: dict[str, str], accept: str) -> Answer:
        path = path.rstrip("/") or "/"
        if path == "/version":
            return _json(self.version)
        if path in ("/healthz", "/livez", "/readyz"):
            return Answer(200, b"ok", "text/plain; charset=utf-8")
        if path == "/api":
            return _json({"kind": "APIVersions", "versions": ["v1"],
                          "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            return _json(self._group_list())
        if path.startswith("/openapi") or path.startswith("/swagger"):
            raise ApiError(404, "NotFound", "this server replays a bundle and serves no OpenAPI schema", {})
        target = self._target(path)
        if target is None:  # a discovery document
            return _json(self._discovery(path))
        t, ns, name, sub = target
        if _truthy(query.get("watch")):
            raise _method_not_allowed("watch is not supported: this server replays a bundle snapshot, nothing changes")
        if sub == "log":
            return self._log(t, ns or "", name or "", query)
        if sub not in (None, "status"):
            raise _not_found_path()
        if "get" not in t.verbs and "list" not in t.verbs:
            raise _method_not_allowed()
        self._check_deny(t, ns, name, "get" if name else "list")
        table = _wants_table(accept)
        if name is not None:
            obj = self._one(t, ns, name)
            if table:
                return _json(self.printer.table(t, [obj], query.get("includeObject", "Metadata"), self.resource_version))
            return _json(obj)
        objects = self._list(t, ns, query)
        if table:
            return _json(self.printer.table(t, objects, query.get("includeObject", "Metadata"), self.resource_version))
        return _json({"apiVersion": t.group_version, "kind": f"{t.kind}List",
                      "metadata": {"resourceVersion": self.resource_version}, "items": objects})

    def _target(self, path: str) -> tuple[ResourceType, str | None, str | None, str | None] | None:
        """``(type, namespace, name, subresource)`` for a resource path; None for a discovery path."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[0] == "apis" and len(parts) == 2:
            return None
        else:
            raise _not_found_path()
        if not rest:
            if group not in self.registry.group_versions() or version not in self.registry.group_versions()[group]:
                raise _not_found_path()
            return None
        if any(not p or p in (".", "..") or "\x00" in p for p in rest):
            raise _not_found_path()
        if rest[0] == "namespaces" and len(rest) >= 3 and group == "":
            ns = rest[1]
            t = self.registry.lookup(group, version, rest[2])
            if t is not None and t.namespaced:
                if len(rest) > 5:
                    raise _not_found_path()
                return t, ns, rest[3] if len(rest) > 3 else None, rest[4] if len(rest) > 4 else None
            if len(rest) == 3 and rest[2] in ("status", "finalize"):
                t = self.registry.lookup("", "v1", "namespaces")
                if t is not None:
                    return t, None, ns, rest[2]
            raise _not_found_path()
        if rest[0] == "namespaces" and len(rest) >= 3 and group != "":
            t = self.registry.lookup(group, version, rest[2])
            if t is None or not t.namespaced or len(rest) > 5:
                raise _not_found_path()
            return t, rest[1], rest[3] if len(rest) > 3 else None, rest[4] if len(rest) > 4 else None
        t = self.registry.lookup(group, version, rest[0])
        if t is None or len(rest) > 3:
            raise _not_found_path()
        if len(rest) >= 2 and t.namespaced:
            raise _not_found_path()
        return t, None, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None

    # -- discovery

    def _group_list(self) -> dict:
        gvs = self.registry.group_versions()
        groups = [g for g in gvs if g]
        ordered = [g for g in GROUP_ORDER if g in groups] + sorted(g for g in groups if g not in GROUP_ORDER)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g, gvs[g]) for g in ordered]}

    def _discovery(self, path: str) -> dict:
        parts = path.strip("/").split("/")
        gvs = self.registry.group_versions()
        if parts[0] == "apis" and len(parts) == 2:
            if parts[1] not in gvs or not parts[1]:
                raise _not_found_path()
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(parts[1], gvs[parts[1]])}
        group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
        resources = []
        for t in sorted(self.registry.served(), key=lambda t: t.plural):
            if t.group == group and t.version == version:
                resources.append(t.discovery())
                if group == "":
                    resources += [{"name": sub, "singularName": "", "namespaced": True, "kind": kind, "verbs": ["get"]}
                                  for sub, kind in CORE_SUBRESOURCES.items() if sub.split("/")[0] == t.plural]
        if group == "authorization.k8s.io" and version == "v1":
            resources += [{"name": n, "singularName": k.lower(), "namespaced": False, "kind": k, "verbs": ["create"]} for n, k in SELF_REVIEWS]
        out = {"kind": "APIResourceList", "groupVersion": f"{group}/{version}" if group else version, "resources": resources}
        if group:
            out["apiVersion"] = "v1"
        return out

    # -- objects

    def _check_deny(self, t: ResourceType, ns: str | None, name: str | None, verb: str, sub: str | None = None) -> None:
        names = {f"{t.plural}/{sub}", f"{t.qualified}/{sub}"} if sub else t.names()
        scopes: set[str | None] = set()
        for key, namespaces in self.deny.items():
            if key in names:
                scopes |= namespaces
        if not scopes:
            return
        # A namespace-bound denial also denies the cluster-wide list: the permission is missing somewhere.
        if None in scopes or ns is None or ns in scopes:
            resource = f"{t.plural}/{sub}" if sub else t.plural
            who = f'{t.qualified} "{name}"' if name else t.qualified
            where = f'in the namespace "{ns}"' if ns is not None else "at the cluster scope"
            details = {"group": t.group, "kind": t.plural}
            if name:
                details = {"name": name, **details}
            raise ApiError(403, "Forbidden",
                           f'{who} is forbidden: User "{DENIED_USER}" cannot {verb} resource "{resource}" in API group "{t.group}" {where}',
                           details)

    def _not_collected(self, t: ResourceType, ns: str | None, name: str | None = None) -> ApiError:
        base = t.derived_from and self.registry.types.get(t.derived_from) or t
        have = sorted(base.covered_ns | {n for n, _ in base.objects if n})
        where = f' in namespace "{ns}"' if ns else ""
        subject = f'{t.qualified} "{name}"{where} was' if name else f"{t.qualified}{where} were"
        hint = f"; collected namespaces: {', '.join(have[:20])}" if have and ns else ""
        details = {"group": t.group, "kind": t.plural}
        if name:
            details = {"name": name, **details}
        return ApiError(404, "NotFound", f"{subject} not collected in this bundle{hint}", details)

    def _one(self, t: ResourceType, ns: str | None, name: str) -> dict:
        obj = self.registry.objects(t).get((ns or "", name))
        if obj is not None:
            return obj
        if not self.registry.covered(t, ns):
            raise self._not_collected(t, ns, name)
        raise ApiError(404, "NotFound", f'{t.qualified} "{name}" not found', {"name": name, "group": t.group, "kind": t.plural})

    def _list(self, t: ResourceType, ns: str | None, query: dict[str, str]) -> list[dict]:
        if not self.registry.covered(t, ns):
            raise self._not_collected(t, ns)
        labels = parse_label_selector(query.get("labelSelector", ""))
        terms = parse_field_selector(query.get("fieldSelector", ""))
        check_field_selector(t, terms)
        source = t
        if t.derived_from:
            source = self.registry.types.get(t.derived_from) or t
        out = []
        for (obj_ns, _name), obj in sorted(self.registry.objects(t).items()):
            if ns is not None and obj_ns != ns:
                continue
            raw = source.objects.get((obj_ns, _name), obj) if t.derived_from else obj
            md_labels = _get(obj, "metadata", "labels", default={})
            if labels and not labels_match(md_labels if isinstance(md_labels, dict) else {}, labels):
                continue
            if terms and not fields_match(t, raw, terms):
                continue
            out.append(obj)
        return out

    # -- logs

    def _log(self, t: ResourceType, ns: str, pod_name: str, query: dict[str, str]) -> Answer:
        if (t.group, t.plural) != ("", "pods"):
            raise _not_found_path()
        self._check_deny(t, ns, pod_name, "get", sub="log")
        pod = self.registry.objects(t).get((ns, pod_name))
        have = sorted({(c, prev) for (n, p, c, prev) in self.logs if n == ns and p == pod_name})
        if pod is None and not have:
            self._one(t, ns, pod_name)  # raises the right NotFound
        containers = [str(c.get("name")) for c in _lst(_get(pod, "spec", "containers")) if isinstance(c, dict)] if pod else []
        inits = [str(c.get("name")) for c in _lst(_get(pod, "spec", "initContainers")) if isinstance(c, dict)] if pod else []
        ephemeral = [str(c.get("name")) for c in _lst(_get(pod, "spec", "ephemeralContainers")) if isinstance(c, dict)] if pod else []
        if pod is None:
            containers = sorted({c for c, _ in have})
        container = query.get("container") or ""
        if not container:
            if len(containers) == 1:
                container = containers[0]
            else:
                msg = f"a container name must be specified for pod {pod_name}, choose one of: [{' '.join(containers)}]"
                if inits:
                    msg += f" or one of the init containers: [{' '.join(inits)}]"
                raise _bad_request(msg)
        if pod is not None and container not in containers + inits + ephemeral:
            raise _bad_request(f"container {container} is not valid for pod {pod_name}")
        previous = _truthy(query.get("previous"))
        since = None
        if query.get("sinceSeconds"):
            secs = query["sinceSeconds"]
            if not secs.isdigit() or int(secs) < 1:
                raise _bad_request(f"PodLogOptions.v1 \"\" is invalid: sinceSeconds: Invalid value: {secs}: must be greater than 0")
            since = self.bundle.reference_time - timedelta(seconds=int(secs))
        if query.get("sinceTime"):
            since = parse_time(query["sinceTime"])
            if since is None:
                raise _bad_request(f"invalid sinceTime {query['sinceTime']!r}: not an RFC 3339 time")
        tail = _nonneg(query.get("tailLines"), "tailLines")
        limit = _nonneg(query.get("limitBytes"), "limitBytes")
        if limit == 0:
            raise _bad_request("PodLogOptions.v1 \"\" is invalid: limitBytes: Invalid value: 0: must be greater than 0")
        data = self.logs.get((ns, pod_name, container, previous))
        if data is None:
            if previous:
                raise _bad_request(f'previous terminated container "{container}" in pod "{pod_name}" not found')
            waiting = next((_get(s, "state", "waiting") for s in _lst(_get(pod, "status", "containerStatuses"))
                            + _lst(_get(pod, "status", "initContainerStatuses")) if isinstance(s, dict) and s.get("name") == container), None)
            if isinstance(waiting, dict):
                raise _bad_request(f'container "{container}" in pod "{pod_name}" is waiting to start: {waiting.get("reason") or "ContainerCreating"}')
            raise ApiError(404, "NotFound", f'the log of container "{container}" in pod "{pod_name}" (namespace "{ns}") was not collected in this bundle',
                           {"name": pod_name, "kind": "pods"})
        body = render_log(data, self.bundle.reference_time, timestamps=_truthy(query.get("timestamps")), since=since, tail=tail, limit=limit)
        return Answer(200, body, "text/plain")


def _nonneg(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise _bad_request(f"PodLogOptions.v1 \"\" is invalid: {name}: Invalid value: {value!r}: must be a non-negative integer")
    return int(value)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "")


def _wants_table(accept: str) -> bool:
    for alt in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in alt.split(";")[1:])}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
    return False


def _group(name: str, versions: list[str]) -> dict:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def _json(obj: object) -> Answer:
    return Answer(200, orjson.dumps(obj))


# -------------------------------------------------------------- the server


def server_version(manifest: dict | None) -> tuple[dict, str | None]:
    """``/version`` for the bundle's cluster, clamped to what the local kubectl can run; and a note when clamped."""
    kubectl = (manifest or {}).get("kubectl")
    reported = None
    if isinstance(kubectl, dict):
        for key in ("server", "serverVersion"):
            v = kubectl.get(key)
            if isinstance(v, dict) and isinstance(v.get("gitVersion"), str):
                reported = v["gitVersion"]
                break
            if isinstance(v, str):
                reported = v
                break
    git = (reported or DEFAULT_SERVER_VERSION).strip()[:64]
    note = None
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?([-+][0-9A-Za-z.+-]*)?$", git)
    if not m or m.group(1) != "1":
        note = f"server version {git!r} is not a Kubernetes 1.x version; reporting {DEFAULT_SERVER_VERSION}"
        git = DEFAULT_SERVER_VERSION
        m = re.match(r"^v(\d+)\.(\d+)\.(\d+)()$", git)
    minor = int(m.group(2))
    lo, hi = KUBECTL_MINORS
    if minor < lo or minor > hi:
        clamped = min(max(minor, lo), hi)
        note = f"bundle server version {git} is outside the kubectl range 1.{lo}-1.{hi}; reporting v1.{clamped}.0"
        git, minor = f"v1.{clamped}.0", clamped
    elif not git.startswith("v"):
        git = "v" + git
    info = {
        "major": "1",
        "minor": str(minor),
        "gitVersion": git,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "go1.22",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
    return info, note


def discovery_files(path: str | os.PathLike) -> dict[str, bytes]:
    """``cluster-resources/resources.json`` and ``groups.json`` of a bundle, read with the same caution as the bundle."""
    wanted = ("resources.json", "groups.json")
    out: dict[str, bytes] = {}
    p = Path(path)
    try:
        if p.is_dir():
            roots = [p] + [c for c in sorted(p.iterdir())[:64] if c.is_dir() and not c.is_symlink()]
            for root in roots:
                folder = root / "cluster-resources"
                if folder.is_symlink() or not folder.is_dir():
                    continue
                for name in wanted:
                    fp = folder / name
                    if name in out or fp.is_symlink() or not fp.is_file():
                        continue
                    if fp.stat().st_size <= MAX_DISCOVERY_FILE:
                        out[name] = fp.read_bytes()
        elif p.is_file():
            with p.open("rb") as fh:
                if fh.read(2) != b"\x1f\x8b":
                    return out
            with tarfile.open(p, mode="r|gz") as tar:
                for member in tar:
                    parts = PurePosixPath(member.name).parts
                    parts = tuple(x for x in parts if x not in ("", "."))
                    if ".." in parts or len(parts) not in (2, 3) or parts[-2] != "cluster-resources" or parts[-1] not in wanted:
                        continue
                    if member.isfile() and member.size <= MAX_DISCOVERY_FILE and parts[-1] not in out:
                        fh = tar.extractfile(member)
                        out[parts[-1]] = fh.read() if fh else b""
    except (OSError, tarfile.TarError, EOFError, zlib.error):
        pass
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gitops-master-serve"
    timeout = 120  # an idle keep-alive connection is dropped after this many seconds

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._answer("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._answer("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._answer("DELETE")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._answer("OPTIONS")

    def _answer(self, method: str) -> None:
        owner: BundleServer = self.server.owner  # type: ignore[attr-defined]
        self._drain_body()
        try:
            wait = owner.api.delay_for(self.path) if method in ("GET", "HEAD") else 0.0
            if wait > 0 and owner._stopping.wait(wait):
                self.close_connection = True
                return
            answer = owner.api.handle(method, self.path, self.headers.get("Accept", ""))
        except Exception as exc:  # never let a request take the server down
            err = ApiError(500, "InternalError", f"an error on the server ({type(exc).__name__}) has prevented the request from succeeding", {})
            answer = Answer(500, orjson.dumps(err.status()))
        owner._record(method, self.path, answer.status)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Cache-Control", "no-cache, private")
            self.send_header("X-Content-Type-Options", "nosniff")
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _drain_body(self) -> None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return
        if length is None:
            return
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            return
        if 0 < n <= MAX_REQUEST_BODY:
            self.rfile.read(n)
        elif n > MAX_REQUEST_BODY:
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class BundleServer:
    """A read-only Kubernetes API over one bundle, served from a background thread.

    ``with BundleServer("bundle.tar.gz") as srv: ...`` starts it; ``srv.url``,
    ``srv.kubeconfig()`` and ``srv.requests`` tell where it is and what it was asked.
    ``deny`` maps a resource (``stages``, ``stages.kargo.akuity.io``, ``pods/log``)
    to the namespaces that answer 403 (``None``: every namespace and the
    cluster scope); ``delay`` maps a resource to seconds to wait before answering.
    """

    def __init__(self, bundle_path: str | os.PathLike | Bundle, host: str = "127.0.0.1", port: int = 0,
                 deny: dict[str, set[str | None]] | None = None, delay: dict[str, float] | None = None,
                 request_log: str | os.PathLike | None = None, uncollected: str = "notfound"):
        if not _is_loopback(host):
            raise ValueError(f"refusing to serve on {host!r}: the server has no authentication, use a loopback address such as 127.0.0.1")
        if uncollected not in ("notfound", "empty"):
            raise ValueError("uncollected must be 'notfound' or 'empty'")
        if isinstance(bundle_path, Bundle):
            self.bundle = bundle_path
            files = discovery_files(bundle_path.source) if os.path.exists(bundle_path.source) else {}
        else:
            self.bundle = open_bundle(bundle_path)
            files = discovery_files(bundle_path)
        self.host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self.version, self.version_note = server_version(self.bundle.manifest)
        self.registry = Registry(self.bundle, files, uncollected)
        self.api = Api(self.bundle, self.registry, self.version, deny, delay)
        self.request_log = str(request_log) if request_log is not None else None
        self._requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> BundleServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self._port), _Handler)
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"bundle-server-{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    close = stop

    def __enter__(self) -> BundleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- where and what

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return list(self._requests)

    def kubeconfig(self, namespace: str = "default") -> str:
        """A kubeconfig (YAML) whose current context is this server."""
        name = "gitops-bundle"
        return (
            "apiVersion: v1\n"
            "kind: Config\n"
            "clusters:\n"
            f"- name: {name}\n"
            "  cluster:\n"
            f"    server: {self.url}\n"
            "contexts:\n"
            f"- name: {name}\n"
            "  context:\n"
            f"    cluster: {name}\n"
            f"    user: {name}\n"
            f"    namespace: {_yaml_scalar(namespace)}\n"
            f"current-context: {name}\n"
            "preferences: {}\n"
            "users:\n"
            f"- name: {name}\n"
            "  user: {}\n"
        )

    def write_kubeconfig(self, path: str | os.PathLike, namespace: str = "default") -> str:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.kubeconfig(namespace))
        return str(path)

    def _record(self, method: str, path: str, status: int) -> None:
        entry = (method, path, status)
        with self._lock:
            self._requests.append(entry)
            if self.request_log is not None:
                line = orjson.dumps({"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                                     "method": method, "path": path, "status": status})
                with open(self.request_log, "ab") as fh:
                    fh.write(line + b"\n")


def _yaml_scalar(text: str) -> str:
    return text if _is_name(text) else orjson.dumps(text).decode()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return addr.version == 4 and addr.is_loopback


# ------------------------------------------------------------ command line


def parse_deny(values: Iterable[str]) -> dict[str, set[str | None]]:
    """``["stages:kargo-demo", "pods/log"]`` -> ``{"stages": {"kargo-demo"}, "pods/log": {None}}``."""
    out: dict[str, set[str | None]] = {}
    for value in values:
        resource, _, ns = value.partition(":")
        resource = resource.strip().lower()
        if not resource:
            raise ValueError(f"--deny {value!r}: expected RESOURCE or RESOURCE:NAMESPACE")
        out.setdefault(resource, set()).add(ns.strip() or None)
    return out


def parse_delay(values: Iterable[str]) -> dict[str, float]:
    """``["applications=5"]`` -> ``{"applications": 5.0}``."""
    out: dict[str, float] = {}
    for value in values:
        resource, _, seconds = value.partition("=")
        try:
            secs = float(seconds)
        except ValueError:
            secs = -1.0
        if not resource.strip() or not 0 <= secs <= 3600:
            raise ValueError(f"--delay {value!r}: expected RESOURCE=SECONDS with 0 <= SECONDS <= 3600")
        out[resource.strip().lower()] = secs
    return out


def serve_forever(bundle_path: str | os.PathLike | Bundle, port: int = 0, host: str = "127.0.0.1",
                  deny: dict[str, set[str | None]] | None = None, delay: dict[str, float] | None = None,
                  kubeconfig_out: str | os.PathLike | None = None, request_log: str | os.PathLike | None = None,
                  uncollected: str = "notfound", namespace: str = "default") -> None:
    """Serve until interrupted; the kubeconfig path and how to use it go to stderr."""
    server = BundleServer(bundle_path, host=host, port=port, deny=deny, delay=delay, request_log=request_log, uncollected=uncollected)
    server.start()
    own_file = kubeconfig_out is None
    if own_file:
        fd, kubeconfig_out = tempfile.mkstemp(prefix=f"gitops-bundle-{server.port}-", suffix=".kubeconfig")
        os.close(fd)
    path = server.write_kubeconfig(kubeconfig_out, namespace)
    err = sys.stderr
    bundle = server.bundle
    print(f"Serving {bundle.source} read-only at {server.url}", file=err)
    print(f"  snapshot taken {bundle.reference_time.strftime('%Y-%m-%dT%H:%M:%SZ')} ({bundle.reference_time_source}); ages are measured from it", file=err)
    print(f"  server version {server.version['gitVersion']}", file=err)
    if server.version_note:
        print(f"  note: {server.version_note}", file=err)
    print(f"Kubeconfig: {path}", file=err)
    print(f"  export KUBECONFIG={path}", file=err)
    print("  kubectl get stages -A; kubectl get pods -A; kubectl logs -n NAMESPACE POD", file=err)
    print("Only GET is answered; writes, watches, exec and auth can-i are refused. Ctrl-C stops.", file=err)
    err.flush()
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if own_file:
            with contextlib.suppress(OSError):
                os.unlink(path)
        print("Stopped.", file=err)


def main(argv: list[str] | None = None) -> int:
    """``python -m analyzer.serve BUNDLE [--port N] ...`` for use without the CLI."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m analyzer.serve", description="Serve a bundle as a read-only Kubernetes API.")
    ap.add_argument("bundle")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--deny", action="append", default=[], metavar="RESOURCE[:NAMESPACE]")
    ap.add_argument("--delay", action="append", default=[], metavar="RESOURCE=SECONDS")
    ap.add_argument("--kubeconfig-out")
    ap.add_argument("--request-log")
    args = ap.parse_args(argv)
    try:
        serve_forever(args.bundle, port=args.port, deny=parse_deny(args.deny), delay=parse_delay(args.delay),
                      kubeconfig_out=args.kubeconfig_out, request_log=args.request_log)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
