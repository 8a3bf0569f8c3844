"""Resource types the server knows, where their objects come from, and API errors."""


from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from analyzer.bundle import Bundle
from analyzer.resources import RESOURCE_KIND

# The kubectl on this kind of host runs the client matching the server's minor
# version; outside this range it has no client to run.
KUBECTL_MINORS = (27, 33)
DEFAULT_SERVER_VERSION = "v1.30.0"
DENIED_USER = "system:serviceaccount:support:gitops-collector"
READ_VERBS = ("get", "list")
MAX_DISCOVERY_FILE = 16 * 1024**2
MAX_REQUEST_BODY = 1024**2
# Kinds of the bundle format itself, not of Kubernetes: never served as resources.
BUNDLE_GROUP = "bundle.gitops-master.io"
# What collector.sh read through a Prometheus Service's proxy: the answer is served there again.
PROMETHEUS_TARGETS = f"prometheustargets.{BUNDLE_GROUP}"

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
    # Collection failures the bundle's manifest records: namespace ("" for all
    # namespaces or the cluster scope) -> (status, message). Served as failures
    # in every mode: a gap never turns into an empty list.
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)

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
        # (namespace, Service name) -> PrometheusTarget object; namespace -> (status, message) of a failed collection
        self.prometheus_targets: dict[tuple[str, str], dict] = {}
        self.prometheus_failed: dict[str, tuple[str, str]] = {}
        discovery_files = discovery_files or {}
        authoritative = self._load_discovery(discovery_files)
        for entry in BUILTIN_TYPES:
            group, version, plural, kind, namespaced, shorts, cats, always = entry
            t = self.types.get((group, plural))
            if t is None:
                # "empty": whatever the bundle lacks reads as an empty list, so every
                # known type is served unless the bundle holds the cluster's discovery.
                t = ResourceType(group, version, plural, kind, namespaced, kind.lower(), shorts, cats,
                                 custom=group in CUSTOM_GROUPS,
                                 advertised=(always or uncollected == "empty") and not authoritative)
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
            if key.partition(".")[2] == BUNDLE_GROUP:
                if key == PROMETHEUS_TARGETS:
                    self._load_prometheus_targets(docs)
                continue
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
                    if str(obj.get("apiVersion") or "").partition("/")[0] == BUNDLE_GROUP:
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

    def _load_prometheus_targets(self, docs: list) -> None:
        """PrometheusTarget objects: one Prometheus Service's ``/api/v1/targets`` answer each."""
        for doc in docs:
            for obj in _items(doc.data) or []:
                if not isinstance(obj, dict) or obj.get("kind") != "PrometheusTarget" or not isinstance(obj.get("metadata"), dict):
                    continue
                name, ns = obj["metadata"].get("name"), obj["metadata"].get("namespace") or doc.namespace
                if _is_name(name) and _is_name(ns) and isinstance(obj.get("response"), dict):
                    self.prometheus_targets[(ns, name)] = obj

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
            if not isinstance(c, dict) or not isinstance(c.get("argv"), list) or c.get("optional") is True:
                continue
            ok = c.get("exit_code") == 0
            resource, _, ns = str(c.get("id") or "").partition("/")
            if resource == PROMETHEUS_TARGETS:
                if not ok and _is_name(ns):
                    # one call of several may have failed ("partial"): its message says how
                    stderr = str(c.get("stderr") or "").strip()[:300]
                    status = "forbidden" if "forbidden" in stderr.lower() else str(c.get("status") or "error")
                    self.prometheus_failed.setdefault(ns, (status, stderr))
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
                if not ok:
                    if any(a.startswith(("-o=jsonpath", "jsonpath", "-ojsonpath", "--output=jsonpath")) for a in argv):
                        continue  # a discovery query the collector keeps out of the bundle
                    scope = "" if all_ns or not t.namespaced else ns
                    if scope is not None:
                        stderr = str(c.get("stderr") or "").strip()[:300]
                        status = c.get("status") if isinstance(c.get("status"), str) else (
                            "forbidden" if "forbidden" in stderr.lower() else "error")
                        t.failed.setdefault(scope, (status, stderr))
                elif all_ns or not t.namespaced:
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
        """What kubectl would make of a resource argument (``stage``, ``promo``, ``pods``, ``stages.kargo.akuity.io``,
        ``stages.v1alpha1.kargo.akuity.io``)."""
        name = _VERSIONED_ARG.sub(r"\1.", name.lower())
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

    def failure(self, t: ResourceType, namespace: str | None) -> tuple[str, str] | None:
        """``(status, message)`` when the bundle's manifest records that collecting this failed."""
        if t.derived_from and t.derived_from in self.types:
            t = self.types[t.derived_from]
        if not t.failed:
            return None
        if "" in t.failed:
            return t.failed[""]
        if namespace is None:
            return next(iter(t.failed.values()))  # a list across namespaces misses those
        return t.failed.get(namespace)

    def covered(self, t: ResourceType, namespace: str | None) -> bool:
        if self.failure(t, namespace) is not None:
            return False
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


_VERSIONED_ARG = re.compile(r"^([a-z0-9-]+)\.v[0-9]+(?:(?:alpha|beta)[0-9]+)?\.(?=[a-z0-9])")  # kubectl's PLURAL.VERSION.GROUP
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


# ------------------------------------------------- object helpers


def _get(obj: object, *path: str, default: object = None) -> object:
    cur = obj
    for p in path:
        if not isinstance(cur, dict):
            return default
        cur = cur.get(p)
    return default if cur is None else cur


def _lst(value: object) -> list:
    return value if isinstance(value, list) else []


def _condition(obj: dict, ctype: str) -> dict | None:
    for c in _lst(_get(obj, "status", "conditions")):
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None
