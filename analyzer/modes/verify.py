"""V1-V4: the 4-level verification of each Stage, from a snapshot.

Levels, in the playbook's order, stopping at the first that fails (the later
ones are SKIPPED):

1. Infrastructure: pods of the Stage's namespaces running, the CRDs it needs
   installed, the Secrets its pods reference present (by name).
2. Service health: its Argo CD Applications Synced and Healthy, pods ready
   (readiness probes answer), Kargo's own health check, Prometheus targets
   when the Stage deploys Prometheus.
3. Ingress and auth: Ingresses of its namespaces with an address and existing
   backends; TLS secrets present and cert-manager Certificates Ready.
4. Functional: verification configured, its RBAC (V3), and the AnalysisRun
   result for the current Freight.

A check the bundle lacks the data for is UNKNOWN (collection gap), never
PASS; UNKNOWN does not stop the levels after it. ``--quick`` is Levels 1 and 2.
The Stage's namespaces are its Applications' destinations and the namespaces
of what they manage (or its verification ``namespace`` arg when it has none).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

import polars as pl

from analyzer.findings import Evidence
from analyzer.modes.apps import describe_apps
from analyzer.modes.architecture import freight_label, verification_jobs_by_stage
from analyzer.modes.common import BUILTIN_GROUPS, coverage, freight_relations, rows_by, say, stage_apps
from analyzer.modes.output import Header, header
from analyzer.modes.rbac import RbacChecklist, checklist, script_needs
from analyzer.rules.common import evidence, human_age, iso, rows, since

PASS, FAIL, UNKNOWN, SKIPPED, NA = "PASS", "FAIL", "UNKNOWN", "SKIPPED", "N/A"
MARKS = {PASS: "[x]", FAIL: "[ ]", UNKNOWN: "[?]", NA: "[-]"}
SUFFIXES = {PASS: "", FAIL: " FAILED", UNKNOWN: " UNKNOWN", NA: ""}
LEVEL_NAMES = {1: "Infrastructure", 2: "Service Health", 3: "Ingress & Auth", 4: "Functional"}
EXIT_CODES = {PASS: 0, FAIL: 1, UNKNOWN: 3}

NOT_RUNNING_REASONS = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
                       "CreateContainerError", "RunContainerError", "InvalidImageName", "ContainerCannotRun")
FAILED_VERIFICATION = ("Failed", "Error", "Aborted", "Inconclusive")
KARGO_KINDS = ("Stage", "Promotion", "Freight", "Warehouse")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet", "Rollout")


@dataclass(frozen=True)
class Check:
    id: str
    label: str
    status: str  # PASS, FAIL, UNKNOWN or N/A (shown, not counted)
    detail: str
    action: str = ""
    evidence: tuple[Evidence, ...] = ()
    mark: str = ""
    suffix: str = ""


def check(ident: str, label: str, status: str, detail: str, action: str = "", ev=()) -> Check:
    return Check(ident, label, status, detail, action, tuple(ev), MARKS[status], SUFFIXES[status])


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    status: str  # PASS, FAIL, UNKNOWN, SKIPPED
    checks: tuple[Check, ...]
    note: str  # why it was skipped


@dataclass(frozen=True)
class StageVerification:
    """One V4 VERIFICATION REPORT block."""

    namespace: str
    name: str
    timestamp: str
    apps: tuple[str, ...]
    namespaces: tuple[str, ...]
    freight: str
    levels: tuple[Level, ...]
    overall: str  # PASS, FAIL or UNKNOWN
    overall_text: str  # "PASS", "FAIL at Level 2", "UNKNOWN at Level 3 (collection gap)"
    action_required: str
    rbac: tuple[RbacChecklist, ...] = ()


@dataclass(frozen=True)
class VerifyContext:
    header: Header
    quick: bool
    stage_filter: str | None
    stages: tuple[StageVerification, ...]
    not_verified: tuple[str, ...]  # control-flow Stages: nothing deployed to verify
    verdict: str
    exit_code: int
    counts: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------ tables for all Stages at once
#
# A polars call costs far more than the work it does on one Stage's few rows, so each table below is
# built once per Frames from whole frames and the checks of one Stage only look up its rows.

_ROW = "__row__"  # a row's position in its frame: rows of several namespaces merge back into frame order


def _grouped(frame: pl.DataFrame, keys: tuple[str, ...], **aggs: pl.Expr) -> dict:
    """``aggs`` of each group of ``keys`` as a dict, keyed by the value (one key) or the tuple of values.
    Rows with a null key are in no group: an object without a namespace (pasted input) is in none."""
    if frame.is_empty():
        return {}
    grouped = (frame.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys))
               .group_by(*keys, maintain_order=True).agg(**aggs))
    if len(keys) == 1:
        return {r[keys[0]]: r for r in grouped.iter_rows(named=True)}
    return {tuple(r[k] for k in keys): r for r in grouped.iter_rows(named=True)}


def _in_frame_order(parts) -> list[dict]:
    """The rows of several groups' lists as one list, in the order of the frame they came from."""
    return sorted((r for part in parts for r in part), key=lambda r: r[_ROW])


def _stage_app_rows(frames) -> dict[tuple[str, str], list[dict]]:
    """(namespace, Stage) -> its Applications (each once, in step order) with what the bundle holds of them."""
    def build(f) -> dict:
        apps = (
            stage_apps(f).select("namespace", "stage", "app_namespace", "app_name")
            .unique(maintain_order=True)
            .join(_described_apps(f), on=["app_namespace", "app_name"], how="left", maintain_order="left_right")
            .with_columns(pl.col("in_bundle").fill_null(False))
        )
        grouped = _grouped(apps, ("namespace", "stage"), apps=pl.struct(pl.exclude("namespace", "stage")))
        return {key: g["apps"] for key, g in grouped.items()}

    return frames.derived("verify-stage-apps", build)


def _pods_by_namespace(frames) -> dict[str, dict]:
    """namespace -> counts of its non-completed pods, and the first few of them not running and not ready."""
    def build(f) -> dict:
        pods = _flagged_pods(f).with_row_index(_ROW)
        fields = pl.struct(_ROW, "namespace", "name", "phase", "bad_reason", "ready_status", "source")
        # A null flag (no phase, no Ready condition) counts neither way, as a filter on it would.
        return _grouped(pods, ("namespace",), total=pl.len(), running=pl.col("running").sum(), ready=pl.col("ready").sum(),
                        first=pl.struct(_ROW, "source").first(),
                        broken=fields.filter(~pl.col("running")).head(5), not_ready=fields.filter(~pl.col("ready")).head(5))

    return frames.derived("verify-pods-by-namespace", build)


def _workloads_by_namespace(frames) -> dict[str, dict[str, dict]]:
    """deployments / statefulsets -> namespace -> replicas wanted, and the first few short of ready replicas."""
    def build(f) -> dict:
        out = {}
        for name in ("deployments", "statefulsets"):
            frame = getattr(f, name).with_row_index(_ROW)
            short = pl.col("ready_replicas") < pl.col("replicas").fill_null(1)
            out[name] = _grouped(frame, ("namespace",), desired=pl.col("replicas").fill_null(1).sum(),
                                 short=pl.struct(_ROW, "kind", "namespace", "name", "ready_replicas", "replicas", "source")
                                 .filter(short).head(5))
        return out

    return frames.derived("verify-workloads-by-namespace", build)


def _secret_refs_by_namespace(frames) -> dict[str, dict]:
    """namespace -> the Secrets its pods need (the first reference to each), with how many of that name exist."""
    def build(f) -> dict:
        ref = pl.col("secret_refs").struct
        refs = (
            f.pod_secret_refs.explode("secret_refs").with_row_index(_ROW).filter(pl.col("secret_refs").is_not_null())
            .select(_ROW, "namespace", pl.col("name").alias("pod"), "source", ref.field("name").alias("secret"),
                    ref.field("optional").alias("optional"), ref.field("via").alias("via"))
            .filter(~pl.col("optional"))
            .unique(["namespace", "secret"], keep="first", maintain_order=True)
        )
        have = (f.secrets.group_by("namespace", pl.col("name").alias("secret")).agg(pl.len().alias("present"))
                if not f.secrets.is_empty() else pl.DataFrame(schema={"namespace": pl.String, "secret": pl.String, "present": pl.UInt32}))
        joined = refs.join(have, on=["namespace", "secret"], how="left", maintain_order="left").with_columns(pl.col("present").fill_null(0))
        return _grouped(joined, ("namespace",), wanted=pl.struct(_ROW, "namespace", "pod", "source", "secret", "via", "present"))

    return frames.derived("verify-secret-refs-by-namespace", build)


def _secrets_not_found_by_namespace(frames) -> dict[str, dict]:
    """namespace -> the kubelet's "secret not found" container states: the first few, and each Secret once."""
    def build(f) -> dict:
        waiting = (
            f.containers.with_row_index(_ROW).filter(pl.col("waiting_reason") == "CreateContainerConfigError")
            .with_columns(pl.col("waiting_message").str.extract(r'secret "([^"]+)" not found', 1).alias("secret"))
            .filter(pl.col("secret").is_not_null())
        )
        return _grouped(waiting, ("namespace",),
                        first=pl.struct(_ROW, "namespace", "pod", "container", "source", "waiting_message").head(3),
                        secrets=pl.struct(_ROW, "namespace", "secret").filter(pl.col("secret").is_first_distinct()))

    return frames.derived("verify-secrets-not-found-by-namespace", build)


def _namespace_rows(frames, name: str, unique: tuple[str, ...] = ()) -> dict[str, list[dict]]:
    """namespace -> its rows of ``frames.<name>`` (the first of each ``unique`` key), in frame order."""
    def build(f) -> dict:
        frame = getattr(f, name).with_row_index(_ROW)
        if unique:
            frame = frame.unique(list(unique), keep="first", maintain_order=True)
        return {ns: g["rows"] for ns, g in _grouped(frame, ("namespace",), rows=pl.struct(frame.columns)).items()}

    return frames.derived(f"verify-rows-by-namespace:{name}:{unique}", build)


def _names_by_namespace(frames, name: str) -> dict[str, list]:
    """namespace -> the names of ``frames.<name>`` there, in frame order."""
    def build(f) -> dict:
        return {ns: g["names"] for ns, g in _grouped(getattr(f, name), ("namespace",), names=pl.col("name")).items()}

    return frames.derived(f"verify-names-by-namespace:{name}", build)


# ------------------------------------------------------------------ scope

@dataclass(frozen=True)
class Scope:
    namespace: str
    stage: dict
    apps: tuple[dict, ...]  # the Stage's Applications joined with what the bundle holds of them
    namespaces: tuple[str, ...]
    freight: str | None
    bundle: str = "BUNDLE"  # the bundle path as a shell word, for the commands the report suggests


def _scope(frames, stage: dict) -> Scope:
    ns, name = stage["namespace"], stage["name"]
    apps = tuple(_stage_app_rows(frames).get((ns, name), ()))
    namespaces: list[str] = []
    for a in apps:
        # Where the Application's workloads run: its destination, and namespaces it puts workloads in
        # (not every namespace it touches: a chart's Service in kube-system does not make that the Stage's).
        workload_ns = [r.get("namespace") for r in (a["resources"] or []) if r.get("kind") in WORKLOAD_KINDS]
        for n in [a["dest_namespace"], *workload_ns]:
            if n and n not in namespaces:
                namespaces.append(n)
    if not namespaces:
        extra = rows_by(frames, "stage_extras", ("namespace", "name"), ("args",)).get((ns, name)) or {}
        for arg in extra.get("args") or []:
            if arg and arg.get("name") == "namespace" and arg.get("value"):
                namespaces.append(arg["value"])
    current = freight_relations(frames, "currentlyIn").get((ns, name))
    freight = current[0]["freight"] if current else (
        stage["current_freight"] or (stage["last_promotion_freight"] if stage["last_promotion_phase"] == "Succeeded" else None))
    return Scope(ns, stage, apps, tuple(namespaces), freight, shlex.quote(frames.facts.source))


def _ns_text(namespaces) -> str:
    return ", ".join(namespaces) or "?"


# ------------------------------------------------------------------ Level 1

def _pods(frames, scope: Scope) -> tuple[list[dict], list[str], list[str]]:
    """Pod counts of the scope's namespaces that hold non-completed pods; namespaces known and unknown."""
    by_namespace = _pods_by_namespace(frames)
    known, unknown = [], []
    for n in scope.namespaces:
        (known if n in by_namespace or coverage(frames, "pods", n).known else unknown).append(n)
    return [by_namespace[n] for n in known if n in by_namespace], known, unknown


def _flagged_pods(frames) -> pl.DataFrame:
    bad = (frames.containers.filter(pl.col("waiting_reason").is_in(NOT_RUNNING_REASONS))
           .group_by("namespace", "pod").agg(pl.col("waiting_reason").first().alias("bad_reason")))
    return (
        frames.pods.filter(pl.col("phase") != "Succeeded")
        .join(bad, left_on=["namespace", "name"], right_on=["namespace", "pod"], how="left", maintain_order="left")
        .with_columns(
            ((pl.col("phase") == "Running") & pl.col("bad_reason").is_null()).alias("running"),
            (pl.col("ready_status") == "True").alias("ready"),
        )
    )


def _workloads(frames, namespaces: list[str]) -> tuple[int, list[dict]]:
    """Replicas the Deployments and StatefulSets of ``namespaces`` want; the first few short of ready ones."""
    by_kind = _workloads_by_namespace(frames)
    desired, short = 0, []
    for kind in ("deployments", "statefulsets"):
        groups = [by_kind[kind][n] for n in namespaces if n in by_kind[kind]]
        desired += sum(g["desired"] or 0 for g in groups)
        short += _in_frame_order(g["short"] for g in groups)
    return desired, short[:5]


def check_pods(frames, scope: Scope) -> Check:
    label = say("verify.pods.label")
    if not scope.namespaces:
        return check("pods", label, UNKNOWN, say("verify.no-namespace"), say("verify.no-namespace.action"))
    pods, known, unknown = _pods(frames, scope)
    if not known:
        return check("pods", label, UNKNOWN, coverage(frames, "pods", unknown[0]).detail,
                     say("verify.collect", what=f"pods in {_ns_text(unknown)}"))
    total = sum(p["total"] for p in pods)
    desired, _short = _workloads(frames, known)
    expected = max(total, desired)
    running = sum(p["running"] for p in pods)
    not_running = _in_frame_order(p["broken"] for p in pods)[:5]
    ev = [evidence(r["source"], f"{r['namespace']}/{r['name']} status.phase", r["phase"] + (f" ({r['bad_reason']})" if r["bad_reason"] else ""))
          for r in not_running]
    if not ev and total:
        first = min((p["first"] for p in pods), key=lambda r: r[_ROW])
        ev.append(evidence(first["source"], "pods", f"{running}/{expected} running"))
    detail = say("verify.pods.detail", running=running, expected=expected, namespaces=_ns_text(known))
    if unknown:
        detail += " " + say("verify.partly", what=_ns_text(unknown))
    if running < expected:
        broken = ", ".join(f"{r['name']} ({r['bad_reason'] or r['phase']})" for r in not_running)
        if broken:
            detail += " " + say("verify.pods.broken", pods=broken)
        elif desired > total:
            detail += " " + say("verify.pods.missing", missing=desired - total)
        return check("pods", label, FAIL, detail, say("verify.pods.action", namespace=known[0], stage=scope.stage["name"], bundle=scope.bundle), ev)
    if expected == 0:
        detail = say("verify.pods.none", namespaces=_ns_text(known))
    return check("pods", label, UNKNOWN if unknown else PASS, detail,
                 say("verify.collect", what=f"pods in {_ns_text(unknown)}") if unknown else "", ev)


def check_crds(frames, scope: Scope) -> Check:
    label = say("verify.crds.label")
    required: list[tuple[str, str]] = [("kargo.akuity.io", k) for k in KARGO_KINDS]
    if scope.apps:
        required.append(("argoproj.io", "Application"))
    if scope.stage["has_verification"]:
        required += [("argoproj.io", "AnalysisTemplate"), ("argoproj.io", "AnalysisRun")]
    managed = {}
    for a in scope.apps:
        for r in a["resources"] or []:
            group = r.get("group") or ""
            if group not in BUILTIN_GROUPS and r.get("kind") and (group, r["kind"]) not in managed:
                managed[(group, r["kind"])] = r.get("status")
    required += [k for k in managed if k not in required]
    crds, served = frames.derived("verify-crds", _installed_kinds)
    served = served | {k for k, status in managed.items() if status == "Synced"}  # Argo CD applied it: the kind is served
    crds_known = coverage(frames, "customresourcedefinitions").known
    missing, unknown = [], []
    for key in required:
        if key in crds or key in served:
            continue
        (missing if crds_known else unknown).append(key)
    groups: dict[str, list[str]] = {}
    for g, k in required:
        groups.setdefault(g, []).append(k)
    listing = "; ".join(f"{g} ({', '.join(ks)})" for g, ks in groups.items())
    if missing:
        names = ", ".join(f"{k}.{g}" for g, k in missing)
        return check("crds", label, FAIL, say("verify.crds.missing", missing=names),
                     say("verify.crds.action", missing=names),
                     [evidence("cluster-resources/customresourcedefinitions.json", "CustomResourceDefinitions", "no " + names)])
    if unknown:
        names = ", ".join(f"{k}.{g}" for g, k in unknown)
        return check("crds", label, UNKNOWN, say("verify.crds.unknown", kinds=names, listing=listing),
                     say("verify.collect", what="customresourcedefinitions"))
    return check("crds", label, PASS, listing)


def _installed_kinds(frames) -> tuple[set, set]:
    """(group, kind) of the CRDs in the bundle, and of the kinds its objects show are served."""
    crds = {(r["group"], r["kind"]) for r in rows(frames.crds.select("group", "kind"))} if not frames.crds.is_empty() else set()
    served = set()
    if frames.stages.height:
        served.update(("kargo.akuity.io", k) for k in KARGO_KINDS)  # one chart installs them all
    if frames.applications.height:
        served.add(("argoproj.io", "Application"))
    if frames.analysis_runs.height or frames.analysis_templates.height:
        served.update({("argoproj.io", "AnalysisTemplate"), ("argoproj.io", "AnalysisRun")})
    return crds, served


def check_secrets(frames, scope: Scope) -> Check:
    label = say("verify.secrets.label")
    if not scope.namespaces:
        return check("secrets", label, UNKNOWN, say("verify.no-namespace"), say("verify.no-namespace.action"))
    refs = _secret_refs_by_namespace(frames)
    wanted = _in_frame_order(refs[n]["wanted"] for n in scope.namespaces if n in refs)
    # The kubelet's own word for a missing one, whether or not Secrets were collected.
    not_found_by_namespace = _secrets_not_found_by_namespace(frames)
    not_found = [not_found_by_namespace[n] for n in scope.namespaces if n in not_found_by_namespace]
    _pod_counts, known_pods, _ = _pods(frames, scope)
    if not wanted and not not_found:
        if not known_pods:
            return check("secrets", label, UNKNOWN, coverage(frames, "pods", scope.namespaces[0]).detail,
                         say("verify.collect", what="pods"))
        return check("secrets", label, PASS, say("verify.secrets.none", namespaces=_ns_text(known_pods)))
    missing = [f"{r['namespace']}/{r['secret']}" for r in _in_frame_order(g["secrets"] for g in not_found)]
    ev = [evidence(r["source"], f"{r['namespace']}/{r['pod']} containerStatuses[{r['container']}].state.waiting",
                   r["waiting_message"]) for r in _in_frame_order(g["first"] for g in not_found)[:3]]
    unknown = []
    for r in wanted:
        key = f"{r['namespace']}/{r['secret']}"
        if r["present"]:
            continue
        if coverage(frames, "secrets", r["namespace"]).known:
            if key not in missing:
                missing.append(key)
                ev.append(evidence(r["source"], f"{r['namespace']}/{r['pod']} {r['via']}", f"Secret {r['secret']} (not among the Secrets of {r['namespace']})"))
        elif key not in missing:
            unknown.append(key)
    # A name the bundle holds twice counts twice, as a join with the Secrets would.
    present = [f"{r['namespace']}/{r['secret']}" for r in wanted for _ in range(r["present"])]
    if missing:
        return check("secrets", label, FAIL, ", ".join(missing), say("verify.secrets.action", secret=missing[0]), ev)
    if unknown:
        return check("secrets", label, UNKNOWN, say("verify.secrets.unknown", secrets=", ".join(unknown), detail=coverage(frames, "secrets", unknown[0].split("/")[0]).detail),
                     say("verify.collect", what="secrets (names, types and keys only)"))
    return check("secrets", label, PASS, say("verify.secrets.present", count=len(present), secrets=", ".join(present[:6]) + (" ..." if len(present) > 6 else "")))


# ------------------------------------------------------------------ Level 2

def check_apps(frames, scope: Scope) -> Check:
    label = say("verify.apps.label")
    if not scope.apps:
        return check("apps", label, NA, say("verify.apps.none"))
    bad, unknown, good, ev = [], [], [], []
    for a in scope.apps:
        name = f"{a['app_namespace']}/{a['app_name']}"
        if not a["in_bundle"]:
            cov = coverage(frames, "applications.argoproj.io", a["app_namespace"])
            if cov.known:
                bad.append(say("verify.apps.not-found", app=name))
            else:
                unknown.append(name)
            continue
        state = f"{a['sync_status'] or '?'}/{a['health_status'] or '?'}"
        if a["op_phase"] == "Running" or a["operation_requested"]:
            bad.append(say("verify.apps.syncing", app=name, state=state))
            ev.append(evidence(a["app_source"], "status.operationState.phase", f"Running: {a['op_message'] or ''}"))
        elif a["sync_status"] == "Synced" and a["health_status"] == "Healthy":
            good.append(name)
        else:
            bad.append(f"{name} {state}")
            ev.append(evidence(a["app_source"], "status.sync.status / status.health.status", state))
    if bad:
        return check("apps", label, FAIL, "; ".join(bad), say("verify.apps.action", stage=scope.stage["name"], bundle=scope.bundle), ev)
    if unknown:
        return check("apps", label, UNKNOWN, say("verify.apps.unknown", apps=", ".join(unknown)), say("verify.collect", what="applications.argoproj.io"))
    return check("apps", label, PASS, say("verify.apps.ok", apps=", ".join(good)))


def check_ready(frames, scope: Scope) -> Check:
    label = say("verify.ready.label")
    if not scope.namespaces:
        return check("ready", label, UNKNOWN, say("verify.no-namespace"), say("verify.no-namespace.action"))
    pods, known, unknown = _pods(frames, scope)
    if not known:
        return check("ready", label, UNKNOWN, coverage(frames, "pods", unknown[0]).detail, say("verify.collect", what="pods"))
    ready = sum(p["ready"] for p in pods)
    _desired, workloads = _workloads(frames, known)
    not_ready_pods = _in_frame_order(p["not_ready"] for p in pods)[:5]
    not_ready = [f"{r['name']}" for r in not_ready_pods]
    short = [f"{r['kind']} {r['name']} {r['ready_replicas']}/{r['replicas']}" for r in workloads]
    detail = say("verify.ready.detail", ready=ready, total=sum(p["total"] for p in pods), namespaces=_ns_text(known))
    if not_ready or short:
        ev = [evidence(r["source"], f"{r['namespace']}/{r['name']} status.conditions[Ready]", r["ready_status"] or "absent") for r in not_ready_pods[:3]]
        ev += [evidence(r["source"], f"{r['kind']} {r['namespace']}/{r['name']} status.readyReplicas", f"{r['ready_replicas']}/{r['replicas']}") for r in workloads[:3]]
        detail += " " + say("verify.ready.not", items=", ".join(not_ready + short))
        return check("ready", label, FAIL, detail, say("verify.ready.action", namespace=known[0]), ev)
    if unknown:
        return check("ready", label, UNKNOWN, detail + " " + say("verify.partly", what=_ns_text(unknown)), say("verify.collect", what=f"pods in {_ns_text(unknown)}"))
    return check("ready", label, PASS, detail)


def check_stage_health(frames, scope: Scope) -> Check:
    s = scope.stage
    label = say("verify.kargo-health.label")
    status = s["health_status"]
    ev = [evidence(s["source"], "status.health.status", status or "absent")]
    if status == "Healthy":
        return check("stage-health", label, PASS, say("verify.kargo-health.ok", message=s["healthy_message"] or "Healthy"), ev=ev)
    if status == "Unhealthy" or s["healthy_status"] == "False":
        issues = "; ".join(i for i in (s["health_issues"] or []) if i) or s["healthy_message"] or "Unhealthy"
        return check("stage-health", label, FAIL, issues, say("verify.kargo-health.action", stage=s["name"], bundle=scope.bundle), ev)
    return check("stage-health", label, NA, say("verify.kargo-health.na", status=status or "not reported",
                                                 reason=s["healthy_message"] or s["healthy_reason"] or "no Healthy condition"), ev=ev)


def _deploys_prometheus(scope: Scope) -> bool:
    for a in scope.apps:
        if "prometheus" in f"{a['app_name']} {' '.join(a['charts'] or [])}".lower():
            return True
        if any((r.get("kind") == "Prometheus" and (r.get("group") or "") == "monitoring.coreos.com") for r in (a["resources"] or [])):
            return True
    return False


def check_prometheus(frames, scope: Scope) -> Check | None:
    if not _deploys_prometheus(scope):
        return None
    label = say("verify.prometheus.label")
    monitoring = frames.environment.get("monitoring_namespace")
    spaces = list(scope.namespaces) + ([monitoring] if monitoring else [])
    by_namespace = _namespace_rows(frames, "prometheus_targets", unique=("namespace", "target_set"))
    targets = _in_frame_order(by_namespace[n] for n in dict.fromkeys(spaces) if n in by_namespace)
    if not targets:
        cov = coverage(frames, "prometheustargets.bundle.gitops-master.io", spaces[0] if spaces else None)
        return check("prometheus", label, UNKNOWN, say("verify.prometheus.unknown", detail=cov.detail),
                     say("verify.prometheus.collect", namespace=spaces[0] if spaces else "monitoring"))
    up = sum(r["up"] or 0 for r in targets)
    active = sum(r["active"] or 0 for r in targets)
    down = sorted({p for r in targets for p in (r["down_pools"] or []) if p})
    ev = [evidence(r["source"], f"PrometheusTarget {r['namespace']}/{r['name']}", f"{r['up']}/{r['active']} up" + (f"; error: {r['error']}" if r["error"] else "")) for r in targets]
    if up == 0:
        return check("prometheus", label, FAIL, say("verify.prometheus.none", active=active), say("verify.prometheus.action", namespace=targets[0]["namespace"]), ev)
    detail = say("verify.prometheus.ok", up=up, active=active)
    if down:
        detail += " " + say("verify.prometheus.down", pools=", ".join(down[:6]))
    return check("prometheus", label, PASS, detail, ev=ev)


# ------------------------------------------------------------------ Level 3

def check_ingress(frames, scope: Scope) -> list[Check]:
    if not scope.namespaces:
        return [check("ingress", say("verify.ingress.label", name=""), UNKNOWN, say("verify.no-namespace"), say("verify.no-namespace.action"))]
    by_namespace = _namespace_rows(frames, "ingresses")
    ingresses = _in_frame_order(by_namespace[n] for n in scope.namespaces if n in by_namespace)
    unknown = [n for n in scope.namespaces if n not in by_namespace and not coverage(frames, "ingresses", n).known]
    out: list[Check] = []
    if not ingresses:
        if unknown:
            return [check("ingress", say("verify.ingress.label", name=""), UNKNOWN, coverage(frames, "ingresses", unknown[0]).detail,
                          say("verify.collect", what="ingresses"))]
        return [check("ingress", say("verify.ingress.label", name=""), NA, say("verify.ingress.none", namespaces=_ns_text(scope.namespaces)))]
    services = _names_by_namespace(frames, "services")
    # By namespace and name as a sort of the frame would, nulls first; equal ones in frame order.
    for ing in sorted(ingresses, key=lambda r: (r["namespace"], r["name"] is not None, r["name"] or "")):
        label = say("verify.ingress.label", name=f" {ing['namespace']}/{ing['name']}")
        hosts = ", ".join(ing["hosts"] or []) or "*"
        ev = [evidence(ing["source"], "status.loadBalancer.ingress", ", ".join(ing["addresses"] or []) or "empty")]
        problems = []
        if not ing["addresses"]:
            problems.append(say("verify.ingress.no-address"))
        missing_svc = []
        here = services.get(ing["namespace"], [])
        for svc in ing["backend_services"] or []:
            present = svc is not None and svc in here
            if not present and coverage(frames, "services", ing["namespace"], present=bool(here)).known:
                missing_svc.append(svc)
        if missing_svc:
            problems.append(say("verify.ingress.no-service", services=", ".join(missing_svc)))
            ev.append(evidence(ing["source"], "spec.rules[].http.paths[].backend.service.name", ", ".join(missing_svc)))
        if problems:
            out.append(check("ingress", label, FAIL, f"{hosts}: " + "; ".join(problems), say("verify.ingress.action", namespace=ing["namespace"], name=ing["name"]), ev))
        else:
            out.append(check("ingress", label, PASS, say("verify.ingress.ok", hosts=hosts, address=", ".join(ing["addresses"])), ev=ev))
        out += _tls_checks(frames, ing)
    if unknown:
        out.append(check("ingress", say("verify.ingress.label", name=""), UNKNOWN, coverage(frames, "ingresses", unknown[0]).detail,
                         say("verify.collect", what="ingresses")))
    return out


def _cert_manager_installed(frames) -> bool:
    return frames.derived("cert-manager-installed", _find_cert_manager)


def _find_cert_manager(frames) -> bool:
    if not frames.certificates.is_empty():
        return True
    if not frames.crds.is_empty() and frames.crds.filter(pl.col("group") == "cert-manager.io").height:
        return True
    return frames.pods.filter(pl.col("app_name").fill_null("").str.contains("cert-manager")).height > 0


def _tls_checks(frames, ing: dict) -> list[Check]:
    out = []
    ns = ing["namespace"]
    if not ing["tls"]:
        return [check("tls", say("verify.tls.label", hosts=", ".join(ing["hosts"] or []) or ing["name"]), NA, say("verify.tls.none", name=ing["name"]))]
    for tls in ing["tls"]:
        hosts = ", ".join(tls.get("hosts") or []) or ", ".join(ing["hosts"] or []) or ing["name"]
        label = say("verify.tls.label", hosts=hosts)
        secret = tls.get("secretName")
        if not secret:
            out.append(check("tls", label, NA, say("verify.tls.default-cert")))
            continue
        sec = rows_by(frames, "secrets", ("namespace", "name"), ("source", "type", "has_tls_crt", "has_tls_key")).get((ns, secret))
        cert = rows_by(frames, "certificates", ("namespace", "secret_name"),
                       ("source", "name", "ready_status", "ready_reason", "ready_message")).get((ns, secret))
        ev = []
        if cert:
            ev.append(evidence(cert["source"], f"Certificate {ns}/{cert['name']} status.conditions[Ready]", f"{cert['ready_status']} {cert['ready_reason'] or ''}: {cert['ready_message'] or ''}"))
            if cert["ready_status"] != "True":
                out.append(check("tls", label, FAIL, say("verify.tls.cert-not-ready", cert=cert["name"], status=cert["ready_status"] or "?", message=cert["ready_message"] or cert["ready_reason"] or ""),
                                 say("verify.tls.cert-action", namespace=ns, cert=cert["name"]), ev))
                continue
        if sec:
            ev.append(evidence(sec["source"], f"Secret {ns}/{secret}", f"type {sec['type']}"))
            if sec["type"] != "kubernetes.io/tls" and not (sec["has_tls_crt"] and sec["has_tls_key"]):
                out.append(check("tls", label, FAIL, say("verify.tls.not-tls", secret=secret, type=sec["type"] or "?"), say("verify.tls.secret-action", namespace=ns, secret=secret), ev))
                continue
        elif coverage(frames, "secrets", ns).known:
            out.append(check("tls", label, FAIL, say("verify.tls.no-secret", secret=secret), say("verify.tls.secret-action", namespace=ns, secret=secret),
                             ev + [evidence(f"cluster-resources/secrets/{ns}.json", "Secrets", "no " + secret)]))
            continue
        elif not cert:
            out.append(check("tls", label, UNKNOWN, coverage(frames, "secrets", ns).detail, say("verify.collect", what="secrets (names, types and keys only)")))
            continue
        if not cert and _cert_manager_installed(frames) and not coverage(frames, "certificates.cert-manager.io", ns).known:
            out.append(check("tls", label, UNKNOWN, say("verify.tls.cert-unknown", secret=secret,
                                                         detail=coverage(frames, "certificates.cert-manager.io", ns).detail),
                             say("verify.collect", what="certificates.cert-manager.io"), ev))
            continue
        detail = say("verify.tls.ok-cert", secret=secret, cert=cert["name"]) if cert else say("verify.tls.ok", secret=secret)
        out.append(check("tls", label, PASS, detail, ev=ev))
    return out


# ------------------------------------------------------------------ Level 4

def check_functional(frames, scope: Scope) -> tuple[list[Check], list[RbacChecklist]]:
    s = scope.stage
    out: list[Check] = []
    templates = s["verification_templates"] or []
    if not s["has_verification"]:
        return [check("verification", say("verify.verification.label"), UNKNOWN, say("verify.verification.none"),
                      say("verify.verification.none-action", project=scope.namespace, stage=s["name"]))], []
    have = _names_by_namespace(frames, "analysis_templates").get(scope.namespace, [])
    absent = [t for t in templates if t not in have]
    cov = coverage(frames, "analysistemplates.argoproj.io", scope.namespace, present=bool(have))
    if absent and cov.known:
        out.append(check("verification", say("verify.verification.label"), FAIL, say("verify.verification.missing", templates=", ".join(absent)),
                         say("verify.verification.missing-action", stage=s["name"])))
    else:
        out.append(check("verification", say("verify.verification.label"), PASS, ", ".join(templates)))
    run = _current_run(frames, scope)
    succeeded = run is not None and run["phase"] == "Successful"
    checklists = []
    for j in verification_jobs_by_stage(frames).get((scope.namespace, s["name"]), []):
        runs = [run["run"]] if run and run["run"] else []
        cl = checklist(frames, scope.namespace, j["service_account"], j["templates"], j["script"], runs)
        checklists.append(cl)
        out += _rbac_checks(cl, bool(script_needs(j["script"])), succeeded, run["run"] if run else None)
    out.append(_analysis_check(frames, scope, run))
    return out, checklists


def _rbac_checks(cl: RbacChecklist, uses_kubectl: bool, succeeded: bool, run: str | None) -> list[Check]:
    sa = f"{cl.namespace}/{cl.service_account}"
    out = []
    states = {"ok": PASS, "missing": FAIL, "unknown": UNKNOWN, "n/a": NA}
    label = say("verify.rbac.sa.label")
    st = states[cl.sa_state]
    if st == UNKNOWN and (succeeded or cl.service_account == "default"):
        st, detail = PASS, say("verify.rbac.inferred", what=cl.sa_detail, run=run or "the last AnalysisRun") if succeeded else say("verify.rbac.default-sa")
    else:
        detail = cl.sa_detail
    out.append(check("rbac-sa", label, st, detail, say("verify.rbac.action", sa=sa) if st == FAIL else "", cl.evidence[:1]))
    if not uses_kubectl and not cl.forbidden:
        out.append(check("rbac-grants", say("verify.rbac.grants.label"), NA, say("verify.rbac.no-kubectl", sa=sa)))
        return out
    for ident, state, detail_text, lab in (("rbac-binding", cl.binding_state, cl.binding_detail, "verify.rbac.binding.label"),
                                           ("rbac-grants", cl.grants_state, cl.grants_detail, "verify.rbac.grants.label")):
        st = states[state]
        detail = detail_text
        if st == UNKNOWN and succeeded:
            st, detail = PASS, say("verify.rbac.inferred", what=detail_text, run=run or "the last AnalysisRun")
        out.append(check(ident, say(lab), st, detail, say("verify.rbac.action", sa=sa) if st == FAIL else ""))
    if cl.forbidden:
        f = cl.forbidden[0]
        what = f"{f.verb or '?'} {f.resource or '?'}" + (f".{f.group}" if f.group else "") + (f" in {f.namespace}" if f.namespace else "")
        out.append(check("rbac-forbidden", say("verify.rbac.forbidden.label"), FAIL, say("verify.rbac.forbidden", pod=f.pod, what=what),
                         say("verify.rbac.forbidden.action", sa=sa, what=what), tuple(x.evidence for x in cl.forbidden)))
    return out


def _current_run(frames, scope: Scope) -> dict | None:
    """The latest verification of the current Freight: the Stage's record, and its AnalysisRun when collected."""
    s = scope.stage
    if not s["verification_phase"] and not s["verification_analysis_run"]:
        return None
    run_name = s["verification_analysis_run"]
    row = rows_by(frames, "analysis_runs", ("namespace", "name"), ("phase", "message", "failed_metrics", "source")).get((scope.namespace, run_name)) if run_name else None
    return {"run": run_name, "phase": (row or {}).get("phase") or s["verification_phase"], "message": (row or {}).get("message") or s["verification_message"],
            "failed_metrics": (row or {}).get("failed_metrics") or [], "source": (row or {}).get("source"), "finished": s["verification_finished"]}


def _analysis_check(frames, scope: Scope, run: dict | None) -> Check:
    s = scope.stage
    label = say("verify.analysis.label")
    if not scope.freight and s["freight_history_len"] == 0:
        return check("analysis", label, UNKNOWN, say("verify.analysis.no-freight"), say("verify.analysis.no-freight-action", stage=s["name"], bundle=scope.bundle))
    if run is None:
        return check("analysis", label, UNKNOWN, say("verify.analysis.none"), say("verify.analysis.none-action", namespace=scope.namespace, stage=s["name"]))
    ev = [evidence(s["source"], "status.freightHistory[0].verificationHistory[0]", f"{run['phase']} (AnalysisRun {run['run'] or 'none'})", run["finished"])]
    if run["source"]:
        ev.append(evidence(run["source"], f"AnalysisRun {run['run']} status.phase", f"{run['phase']}: {run['message'] or ''}"))
    verified = [r for r in freight_relations(frames, "verifiedIn").get((scope.namespace, s["name"]), []) if r["freight"] == (scope.freight or "")]
    if verified:
        ev.append(evidence("freights.kargo.akuity.io", f"Freight {scope.freight} status.verifiedIn[{s['name']}]", f"verifiedAt {iso(verified[0]['at'])}"))
    phase = run["phase"]
    if phase == "Successful":
        return check("analysis", label, PASS, say("verify.analysis.ok", run=run["run"] or "(no AnalysisRun)", freight=freight_label(frames, scope.namespace, scope.freight)), ev=ev)
    if phase in FAILED_VERIFICATION:
        metrics = f" (failed metrics: {', '.join(run['failed_metrics'])})" if run["failed_metrics"] else ""
        return check("analysis", label, FAIL, say("verify.analysis.failed", run=run["run"] or "?", phase=phase, message=(run["message"] or "") + metrics),
                     say("verify.analysis.action", namespace=scope.namespace, run=run["run"] or "RUN", stage=s["name"]), ev)
    age = human_age(since(frames.now, run["finished"])) if run["finished"] else "an unknown time"
    return check("analysis", label, UNKNOWN, say("verify.analysis.running", run=run["run"] or "?", phase=phase or "?", age=age),
                 say("verify.analysis.running-action", namespace=scope.namespace, stage=s["name"]), ev)


# ------------------------------------------------------------------ assembly

def _level_status(checks: list[Check]) -> str:
    statuses = {c.status for c in checks}
    return FAIL if FAIL in statuses else UNKNOWN if UNKNOWN in statuses else PASS


def verify_stage(frames, scope: Scope, quick: bool) -> StageVerification:
    levels: list[Level] = []
    rbac: list[RbacChecklist] = []
    failed_at = None
    for number in (1, 2, 3, 4):
        if failed_at is not None:
            levels.append(Level(number, LEVEL_NAMES[number], SKIPPED, (), say("verify.skipped.failed", level=failed_at)))
            continue
        if quick and number > 2:
            levels.append(Level(number, LEVEL_NAMES[number], SKIPPED, (), say("verify.skipped.quick")))
            continue
        if number == 1:
            checks = [check_pods(frames, scope), check_crds(frames, scope), check_secrets(frames, scope)]
        elif number == 2:
            checks = [check_apps(frames, scope), check_ready(frames, scope), check_stage_health(frames, scope)]
            prom = check_prometheus(frames, scope)
            if prom:
                checks.append(prom)
        elif number == 3:
            checks = check_ingress(frames, scope)
        else:
            checks, rbac = check_functional(frames, scope)
        status = _level_status(checks)
        levels.append(Level(number, LEVEL_NAMES[number], status, tuple(checks), ""))
        if status == FAIL:
            failed_at = number
    first_fail = next((lv for lv in levels if lv.status == FAIL), None)
    first_unknown = next((lv for lv in levels if lv.status == UNKNOWN), None)
    if first_fail:
        overall, text = FAIL, say("verify.overall.fail", level=first_fail.number)
        action = next(c.action for c in first_fail.checks if c.status == FAIL)
    elif first_unknown:
        overall, text = UNKNOWN, say("verify.overall.unknown", level=first_unknown.number)
        action = next((c.action for c in first_unknown.checks if c.status == UNKNOWN and c.action), say("verify.collect", what="the missing data"))
    else:
        overall, text, action = PASS, PASS, say("verify.none")
    s = scope.stage
    return StageVerification(
        namespace=scope.namespace, name=s["name"], timestamp=header(frames, "verify").reference_time,
        apps=tuple(f"{a['app_namespace']}/{a['app_name']}" for a in scope.apps),
        namespaces=scope.namespaces, freight=freight_label(frames, scope.namespace, scope.freight),
        levels=tuple(levels), overall=overall, overall_text=text, action_required=action or say("verify.none"), rbac=tuple(rbac),
    )


def _described_apps(frames) -> pl.DataFrame:
    apps = describe_apps(frames).select(
        pl.col("namespace").alias("app_namespace"), pl.col("name").alias("app_name"), "charts", "dest_namespace")
    extra = frames.applications.select(
        pl.col("namespace").alias("app_namespace"), pl.col("name").alias("app_name"), "sync_status", "health_status",
        "op_phase", "op_message", "operation_requested", pl.col("source").alias("app_source"))
    resources = frames.application_resources.select(pl.col("namespace").alias("app_namespace"), pl.col("name").alias("app_name"), "resources")
    return (apps.join(extra, on=["app_namespace", "app_name"], how="left")
            .join(resources, on=["app_namespace", "app_name"], how="left")
            .with_columns(pl.lit(True).alias("in_bundle")))


def verify(analysis, quick: bool = False) -> VerifyContext:
    frames = analysis.frames
    stages = frames.stages
    if analysis.stage is not None:
        stages = stages.filter(pl.col("name") == analysis.stage)
    out, skipped = [], []
    for s in rows(stages.sort("namespace", "name")):
        if s["control_flow"]:
            skipped.append(f"{s['namespace']}/{s['name']}")
            continue
        out.append(verify_stage(frames, _scope(frames, s), quick))
    counts = {v: sum(1 for st in out if st.overall == v) for v in (PASS, FAIL, UNKNOWN)}
    verdict = FAIL if counts[FAIL] else UNKNOWN if counts[UNKNOWN] or not out else PASS
    return VerifyContext(header(frames, "verify"), quick, analysis.stage, tuple(out), tuple(skipped), verdict,
                         EXIT_CODES[verdict], counts)
