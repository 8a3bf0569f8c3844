"""One time axis: everything that happened, as rows of the same shape.

Merged from events, Stage condition transitions, Promotions and their steps,
Argo CD operations, container terminations and restarts, AnalysisRuns and the
warning/error log lines. Rules correlate on it ("the repo-server restarted
40 s before the promotion failed"); reports draw it. Rows that belong to a
Stage carry its name; Application rows carry the app, and the Stage that
promotes it.
"""

from __future__ import annotations

import polars as pl

from analyzer.frames.build import utc

TIMELINE_SCHEMA = {
    "time": pl.Datetime("us", "UTC"),
    "category": pl.String,  # event, condition, promotion, step, operation, container, verification, log
    "severity": pl.String,  # info, warning, error
    "object_kind": pl.String,
    "object_namespace": pl.String,
    "object_name": pl.String,
    "stage": pl.String,
    "app": pl.String,
    "summary": pl.String,
    "source": pl.String,
}

_FAILED = ["Failed", "Errored", "Error"]


def _shape(frame: pl.DataFrame, **exprs: pl.Expr) -> pl.DataFrame:
    columns = []
    for name, dtype in TIMELINE_SCHEMA.items():
        expr = exprs.get(name, pl.lit(None))
        columns.append(expr.cast(dtype).alias(name))
    return frame.select(columns).filter(pl.col("time").is_not_null())


def _severity(failed: pl.Expr, warning: pl.Expr | None = None) -> pl.Expr:
    out = pl.when(failed.fill_null(False)).then(pl.lit("error"))
    if warning is not None:
        out = out.when(warning.fill_null(False)).then(pl.lit("warning"))
    return out.otherwise(pl.lit("info"))


def _events(f) -> pl.DataFrame:
    e = f.events
    return _shape(
        e,
        time=pl.col("last_seen"),
        category=pl.lit("event"),
        severity=_severity(pl.lit(False), pl.col("type") == "Warning"),
        object_kind=pl.col("object_kind"),
        object_namespace=pl.col("object_namespace"),
        object_name=pl.col("object_name"),
        stage=pl.when(pl.col("object_kind") == "Stage").then(pl.col("object_name")),
        app=pl.when(pl.col("object_kind") == "Application").then(pl.col("object_name")),
        summary=pl.format("{} {}: {}{}", pl.col("type").fill_null("Normal"), pl.col("reason").fill_null(""),
                          pl.col("message").fill_null(""),
                          pl.when(pl.col("count") > 1).then(pl.format(" (x{})", pl.col("count"))).otherwise(pl.lit(""))),
        source=pl.col("source"),
    )


def _conditions(f) -> pl.DataFrame:
    parts = []
    for ctype in ("Ready", "Healthy", "Verified", "Promoting"):
        low = ctype.lower()
        status, reason, message = pl.col(f"{low}_status"), pl.col(f"{low}_reason"), pl.col(f"{low}_message")
        parts.append(_shape(
            f.stages,
            time=pl.col(f"{low}_since"),
            category=pl.lit("condition"),
            severity=_severity(status == "False"),
            object_kind=pl.lit("Stage"),
            object_namespace=pl.col("namespace"),
            object_name=pl.col("name"),
            stage=pl.col("name"),
            summary=pl.format("{}={} {}: {}", pl.lit(ctype), status.fill_null("?"), reason.fill_null(""), message.fill_null("")),
            source=pl.col("source"),
        ))
    return pl.concat(parts)


def _promotions(f) -> pl.DataFrame:
    p = f.promotions
    common = dict(object_kind=pl.lit("Promotion"), object_namespace=pl.col("namespace"), object_name=pl.col("name"),
                  stage=pl.col("stage"), source=pl.col("source"))
    created = _shape(p, time=pl.col("created"), category=pl.lit("promotion"), severity=pl.lit("info"),
                     summary=pl.format("Promotion {} created for Freight {}", pl.col("name"), pl.col("freight").str.slice(0, 7)), **common)
    started = _shape(p, time=pl.col("started_at"), category=pl.lit("promotion"), severity=pl.lit("info"),
                     summary=pl.format("Promotion {} started", pl.col("name")), **common)
    finished = _shape(p, time=pl.col("finished_at"), category=pl.lit("promotion"),
                      severity=_severity(pl.col("phase").is_in(_FAILED), pl.col("phase") == "Aborted"),
                      summary=pl.format("Promotion {} {}{}", pl.col("name"), pl.col("phase").fill_null("finished"),
                                        pl.when(pl.col("message").is_not_null()).then(pl.format(": {}", pl.col("message"))).otherwise(pl.lit(""))),
                      **common)
    steps = (
        p.select("namespace", "name", "stage", "source", pl.col("step_metadata"))
        .explode("step_metadata").filter(pl.col("step_metadata").is_not_null()).unnest("step_metadata")
        .with_columns(utc(pl.col("startedAt")).alias("step_started"), utc(pl.col("finishedAt")).alias("step_finished"))
    )
    step_common = dict(category=pl.lit("step"), object_kind=pl.lit("Promotion"), object_namespace=pl.col("namespace"),
                       object_name=pl.col("name"), stage=pl.col("stage"), source=pl.col("source"))
    step_rows = pl.concat([
        _shape(steps, time=pl.col("step_started"), severity=pl.lit("info"),
               summary=pl.format("step {} started ({})", pl.col("alias"), pl.col("name")), **step_common),
        _shape(steps, time=pl.col("step_finished"),
               severity=_severity(pl.col("status").is_in(_FAILED)),
               summary=pl.format("step {} {}{}", pl.col("alias"), pl.col("status").fill_null("finished"),
                                 pl.when(pl.col("message").is_not_null()).then(pl.format(": {}", pl.col("message"))).otherwise(pl.lit(""))),
               **step_common),
    ]) if steps.height else pl.DataFrame(schema=TIMELINE_SCHEMA)
    return pl.concat([created, started, finished, step_rows])


def _operations(f) -> pl.DataFrame:
    a = f.applications
    common = dict(category=pl.lit("operation"), object_kind=pl.lit("Application"), object_namespace=pl.col("namespace"),
                  object_name=pl.col("name"), app=pl.col("name"), source=pl.col("source"))
    started = _shape(a, time=pl.col("op_started"), severity=pl.lit("info"),
                     summary=pl.format("Argo CD operation started by {}", pl.col("op_initiated_by").fill_null("unknown")), **common)
    finished = _shape(a, time=pl.col("op_finished"), severity=_severity(pl.col("op_phase").is_in(_FAILED)),
                      summary=pl.format("Argo CD operation {}: {}", pl.col("op_phase").fill_null("?"), pl.col("op_message").fill_null("")), **common)
    health = _shape(a, time=pl.col("health_since"),
                    severity=_severity(pl.col("health_status").is_in(["Degraded", "Missing"]), pl.col("health_status") == "Progressing"),
                    summary=pl.format("health became {}", pl.col("health_status").fill_null("?")), **common)
    return pl.concat([started, finished, health])


def _containers(f) -> pl.DataFrame:
    c = f.containers
    common = dict(category=pl.lit("container"), object_kind=pl.lit("Pod"), object_namespace=pl.col("namespace"),
                  object_name=pl.col("pod"), source=pl.col("source"))
    terminated = _shape(
        c, time=pl.col("last_finished_at"),
        severity=_severity(pl.col("last_terminated_reason").is_in(["OOMKilled", "Error"]) | (pl.col("last_exit_code").fill_null(0) != 0)),
        summary=pl.format("container {} terminated: {} (exit code {}); restarts {}", pl.col("container"),
                          pl.col("last_terminated_reason").fill_null("?"), pl.col("last_exit_code").fill_null(-1), pl.col("restarts")),
        **common)
    restarted = _shape(
        c.filter(pl.col("restarts") > 0), time=pl.col("running_since"), severity=pl.lit("info"),
        summary=pl.format("container {} running again after restart {}", pl.col("container"), pl.col("restarts")), **common)
    return pl.concat([terminated, restarted])


def _verifications(f) -> pl.DataFrame:
    r = f.analysis_runs
    return _shape(
        r, time=pl.coalesce("started_at", "created"), category=pl.lit("verification"),
        severity=_severity(pl.col("phase").is_in(["Failed", "Error"]), pl.col("phase") == "Inconclusive"),
        object_kind=pl.lit("AnalysisRun"), object_namespace=pl.col("namespace"), object_name=pl.col("name"),
        stage=pl.col("stage"),
        summary=pl.format("AnalysisRun {} {}{}", pl.col("name"), pl.col("phase").fill_null("created"),
                          pl.when(pl.col("message").is_not_null()).then(pl.format(": {}", pl.col("message"))).otherwise(pl.lit(""))),
        source=pl.col("source"),
    )


def _logs(f) -> pl.DataFrame:
    lines = f.logs.filter(pl.col("level").is_in(["warning", "error", "fatal", "panic"]))
    return _shape(
        lines, time=pl.col("time"), category=pl.lit("log"),
        severity=pl.when(pl.col("level") == "warning").then(pl.lit("warning")).otherwise(pl.lit("error")),
        object_kind=pl.lit("Pod"), object_namespace=pl.col("namespace"), object_name=pl.col("pod"),
        stage=pl.col("stage"), app=pl.col("app"),
        summary=pl.format("{} {}: {}{}", pl.col("container"), pl.col("level"), pl.col("message"),
                          pl.when(pl.col("error").is_not_null()).then(pl.format(" (error: {})", pl.col("error"))).otherwise(pl.lit(""))),
        source=pl.format("{}:{}", pl.col("source"), pl.col("line_no")),
    )


def build_timeline(f) -> pl.DataFrame:
    rows = pl.concat(
        [_events(f), _conditions(f), _promotions(f), _operations(f), _containers(f), _verifications(f), _logs(f)],
        how="vertical",
    )
    # The Stage an Application row belongs to: the Stage whose argocd-update step names it.
    app_stage = (
        f.stages.select(pl.col("name").alias("owning_stage"), pl.col("argocd_apps"))
        .explode("argocd_apps").filter(pl.col("argocd_apps").is_not_null())
        .select("owning_stage", pl.col("argocd_apps").struct.field("name").alias("app"))
        .unique("app", keep="first")
    )
    promotion_stage = f.promotions.select(
        pl.lit("Promotion").alias("object_kind"), pl.col("namespace").alias("object_namespace"),
        pl.col("name").alias("object_name"), pl.col("stage").alias("promotion_stage"),
    ).unique(["object_namespace", "object_name"])
    rows = (
        rows.join(app_stage, on="app", how="left")
        .join(promotion_stage, on=["object_kind", "object_namespace", "object_name"], how="left")
        .with_columns(pl.coalesce("stage", "promotion_stage", "owning_stage").alias("stage"))
        .drop("owning_stage", "promotion_stage")
    )
    return rows.sort("time", "category", "object_name", nulls_last=True)


def for_stage(timeline: pl.DataFrame, stage: str) -> pl.DataFrame:
    """What a Stage's post-mortem shows: its own rows plus controller-wide ones (pods, logs without a stage)."""
    return timeline.filter((pl.col("stage") == stage) | (pl.col("stage").is_null() & pl.col("category").is_in(["container", "log"])))
