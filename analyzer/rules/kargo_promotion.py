"""Why the next Promotion does not happen: the verification gate and auto-promotion's anti-loop rule."""

from __future__ import annotations

import shlex

import polars as pl

from analyzer.catalog import Raw, make_finding
from analyzer.findings import Finding, Subject
from analyzer.rules import rule
from analyzer.rules.common import TERMINAL_PROMOTION, evidence, human_age, iso, rows, since, stage_subject
from analyzer.rules.kargo_common import auto_promotion_enabled, available_freight, verification_gate

BLOCKING_PHASES = ("Failed", "Errored", "Aborted")


@rule("promotion-blocked-by-verification", needs=("stages", "promotions", "analysis_runs"))
def promotion_blocked_by_verification(frames) -> list[Finding]:
    """The next Promotion waits because the current Freight is not verified yet.

    **Symptom** A Promotion stays Pending; the Stage shows no Promotion in progress.
    **Evidence** The Pending Promotion, the current Freight's latest verification
    (non-terminal, or none yet while the Stage is Healthy) and its AnalysisRun.
    Kargo does not start the next Promotion until that verification ends.
    **Fix** Let the verification finish, or fix what keeps it from starting or
    ending; abort it if it cannot finish.
    """
    gated = verification_gate(frames)
    if gated.is_empty():
        return []
    runs = frames.analysis_runs.select(
        "namespace", pl.col("name").alias("verification_analysis_run"), pl.col("source").alias("run_source"),
        pl.col("phase").alias("run_phase"), pl.col("created").alias("run_created"))
    gated = gated.join(runs, on=["namespace", "verification_analysis_run"], how="left")
    threshold = frames.settings.promotion_stuck_after
    out = []
    for s in rows(gated.sort("namespace", "name")):
        waited = since(frames.now, s["promotion_created"])
        phase = s["verification_phase"]
        if phase:
            variant = "running"
            state = f"the verification of the current Freight is {phase}"
            if s["verification_analysis_run"]:
                state += f" (AnalysisRun {s['verification_analysis_run']}"
                state += f", started {human_age(since(frames.now, s['verification_started']))} before collection)" if s["verification_started"] else ")"
        else:
            variant = "not-started"
            state = (f"the Stage is {s['health_status'] or 'without a health status'} but its current Freight has no "
                     f"verification yet (Verified={s['verified_status'] or 'unset'} {s['verified_reason'] or ''})").rstrip()
        ev = [
            evidence(s["promotion_source"], f"Promotion {s['promotion']} status.phase", f"Pending since {iso(s['promotion_created'])} ({human_age(waited)} before collection)", s["promotion_created"]),
            evidence(s["source"], "status.freightHistory[0].verificationHistory[0]",
                     f"{phase} (AnalysisRun {s['verification_analysis_run'] or 'none'})" if phase else "none", s["verification_started"]),
            evidence(s["source"], "status.health.status", s["health_status"] or "(not set)"),
        ]
        if s["verified_reason"]:
            ev.append(evidence(s["source"], "status.conditions[Verified]", f"{s['verified_status']} {s['verified_reason']}: {s['verified_message'] or ''}", s["verified_since"]))
        if s["run_source"]:
            ev.append(evidence(s["run_source"], "status.phase", s["run_phase"] or "(no phase yet)", s["run_created"]))
        related = [Subject("Promotion", s["namespace"], s["promotion"])]
        if s["verification_analysis_run"]:
            related.append(Subject("AnalysisRun", s["namespace"], s["verification_analysis_run"]))
        out.append(make_finding(
            "promotion-blocked-by-verification", stage_subject(s),
            {"promotion": s["promotion"], "age": human_age(waited), "state": state, "namespace": s["namespace"],
             "stage": s["name"], "analysis_run": s["verification_analysis_run"] or "ANALYSIS_RUN"},
            ev, variant=variant, related=tuple(related),
            severity="error" if waited is not None and waited > threshold else None,
        ))
    return out


@rule("auto-promotion-blocked", needs=("stages", "promotions", "freight", "project_configs", "projects"))
def auto_promotion_blocked(frames) -> list[Finding]:
    """Auto-promotion will not retry a Freight whose Promotion failed.

    **Symptom** Auto-promotion is on, newer Freight is available to the Stage,
    and nothing promotes it.
    **Evidence** The newest available Freight, not current on the Stage, and the
    terminal Promotions for that Stage and Freight. Kargo v0.9-v1.10 skip
    auto-promotion when any Promotion for the pair exists; v1.11 when the newest
    terminal one did not succeed (the version assumed is stated).
    **Fix** Fix the cause of the failure, then promote the Freight through Kargo,
    or delete the failed Promotions so auto-promotion tries again.
    """
    enabled = auto_promotion_enabled(frames).filter(pl.col("enabled"))
    if enabled.is_empty():
        return []
    candidates = available_freight(frames).join(enabled, on=["namespace", "stage"])
    if candidates.is_empty():
        return []
    newest = candidates.sort("created", "freight", descending=True).group_by("namespace", "stage").first()
    stages = frames.stages.select("namespace", pl.col("name").alias("stage"), "current_freight", "source")
    newest = newest.join(stages, on=["namespace", "stage"]).filter(
        pl.col("current_freight").is_null() | (pl.col("current_freight") != pl.col("freight")))
    promos = frames.promotions.with_columns(pl.col("phase").fill_null("Pending"))
    busy = promos.filter(~pl.col("phase").is_in(TERMINAL_PROMOTION)).select("namespace", "stage").unique()
    newest = newest.join(busy, on=["namespace", "stage"], how="anti")
    pairs = (
        promos.select("namespace", "stage", "freight", pl.col("name").alias("promotion"), "phase", "created", "stage_label",
                      pl.col("source").alias("promotion_source"), "finished_at", "message")
        .join(newest.select("namespace", "stage", "freight"), on=["namespace", "stage", "freight"])
        .sort("created", "promotion")
        .group_by("namespace", "stage", "freight", maintain_order=True)
        .agg(
            pl.col("phase").last().alias("newest_phase"),
            pl.col("promotion").filter(pl.col("phase").is_in(BLOCKING_PHASES)).alias("blocking"),
            pl.col("phase").filter(pl.col("phase").is_in(BLOCKING_PHASES)).alias("blocking_phases"),
            (pl.col("phase") == "Succeeded").any().alias("any_succeeded"),
            pl.col("stage_label").is_not_null().all().alias("labelled"),
            pl.col("promotion_source").last(), pl.col("finished_at").last(), pl.col("message").last(),
        )
    )
    kargo = frames.versions.kargo
    if kargo.at_least(1, 11):
        blocked = pairs.filter(pl.col("newest_phase").is_in(BLOCKING_PHASES))
        rule_text = "skips a Freight whose newest terminal Promotion for the Stage did not succeed"
    else:
        blocked = pairs.filter((pl.col("blocking").list.len() > 0) & ~pl.col("any_succeeded"))
        rule_text = "skips a Freight for which any Promotion to the Stage already exists"
    if blocked.is_empty():
        return []
    blocked = blocked.join(newest.select("namespace", "stage", "freight", "alias", "current_freight", "how", "source"),
                           on=["namespace", "stage", "freight"])
    out = []
    for b in rows(blocked.sort("namespace", "stage")):
        names = b["blocking"]
        listing = ", ".join(f"{n} ({p})" for n, p in zip(names, b["blocking_phases"]))
        labelled = b["labelled"] and kargo.at_least(1, 11)
        ev = [
            evidence(b["source"], "auto-promotion", f"enabled ({b['how']})"),
            evidence(b["source"], "status.freightSummary", b["current_freight"] or "(no single current Freight)"),
            evidence(b["promotion_source"], f"Promotions of Stage {b['stage']} for Freight {b['freight']}", listing, b["finished_at"]),
        ]
        if b["message"]:
            ev.append(evidence(b["promotion_source"], f"Promotion {names[-1]} status.message", b["message"], b["finished_at"]))
        params = {"namespace": b["namespace"], "stage": b["stage"], "freight": b["freight"],
                  "alias": b["alias"] or b["freight"][:7], "promotions": listing, "rule": rule_text,
                  "names": Raw(" ".join(shlex.quote(n) for n in names))}
        out.append(make_finding(
            "auto-promotion-blocked", Subject("Stage", b["namespace"], b["stage"]), params, ev,
            variant="labelled" if labelled else "named",
            related=tuple(Subject("Promotion", b["namespace"], n) for n in names),
            assumptions=(f"{kargo.describe('Kargo')}: auto-promotion {rule_text}",),
        ))
    return out
