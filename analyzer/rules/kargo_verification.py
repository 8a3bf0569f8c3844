"""Verification that could not run: RBAC denials in the Job, VerificationError, and runs that never started.

Facts (Kargo pkg/controller/stages/regular_stages.go, v1.1-v1.11): the
errored phase is ``VerificationError`` (never "VerificationErrored"); Kargo
starts an AnalysisRun only when the Stage has no Promotion in progress and is
Healthy; without ``spec.verification`` it records a Successful verification at
once and creates no AnalysisRun.
"""

from __future__ import annotations

import re

import polars as pl

from analyzer.catalog import make_finding
from analyzer.findings import Finding, Subject
from analyzer.rules import rule
from analyzer.rules.common import evidence, human_age, iso, rows, since, stage_subject
from analyzer.rules.kargo_common import FORBIDDEN_RE, rbac_denials

ERROR_VARIANTS = (
    ("rollouts-disabled", re.compile(r"Rollouts integration is disabled", re.I)),
    ("template", re.compile(r"error building AnalysisRun|get analysis templates|AnalysisTemplate[^:]* not found"
                            r"|build arguments|evaluate argument|argument .* not (?:supplied|resolved)|failed to resolve", re.I)),
    ("create", re.compile(r"error creating AnalysisRun", re.I)),
)


@rule("verification-rbac-forbidden", needs=("stages", "analysis_runs", "jobs", "pods", "logs"))
def verification_rbac_forbidden(frames) -> list[Finding]:
    """The verification Job failed on RBAC: "forbidden" in its pod's log.

    **Symptom** Verification Failed (or Errored) and the AnalysisRun only says a
    metric failed; the reason is buried in the Job's log.
    **Evidence** The "forbidden" line in the log of the pod of the Job that the
    Stage's current AnalysisRun owns: the ServiceAccount, the verb, the resource
    and the namespace it was denied.
    **Fix** Grant that ServiceAccount exactly the denied access (a Role, or a
    ClusterRole for cluster-scoped reads), then re-run the verification.
    """
    denied = rbac_denials(frames)
    out = []
    for s in rows(denied.sort("namespace", "name")) if not denied.is_empty() else []:
        m = FORBIDDEN_RE.search(s["message"])
        user = m.group("user") if m else f"system:serviceaccount:{s['namespace']}:{s['pod_service_account'] or s['service_account'] or 'default'}"
        sa_ns, _, sa = user.removeprefix("system:serviceaccount:").partition(":")
        if not sa:
            sa_ns, sa = s["namespace"], s["pod_service_account"] or "default"
        verb = m.group("verb") if m else "get"
        resource = (m.group("res2") if m else None) or "RESOURCE"
        group = (m.group("group") if m else "") or ""
        target_ns = m.group("namespace") if m and m.group("namespace") else None
        ref = f"{resource}.{group}" if group else resource
        role = re.sub(r"[^a-z0-9-]", "-", f"kargo-verification-{verb}-{resource}".lower())[:63].strip("-")
        ev = []
        if s["verified_reason"]:
            ev.append(evidence(s["source"], "status.conditions[Verified]", f"{s['verified_status']} {s['verified_reason']}: {s['verified_message'] or ''}", s["verified_since"]))
        ev += [
            evidence(s["source"], "status.freightHistory[0].verificationHistory[0]", f"{s['verification_phase']} (AnalysisRun {s['verification_analysis_run']})", s["verification_finished"]),
            evidence(s["job_source"], f"Job {s['job_name']}", f"owned by AnalysisRun {s['verification_analysis_run']}, pod {s['pod']}"),
            evidence(s["log_source"], f"line {s['line_no']}", s["message"], s["time"]),
        ]
        params = {"namespace": s["namespace"], "stage": s["name"], "analysis_run": s["verification_analysis_run"],
                  "job": s["job_name"], "pod": s["pod"], "sa": sa, "sa_namespace": sa_ns, "verb": verb,
                  "resource": ref, "target_namespace": target_ns or "", "role": role, "line": s["message"]}
        out.append(make_finding(
            "verification-rbac-forbidden", stage_subject(s), params, ev,
            variant="namespaced" if target_ns else "cluster",
            related=(Subject("AnalysisRun", s["namespace"], s["verification_analysis_run"]),
                     Subject("Job", s["namespace"], s["job_name"]), Subject("Pod", s["namespace"], s["pod"])),
        ))
    return out


@rule("verification-error", needs=("stages", "analysis_runs"))
def verification_error(frames) -> list[Finding]:
    """Verification could not run: ``Verified=False/VerificationError``.

    **Symptom** The Stage's Verified condition is False with reason
    ``VerificationError`` (the phase is ``Error``, not a failed metric).
    **Evidence** The verification message: Rollouts integration disabled, an
    AnalysisTemplate or argument that cannot be resolved, an AnalysisRun the API
    server refused, or an AnalysisRun that ended in Error.
    **Fix** By cause: install Argo Rollouts (or enable the integration); fix the
    Stage's verification spec or template; then re-run the verification.
    """
    bad = frames.stages.filter(
        (pl.col("verified_reason") == "VerificationError")
        | (pl.col("verified_reason").is_null() & (pl.col("verification_phase") == "Error"))
    )
    if bad.is_empty():
        return []
    runs = frames.analysis_runs.select(
        "namespace", pl.col("name").alias("verification_analysis_run"), pl.col("source").alias("run_source"),
        pl.col("phase").alias("run_phase"), pl.col("message").alias("run_message"), pl.col("created").alias("run_created"))
    out = []
    env = frames.environment
    for s in rows(bad.join(runs, on=["namespace", "verification_analysis_run"], how="left").sort("namespace", "name")):
        message = s["verified_message"] or s["verification_message"] or s["run_message"] or "(no message)"
        variant = next((name for name, pattern in ERROR_VARIANTS if pattern.search(message)), None)
        if variant is None:
            variant = "run-error" if s["run_phase"] == "Error" else "other"
        ev = []
        if s["verified_reason"]:
            ev.append(evidence(s["source"], "status.conditions[Verified]", f"{s['verified_status']} {s['verified_reason']}: {s['verified_message'] or ''}", s["verified_since"]))
        ev.append(evidence(s["source"], "status.freightHistory[0].verificationHistory[0]",
                           f"{s['verification_phase']}: {s['verification_message'] or ''}", s["verification_finished"]))
        related = []
        if s["run_source"]:
            ev.append(evidence(s["run_source"], "status", f"{s['run_phase']}: {s['run_message'] or ''}", s["run_created"]))
            related.append(Subject("AnalysisRun", s["namespace"], s["verification_analysis_run"]))
        out.append(make_finding(
            "verification-error", stage_subject(s),
            {"namespace": s["namespace"], "stage": s["name"], "message": message,
             "analysis_run": s["verification_analysis_run"] or "ANALYSIS_RUN",
             "templates": ", ".join(s["verification_templates"] or []) or "(none)",
             "controller_namespace": env["kargo_controller_namespace"]},
            ev, variant=variant, related=tuple(related),
        ))
    return out


@rule("verification-not-started", needs=("stages", "analysis_runs"))
def verification_not_started(frames) -> list[Finding]:
    """The Stage is healthy and promoted, verification is configured, but none started.

    **Symptom** ``Verified=Unknown/WaitingForVerification`` long after a
    successful Promotion; no AnalysisRun for the current Freight; the Freight
    never becomes available downstream and the next Promotion waits.
    **Evidence** The Stage's health, its last Promotion (Succeeded, when), an empty
    verification history for the current Freight, no AnalysisRun with the
    Stage's and the Freight collection's labels, past the grace period.
    **Fix** Find why the Kargo controller does not reconcile the Stage (down,
    shard without a controller), then refresh the Stage.
    """
    grace = frames.settings.verification_start_grace.total_seconds()
    candidates = frames.stages.filter(
        pl.col("has_verification") & ~pl.col("control_flow") & (pl.col("freight_history_len") > 0)
        & pl.col("current_promotion").is_null() & (pl.col("last_promotion_phase") == "Succeeded")
        & ((pl.col("health_status") == "Healthy") | (pl.col("healthy_status") == "True"))
        & pl.col("verification_phase").is_null()
        & (frames.age_seconds("last_promotion_finished_at") > grace)
    )
    if candidates.is_empty():
        return []
    runs = frames.analysis_runs.filter(pl.col("freight_collection").is_not_null()).select(
        "namespace", "stage", pl.col("freight_collection").alias("current_freight_collection"))
    candidates = candidates.join(runs, left_on=["namespace", "name", "current_freight_collection"],
                                 right_on=["namespace", "stage", "current_freight_collection"], how="anti")
    env = frames.environment
    controllers = frames.pods.filter((pl.col("app_name") == "kargo") & (pl.col("app_component") == "controller"))
    out = []
    for s in rows(candidates.sort("namespace", "name")):
        if not frames.collected("analysisruns.argoproj.io", s["namespace"]):
            continue  # whether a run exists is unknown
        waited = human_age(since(frames.now, s["last_promotion_finished_at"]))
        ev = [
            evidence(s["source"], "status.lastPromotion", f"{s['last_promotion']} Succeeded at {iso(s['last_promotion_finished_at'])} ({waited} before collection)", s["last_promotion_finished_at"]),
            evidence(s["source"], "status.health.status", s["health_status"] or s["healthy_status"] or "(not set)"),
            evidence(s["source"], "status.freightHistory[0].verificationHistory", "empty"),
            evidence(s["source"], "spec.verification.analysisTemplates", ", ".join(s["verification_templates"] or []) or "(set)"),
            evidence("analysisruns.argoproj.io", f"AnalysisRuns labelled kargo.akuity.io/stage={s['name']}, freight-collection={s['current_freight_collection']}", "none"),
        ]
        if s["verified_reason"]:
            ev.append(evidence(s["source"], "status.conditions[Verified]", f"{s['verified_status']} {s['verified_reason']}", s["verified_since"]))
        if not controllers.is_empty():
            running = controllers.filter(pl.col("ready_status") == "True").height
            ev.append(evidence(controllers.row(0, named=True)["source"], "Kargo controller pods ready", f"{running} of {controllers.height}"))
        out.append(make_finding(
            "verification-not-started", stage_subject(s),
            {"namespace": s["namespace"], "stage": s["name"], "age": waited, "promotion": s["last_promotion"],
             "controller_namespace": env["kargo_controller_namespace"]},
            ev,
            assumptions=(f"verification is expected within {human_age(frames.settings.verification_start_grace)} of a successful Promotion",),
        ))
    return out
