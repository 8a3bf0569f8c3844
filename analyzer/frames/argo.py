"""Argo CD Applications and Argo Rollouts AnalysisRuns/AnalysisTemplates."""

from __future__ import annotations

import polars as pl

from analyzer.frames.build import Bool, Int, KindSpec, String, field, listof, metadata, struct, utc

ANN_AUTHORIZED_STAGE = "kargo.akuity.io/authorized-stage"
INFO_PROMOTION = "kargo.akuity.io/promotion"

SOURCE = struct(repoURL=String, path=String, chart=String, targetRevision=String)
INITIATED_BY = struct(username=String, automated=Bool)
INFO = listof(struct(name=String, value=String))
SYNC_RESULT_RESOURCE = struct(
    group=String, version=String, kind=String, namespace=String, name=String,
    status=String, message=String, hookType=String, hookPhase=String, syncPhase=String,
)

RETRY = struct(limit=Int, backoff=struct(duration=String, factor=Int, maxDuration=String))
# status.resources[]: health is inline only when persisted (the default up to v2.14).
LIVE_RESOURCE = struct(
    group=String, version=String, kind=String, namespace=String, name=String, status=String,
    health=struct(status=String, message=String, lastTransitionTime=String),
    hook=Bool, requiresPruning=Bool,
)

APPLICATION_SCHEMA = {
    "metadata": metadata(annotations=(ANN_AUTHORIZED_STAGE,)),
    "spec": struct(
        project=String,
        source=SOURCE,
        sources=listof(SOURCE),
        destination=struct(server=String, namespace=String, name=String),
        syncPolicy=struct(
            automated=struct(prune=Bool, selfHeal=Bool, enabled=Bool),
            retry=struct(limit=Int),
            syncOptions=listof(String),
        ),
    ),
    "operation": struct(initiatedBy=INITIATED_BY, info=INFO, retry=RETRY, sync=struct(revision=String)),
    "status": struct(
        sync=struct(status=String, revision=String, revisions=listof(String)),
        health=struct(status=String, message=String, lastTransitionTime=String),
        reconciledAt=String,
        resourceHealthSource=String,
        controllerNamespace=String,
        conditions=listof(struct(type=String, message=String, lastTransitionTime=String)),
        operationState=struct(
            phase=String,
            message=String,
            startedAt=String,
            finishedAt=String,
            retryCount=Int,
            operation=struct(initiatedBy=INITIATED_BY, info=INFO, retry=RETRY,
                             sync=struct(revision=String, revisions=listof(String), syncOptions=listof(String))),
            syncResult=struct(revision=String, revisions=listof(String), resources=listof(SYNC_RESULT_RESOURCE)),
        ),
        history=listof(struct(id=Int, revision=String, deployedAt=String, deployStartedAt=String)),
        resources=listof(LIVE_RESOURCE),
    ),
}


def _application_columns() -> list[pl.Expr]:
    op = field("status.operationState")
    automated = field("spec.syncPolicy.automated")
    info = op.struct.field("operation").struct.field("info")
    conds = field("status.conditions")
    return [
        field("metadata.namespace").alias("namespace"),
        field("metadata.name").alias("name"),
        utc(field("metadata.creationTimestamp")).alias("created"),
        field("metadata.annotations").struct.field(ANN_AUTHORIZED_STAGE).alias("authorized_stage"),
        field("spec.project").alias("project"),
        pl.coalesce(field("spec.source.repoURL"), field("spec.sources").list.first().struct.field("repoURL")).alias("repo_url"),
        pl.coalesce(field("spec.source.chart"), field("spec.sources").list.first().struct.field("chart")).alias("chart"),
        pl.coalesce(field("spec.source.path"), field("spec.sources").list.first().struct.field("path")).alias("path"),
        pl.coalesce(field("spec.source.targetRevision"), field("spec.sources").list.first().struct.field("targetRevision")).alias("target_revision"),
        field("spec.destination.server").alias("dest_server"),
        field("spec.destination.namespace").alias("dest_namespace"),
        field("spec.destination.name").alias("dest_name"),
        (automated.is_not_null() & automated.struct.field("enabled").fill_null(True)).alias("auto_sync"),
        automated.struct.field("selfHeal").fill_null(False).alias("self_heal"),
        field("status.sync.status").alias("sync_status"),
        pl.coalesce(field("status.sync.revision"), field("status.sync.revisions").list.first()).alias("sync_revision"),
        field("status.health.status").alias("health_status"),
        field("status.health.message").alias("health_message"),
        utc(field("status.health.lastTransitionTime")).alias("health_since"),
        utc(field("status.reconciledAt")).alias("reconciled_at"),
        field("status.resourceHealthSource").alias("resource_health_source"),
        conds.alias("conditions"),
        conds.list.eval(pl.element().struct.field("type")).alias("condition_types"),
        op.struct.field("phase").alias("op_phase"),
        op.struct.field("message").alias("op_message"),
        utc(op.struct.field("startedAt")).alias("op_started"),
        utc(op.struct.field("finishedAt")).alias("op_finished"),
        op.struct.field("retryCount").alias("op_retry_count"),
        op.struct.field("operation").struct.field("initiatedBy").struct.field("username").alias("op_initiated_by"),
        op.struct.field("operation").struct.field("initiatedBy").struct.field("automated").alias("op_automated"),
        info.list.eval(pl.element().filter(pl.element().struct.field("name") == INFO_PROMOTION).struct.field("value")).list.first().alias("op_promotion"),
        op.struct.field("syncResult").struct.field("resources").alias("sync_result_resources"),
        op.struct.field("syncResult").is_not_null().alias("op_has_sync_result"),
        # The retry limit of the operation in operationState, else the app's own (auto-sync defaults to 5).
        pl.coalesce(op.struct.field("operation").struct.field("retry").struct.field("limit"),
                    field("spec.syncPolicy.retry.limit")).alias("op_retry_limit"),
        field("status.resources").alias("live_resources"),
        field("spec.syncPolicy.syncOptions").alias("sync_options"),
        pl.col("operation").is_not_null().alias("operation_requested"),
        field("operation.initiatedBy.username").alias("requested_by"),
        utc(field("status.history").list.last().struct.field("deployedAt")).alias("last_deployed_at"),
        field("status.history").list.last().struct.field("revision").alias("last_deployed_revision"),
    ]


APPLICATIONS = KindSpec("applications.argoproj.io", "Application", APPLICATION_SCHEMA, _application_columns)

LABEL_STAGE = "kargo.akuity.io/stage"
LABEL_FREIGHT_COLLECTION = "kargo.akuity.io/freight-collection"
ANN_PROMOTION = "kargo.akuity.io/promotion"

ANALYSIS_RUN_SCHEMA = {
    "metadata": metadata(labels=(LABEL_STAGE, LABEL_FREIGHT_COLLECTION), annotations=(ANN_PROMOTION, LABEL_STAGE)),
    "spec": struct(terminate=Bool, metrics=listof(struct(name=String))),
    "status": struct(
        phase=String,
        message=String,
        startedAt=String,
        metricResults=listof(struct(
            name=String, phase=String, message=String, count=Int, failed=Int, successful=Int, error=Int, inconclusive=Int,
            measurements=listof(struct(phase=String, message=String, startedAt=String, finishedAt=String, value=String)),
        )),
    ),
}


def _analysis_run_columns() -> list[pl.Expr]:
    results = field("status.metricResults")
    return [
        field("metadata.namespace").alias("namespace"),
        field("metadata.name").alias("name"),
        utc(field("metadata.creationTimestamp")).alias("created"),
        pl.coalesce(field("metadata.annotations").struct.field(LABEL_STAGE), field("metadata.labels").struct.field(LABEL_STAGE)).alias("stage"),
        field("metadata.labels").struct.field(LABEL_FREIGHT_COLLECTION).alias("freight_collection"),
        field("metadata.annotations").struct.field(ANN_PROMOTION).alias("promotion"),
        field("metadata.ownerReferences").list.eval(pl.element().struct.field("name")).alias("owners"),
        field("status.phase").alias("phase"),
        field("status.message").alias("message"),
        utc(field("status.startedAt")).alias("started_at"),
        field("spec.terminate").fill_null(False).alias("terminated"),
        results.alias("metric_results"),
        results.list.eval(
            pl.element().filter(pl.element().struct.field("phase").is_in(["Failed", "Error"])).struct.field("name")
        ).alias("failed_metrics"),
    ]


ANALYSIS_RUNS = KindSpec("analysisruns.argoproj.io", "AnalysisRun", ANALYSIS_RUN_SCHEMA, _analysis_run_columns)

ANALYSIS_TEMPLATE_SCHEMA = {
    "metadata": metadata(),
    "spec": struct(metrics=listof(struct(
        name=String,
        provider=struct(job=struct(spec=struct(template=struct(spec=struct(serviceAccountName=String))))),
    ))),
}


def _analysis_template_columns() -> list[pl.Expr]:
    metrics = field("spec.metrics")
    return [
        field("metadata.namespace").alias("namespace"),
        field("metadata.name").alias("name"),
        metrics.list.eval(pl.element().struct.field("name")).alias("metrics"),
        metrics.list.eval(
            pl.element().struct.field("provider").struct.field("job").struct.field("spec").struct.field("template")
            .struct.field("spec").struct.field("serviceAccountName")
        ).list.drop_nulls().alias("job_service_accounts"),
    ]


ANALYSIS_TEMPLATES = KindSpec("analysistemplates.argoproj.io", "AnalysisTemplate", ANALYSIS_TEMPLATE_SCHEMA, _analysis_template_columns)
