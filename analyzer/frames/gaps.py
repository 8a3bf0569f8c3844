"""Collection gaps: what the collector could not get, and what the loader could not use.

A gap is never an empty list: rules ask :meth:`Frames.collected` before they
conclude that something is absent.
"""

from __future__ import annotations

import polars as pl

from analyzer.bundle import Bundle
from analyzer.resources import KINDS

GAP_COLUMNS = {
    "source": pl.String,
    "command_id": pl.String,
    "resource": pl.String,
    "kind": pl.String,
    "namespace": pl.String,
    "name": pl.String,  # "*" for a whole list; the pod for logs; the path for a file
    "reason": pl.String,
    "detail": pl.String,
}

COMMAND_SCHEMA = {
    "id": pl.String,
    "argv": pl.List(pl.String),
    "output": pl.String,
    "exit_code": pl.Int64,
    "status": pl.String,
    "optional": pl.Boolean,
    "stderr": pl.String,
}
# collector.sh's command status -> gap reason (the stderr is read when there is no status).
_STATUS_REASON = {
    "forbidden": "forbidden", "unauthorized": "unauthorized", "not-served": "not served", "not-found": "not found",
    "timeout": "timeout", "unreachable": "unreachable", "interrupted": "interrupted", "skipped": "skipped",
}


def _reason(stderr: pl.Expr, exit_code: pl.Expr, status: pl.Expr) -> pl.Expr:
    text = stderr.fill_null("").str.to_lowercase()
    return (
        pl.when(status.is_not_null()).then(status)
        .when(exit_code.is_null()).then(pl.lit("skipped"))
        .when(text.str.contains("forbidden")).then(pl.lit("forbidden"))
        .when(text.str.contains("doesn't have a resource type|no matches for kind|could not find the requested resource")).then(pl.lit("not served"))
        .when(text.str.contains("timeout|deadline exceeded|timed out")).then(pl.lit("timeout"))
        .when(text.str.contains("notfound|not found")).then(pl.lit("not found"))
        .when(text.str.contains("unauthorized")).then(pl.lit("unauthorized"))
        .otherwise(pl.lit("error"))
    )


_KIND_BY_RESOURCE = pl.DataFrame(
    {"resource": [r for r, _g in KINDS.values()], "kind": list(KINDS)},
)
# What kubectl accepts for a resource (stages, stage, stages.kargo.akuity.io,
# deployments.apps) -> bundle key. A version in the argument
# (stages.v1alpha1.kargo.akuity.io) is dropped before the lookup.
_ALIASES = pl.DataFrame(
    [
        {"alias": alias, "canonical": resource}
        for kind, (resource, group) in KINDS.items()
        for alias in {resource, resource.split(".", 1)[0], kind.lower(), f"{resource.split('.', 1)[0]}.{group}" if group else resource}
    ]
).unique("alias")
_VERSION_IN_ARG = r"^([a-z0-9-]+)\.v[0-9]+(?:(?:alpha|beta)[0-9]+)?\."


def command_gaps(manifest: dict | None) -> pl.DataFrame:
    commands = (manifest or {}).get("commands")
    if not isinstance(commands, list) or not commands:
        return pl.DataFrame(schema=GAP_COLUMNS)
    rows = [c for c in commands if isinstance(c, dict)]
    frame = pl.DataFrame(
        [{k: _coerce(c.get(k), t) for k, t in COMMAND_SCHEMA.items()} for c in rows],
        schema=COMMAND_SCHEMA,
    )
    # A command the collector marks optional (kubectl auth can-i) is no gap: nothing depends on it.
    failed = frame.filter((pl.col("exit_code").is_null() | (pl.col("exit_code") != 0)) & ~pl.col("optional").fill_null(False))
    if failed.is_empty():
        return pl.DataFrame(schema=GAP_COLUMNS)
    line = pl.col("argv").list.join(" ")
    raw_resource = line.str.extract(r"\b(?:get|logs)\s+([^\s-][^\s]*)", 1)
    out = failed.select(
        pl.lit("manifest.json").alias("source"),
        pl.col("id").alias("command_id"),
        raw_resource.str.to_lowercase().str.replace(_VERSION_IN_ARG, "${1}.").alias("resource"),
        pl.when(line.str.contains(r"(?:^|\s)(?:-A|--all-namespaces)(?:\s|$)")).then(pl.lit(None, pl.String))
        .otherwise(line.str.extract(r"(?:\s-n\s+|\s--namespace[=\s])(\S+)", 1)).alias("namespace"),
        _reason(pl.col("stderr"), pl.col("exit_code"), pl.col("status").replace_strict(_STATUS_REASON, default=None, return_dtype=pl.String)).alias("reason"),
        pl.when(pl.col("exit_code").is_null()).then(pl.col("stderr").fill_null("not run"))
        .otherwise(pl.col("stderr").fill_null("").str.strip_chars().str.split("\n").list.first()).str.slice(0, 300).alias("detail"),
    )
    # A failed "logs" command, or the pod listing that picks whose logs to take (collector.sh's log-targets/...).
    logs = failed.select(pl.col("argv").list.join(" ").str.contains(r"\blogs\b") | pl.col("id").fill_null("").str.starts_with("log-targets/")).to_series()
    # The pod of a logs command: the first word after "logs" once flags and their values are gone.
    pod = failed.select(
        pl.col("argv").list.join(" ")
        .str.replace_all(r"\s(?:-n|-c|--namespace|--container|--since|--tail|--limit-bytes|--request-timeout)(?:=|\s+)\S+", "")
        .str.extract(r"\blogs\s+(?:-\S+\s+)*([^\s-]\S*)", 1)
    ).to_series()
    out = (
        out.join(_ALIASES, left_on="resource", right_on="alias", how="left")
        .with_columns(pl.coalesce(pl.col("canonical"), pl.col("resource")).alias("resource"))
        .drop("canonical")
        .with_columns(pl.when(logs).then(pl.lit("logs")).otherwise(pl.col("resource")).alias("resource"))
        .with_columns(pl.when(logs).then(pl.coalesce(pod, pl.lit("*"))).otherwise(pl.lit("*")).alias("name"))
    )
    return out.join(_KIND_BY_RESOURCE, on="resource", how="left").select(
        *[pl.col(c) if c != "kind" else pl.coalesce(pl.col("kind"), pl.col("resource")).alias("kind") for c in GAP_COLUMNS]
    )


def problem_gaps(bundle: Bundle) -> pl.DataFrame:
    if not bundle.problems:
        return pl.DataFrame(schema=GAP_COLUMNS)
    frame = pl.DataFrame(
        {
            "source": [p.path for p in bundle.problems],
            "detail": [p.message for p in bundle.problems],
            "known_resource": [p.resource for p in bundle.problems],
            "known_namespace": [p.namespace for p in bundle.problems],
        },
        schema={"source": pl.String, "detail": pl.String, "known_resource": pl.String, "known_namespace": pl.String},
    )
    path = pl.col("source")
    frame = frame.with_columns(
        pl.coalesce("known_resource", path.str.extract(r"^cluster-resources/(?:custom-resources/)?([a-z0-9.-]+?)(?:-errors)?(?:/|\.json$)", 1)).alias("resource"),
        pl.coalesce("known_namespace", path.str.extract(r"^cluster-resources/(?:custom-resources/)?[a-z0-9.-]+/([a-z0-9.-]+)\.json$", 1)).alias("namespace"),
    )
    frame = frame.join(_KIND_BY_RESOURCE, on="resource", how="left")
    return frame.select(
        "source",
        pl.lit(None, pl.String).alias("command_id"),
        pl.col("resource"),
        pl.coalesce(pl.col("kind"), pl.lit("File")).alias("kind"),
        pl.col("namespace"),
        pl.col("source").alias("name"),
        pl.when(pl.col("detail").str.contains("not collected")).then(pl.lit("not collected")).otherwise(pl.lit("unreadable")).alias("reason"),
        pl.col("detail"),
    )


def _coerce(value: object, dtype: pl.DataType) -> object:
    """Manifest fields from a stranger: keep the right type or drop the value."""
    if value is None:
        return None
    if dtype == pl.Boolean:
        return value if isinstance(value, bool) else None
    if dtype == pl.Int64:
        return value if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**62 else -1
    if isinstance(dtype, pl.List):
        return [str(v) for v in value] if isinstance(value, list) else None
    return str(value)
