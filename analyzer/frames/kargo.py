"""Kargo kinds: Stage, Promotion, Freight, Warehouse, ProjectConfig, Project (field names per Kargo v0.8-v1.11)."""

from __future__ import annotations

import polars as pl

from analyzer.bundle import Problem
from analyzer.frames.build import (
    CONDITION,
    Bool,
    Int,
    KindSpec,
    String,
    condition,
    field,
    listof,
    metadata,
    parse_documents,
    struct,
    utc,
)

ANN_CREATE_ACTOR = "kargo.akuity.io/create-actor"
ANN_STAGE = "kargo.akuity.io/stage"
ANN_PROMOTION = "kargo.akuity.io/promotion"
LABEL_STAGE = "kargo.akuity.io/stage"
LABEL_FREIGHT_COLLECTION = "kargo.akuity.io/freight-collection"
LABEL_ALIAS = "kargo.akuity.io/alias"

VERIFICATION_INFO = struct(
    id=String, actor=String, phase=String, message=String, startTime=String, finishTime=String,
    analysisRun=struct(name=String, namespace=String, phase=String),
)

STEP = struct(
    uses=String,
    task=struct(name=String, kind=String),
    **{"as": String},
    retry=struct(timeout=String, errorThreshold=Int),
    config=struct(apps=listof(struct(name=String, namespace=String)), repoURL=String),
)

STAGE_SCHEMA = {
    "metadata": metadata(),
    "spec": struct(
        shard=String,
        requestedFreight=listof(struct(
            origin=struct(kind=String, name=String),
            sources=struct(direct=Bool, stages=listof(String)),
        )),
        promotionTemplate=struct(spec=struct(steps=listof(STEP))),
        verification=struct(analysisTemplates=listof(struct(name=String, kind=String))),
    ),
    "status": struct(
        phase=String,
        message=String,
        conditions=listof(CONDITION),
        health=struct(status=String, issues=listof(String)),
        currentPromotion=struct(name=String, freight=struct(name=String)),
        lastPromotion=struct(
            name=String,
            freight=struct(name=String),
            finishedAt=String,
            status=struct(phase=String, message=String, finishedAt=String),
        ),
        freightSummary=String,
        freightHistory=listof(struct(id=String, verificationHistory=listof(VERIFICATION_INFO))),
        autoPromotionEnabled=Bool,
        observedGeneration=Int,
        lastHandledRefresh=String,
    ),
}


def _stage_columns() -> list[pl.Expr]:
    conds = field("status.conditions")
    cols = [
        field("metadata.namespace").alias("namespace"),
        field("metadata.name").alias("name"),
        utc(field("metadata.creationTimestamp")).alias("created"),
        field("metadata.generation").alias("generation"),
        field("status.observedGeneration").alias("observed_generation"),
        field("status.phase").alias("phase"),
        field("status.message").alias("legacy_message"),
        conds.list.len().fill_null(0).alias("condition_count"),
        # A Stage without any status is a manifest (or not reconciled yet): nothing about its state is known.
        pl.col("status").is_not_null().alias("has_status"),
    ]
    for ctype in ("Ready", "Healthy", "Verified", "Promoting", "Reconciling"):
        low = ctype.lower()
        cols += [
            condition(conds, ctype, "status").alias(f"{low}_status"),
            condition(conds, ctype, "reason").alias(f"{low}_reason"),
            condition(conds, ctype, "message").alias(f"{low}_message"),
            utc(condition(conds, ctype, "lastTransitionTime")).alias(f"{low}_since"),
        ]
    history = field("status.freightHistory")
    latest_verification = history.list.first().struct.field("verificationHistory").list.first()
    steps = field("spec.promotionTemplate.spec.steps")
    cols += [
        field("status.health.status").alias("health_status"),
        field("status.health.issues").alias("health_issues"),
        field("status.currentPromotion.name").alias("current_promotion"),
        field("status.currentPromotion.freight.name").alias("current_promotion_freight"),
        field("status.lastPromotion.name").alias("last_promotion"),
        field("status.lastPromotion.freight.name").alias("last_promotion_freight"),
        field("status.lastPromotion.status.phase").alias("last_promotion_phase"),
        field("status.lastPromotion.status.message").alias("last_promotion_message"),
        utc(pl.coalesce(field("status.lastPromotion.finishedAt"), field("status.lastPromotion.status.finishedAt"))).alias("last_promotion_finished_at"),
        field("status.freightSummary").alias("freight_summary"),
        # The Freight name when one Freight is requested and fulfilled ("n/m Fulfilled" otherwise).
        pl.when(field("status.freightSummary").str.contains(r"^[0-9a-f]{40}$"))
        .then(field("status.freightSummary")).alias("current_freight"),
        history.list.len().fill_null(0).alias("freight_history_len"),
        history.list.first().struct.field("id").alias("current_freight_collection"),
        latest_verification.struct.field("id").alias("verification_id"),
        latest_verification.struct.field("phase").alias("verification_phase"),
        latest_verification.struct.field("message").alias("verification_message"),
        latest_verification.struct.field("analysisRun").struct.field("name").alias("verification_analysis_run"),
        utc(latest_verification.struct.field("startTime")).alias("verification_started"),
        utc(latest_verification.struct.field("finishTime")).alias("verification_finished"),
        field("status.autoPromotionEnabled").alias("auto_promotion_enabled"),
        field("status.lastHandledRefresh").alias("last_handled_refresh"),
        field("spec.requestedFreight").list.eval(pl.element().struct.field("origin").struct.field("name")).alias("warehouses"),
        field("spec.requestedFreight").list.eval(pl.element().struct.field("sources").struct.field("stages").explode()).list.drop_nulls().alias("upstream_stages"),
        field("spec.requestedFreight").list.eval(pl.element().struct.field("sources").struct.field("direct")).list.any().fill_null(False).alias("direct"),
        steps.list.eval(pl.element().struct.field("uses")).alias("step_kinds"),
        steps.list.eval(
            pl.element().filter(pl.element().struct.field("uses") == "argocd-update")
            .struct.field("config").struct.field("apps").explode()
        ).list.drop_nulls().alias("argocd_apps"),
        steps.alias("steps"),
        field("spec.verification.analysisTemplates").list.eval(pl.element().struct.field("name")).alias("verification_templates"),
        field("spec.verification").is_not_null().alias("has_verification"),
        (steps.list.len().fill_null(0) == 0).alias("control_flow"),
    ]
    return cols


STAGES = KindSpec("stages.kargo.akuity.io", "Stage", STAGE_SCHEMA, _stage_columns)

PROMOTION_SCHEMA = {
    "metadata": metadata(labels=(LABEL_STAGE,), annotations=(ANN_CREATE_ACTOR, ANN_STAGE)),
    "spec": struct(stage=String, freight=String, steps=listof(STEP)),
    "status": struct(
        phase=String,
        message=String,
        startedAt=String,
        finishedAt=String,
        currentStep=Int,
        freight=struct(name=String),
        stepExecutionMetadata=listof(struct(
            alias=String, startedAt=String, finishedAt=String, errorCount=Int, status=String, message=String,
        )),
    ),
}

# <stage>.<ulid>.<first 7 of freight>, lower case; the stage part may be truncated.
PROMOTION_NAME_RE = r"^(.+)\.([0-9a-hjkmnp-tv-z]{26})\.([0-9a-z]{1,7})$"


def _promotion_columns() -> list[pl.Expr]:
    name = field("metadata.name")
    stage = field("spec.stage")
    prefix = name.str.extract(PROMOTION_NAME_RE, 1)
    meta = field("status.stepExecutionMetadata")
    return [
        field("metadata.namespace").alias("namespace"),
        name.alias("name"),
        stage.alias("stage"),
        pl.coalesce(field("spec.freight"), field("status.freight.name")).alias("freight"),
        utc(field("metadata.creationTimestamp")).alias("created"),
        field("metadata.annotations").struct.field(ANN_CREATE_ACTOR).alias("create_actor"),
        # Set on Promotions from Kargo v1.11.0 (label selectors work from then on).
        field("metadata.labels").struct.field(LABEL_STAGE).alias("stage_label"),
        field("status.phase").alias("phase"),
        field("status.message").alias("message"),
        utc(field("status.startedAt")).alias("started_at"),
        utc(field("status.finishedAt")).alias("finished_at"),
        field("status.currentStep").alias("current_step"),
        field("spec.steps").list.eval(pl.element().struct.field("uses")).alias("step_kinds"),
        field("spec.steps").alias("spec_steps"),
        meta.alias("step_metadata"),
        (prefix.is_not_null() & stage.str.to_lowercase().str.starts_with(prefix.fill_null("\x00"))).fill_null(False).alias("name_conforms"),
    ]


PROMOTIONS = KindSpec("promotions.kargo.akuity.io", "Promotion", PROMOTION_SCHEMA, _promotion_columns)

FREIGHT_SCHEMA = {
    "metadata": metadata(labels=(LABEL_ALIAS,)),
    "alias": String,
    "origin": struct(kind=String, name=String),
    "warehouse": String,
    "discoveredAt": String,
    "commits": listof(struct(repoURL=String, id=String, branch=String, tag=String, message=String)),
    "images": listof(struct(repoURL=String, tag=String, digest=String)),
    "charts": listof(struct(repoURL=String, name=String, version=String)),
}


def _freight_columns() -> list[pl.Expr]:
    return [
        field("metadata.namespace").alias("namespace"),
        field("metadata.name").alias("name"),
        pl.coalesce(pl.col("alias"), field("metadata.labels").struct.field(LABEL_ALIAS)).alias("alias"),
        pl.coalesce(field("origin.name"), pl.col("warehouse")).alias("warehouse"),
        utc(field("metadata.creationTimestamp")).alias("created"),
        utc(pl.col("discoveredAt")).alias("discovered_at"),
        pl.col("commits").list.eval(pl.element().struct.field("id")).alias("commit_ids"),
        pl.col("images").list.eval(pl.element().struct.field("repoURL") + ":" + pl.element().struct.field("tag").fill_null("")).alias("images"),
        pl.col("charts").list.eval(pl.element().struct.field("name") + ":" + pl.element().struct.field("version").fill_null("")).alias("charts"),
    ]


FREIGHT = KindSpec("freights.kargo.akuity.io", "Freight", FREIGHT_SCHEMA, _freight_columns)

GIT_SUBSCRIPTION = struct(
    repoURL=String, branch=String, commitSelectionStrategy=String,
    includePaths=listof(String), excludePaths=listof(String), expressionFilter=String,
)
DISCOVERED_GIT = struct(
    repoURL=String,
    commits=listof(struct(id=String, subject=String, tag=String, creatorDate=String)),
    observedRefs=struct(branchHead=String),
)

WAREHOUSE_SCHEMA = {
    "metadata": metadata(),
    "spec": struct(
        interval=String,
        freightCreationPolicy=String,
        freightCreationCriteria=struct(expression=String),
        subscriptions=listof(struct(
            git=GIT_SUBSCRIPTION,
            image=struct(repoURL=String),
            chart=struct(repoURL=String, name=String),
        )),
    ),
    "status": struct(
        conditions=listof(CONDITION), lastFreightID=String, observedGeneration=Int, lastHandledRefresh=String,
        discoveredArtifacts=struct(discoveredAt=String, git=listof(DISCOVERED_GIT)),
    ),
}


def _refresh_time(value: pl.Expr) -> pl.Expr:
    """The refresh token as a time: RFC 3339 (Kargo API and CLI) or epoch seconds (``date +%s``)."""
    epoch = value.str.extract(r"^(\d{9,11})$", 1).cast(pl.Int64, strict=False) * 1_000_000
    return pl.coalesce(utc(value), epoch.cast(pl.Datetime("us", "UTC")))


def _warehouse_columns() -> list[pl.Expr]:
    conds = field("status.conditions")
    subs = field("spec.subscriptions")
    git = pl.element().struct.field("git")
    cols = [
        field("metadata.namespace").alias("namespace"),
        field("metadata.name").alias("name"),
        utc(field("metadata.creationTimestamp")).alias("created"),
        field("spec.interval").alias("interval"),
        field("spec.freightCreationPolicy").alias("freight_creation_policy"),
        field("spec.freightCreationCriteria.expression").alias("freight_creation_criteria"),
        field("status.lastFreightID").alias("last_freight_id"),
        field("status.lastHandledRefresh").alias("last_handled_refresh"),
        _refresh_time(field("status.lastHandledRefresh")).alias("refreshed_at"),
        utc(field("status.discoveredArtifacts.discoveredAt")).alias("discovered_at"),
        subs.list.eval(pl.coalesce(
            pl.element().struct.field("git").struct.field("repoURL"),
            pl.element().struct.field("image").struct.field("repoURL"),
            pl.element().struct.field("chart").struct.field("repoURL"),
        )).alias("subscriptions"),
        subs.list.eval(
            pl.element().struct.field("git").struct.field("includePaths").list.len().fill_null(0)
            + pl.element().struct.field("git").struct.field("excludePaths").list.len().fill_null(0)
        ).list.sum().fill_null(0).gt(0).alias("has_path_filters"),
        subs.list.eval(pl.element().struct.field("git").struct.field("expressionFilter").is_not_null()).list.any().fill_null(False).alias("has_expression_filter"),
        subs.list.eval(git).list.drop_nulls().alias("git_subscriptions"),
        field("status.discoveredArtifacts.git").list.eval(pl.struct(
            pl.element().struct.field("repoURL").alias("repoURL"),
            pl.element().struct.field("commits").list.first().struct.field("id").alias("newest"),
            pl.element().struct.field("commits").list.first().struct.field("subject").alias("newest_subject"),
            pl.element().struct.field("commits").list.len().alias("count"),
            pl.element().struct.field("observedRefs").struct.field("branchHead").alias("branch_head"),
        )).alias("discovered_git"),
    ]
    for ctype in ("Ready", "Healthy", "FreightCreated", "FreightCreationCriteriaSatisfied"):
        low = {"FreightCreated": "freightcreated", "FreightCreationCriteriaSatisfied": "criteria"}.get(ctype, ctype.lower())
        cols += [
            condition(conds, ctype, "status").alias(f"{low}_status"),
            condition(conds, ctype, "reason").alias(f"{low}_reason"),
            condition(conds, ctype, "message").alias(f"{low}_message"),
            utc(condition(conds, ctype, "lastTransitionTime")).alias(f"{low}_since"),
        ]
    return cols


WAREHOUSES = KindSpec("warehouses.kargo.akuity.io", "Warehouse", WAREHOUSE_SCHEMA, _warehouse_columns)

# Auto-promotion policies: ProjectConfig (v1.5+) and, before it, Project spec (<= v1.4).
POLICY = struct(stage=String, autoPromotionEnabled=Bool, stageSelector=struct(name=String))


def _policy_columns() -> list[pl.Expr]:
    policies = field("spec.promotionPolicies")
    return [
        # A ProjectConfig lives in its Project's namespace; a Project is named like it.
        pl.coalesce(field("metadata.namespace"), field("metadata.name")).alias("namespace"),
        field("metadata.name").alias("name"),
        policies.list.eval(pl.struct(
            pl.coalesce(pl.element().struct.field("stage"),
                        pl.element().struct.field("stageSelector").struct.field("name")).alias("stage"),
            pl.element().struct.field("autoPromotionEnabled").fill_null(False).alias("enabled"),
        )).alias("policies"),
    ]


PROJECT_CONFIGS = KindSpec(
    "projectconfigs.kargo.akuity.io", "ProjectConfig",
    {"metadata": metadata(), "spec": struct(promotionPolicies=listof(POLICY))}, _policy_columns,
)
PROJECTS = KindSpec(
    "projects.kargo.akuity.io", "Project",
    {"metadata": metadata(), "spec": struct(promotionPolicies=listof(POLICY))}, _policy_columns,
)

FREIGHT_STATUS_COLUMNS = ("namespace", "freight", "stage", "relation", "at")
_RELATIONS = {"verifiedIn": "verifiedAt", "approvedFor": "approvedAt", "currentlyIn": "since"}


def freight_status(documents, problems: list[Problem]) -> pl.DataFrame:
    """Freight ``status.verifiedIn/approvedFor/currentlyIn``: maps keyed by stage name, as long rows."""
    rows: dict[str, list] = {k: [] for k in FREIGHT_STATUS_COLUMNS}
    for _path, obj in parse_documents(documents, problems):
        status = obj.get("status")
        if not isinstance(status, dict):
            continue
        meta = obj["metadata"]
        for relation, time_key in _RELATIONS.items():
            entries = status.get(relation)
            if not isinstance(entries, dict):
                continue
            for stage, detail in entries.items():
                at = detail.get(time_key) if isinstance(detail, dict) else None
                rows["namespace"].append(_text(meta.get("namespace")))
                rows["freight"].append(_text(meta.get("name")))
                rows["stage"].append(_text(stage))
                rows["relation"].append(relation)
                rows["at"].append(_text(at))
    frame = pl.DataFrame(rows, schema={k: String for k in rows})
    return frame.with_columns(utc(pl.col("at")).alias("at"))


def _text(value: object) -> str | None:
    return None if value is None else str(value)
