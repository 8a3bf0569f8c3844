"""Controller log lines as one frame, whatever format each component wrote.

Formats (knowledge: Kargo and Argo CD sources):
- the ``kubectl logs --timestamps`` prefix (RFC 3339 with nanoseconds) on every line;
- Kargo <= v1.7 and Argo CD < v3.0: logrus text, ``time="…" level=info msg="…" key=value``;
- Kargo >= v1.8: zap console, ``<ts>\\t<LEVEL>\\t<caller>\\t<msg>\\t{json context}``;
- Kargo with LOG_FORMAT=json and Argo CD >= v3.0: one JSON object per line
  (repeated keys: the last one wins, as Kargo's argocd-update writes ``namespace`` twice);
- klog lines (``W0704 20:01:29.005839 1 file.go:63] …``) from client libraries.

Lines are split and parsed by polars (no Python loop over lines); bytes that
are not UTF-8 are replaced, never fatal.
"""

from __future__ import annotations

import io

import polars as pl

from analyzer.bundle import LogFile
from analyzer.frames.build import utc

LOG_SCHEMA = {
    "source": pl.String,
    "namespace": pl.String,
    "pod": pl.String,
    "container": pl.String,
    "previous": pl.Boolean,
    "line_no": pl.UInt32,
    "time": pl.Datetime("us", "UTC"),
    "format": pl.String,
    "level": pl.String,
    "message": pl.String,
    "error": pl.String,
    "object_namespace": pl.String,
    "stage": pl.String,
    "promotion": pl.String,
    "freight": pl.String,
    "app": pl.String,
}

_PREFIX = r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) "
# A logfmt value: quoted with Go escapes, or bare up to the next space.
_VALUE = r'(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))'


def _logfmt(body: pl.Expr, key: str) -> pl.Expr:
    pattern = rf"(?:^|\s){key}={_VALUE}"
    quoted = body.str.extract(pattern, 1).str.replace_all(r'\\"', '"').str.replace_all(r"\\\\", r"\\")
    return pl.coalesce(quoted, body.str.extract(pattern, 2))


def _json(doc: pl.Expr, key: str) -> pl.Expr:
    return doc.str.json_path_match(f"$['{key}']")


def _read_lines(data: bytes) -> pl.DataFrame:
    if not data.strip():
        return pl.DataFrame(schema={"line": pl.String})
    return pl.read_csv(
        io.BytesIO(data.replace(b"\x00", b" ")),
        has_header=False,
        separator="\x1f",
        quote_char=None,
        schema={"line": pl.String},
        encoding="utf8-lossy",
        truncate_ragged_lines=True,
    )


def parse_log(log: LogFile) -> pl.DataFrame:
    lines = _read_lines(log.data).with_row_index("line_no", offset=1)
    line = pl.col("line")
    body = pl.coalesce(line.str.replace(_PREFIX, ""), line)
    kind = (
        pl.when(body.str.starts_with("{")).then(pl.lit("json"))
        .when(body.str.contains(r"^\d{4}-\d\d-\d\dT\S+\t[A-Z]+\t")).then(pl.lit("console"))
        .when(body.str.contains(r'^time="')).then(pl.lit("logfmt"))
        .when(body.str.contains(r"^[IWEF]\d{4} \d\d:\d\d:\d\d")).then(pl.lit("klog"))
        .otherwise(pl.lit("plain"))
    )
    frame = lines.with_columns(body.alias("body"), kind.alias("format"), line.str.extract(_PREFIX, 1).alias("prefix_time"))
    b, fmt = pl.col("body"), pl.col("format")
    parts = b.str.split("\t")
    console_ctx = parts.list.get(4, null_on_oob=True)
    doc = pl.when(fmt == "json").then(b).when(fmt == "console").then(console_ctx)

    def field(json_key: str, logfmt_key: str | None = None) -> pl.Expr:
        return (
            pl.when(fmt.is_in(["json", "console"])).then(_json(doc, json_key))
            .when(fmt == "logfmt").then(_logfmt(b, logfmt_key or json_key))
        )

    message = (
        pl.when(fmt == "json").then(pl.coalesce(_json(b, "msg"), _json(b, "message")))
        .when(fmt == "console").then(parts.list.get(3, null_on_oob=True))
        .when(fmt == "logfmt").then(_logfmt(b, "msg"))
        .when(fmt == "klog").then(b.str.replace(r"^\S+ \S+\s+\d+ [^\]]*\] ", ""))
        .otherwise(b)
    )
    level = (
        pl.when(fmt == "json").then(_json(b, "level"))
        .when(fmt == "console").then(parts.list.get(1, null_on_oob=True))
        .when(fmt == "logfmt").then(_logfmt(b, "level"))
        .when(fmt == "klog").then(b.str.slice(0, 1).replace({"I": "info", "W": "warning", "E": "error", "F": "fatal"}))
    ).str.to_lowercase().replace({"warn": "warning", "dpanic": "panic"})
    own_time = (
        pl.when(fmt == "json").then(pl.coalesce(_json(b, "ts"), _json(b, "time")))
        .when(fmt == "console").then(parts.list.get(0, null_on_oob=True))
        .when(fmt == "logfmt").then(_logfmt(b, "time"))
    )
    app = pl.coalesce(field("application"), field("app"))
    parsed = frame.select(
        pl.lit(log.path).alias("source"),
        pl.lit(log.namespace).alias("namespace"),
        pl.lit(log.pod).alias("pod"),
        pl.lit(log.container).alias("container"),
        pl.lit(log.previous).alias("previous"),
        pl.col("line_no").cast(pl.UInt32),
        # kubectl's prefix is the kubelet's receive time: the most reliable clock.
        pl.coalesce(utc(pl.col("prefix_time")), utc(own_time)).alias("time"),
        fmt.alias("format"),
        level.alias("level"),
        message.alias("message"),
        field("error").alias("error"),
        pl.coalesce(field("app-namespace"), field("namespace")).alias("object_namespace"),
        field("stage").alias("stage"),
        field("promotion").alias("promotion"),
        field("freight").alias("freight"),
        # Argo CD < v2.12 writes application=<namespace>/<name>; keep the name.
        app.str.replace(r"^.*/", "").alias("app"),
    )
    return parsed.filter(pl.col("message").is_not_null() & (pl.col("message").str.strip_chars() != ""))


def load_logs(logs: list[LogFile]) -> pl.DataFrame:
    if not logs:
        return pl.DataFrame(schema=LOG_SCHEMA)
    return pl.concat([parse_log(log) for log in logs], how="vertical_relaxed").cast(LOG_SCHEMA)  # type: ignore[arg-type]
