"""Controller log lines as one frame, whatever format each component wrote.

Formats (knowledge: Kargo and Argo CD sources):
- the ``kubectl logs --timestamps`` prefix (RFC 3339 with nanoseconds) on every line;
- Kargo <= v1.7 and Argo CD < v3.0: logrus text, ``time="…" level=info msg="…" key=value``
  (values Go-quoted only when they need it);
- Kargo >= v1.8: zap console, ``<ts>\\t<LEVEL>\\t<caller>\\t<msg>\\t{json context}``;
- Kargo with LOG_FORMAT=json and Argo CD >= v3.0: one JSON object per line;
- klog lines (``W0704 20:01:29.005839 1 file.go:63] …``) from client libraries.

Repeated keys: Kargo's argocd-update logger adds a second ``namespace`` (the
Argo CD namespace) after the Promotion's own. In JSON and console context the
first one is the object's namespace and, on lines that name an ``app``, the
last one is that Application's namespace. Logrus keeps one value per key.

Lines are split and parsed by polars (no Python loop over lines); bytes that
are not UTF-8 are replaced, NUL and unit-separator bytes become spaces, never
fatal.
"""

from __future__ import annotations

import io

import polars as pl

from analyzer.bundle import LogFile
from analyzer.frames.build import utc

LOG_SCHEMA = {
    "source": pl.String,
    "namespace": pl.String,  # the pod's namespace
    "pod": pl.String,
    "container": pl.String,
    "component": pl.String,  # the workload: pod name without its generated suffix
    "previous": pl.Boolean,
    "line_no": pl.UInt32,
    "time": pl.Datetime("us", "UTC"),
    "format": pl.String,
    "level": pl.String,
    "message": pl.String,
    "error": pl.String,
    "object_namespace": pl.String,  # the namespace of the Stage/Promotion/Application the line is about
    "stage": pl.String,
    "promotion": pl.String,
    "freight": pl.String,
    "app": pl.String,  # an Argo CD Application name
    "app_namespace": pl.String,  # that Application's namespace, when the line says
    # The object a line reports on besides the app (Argo CD's resource results:
    # kind=ServiceMonitor name=... namespace=...).
    "resource_kind": pl.String,
    "resource_name": pl.String,
    "resource_namespace": pl.String,
}

_PREFIX = r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) "
# One logfmt pair: a key, then a Go-quoted value (with escapes) or a bare one.
# Scanning pairs left to right never starts a match inside a quoted value.
_PAIR = r'[^\s="]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)'
# A placeholder for an escaped backslash while other escapes are undone; NUL
# bytes never reach the parser (they are replaced on reading).
_BACKSLASH = "\x00"


def _unquote(value: pl.Expr) -> pl.Expr:
    """Undo Go ``%q`` quoting (strconv.Quote) of a logfmt value; bare values pass through."""
    inner = value.str.strip_prefix('"').str.strip_suffix('"')
    unescaped = (
        inner.str.replace_all(r"\\", _BACKSLASH, literal=True)
        .str.replace_all(r"\"", '"', literal=True)
        .str.replace_all(r"\n", "\n", literal=True)
        .str.replace_all(r"\t", "\t", literal=True)
        .str.replace_all(r"\r", "\r", literal=True)
        .str.replace_all(_BACKSLASH, "\\", literal=True)
    )
    return pl.when(value.str.starts_with('"')).then(unescaped).otherwise(value)


def _logfmt(pairs: pl.Expr, key: str) -> pl.Expr:
    """The value of ``key`` among the line's logfmt pairs (the last one when repeated)."""
    prefix = key + "="
    raw = pairs.list.eval(
        pl.element().filter(pl.element().str.starts_with(prefix)).str.slice(len(prefix))
    ).list.last()
    return _unquote(raw)


def _json(doc: pl.Expr, key: str) -> pl.Expr:
    """The value of ``key`` in a JSON object (the last one when repeated, as json.loads does)."""
    return doc.str.json_path_match(f"$['{key}']")


def _json_first(doc: pl.Expr, key: str) -> pl.Expr:
    """The first string value of a repeated top-level ``key``."""
    return doc.str.extract(rf'"{key}":"((?:[^"\\]|\\.)*)"', 1).str.replace_all(r'\\"', '"')


def _read_lines(data: bytes) -> pl.DataFrame:
    if not data.strip():
        return pl.DataFrame(schema={"line": pl.String})
    return pl.read_csv(
        io.BytesIO(data.replace(b"\x00", b" ").replace(b"\x1f", b" ")),
        has_header=False,
        separator="\x1f",
        quote_char=None,
        schema={"line": pl.String},
        encoding="utf8-lossy",
        truncate_ragged_lines=True,
    )


def component_expr(pod: pl.Expr) -> pl.Expr:
    """``argocd-repo-server-6xhdgprp26-fsw6v`` -> ``argocd-repo-server``; ``…-controller-0`` -> ``…-controller``."""
    return (
        pod.str.replace(r"-[a-z0-9]{6,10}-[a-z0-9]{5}$", "")
        .str.replace(r"-[a-z0-9]{5}$", "")
        .str.replace(r"-\d+$", "")
    )


def component_of(pod: str) -> str:
    return pl.select(component_expr(pl.lit(pod))).item()


def _all_lines(logs: list[LogFile]) -> pl.DataFrame:
    """Every line of every file, numbered within its file, with the file's identity."""
    files = pl.DataFrame(
        {
            "file": list(range(len(logs))),
            "source": [log.path for log in logs],
            "namespace": [log.namespace for log in logs],
            "pod": [log.pod for log in logs],
            "container": [log.container for log in logs],
            "previous": [log.previous for log in logs],
        },
        schema={"file": pl.Int64, "source": pl.String, "namespace": pl.String, "pod": pl.String,
                "container": pl.String, "previous": pl.Boolean},
    ).with_columns(component_expr(pl.col("pod")).alias("component"))
    parts = [
        _read_lines(log.data).with_row_index("line_no", offset=1).with_columns(pl.lit(i, pl.Int64).alias("file"))
        for i, log in enumerate(logs)
    ]
    return pl.concat(parts, how="vertical").join(files, on="file", how="left")


def _parse(lines: pl.DataFrame) -> pl.DataFrame:
    line = pl.col("line")
    body = pl.coalesce(line.str.replace(_PREFIX, ""), line)
    kind = (
        pl.when(body.str.starts_with("{")).then(pl.lit("json"))
        .when(body.str.contains(r"^\d{4}-\d\d-\d\dT\S+\t[A-Za-z]+\t")).then(pl.lit("console"))
        .when(body.str.contains(r'^time="')).then(pl.lit("logfmt"))
        .when(body.str.contains(r"^[IWEF]\d{4} \d\d:\d\d:\d\d")).then(pl.lit("klog"))
        .otherwise(pl.lit("plain"))
    )
    frame = lines.with_columns(body.alias("body"), kind.alias("format"), line.str.extract(_PREFIX, 1).alias("prefix_time"))
    b, fmt = pl.col("body"), pl.col("format")
    parts = b.str.split("\t")
    frame = frame.with_columns(
        pl.when(fmt == "json").then(b).when(fmt == "console").then(parts.list.get(4, null_on_oob=True)).alias("doc"),
        pl.when(fmt == "logfmt").then(b.str.extract_all(_PAIR)).alias("pairs"),
    )
    doc, pairs = pl.col("doc"), pl.col("pairs")

    def field(key: str) -> pl.Expr:
        return pl.when(fmt.is_in(["json", "console"])).then(_json(doc, key)).when(fmt == "logfmt").then(_logfmt(pairs, key))

    def first(key: str) -> pl.Expr:
        return pl.when(fmt.is_in(["json", "console"])).then(_json_first(doc, key)).when(fmt == "logfmt").then(_logfmt(pairs, key))

    message = (
        pl.when(fmt == "json").then(pl.coalesce(_json(b, "msg"), _json(b, "message")))
        .when(fmt == "console").then(parts.list.get(3, null_on_oob=True))
        .when(fmt == "logfmt").then(_logfmt(pairs, "msg"))
        .when(fmt == "klog").then(b.str.replace(r"^\S+ \S+\s+\d+ [^\]]*\] ", ""))
        .otherwise(b)
    )
    level = (
        pl.when(fmt == "json").then(_json(b, "level"))
        .when(fmt == "console").then(parts.list.get(1, null_on_oob=True))
        .when(fmt == "logfmt").then(_logfmt(pairs, "level"))
        .when(fmt == "klog").then(b.str.slice(0, 1).replace({"I": "info", "W": "warning", "E": "error", "F": "fatal"}))
    ).str.to_lowercase().replace({"warn": "warning", "dpanic": "panic"})
    own_time = (
        pl.when(fmt == "json").then(pl.coalesce(_json(b, "ts"), _json(b, "time")))
        .when(fmt == "console").then(parts.list.get(0, null_on_oob=True))
        .when(fmt == "logfmt").then(_logfmt(pairs, "time"))
    )
    # zap writes ``ts`` as epoch seconds unless told otherwise.
    epoch = (own_time.cast(pl.Float64, strict=False) * 1_000_000).cast(pl.Int64, strict=False)
    own = pl.coalesce(utc(own_time), pl.from_epoch(epoch, time_unit="us").dt.replace_time_zone("UTC"))
    # Argo CD v2.5-v2.11 (and some later lines) write application=<namespace>/<name>.
    application = pl.coalesce(field("application"), field("app"))
    qualified_ns = application.str.extract(r"^([^/]+)/", 1)
    has_app = application.is_not_null()
    argo_ns = pl.coalesce(field("app-namespace"), qualified_ns)
    parsed = frame.select(
        "source", "namespace", "pod", "container", "component", "previous",
        pl.col("line_no").cast(pl.UInt32),
        # kubectl's prefix is the kubelet's receive time: the most reliable clock.
        pl.coalesce(utc(pl.col("prefix_time")), own).alias("time"),
        fmt.alias("format"),
        level.alias("level"),
        message.alias("message"),
        pl.coalesce(field("error"), field("grpc.error")).alias("error"),
        pl.coalesce(argo_ns, first("namespace")).alias("object_namespace"),
        field("stage").alias("stage"),
        field("promotion").alias("promotion"),
        field("freight").alias("freight"),
        application.str.replace(r"^.*/", "").alias("app"),
        pl.when(has_app).then(pl.coalesce(argo_ns, field("namespace"))).alias("app_namespace"),
        field("kind").alias("resource_kind"),
        pl.when(field("kind").is_not_null()).then(field("name")).alias("resource_name"),
        pl.when(field("kind").is_not_null()).then(field("namespace")).alias("resource_namespace"),
    )
    return parsed.filter(pl.col("message").is_not_null() & (pl.col("message").str.strip_chars() != ""))


def load_logs(logs: list[LogFile]) -> pl.DataFrame:
    if not logs:
        return pl.DataFrame(schema=LOG_SCHEMA)
    return _parse(_all_lines(logs)).cast(LOG_SCHEMA)  # type: ignore[arg-type]


def parse_log(log: LogFile) -> pl.DataFrame:
    """One file's lines (tests and tools); the analysis parses all files in one pass."""
    return load_logs([log])
