"""Narrowed views of the frames that several Kargo rules share.

Each helper returns a small polars frame (or set) computed with expressions;
rules turn its few rows into findings. Nothing here emits a finding.
"""

from __future__ import annotations

import re

import polars as pl

from analyzer.rules.common import TERMINAL_PROMOTION

TERMINAL_VERIFICATION = ("Successful", "Failed", "Error", "Aborted", "Inconclusive")
WAITING_VERIFICATION_REASONS = ("WaitingForVerification", "VerificationPending", "VerificationRunning")
# Argo CD operation phases that are not finished.
OPERATION_RUNNING = ("Running", "Terminating")

# `kubectl`/client-go RBAC denials as a verification Job's container prints them.
FORBIDDEN_RE = re.compile(
    r'(?:(?P<resource>[a-z0-9.-]+)(?: "(?P<name>[^"]*)")? is forbidden: )?'
    r'User "(?P<user>[^"]+)" cannot (?P<verb>[a-z]+) resource "(?P<res2>[^"]+)"'
    r'(?: in API group "(?P<group>[^"]*)")?(?: in the namespace "(?P<namespace>[^"]+)"|(?P<cluster> at the cluster scope))?',
)
FORBIDDEN_LINE = r"(?i)forbidden"


def stage_apps(frames) -> pl.DataFrame:
    """(namespace, stage) -> each Argo CD Application its argocd-update steps name."""
    default_ns = frames.environment["argocd_namespace"]
    return (
        frames.stages.select("namespace", pl.col("name").alias("stage"), pl.col("argocd_apps").alias("app"))
        .explode("app")
        .filter(pl.col("app").is_not_null() & pl.col("app").struct.field("name").is_not_null())
        .select(
            "namespace", "stage",
            pl.col("app").struct.field("name").alias("app_name"),
            pl.col("app").struct.field("namespace").fill_null(default_ns).alias("app_namespace"),
        )
        .unique()
    )


def current_step_uses() -> pl.Expr:
    """The ``uses`` of a Promotion's current step."""
    return (
        pl.col("spec_steps").list.get(pl.col("current_step").fill_null(0).cast(pl.Int64), null_on_oob=True)
        .struct.field("uses")
    )


def apps_for_join(frames) -> pl.DataFrame:
    return frames.applications.select(
        pl.col("namespace").alias("app_namespace"), pl.col("name").alias("app_name"),
        pl.col("source").alias("app_source"), "op_phase", "op_message", "op_started", "op_finished",
        "op_initiated_by", "op_automated", "op_promotion", "auto_sync", "sync_revision", "reconciled_at",
        "health_status", pl.col("sync_status").alias("app_sync_status"),
    )


def foreign_operation_waits(frames) -> pl.DataFrame:
    """Promotions whose argocd-update step waits on an Argo CD operation it did not start.

    Running Promotions at an argocd-update step whose Application has a
    running operation started by someone else (auto-sync, a person) or for
    another Promotion; and the last Promotion of a Stage that timed out in
    such a step while such an operation ran.
    """
    promos = frames.promotions.filter(pl.col("phase").is_in(["Running", "Errored", "Failed"]))
    if promos.is_empty() or frames.applications.is_empty():
        return pl.DataFrame()
    promos = promos.with_columns(current_step_uses().alias("step_uses")).filter(pl.col("step_uses") == "argocd-update")
    last = frames.stages.select("namespace", pl.col("name").alias("stage"), "last_promotion")
    promos = promos.join(last, on=["namespace", "stage"], how="left").filter(
        (pl.col("phase") == "Running")
        | ((pl.col("name") == pl.col("last_promotion"))
           & pl.col("message").fill_null("").str.contains(r"timed out after|timeout of \S+ has elapsed"))
    )
    joined = promos.join(stage_apps(frames), on=["namespace", "stage"]).join(
        apps_for_join(frames), on=["app_namespace", "app_name"])
    not_ours = pl.col("op_promotion").is_null() | (pl.col("op_promotion") != pl.col("name"))
    running_now = (pl.col("phase") == "Running") & pl.col("op_phase").is_in(OPERATION_RUNNING)
    during = (
        (pl.col("phase") != "Running") & pl.col("op_started").is_not_null()
        & (pl.col("op_started") <= pl.col("finished_at"))
        & (pl.col("op_finished").is_null() | (pl.col("op_finished") >= pl.col("started_at").fill_null(pl.col("created"))))
    )
    return joined.filter(not_ours & (running_now | during))


def auto_promotion_enabled(frames) -> pl.DataFrame:
    """(namespace, stage, enabled, how): from Stage status (v1.7+), else ProjectConfig, else Project."""
    stages = frames.stages.select("namespace", pl.col("name").alias("stage"), "auto_promotion_enabled")
    policies = pl.concat(
        [
            frames.project_configs.select("namespace", "policies", pl.lit("ProjectConfig").alias("how")),
            frames.projects.select("namespace", "policies", pl.lit("Project").alias("how")),
        ],
        how="vertical",
    ).explode("policies").filter(pl.col("policies").is_not_null()).select(
        "namespace", "how",
        pl.col("policies").struct.field("stage").alias("stage"),
        pl.col("policies").struct.field("enabled").alias("policy_enabled"),
    ).unique(["namespace", "stage"], keep="first")
    return stages.join(policies, on=["namespace", "stage"], how="left").select(
        "namespace", "stage",
        pl.coalesce("auto_promotion_enabled", "policy_enabled").fill_null(False).alias("enabled"),
        pl.when(pl.col("auto_promotion_enabled").is_not_null()).then(pl.lit("Stage status.autoPromotionEnabled"))
        .when(pl.col("policy_enabled").is_not_null()).then(pl.concat_str(pl.col("how"), pl.lit(" spec.promotionPolicies")))
        .otherwise(pl.lit("no promotion policy")).alias("how"),
    )


def available_freight(frames) -> pl.DataFrame:
    """(namespace, stage, freight, created): Freight a Stage may be promoted to.

    Direct Stages take their Warehouses' Freight; others take Freight verified
    in an upstream Stage or approved for the Stage itself.
    """
    stages = frames.stages.filter(~pl.col("control_flow")).select(
        "namespace", pl.col("name").alias("stage"), "warehouses", "upstream_stages", "direct")
    freight = frames.freight.select("namespace", pl.col("name").alias("freight"), "warehouse", "created", "alias")
    direct = (
        stages.filter(pl.col("direct")).explode("warehouses")
        .join(freight, left_on=["namespace", "warehouses"], right_on=["namespace", "warehouse"])
        .select("namespace", "stage", "freight", "created", "alias")
    )
    status = frames.freight_status
    verified_up = (
        stages.explode("upstream_stages")
        .join(status.filter(pl.col("relation") == "verifiedIn"),
              left_on=["namespace", "upstream_stages"], right_on=["namespace", "stage"])
        .select("namespace", "stage", "freight")
    )
    approved = status.filter(pl.col("relation") == "approvedFor").select("namespace", "stage", "freight")
    indirect = pl.concat([verified_up, approved], how="vertical").join(
        freight.drop("warehouse"), on=["namespace", "freight"])
    return pl.concat([direct, indirect.select(direct.columns)], how="vertical").unique(["namespace", "stage", "freight"])


def verification_gate(frames) -> pl.DataFrame:
    """Stages whose next Pending Promotion waits for the current Freight's verification.

    Kargo (``syncPromotions``) does not start the next Promotion while the
    current Freight's verification is not terminal, or while health is unset or
    Healthy and the current Freight has no terminal verification yet.
    """
    pending = frames.promotions.with_columns(pl.col("phase").fill_null("Pending")).filter(
        ~pl.col("phase").is_in(TERMINAL_PROMOTION))
    running = pending.filter(pl.col("phase") == "Running").select("namespace", "stage").unique()
    waiting = (
        pending.filter(pl.col("phase") == "Pending")
        .join(running, on=["namespace", "stage"], how="anti")
        .sort("name")
        .group_by("namespace", "stage", maintain_order=True)
        .agg(pl.col("name").first().alias("promotion"), pl.col("created").first().alias("promotion_created"),
             pl.col("source").first().alias("promotion_source"), pl.len().alias("pending"))
    )
    if waiting.is_empty():
        return waiting
    phase = pl.col("verification_phase")
    non_terminal = phase.is_not_null() & ~phase.is_in(TERMINAL_VERIFICATION)
    healthy_unverified = (
        (pl.col("health_status").is_null() | (pl.col("health_status") == "Healthy"))
        & (phase.is_null() | ~phase.is_in(TERMINAL_VERIFICATION))
    )
    stages = frames.stages.filter(
        (pl.col("freight_history_len") > 0) & ~pl.col("control_flow") & (non_terminal | healthy_unverified)
    )
    return stages.join(waiting, left_on=["namespace", "name"], right_on=["namespace", "stage"])


def forbidden_log_lines(frames) -> pl.DataFrame:
    """Log lines saying "forbidden" from the pods of Jobs that AnalysisRuns own."""
    if frames.logs.is_empty() or frames.jobs.is_empty():
        return pl.DataFrame()
    jobs = frames.jobs.filter(pl.col("owner_kind") == "AnalysisRun").select(
        "namespace", pl.col("name").alias("job_name"), pl.col("owner_name").alias("analysis_run"),
        pl.col("source").alias("job_source"), "service_account")
    pods = frames.pods.filter(pl.col("job_name").is_not_null()).select(
        "namespace", "job_name", pl.col("name").alias("pod"), pl.col("service_account").alias("pod_service_account"))
    lines = frames.logs.filter(pl.col("message").str.contains(FORBIDDEN_LINE)).select(
        "namespace", "pod", "container", "time", "message", pl.col("source").alias("log_source"), "line_no")
    return (
        jobs.join(pods, on=["namespace", "job_name"])
        .join(lines, on=["namespace", "pod"])
        .sort("time", "line_no")
    )


def rbac_denials(frames) -> pl.DataFrame:
    """Stages whose latest verification ran an AnalysisRun whose Job pods logged a "forbidden" line."""
    hits = forbidden_log_lines(frames)
    if hits.is_empty():
        return hits
    first = hits.group_by("namespace", "analysis_run", maintain_order=True).agg(
        pl.all().first(), pl.len().alias("lines"))
    stages = frames.stages.filter(
        pl.col("verification_analysis_run").is_not_null()
        & ~pl.col("verification_phase").is_in(["Successful"]).fill_null(False)
    )
    return stages.join(first, left_on=["namespace", "verification_analysis_run"], right_on=["namespace", "analysis_run"])
