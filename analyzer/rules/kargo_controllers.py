"""Kargo, Argo CD and Argo Rollouts components that are not running, or keep restarting."""

from __future__ import annotations

import polars as pl

from analyzer.catalog import make_finding
from analyzer.findings import Finding, Subject
from analyzer.rules import rule
from analyzer.rules.common import evidence, human_age, iso, rows, since

NOT_STARTING = ("ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "CreateContainerError",
                "RunContainerError", "InvalidImageName", "ErrImageNeverPull")
# Components whose outage stops every Stage (Kargo controller), every sync (Argo CD
# application controller, repo-server) or every verification (Rollouts controller).
CRITICAL = ("kargo:controller", "argocd-application-controller", "argocd-repo-server")


def _component() -> pl.Expr:
    """A stable component name: kargo:<component>, argocd-*, argo-rollouts; null for anything else."""
    name, component, part_of = pl.col("app_name"), pl.col("app_component"), pl.col("part_of")
    return (
        pl.when(name == "kargo").then(pl.concat_str(pl.lit("kargo:"), component.fill_null("unknown")))
        .when(name.str.starts_with("argocd-") | (part_of == "argocd")).then(name.fill_null(pl.lit("argocd")))
        .when(name.is_in(["argo-rollouts", "argo-rollouts-controller"])).then(pl.lit("argo-rollouts"))
    )


def _workload_of_pod() -> pl.Expr:
    """Deployment (from the ReplicaSet's name) or StatefulSet owning a pod."""
    return (
        pl.when(pl.col("owner_kind") == "ReplicaSet").then(pl.col("owner_name").str.replace(r"-[a-z0-9]+$", ""))
        .otherwise(pl.col("owner_name"))
    )


def _relate_stages(frames, component: str) -> list[Subject]:
    stages = frames.stages
    if component == "kargo:controller":
        hit = stages
    elif component in ("argocd-application-controller", "argocd-repo-server"):
        hit = stages.filter(pl.col("argocd_apps").list.len() > 0)
    elif component == "argo-rollouts":
        hit = stages.filter(pl.col("has_verification"))
    else:
        return []
    return [Subject("Stage", r["namespace"], r["name"]) for r in rows(hit.select("namespace", "name").sort("namespace", "name"))]


@rule("controller-down", needs=("pods", "deployments", "statefulsets", "stages"))
def controller_down(frames) -> list[Finding]:
    """A Kargo, Argo CD or Argo Rollouts component is not running, crash-looping, or restarting.

    **Symptom** Promotions, syncs or verifications stop advancing everywhere at once.
    **Evidence** The pod's phase, its containers' waiting reason (CrashLoopBackOff,
    ImagePullBackOff, ...), readiness, restart count and last termination (reason,
    exit code, time); or a workload scaled to zero or without a ready replica.
    A single restart long before collection is history, not an outage.
    **Fix** Read the crashed container's previous log and the pod's events; fix
    the cause (memory limit, image, configuration); scale the workload back up.
    """
    s = frames.settings
    window = s.controller_restart_window.total_seconds()
    ready_grace = s.controller_ready_grace.total_seconds()
    pods = frames.pods.with_columns(_component().alias("component"), _workload_of_pod().alias("workload")).filter(
        pl.col("component").is_not_null() & (pl.col("owner_kind").fill_null("") != "Job"))
    containers = frames.containers.select(
        "namespace", "pod", "container", "ready", "restarts", "waiting_reason", "waiting_message", "running_since",
        "terminated_reason", "last_terminated_reason", "last_exit_code", "last_finished_at", "last_terminated_message")
    joined = pods.join(containers, left_on=["namespace", "name"], right_on=["namespace", "pod"], how="left")
    recent_restart = pl.col("last_finished_at").is_not_null() & (frames.age_seconds("last_finished_at") <= window)
    state = (
        pl.when(pl.col("waiting_reason") == "CrashLoopBackOff").then(pl.lit("crash-looping"))
        .when(pl.col("waiting_reason").is_in(NOT_STARTING)).then(pl.lit("not-starting"))
        .when(pl.col("phase").is_in(["Pending", "Failed", "Unknown"]) | pl.col("terminated_reason").is_not_null())
        .then(pl.lit("not-running"))
        .when(recent_restart & (pl.col("restarts") >= s.controller_restart_threshold)).then(pl.lit("restarting"))
        .when(~pl.col("ready").fill_null(True) & pl.col("running_since").is_not_null()
              & (frames.age_seconds("running_since") > ready_grace)).then(pl.lit("not-ready"))
    )
    order = {"not-running": 0, "not-starting": 1, "crash-looping": 2, "not-ready": 3, "restarting": 4}
    bad = (
        joined.with_columns(state.alias("state"))
        .filter(pl.col("state").is_not_null())
        .with_columns(pl.col("state").replace_strict(order, return_dtype=pl.Int64).alias("state_order"))
        .sort("namespace", "name", "state_order")
        .unique(["namespace", "name"], keep="first", maintain_order=True)
    )
    out: list[Finding] = []
    for p in rows(bad):
        out.append(_pod_finding(frames, p))
    out.extend(_workload_findings(frames, pods))
    return out


def _pod_finding(frames, p: dict) -> Finding:
    variant = p["state"]
    container = p["container"] or "(unknown)"
    detail = {
        "crash-looping": f"container {container} is in CrashLoopBackOff after {p['restarts']} restarts",
        "not-starting": f"container {container} cannot start: {p['waiting_reason']} {p['waiting_message'] or ''}".rstrip(),
        "not-running": f"the pod is {p['phase']}" + (f" ({p['reason']}: {p['message']})" if p["reason"] else ""),
        "not-ready": f"container {container} has been running for {human_age(since(frames.now, p['running_since']))} without becoming ready",
        "restarting": f"container {container} restarted {p['restarts']} times, the last {human_age(since(frames.now, p['last_finished_at']))} before collection",
    }[variant]
    if p["last_terminated_reason"]:
        detail += f"; last termination {p['last_terminated_reason']} (exit code {p['last_exit_code']})"
    ev = [evidence(p["source"], f"{p['name']} status.phase", p["phase"] or "(unknown)", p["started_at"])]
    if p["container"]:
        ev.append(evidence(p["source"], f"{p['name']} containerStatuses[{container}]",
                           f"ready={p['ready']} restartCount={p['restarts']}"
                           + (f" waiting={p['waiting_reason']}" if p["waiting_reason"] else "")))
    if p["last_terminated_reason"]:
        ev.append(evidence(p["source"], f"{p['name']} containerStatuses[{container}].lastState.terminated",
                           f"{p['last_terminated_reason']} exitCode={p['last_exit_code']}"
                           + (f" finishedAt={iso(p['last_finished_at'])}" if p["last_finished_at"] else ""),
                           p["last_finished_at"]))
    component = p["component"]
    down = variant != "restarting"
    severity = ("critical" if component in CRITICAL else "error") if down else "warning"
    kind = "statefulset" if p["owner_kind"] == "StatefulSet" else "deployment"
    params = {"namespace": p["namespace"], "pod": p["name"], "container": container,
              "component": component.replace("kargo:", "kargo "), "detail": detail,
              "workload": f"{kind}/{p['workload'] or p['name']}"}
    return make_finding("controller-down", Subject("Pod", p["namespace"], p["name"]), params, ev,
                        variant=variant, severity=severity, related=tuple(_relate_stages(frames, component)))


def _workload_findings(frames, pods: pl.DataFrame) -> list[Finding]:
    """Workloads of these components scaled to zero, or with no ready replica and no pod to blame."""
    workloads = pl.concat([frames.deployments, frames.statefulsets], how="vertical").with_columns(
        _component().alias("component")).filter(pl.col("component").is_not_null())
    with_pods = pods.select("namespace", "workload").unique()
    bad = workloads.filter(
        (pl.col("replicas") == 0)
        | ((pl.col("replicas").fill_null(1) > 0) & (pl.col("available_replicas") == 0))
    ).join(with_pods, left_on=["namespace", "name"], right_on=["namespace", "workload"], how="anti")
    out = []
    for w in rows(bad.sort("namespace", "name")):
        scaled = w["replicas"] == 0
        variant = "scaled-down" if scaled else "no-ready-replica"
        component = w["component"]
        detail = "it is scaled to 0 replicas" if scaled else f"none of its {w['replicas'] or 1} replicas is available and no pod of it was collected"
        kind = w["kind"] or "Deployment"
        ev = [evidence(w["source"], f"{kind} {w['name']} spec.replicas / status.availableReplicas",
                       f"{w['replicas']} / {w['available_replicas']}")]
        out.append(make_finding(
            "controller-down", Subject(kind, w["namespace"], w["name"]),
            {"namespace": w["namespace"], "pod": w["name"], "container": "", "component": component.replace("kargo:", "kargo "),
             "detail": detail, "workload": f"{kind.lower()}/{w['name']}"},
            ev, variant=variant, severity="critical" if component in CRITICAL else "error",
            related=tuple(_relate_stages(frames, component)),
        ))
    return out
