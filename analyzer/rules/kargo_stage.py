"""The playbook's D4 decision tree over each Stage (Kargo promotion and stage state)."""

from __future__ import annotations

import re
import shlex

import polars as pl

from analyzer.catalog import Raw, make_finding
from analyzer.findings import Finding, Subject
from analyzer.frames.build import utc
from analyzer.rules import rule
from analyzer.rules.common import (
    iso,
    FAILED_PROMOTION,
    TERMINAL_PROMOTION,
    APP_IN_MESSAGE,
    evidence,
    failed_step,
    human_age,
    rows,
    since,
    specific_cause,
    stage_subject,
)
from analyzer.rules.kargo_common import foreign_operation_waits, rbac_denials, verification_gate

# Step kinds whose failure a more specific catalog id explains, whatever the
# message says; filled by the rule modules that own those ids.
STEP_CAUSES: dict[str, str] = {}


def step_cause(ident: str, *kinds: str) -> None:
    """Register step kinds (``git-push``) whose failure ``ident`` reports."""
    for kind in kinds:
        STEP_CAUSES[kind] = ident


def failure_cause(promotion: dict | None, message: str) -> str | None:
    """The catalog id that explains a failed Promotion: its message first, then its failing step's kind."""
    ident = specific_cause(message)
    if ident:
        return ident
    _index, _alias, uses, _msg = failed_step(promotion)
    if uses in STEP_CAUSES:
        return STEP_CAUSES[uses]
    if m := re.search(r'failed to run step "([a-z0-9-]+)"', message or ""):
        return STEP_CAUSES.get(m.group(1))
    return None


def _stage_promotions(frames) -> pl.DataFrame:
    return frames.promotions.join(
        frames.stages.select(
            "namespace", pl.col("name").alias("stage"), "last_promotion", "current_promotion",
            pl.col("source").alias("stage_source"), "ready_reason", "ready_message",
        ),
        on=["namespace", "stage"],
        how="inner",
    )


@rule("stage-poisoned-promotion", needs=("stages", "promotions"))
def poisoned_promotion(frames) -> list[Finding]:
    """A hand-made Promotion name pins the Stage's lastPromotion.

    **Symptom** The Stage reports a last Promotion that is days old while newer
    Promotions for it ran; freight history does not advance.
    **Evidence** The Promotion's name (not ``<stage>.<ulid>.<freight7>``), its
    ``kargo.akuity.io/create-actor`` annotation, ``status.lastPromotion.name``
    and the newer Promotions that were never recorded.
    **Fix** Delete the non-conforming Promotion, refresh the Stage, promote
    through Kargo.
    """
    promos = _stage_promotions(frames)
    conforming_max = (
        promos.filter(pl.col("name_conforms"))
        .group_by("namespace", "stage")
        .agg(pl.col("name").max().alias("max_generated"))
    )
    suspects = (
        promos.filter(~pl.col("name_conforms") & pl.col("phase").is_in(TERMINAL_PROMOTION))
        .join(conforming_max, on=["namespace", "stage"], how="left")
        # Only a name sorting after every generated one stops the replay.
        .filter(pl.col("max_generated").is_null() | (pl.col("name") > pl.col("max_generated")))
    )
    if suspects.is_empty():
        return []
    newer = (
        suspects.select("namespace", "stage", pl.col("name").alias("suspect"), pl.col("created").alias("suspect_created"))
        .join(promos.filter(pl.col("name_conforms") & pl.col("phase").is_in(TERMINAL_PROMOTION)), on=["namespace", "stage"])
        .filter(pl.col("created") > pl.col("suspect_created"))
        .group_by("namespace", "stage", "suspect")
        .agg(pl.len().alias("newer"), pl.col("name").sort_by("created", descending=True).head(3).alias("newer_names"))
    )
    suspects = suspects.join(newer, left_on=["namespace", "stage", "name"], right_on=["namespace", "stage", "suspect"], how="left")
    kargo = frames.versions.kargo
    if kargo.at_least(1, 11):
        note = (f"{kargo.describe('Kargo')}: the webhook renames new Promotions since v1.11.0, "
                "so this one is left over from before the upgrade; leftovers still pin the Stage")
    else:
        note = f"{kargo.describe('Kargo')}: before v1.11.0 Promotions created with kubectl keep their names"
    out = []
    for p in rows(suspects.sort("namespace", "stage", "name")):
        pinned = p["last_promotion"] == p["name"]
        newer_count = p["newer"] or 0
        variant = "pinned" if pinned and newer_count else "leftover"
        ev = [
            evidence(p["source"], "metadata.name", p["name"], p["created"]),
            evidence(p["source"], "metadata.annotations[kargo.akuity.io/create-actor]", p["create_actor"] or "(none)"),
            evidence(p["stage_source"], f"Stage {p['stage']} status.lastPromotion.name", p["last_promotion"] or "(none)"),
        ]
        if newer_count:
            ev.append(evidence(p["source"], f"newer Promotions for {p['stage']}", ", ".join(p["newer_names"]) + ("" if newer_count <= 3 else f" and {newer_count - 3} more")))
        if p["ready_reason"]:
            ev.append(evidence(p["stage_source"], "status.conditions[Ready]", f"{p['ready_reason']}: {p['ready_message'] or ''}"))
        out.append(make_finding(
            "stage-poisoned-promotion",
            Subject("Stage", p["namespace"], p["stage"]),
            {"promotion": p["name"], "actor": p["create_actor"] or "no create-actor annotation", "newer": newer_count,
             "namespace": p["namespace"], "stage": p["stage"]},
            ev,
            variant=variant,
            severity=None if variant == "pinned" or pinned else "warning",
            related=(Subject("Promotion", p["namespace"], p["name"]),),
            assumptions=(note,),
        ))
    return out


@rule("promotion-step-failed", needs=("stages", "promotions"))
def promotion_step_failed(frames) -> list[Finding]:
    """The Stage's last Promotion ended Errored or Failed in a step.

    **Symptom** ``Ready=False`` with reason ``LastPromotionErrored`` or
    ``LastPromotionFailed``; the Stage keeps its previous Freight.
    **Evidence** ``status.lastPromotion`` phase and message, the failing step's
    ``stepExecutionMetadata`` entry.
    **Fix** Fix what the step's message names, then promote again through Kargo.
    Messages that name a more specific cause (repo-server unreachable, ...) get
    that cause's id instead.
    """
    out = []
    for stage, promo in failed_last_promotions(frames):
        message = (promo or {}).get("message") or stage["last_promotion_message"] or ""
        if failure_cause(promo, message):
            continue
        index, alias, uses, step_message = failed_step(promo)
        ev = [evidence(stage["source"], "status.lastPromotion", f"{stage['last_promotion']} {stage['last_promotion_phase']}: {stage['last_promotion_message'] or ''}", stage["last_promotion_finished_at"])]
        if promo and step_message:
            ev.append(evidence(promo["source"], f"status.stepExecutionMetadata[{index}]", f"{alias} ({uses}): {step_message}"))
        out.append(make_finding(
            "promotion-step-failed",
            stage_subject(stage),
            {"promotion": stage["last_promotion"], "phase": stage["last_promotion_phase"], "step": alias, "uses": uses,
             "message": step_message or message or "(no message)", "namespace": stage["namespace"],
             "stage": stage["name"], "freight": stage["last_promotion_freight"] or "FREIGHT"},
            ev,
            related=(Subject("Promotion", stage["namespace"], stage["last_promotion"]),),
        ))
    return out


def failures_caused_by(frames, ident: str) -> list[tuple[dict, dict | None, str]]:
    """(stage, promotion, message) for Stages whose last Promotion failed with a message naming ``ident``.

    Rules that own a specific cause use this to report it on the Stage it blocks.
    """
    out = []
    for stage, promo in failed_last_promotions(frames):
        message = (promo or {}).get("message") or stage["last_promotion_message"] or ""
        if failure_cause(promo, message) == ident:
            out.append((stage, promo, message))
    return out


def failed_last_promotions(frames) -> list[tuple[dict, dict | None]]:
    """Stages whose last (generated-name) Promotion failed, with that Promotion when collected."""
    failed = frames.stages.filter(pl.col("last_promotion_phase").is_in(FAILED_PROMOTION))
    if failed.is_empty():
        return []
    promos = frames.promotions.select(
        "namespace", pl.col("name").alias("last_promotion"), "name_conforms",
        pl.struct("source", "name", "freight", "message", "step_metadata", "spec_steps", "current_step", "created",
                  "started_at", "finished_at", "create_actor", "stage_label").alias("promotion"),
    )
    joined = failed.join(promos, on=["namespace", "last_promotion"], how="left")
    # A non-conforming last Promotion is the poisoned-promotion branch of the tree.
    joined = joined.filter(pl.col("name_conforms").fill_null(True) & pl.col("last_promotion").str.contains(r"^.+\.[0-9a-z]{26}\.[0-9a-z]{1,7}$"))
    return [(r, r["promotion"]) for r in rows(joined.sort("namespace", "name"))]


@rule("promotion-stuck", needs=("promotions", "stages", "applications"))
def promotion_stuck(frames) -> list[Finding]:
    """A Promotion has been Running or Pending longer than the threshold.

    **Symptom** The Stage shows a Promotion in progress for a long time; nothing
    reaches the next Stage.
    **Evidence** The Promotion's phase, its start (``status.startedAt``, else the
    step's start or its creation) measured against the collection time, the
    running step, and the Argo CD operation an argocd-update step waits on.
    A Pending one held by the verification gate and a Running one waiting on an
    Argo CD operation Kargo did not start are reported under their own ids.
    **Fix** Read the running step's state; fix or abort what it waits on.
    """
    threshold = frames.settings.promotion_stuck_after.total_seconds()
    promos = frames.promotions.with_columns(
        pl.coalesce(
            "started_at",
            utc(pl.col("step_metadata").list.eval(pl.element().struct.field("startedAt")).list.drop_nulls().list.first()),
            "created",
        ).alias("since"),
        pl.col("phase").fill_null("Pending").alias("phase"),
    ).filter(pl.col("phase").is_in(["Running", "Pending"]))
    promos = promos.filter(frames.age_seconds("since") > threshold)
    if promos.is_empty():
        return []
    # A more specific id explains these: a Pending one held by the verification
    # gate, a Running one waiting on an Argo CD operation someone else started.
    gated = verification_gate(frames)
    if not gated.is_empty():
        promos = promos.join(gated.select("namespace", pl.col("promotion").alias("name")), on=["namespace", "name"], how="anti")
    foreign = foreign_operation_waits(frames)
    if not foreign.is_empty():
        promos = promos.join(foreign.select("namespace", "name").unique(), on=["namespace", "name"], how="anti")
    if promos.is_empty():
        return []
    promos = promos.join(
        frames.stages.select("namespace", pl.col("name").alias("stage"), "current_promotion", "argocd_apps",
                             pl.col("source").alias("stage_source")),
        on=["namespace", "stage"], how="left",
    )
    apps = frames.applications
    out = []
    for p in rows(promos.sort("namespace", "stage", "name")):
        age = human_age(since(frames.now, p["since"]))
        ev = [evidence(p["source"], "status.phase", f"{p['phase']} since {iso(p['since'])} ({age} before collection)", p["since"])]
        waiting_on = ""
        related = [Subject("Promotion", p["namespace"], p["name"])]
        variant = "running" if p["phase"] == "Running" else "pending"
        if variant == "running":
            index, alias, uses, _msg = failed_step(p)
            if index is not None:
                waiting_on = f"; step {alias} ({uses}) has not finished"
                ev.append(evidence(p["source"], f"status.stepExecutionMetadata[{index}]", f"{alias} ({uses}) started, not finished"))
            for app in (p["argocd_apps"] or []):
                hit = apps.filter((pl.col("name") == app["name"]) & (pl.col("namespace") == (app["namespace"] or frames.environment["argocd_namespace"])))
                if hit.height and hit.row(0, named=True)["op_phase"] == "Running":
                    a = hit.row(0, named=True)
                    waiting_on += f"; it waits on Application {a['name']}, whose operation has been Running for {human_age(since(frames.now, a['op_started']))}: {a['op_message'] or '(no message)'}"
                    ev.append(evidence(a["source"], "status.operationState", f"Running since {iso(a['op_started'])}: {a['op_message'] or ''}", a["op_started"]))
                    related.append(Subject("Application", a["namespace"], a["name"]))
        elif p["current_promotion"] and p["current_promotion"] != p["name"]:
            ev.append(evidence(p["stage_source"], "status.currentPromotion.name", p["current_promotion"]))
        out.append(make_finding(
            "promotion-stuck",
            Subject("Stage", p["namespace"], p["stage"]),
            {"promotion": p["name"], "phase": p["phase"], "age": age, "waiting_on": waiting_on,
             "current": p["current_promotion"] or "another Promotion", "namespace": p["namespace"],
             "argocd_namespace": frames.environment["argocd_namespace"]},
            ev,
            variant=variant,
            related=tuple(related),
            assumptions=(f"stuck after {human_age(frames.settings.promotion_stuck_after)} (--stuck-after)",),
        ))
    return out


@rule("stage-no-freight", needs=("stages", "freight", "warehouses"))
def stage_no_freight(frames) -> list[Finding]:
    """The Stage has no current Freight.

    **Symptom** ``Healthy=Unknown`` with reason ``NoFreight``; the Stage's
    freight summary reads ``0/1 Fulfilled``.
    **Evidence** An empty ``status.freightHistory``, the Freight available from
    its Warehouse or verified upstream, the Warehouse's conditions.
    **Fix** Depends on the branch: fix the Warehouse subscription, promote the
    available Freight, or get it verified upstream first.
    """
    empty = frames.stages.filter(
        pl.col("has_status") & (pl.col("freight_history_len") == 0) & ~pl.col("control_flow")
        & pl.col("current_promotion").is_null()
    )
    out = []
    for s in rows(empty.sort("namespace", "name")):
        ns = s["namespace"]
        warehouses = s["warehouses"] or []
        upstream = s["upstream_stages"] or []
        params = {"namespace": ns, "stage": s["name"], "warehouse": warehouses[0] if warehouses else "WAREHOUSE",
                  "warehouse_state": "", "available": 0, "auto": "", "upstream": ", ".join(upstream), "freight": "FREIGHT"}
        ev = [evidence(s["source"], "status.freightHistory", "empty"),
              evidence(s["source"], "status.freightSummary", s["freight_summary"] or "(none)")]
        own = frames.freight.filter((pl.col("namespace") == ns) & pl.col("warehouse").is_in(warehouses))
        verified_up = frames.freight_status.filter(
            (pl.col("namespace") == ns) & (pl.col("relation") == "verifiedIn") & pl.col("stage").is_in(upstream)
        )
        assumptions = ()
        if not frames.collected("freights.kargo.akuity.io", ns):
            assumptions = ("Freight was not collected in this namespace: whether any exists is unknown",)
        if s["direct"]:
            candidates = own
        else:
            candidates = own.join(verified_up.select(pl.col("freight").alias("name")).unique(), on="name", how="semi")
        if s["direct"] and own.is_empty() and not assumptions:
            variant = "warehouse-empty"
            wh = frames.warehouses.filter((pl.col("namespace") == ns) & pl.col("name").is_in(warehouses))
            if wh.height:
                w = wh.row(0, named=True)
                state = w["ready_message"] or w["healthy_message"]
                if state:
                    params["warehouse_state"] = f" (Warehouse Ready={w['ready_status']}: {state})"
                    ev.append(evidence(w["source"], "status.conditions[Ready]", f"{w['ready_reason']}: {state}", w["ready_since"]))
            ev.append(evidence("freights.kargo.akuity.io", f"Freight from Warehouse {params['warehouse']}", "none"))
            severity = "error"
        elif candidates.height:
            variant = "awaiting-promotion"
            newest = candidates.sort("created", descending=True).row(0, named=True)
            params.update(available=candidates.height, freight=newest["name"],
                          auto="" if s["auto_promotion_enabled"] else " (auto-promotion is not enabled for this Stage)")
            ev.append(evidence(newest["source"], "newest available Freight", f"{newest['name']} ({newest['alias'] or 'no alias'})", newest["created"]))
            severity = "warning"
        else:
            variant = "upstream-unverified" if upstream else "awaiting-promotion"
            params["upstream"] = ", ".join(upstream) or "(none)"
            severity = "warning"
        out.append(make_finding("stage-no-freight", stage_subject(s), params, ev, variant=variant,
                                severity=severity, assumptions=assumptions))
    return out


@rule("stage-reconcile-error", needs=("stages",))
def stage_reconcile_error(frames) -> list[Finding]:
    """The Kargo controller cannot reconcile the Stage.

    **Symptom** ``Ready=False`` with reason ``ReconcileError``.
    **Evidence** The Ready condition's message (the wrapped controller error).
    **Fix** Read the controller log for the failing call, fix it, refresh the Stage.
    """
    bad = frames.stages.filter(
        (pl.col("ready_reason") == "ReconcileError")
        # v1.7-v1.9 report Unknown health as a reconcile error; it is not one.
        & ~pl.col("ready_message").fill_null("").str.contains("Stage health evaluated to Unknown")
    )
    return [
        make_finding(
            "stage-reconcile-error",
            stage_subject(s),
            {"message": s["ready_message"] or "(no message)", "namespace": s["namespace"], "stage": s["name"],
             "controller_namespace": frames.environment["kargo_controller_namespace"]},
            [evidence(s["source"], "status.conditions[Ready]", f"False ReconcileError: {s['ready_message'] or ''}", s["ready_since"])],
        )
        for s in rows(bad.sort("namespace", "name"))
    ]


@rule("verification-failed", needs=("stages", "analysis_runs"))
def verification_failed(frames) -> list[Finding]:
    """The AnalysisRun verifying the Stage's current Freight failed.

    **Symptom** ``Verified=False`` with reason ``VerificationFailed``; the
    Freight does not move downstream.
    **Evidence** The Verified condition, the freight history's latest
    verification, the AnalysisRun's phase, message and failed metrics.
    **Fix** Read the failed measurement (and the Job's logs), fix the
    application, re-verify.
    """
    failed = frames.stages.filter(
        ((pl.col("verified_reason") == "VerificationFailed") | (pl.col("verified_status").is_null() & (pl.col("verification_phase") == "Failed")))
        & ~pl.coalesce("verified_message", "verification_message").fill_null("").str.contains("aborted by user")
    )
    if failed.is_empty():
        return []
    # A Job denied by RBAC is verification-rbac-forbidden, not the application failing.
    denied = rbac_denials(frames)
    if not denied.is_empty():
        failed = failed.join(denied.select("namespace", "name"), on=["namespace", "name"], how="anti")
    runs = frames.analysis_runs.select(
        "namespace", pl.col("name").alias("verification_analysis_run"), pl.col("source").alias("run_source"),
        pl.col("phase").alias("run_phase"), pl.col("message").alias("run_message"), "failed_metrics", pl.col("created").alias("run_created"),
    )
    out = []
    for s in rows(failed.join(runs, on=["namespace", "verification_analysis_run"], how="left").sort("namespace", "name")):
        run = s["verification_analysis_run"] or "(unknown)"
        message = s["run_message"] or s["verified_message"] or s["verification_message"] or "(no message)"
        ev = []
        if s["verified_reason"]:
            ev.append(evidence(s["source"], "status.conditions[Verified]", f"{s['verified_status']} {s['verified_reason']}: {s['verified_message'] or ''}", s["verified_since"]))
        ev.append(evidence(s["source"], "status.freightHistory[0].verificationHistory[0]", f"{s['verification_phase']} (AnalysisRun {run})", s["verification_finished"]))
        if s["run_source"]:
            ev.append(evidence(s["run_source"], "status", f"{s['run_phase']}: {s['run_message'] or ''}" + (f" (failed metrics: {', '.join(s['failed_metrics'])})" if s["failed_metrics"] else ""), s["run_created"]))
        out.append(make_finding(
            "verification-failed", stage_subject(s),
            {"analysis_run": run, "message": message, "namespace": s["namespace"], "stage": s["name"]},
            ev,
            related=(Subject("AnalysisRun", s["namespace"], run),),
            assumptions=_job_logs_missing(frames, s["namespace"], run),
        ))
    return out


def _job_logs_missing(frames, namespace: str, run: str) -> tuple[str, ...]:
    """Say so when the run's Job pods left no log in the bundle: an RBAC denial only shows there."""
    jobs = frames.jobs.filter((pl.col("namespace") == namespace) & (pl.col("owner_kind") == "AnalysisRun") & (pl.col("owner_name") == run))
    if jobs.is_empty():
        return ()
    pods = frames.pods.filter((pl.col("namespace") == namespace) & pl.col("job_name").is_in(jobs.get_column("name").implode()))
    logged = frames.logs.filter((pl.col("namespace") == namespace) & pl.col("pod").is_in(pods.get_column("name").implode()))
    if logged.height:
        return ()
    return (f"the logs of the verification Job(s) {', '.join(jobs.get_column('name').to_list())} are not in the bundle; "
            "a Job denied by RBAC (verification-rbac-forbidden) fails the same way and shows only there",)


@rule("stage-unhealthy", needs=("stages",))
def stage_unhealthy(frames) -> list[Finding]:
    """The health checks of the Stage's Argo CD Applications fail.

    **Symptom** ``Healthy=False`` with reason ``Unhealthy``, ``status.health.status: Unhealthy``.
    **Evidence** ``status.health.issues`` and the Healthy condition.
    **Fix** Look at each Application's sync and health and the resource it names.
    """
    bad = frames.stages.filter((pl.col("healthy_status") == "False") | (pl.col("health_status") == "Unhealthy"))
    out = []
    env = frames.environment
    for s in rows(bad.sort("namespace", "name")):
        issues = [i for i in (s["health_issues"] or []) if i]
        apps = [a["name"] for a in (s["argocd_apps"] or []) if a and a.get("name")]
        for issue in issues:
            if m := APP_IN_MESSAGE.search(issue):
                apps.append(m.group(1))
        apps = list(dict.fromkeys(apps))
        ev = [evidence(s["source"], "status.health.issues", "; ".join(issues) or "(none)")]
        if s["healthy_reason"]:
            ev.insert(0, evidence(s["source"], "status.conditions[Healthy]", f"{s['healthy_status']} {s['healthy_reason']}: {s['healthy_message'] or ''}", s["healthy_since"]))
        out.append(make_finding(
            "stage-unhealthy", stage_subject(s),
            {"issues": "; ".join(issues) or s["healthy_message"] or "health checks report Unhealthy",
             "namespace": s["namespace"], "stage": s["name"], "argocd_namespace": env["argocd_namespace"],
             "apps": Raw(" ".join(shlex.quote(a) for a in apps)), "app": apps[0] if apps else "APP"},
            ev,
            related=tuple(Subject("Application", env["argocd_namespace"], a) for a in apps),
        ))
    return out
