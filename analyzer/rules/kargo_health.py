"""Health not trusted yet right after a sync: the settle rule of each Kargo version.

Kargo's Argo CD health checker (pkg/health/checker/builtin/argocd.go):
v0.8-v1.6 sleep until ``operationState.finishedAt`` + 10 s; v1.7-v1.9 report
Unknown for 10 s ("completed less than 10s ago; Application health status not
trusted", and v1.7-v1.9 also turn that Unknown into ``Ready=False/
ReconcileError`` "Stage health evaluated to Unknown"); v1.10+ report Unknown
while ``status.reconciledAt`` is earlier than ``finishedAt`` ("was not
reconciled after its most recent operation completed").
"""

from __future__ import annotations

import polars as pl

from analyzer.catalog import make_finding
from analyzer.findings import Finding, Subject
from analyzer.rules import rule
from analyzer.rules.common import evidence, human_age, iso, rows, since, stage_subject
from analyzer.rules.kargo_common import apps_for_join, stage_apps

SETTLING_HEALTH = ("Unknown", "Progressing")
SETTLING_REASONS = ("Unknown", "Progressing", "WaitingForHealthCheck")
TEN_SECOND_MARK = r"completed less than 10s ago|health status not trusted"
RECONCILE_MARK = r"was not reconciled after its most recent operation completed"


@rule("health-check-settling", needs=("stages", "applications"))
def health_check_settling(frames) -> list[Finding]:
    """Health is Unknown or Progressing only because the last sync just finished.

    **Symptom** Right after a Promotion the Stage's health is Unknown or
    Progressing (on v1.7-v1.9 also ``Ready=False/ReconcileError`` "Stage health
    evaluated to Unknown").
    **Evidence** The Application's ``operationState.finishedAt`` seconds before
    collection and, on v1.10+, ``status.reconciledAt`` still earlier than it; on
    v1.7-v1.9 the "completed less than 10s ago" health issue.
    **Fix** None: wait one reconcile. Said so that nobody chases it.
    """
    stages = frames.stages.filter(
        pl.col("current_promotion").is_null()
        & (pl.col("last_promotion_phase").is_null() | (pl.col("last_promotion_phase") == "Succeeded"))
        & (
            pl.col("health_status").is_in(SETTLING_HEALTH)
            | ((pl.col("healthy_status") == "Unknown") & pl.col("healthy_reason").is_in(SETTLING_REASONS))
            | pl.col("ready_message").fill_null("").str.contains("Stage health evaluated to Unknown")
        )
    )
    if stages.is_empty() or frames.applications.is_empty():
        return []
    window = frames.settings.health_settle_window.total_seconds()
    joined = (
        stages.join(stage_apps(frames), left_on=["namespace", "name"], right_on=["namespace", "stage"])
        .join(apps_for_join(frames), on=["app_namespace", "app_name"])
        .filter(pl.col("op_finished").is_not_null() & (frames.age_seconds("op_finished") <= window)
                & (frames.age_seconds("op_finished") >= 0))
    )
    kargo = frames.versions.kargo
    issues = pl.col("health_issues").list.join(" ").fill_null("")
    if kargo.at_least(1, 10):
        rule_text = "from v1.10 health is not trusted until the Application is reconciled after its operation finished"
        joined = joined.filter(pl.col("reconciled_at").is_null() | (pl.col("reconciled_at") < pl.col("op_finished")))
    elif kargo.at_least(1, 7):
        rule_text = "v1.7-v1.9 report health Unknown for 10 seconds after an Argo CD operation finished"
        joined = joined.filter(
            issues.str.contains(TEN_SECOND_MARK)
            | pl.col("ready_message").fill_null("").str.contains("Stage health evaluated to Unknown")
            | (frames.age_seconds("op_finished") <= 10)
        )
    else:
        rule_text = "v0.8-v1.6 wait 10 seconds after an Argo CD operation finished before reading health"
        joined = joined.filter(frames.age_seconds("op_finished") <= 10)
    if joined.is_empty():
        return []
    out = []
    for s in rows(joined.sort("namespace", "name", "op_finished", descending=[False, False, True]).unique(["namespace", "name"], keep="first", maintain_order=True)):
        finished_ago = human_age(since(frames.now, s["op_finished"]))
        ev = [
            evidence(s["source"], "status.health", f"{s['health_status'] or '(unset)'}: {'; '.join(i for i in (s['health_issues'] or []) if i) or '(no issues)'}"),
            evidence(s["app_source"], "status.operationState.finishedAt", f"{iso(s['op_finished'])} ({finished_ago} before collection), phase {s['op_phase']}", s["op_finished"]),
            evidence(s["app_source"], "status.reconciledAt",
                     f"{iso(s['reconciled_at'])}" if s["reconciled_at"] else "(not set)", s["reconciled_at"]),
        ]
        if s["healthy_reason"]:
            ev.insert(1, evidence(s["source"], "status.conditions[Healthy]", f"{s['healthy_status']} {s['healthy_reason']}: {s['healthy_message'] or ''}", s["healthy_since"]))
        if s["ready_reason"] == "ReconcileError":
            ev.append(evidence(s["source"], "status.conditions[Ready]", f"False ReconcileError: {s['ready_message']}", s["ready_since"]))
        out.append(make_finding(
            "health-check-settling", stage_subject(s),
            {"namespace": s["namespace"], "stage": s["name"], "app": s["app_name"], "app_namespace": s["app_namespace"],
             "finished": finished_ago, "rule": rule_text},
            ev,
            related=(Subject("Application", s["app_namespace"], s["app_name"]),),
            assumptions=(f"{kargo.describe('Kargo')}: {rule_text}",),
        ))
    return out
