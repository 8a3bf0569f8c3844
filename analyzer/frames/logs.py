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

Which lines the analysis keeps (:func:`load_logs`): controller logs are
gigabytes of INFO lines no rule reads, so a line is kept when

- its level is warning or worse (the timeline's and most rules' lines), or
- its text holds one of :data:`KEEP_PHRASES`: the INFO lines rules match by
  message (Argo CD's ``Sync operation to … failed``, ``Adding resource
  result …``, ``Updating operation state …``, the failure texts of the Argo CD
  taxonomy, Kargo's revision mismatch, "forbidden" lines of verification Jobs), or
- no other line of its file is kept and it is the file's first line with a
  message (so the frame still says which containers logged at all).

The test runs on the raw line, before any field is parsed, so only kept lines
cost a parse; it keeps every line a rule could match (tests/test_logs.py checks
the rules' patterns against the phrases), and it may keep a few more, which the
rules' own patterns then pass over. :func:`parse_log` parses every line.

Lines are split and parsed by polars (no Python loop over lines): each file is
read in slices of about :data:`CHUNK_BYTES` and the kept lines are parsed
:data:`PARSE_BATCH` at a time, so the memory taken grows with the kept lines,
not with all of them. A JSON object (a JSON line, a console line's context) is
decoded once for every field. Bytes that are not UTF-8 are replaced, NUL and
unit-separator bytes become spaces, never fatal.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import polars as pl

from analyzer.bundle import LOG_RE, LogFile, OnDisk, Problem, unreadable
from analyzer.frames.build import in_range, utc

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

# ------------------------------------------------------------ what is kept

# Levels the timeline shows and rules read whatever the message says.
KEEP_LEVELS = ("warning", "error", "fatal", "panic")

# Phrases (matched case-insensitively) of the lines rules read whatever their
# level. Each is a piece of a rule's pattern that every match of that pattern
# contains, and is written only with characters no log encoder escapes
# (letters, digits, space and ``-_.,'()/`=``), never a colon and never a
# leading space: so a message or error that matches the rule's pattern holds the
# phrase verbatim in the raw line, even when the rule reads ``message: error``.
KEEP_PHRASES: tuple[str, ...] = (
    # Argo CD's failure taxonomy, "log" rows (rules/argocd_taxonomy.py): message and error.
    # repo-server unreachable, OOM-killed
    "code = unavailable desc =", "dial tcp", "lookup argocd-repo-server", "context deadline exceeded",
    "does not look like a tls handshake", "killed",
    # project denied
    "which does not exist", "appproject", "not permitted", "allowed destinations",
    # CRD missing, field immutable
    "could not find", "crd is installed on the destination cluster", "no matches for kind",
    "ensure crds are installed first", "unable to verify permissions", "immutable",
    # live state
    "failed to load live state", "error synchronizing cache state", "failed to sync cluster",
    "unable to handle the request", "error getting openapi resources", "failed to get server version",
    "failed to get api resources", "failed to get cluster", "there are no clusters with this name",
    "clusters with the same name", "unable to get cluster", "error getting cluster by url",
    # manifest generation
    "timeout after", "client.timeout exceeded while awaiting headers", "authentication required",
    "authentication failed", "repository not found", "knownhosts", "handshake failed", "unable to authenticate",
    "permission denied (publickey", "could not read username", "invalid username or password",
    "certificate signed by unknown authority", "to a commit sha", "revision not found",
    "unable to resolve git revision", "couldn't find remote ref", "reference not found", "app path does not exist",
    "kustomize build", "kustomization file not found", "`helm", "failed to execute helm", "helm template",
    "error building helm chart dependencies", "missing in charts", "matched no files", "error reading helm chart from",
    "error generating manifests in cmp", "plugin sidecar failed", "couldn't find cmp-server plugin",
    "failed verifying revision", "spec.source.path or spec.source.chart are required",
    "spec.source.targetrevision is required", "unable to generate manifests in", "manifest generation error",
    "failed to generate manifest for source", "failed to load target state", "rpc error",
    # sync failed
    "admission webhook", "failed calling webhook", "job has reached the specified backoff limit",
    "backofflimitexceeded", "syncfail hooks failed", "syncwavehook failed", "one or more objects failed to apply",
    "error validating data", "must have at most", "/dev/shm", "is invalid", "one or more synchronization tasks",
    "the namespace failed to apply", "namespace auto creation failed", "is missing", "shared resource found",
    "failed to load application project", "failed to get destination cluster", "failed to load resource overrides",
    "failed to initialize sync context", "no matching service account found", "failed to record sync to history",
    "operation terminat", "triggered by controller sync timeout", "(retried", "auto-sync will wipe out all resources",
    "failed previous sync attempt", "failed to get live resource", "failed to delete resource",
    "internal error occurred",
    # A later success clears an Application's logged failure (rules/argocd_signals.py SUCCESS).
    # Go's JSON encoder writes ">" as \u003e: both spellings.
    "sync operation to", "successfully synced", "-> succeeded", "-\\u003e succeeded",
    # argocd-operation-stuck: auto-sync skipped behind a running operation (rules/argocd_app.py).
    "another operation is",
    # argocd-update-revision-mismatch (rules/kargo_steps.py MISMATCH_LOG).
    "not match desired revision",
    # verification-rbac-forbidden and the RBAC checklist: what a verification Job was denied
    # (rules/kargo_common.py FORBIDDEN_LINE, modes/rbac.py).
    "forbidden",
)

_WORSE = "(?i:warn|error|fatal|panic|dpanic)"  # the start of every level in KEEP_LEVELS, as written
_LEVEL_HINTS = (
    rf'"level"\s*:\s*"(?:{_WORSE}|[^"]*\\)',  # JSON (a value with an escape in it is parsed to be sure)
    rf'level="?{_WORSE}',  # logfmt
    rf"\t{_WORSE}",  # zap console: the level is the second tab-separated field
    r"^(?:\S+ )?[WEF]\d{4} \d\d:\d\d:\d\d",  # klog, after the kubectl prefix if any
)
# The raw-line test: true for every line the parse would give a KEEP_LEVELS
# level, and for every line holding a KEEP_PHRASES phrase.
KEEP_PATTERN = "|".join([*_LEVEL_HINTS, "(?i:" + "|".join(re.escape(p) for p in KEEP_PHRASES) + ")"])

# Files are read in slices of about this many bytes, cut at line ends, and the
# kept lines parsed this many at a time: the memory a parse takes is a few times
# that of the lines it parses.
CHUNK_BYTES = 8 * 1024**2
PARSE_BATCH = 65_536

# ------------------------------------------------------------------ parsing

_PREFIX = r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) "
# One logfmt pair: a key, then a Go-quoted value (with escapes) or a bare one.
# Scanning pairs left to right never starts a match inside a quoted value.
_PAIR = r'[^\s="]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)'
# A placeholder for an escaped backslash while other escapes are undone; NUL
# bytes never reach the parser (they are replaced on reading).
_BACKSLASH = "\x00"

# The keys a line's fields are read from (JSON: top-level keys, the last one
# when repeated, as json.loads does; logfmt: the last pair of that key).
_KEYS = ("msg", "message", "level", "ts", "time", "error", "grpc.error", "app-namespace", "application", "app",
         "namespace", "stage", "promotion", "freight", "kind", "name")
_KEY_COLUMNS = {key: f"\x1f{key}" for key in _KEYS}  # names no input column has
_FIRST_NAMESPACE = "\x1ffirst namespace"
_JSON_STRUCT = pl.Struct(dict.fromkeys(_KEYS, pl.String))
_ANY_KEY = "|".join(re.escape(key) for key in _KEYS)
# JSON objects the decoder would read unlike a JSON path, read by path instead:
# a wanted key holding no string (the decoder renders numbers its own way), a
# surrogate escape (a path refuses a lone one), an escaped letter, dash or dot
# (a key could be spelled so), and deep nesting (a path gives up past 128 levels).
_JSON_BY_PATH = rf'"(?:{_ANY_KEY})"\s*:\s*[^"\s]|\\u[dD][89abAB]|\\u00(?:2[dDeE]|[46][1-9a-fA-F]|[57][0-9aA])'
_MAX_BRACKETS = 64


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


def _json_path(doc: pl.Expr, key: str) -> pl.Expr:
    """The value of ``key`` in a JSON object (the last one when repeated, as json.loads does)."""
    return doc.str.json_path_match(f"$['{key}']")


def _json_first(doc: pl.Expr, key: str) -> pl.Expr:
    """The first string value of a repeated top-level ``key``."""
    return doc.str.extract(rf'"{key}":"((?:[^"\\]|\\.)*)"', 1).str.replace_all(r'\\"', '"')


def _json_fields(doc: pl.Series) -> pl.DataFrame:
    """One string column per key of ``_KEYS``: what ``$['key']`` gives for each document.

    Each object is decoded once for all keys; the few the decoder would read
    differently (see ``_JSON_BY_PATH``; invalid JSON when the decoder refuses a
    batch) are read key by key with JSON paths, and so are the keys an object
    repeats (the decoder keeps the first, a path the last).
    """
    frame = pl.DataFrame({"doc": doc}).with_row_index("row").filter(pl.col("doc").is_not_null())
    d = pl.col("doc")
    easy = frame.filter(d.str.starts_with("{") & ~d.str.contains(_JSON_BY_PATH)
                        & (d.str.count_matches(r"[\[{]", literal=False) < _MAX_BRACKETS))
    decoded = _decode(easy)
    if decoded is None:  # some object is not JSON: only those a path reads go to the decoder
        easy = easy.filter(d.str.json_path_match("$").is_not_null())
        decoded = _decode(easy)
        if decoded is None:
            easy, decoded = easy.clear(), pl.DataFrame(schema={"row": pl.UInt32, **dict.fromkeys(_KEYS, pl.String)})
    # A key the object repeats: the last value, by path.
    keys = pl.col("keys")
    repeated = (
        easy.select("row", d.str.extract_all(rf'"(?:{_ANY_KEY})"\s*:').alias("keys"))
        .filter(keys.list.len() > keys.list.n_unique())
        .explode("keys")
        .group_by("row", "keys").agg(pl.len().alias("n"))
        .filter(pl.col("n") > 1)
        .select("row", keys.str.extract(r'^"(.*)"', 1).alias("key"))
    )
    if repeated.height:
        docs = easy.join(repeated, on="row")
        for key in repeated.get_column("key").unique().to_list():
            fix = docs.filter(pl.col("key") == key).select("row", _json_path(d, key).alias(key))
            decoded = decoded.update(fix, on="row", include_nulls=True)
    parts = [decoded]
    hard = frame.join(easy.select("row"), on="row", how="anti")
    if hard.height:
        parts.append(hard.select("row", *(_json_path(d, key).alias(key) for key in _KEYS)))
    found = pl.concat(parts, how="vertical")
    return (
        pl.DataFrame({"row": pl.int_range(len(doc), dtype=pl.UInt32, eager=True)})
        .join(found, on="row", how="left", maintain_order="left").drop("row")
    )


def _decode(docs: pl.DataFrame) -> pl.DataFrame | None:
    try:
        return docs.select("row", pl.col("doc").str.json_decode(_JSON_STRUCT).alias("s")).unnest("s")
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        return None


def _logfmt_fields(pairs: pl.Series) -> pl.DataFrame:
    """One string column per key of ``_KEYS``: the unquoted value of the last pair of that key."""
    long = (
        pl.DataFrame({"pair": pairs}).with_row_index("row")
        .explode("pair").filter(pl.col("pair").is_not_null())
        .select("row", pl.col("pair").str.splitn("=", 2).struct.rename_fields(["key", "value"]).alias("kv"))
        .unnest("kv")
        .filter(pl.col("key").is_in(_KEYS))
    )
    last = long.group_by("row", "key", maintain_order=True).agg(pl.col("value").last())
    wide = last.pivot(on="key", index="row", values="value") if last.height else pl.DataFrame(schema={"row": pl.UInt32})
    wide = wide.select("row", *(_unquote(pl.col(k)).alias(k) if k in wide.columns else pl.lit(None, pl.String).alias(k)
                                for k in _KEYS))
    return (
        pl.DataFrame({"row": pl.int_range(len(pairs), dtype=pl.UInt32, eager=True)})
        .join(wide, on="row", how="left", maintain_order="left").drop("row")
    )


def _utc(values: pl.Series) -> pl.Series:
    """RFC 3339 strings -> UTC datetimes, the same for each value whatever values it comes with.

    polars infers one format family per column from its first parseable value;
    a leading RFC 3339 value pins it, so which lines are parsed together never
    changes a line's time.
    """
    pinned = pl.concat([pl.Series(values.name, ["1970-01-01T00:00:00Z"], pl.String), values.cast(pl.String)])
    return pl.select(utc(pl.lit(pinned))).to_series().slice(1).alias(values.name)


def _read_lines(data: bytes) -> pl.DataFrame:
    return pl.read_csv(
        io.BytesIO(data.replace(b"\x00", b" ").replace(b"\x1f", b" ")),
        has_header=False,
        separator="\x1f",
        quote_char=None,
        schema={"line": pl.String},
        encoding="utf8-lossy",
        truncate_ragged_lines=True,
    )


def _chunks(data: bytes) -> Iterator[bytes]:
    """``data`` in slices of about CHUNK_BYTES that end at line ends."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + CHUNK_BYTES - 1)
        end = len(data) if end < 0 else end + 1
        yield data[start:end]
        start = end


def line_count(data: bytes) -> int:
    """How many lines a file has, as ``line_no`` counts them (blank ones too)."""
    if not data or data.isspace():
        return 0
    return data.count(b"\n") + (not data.endswith(b"\n"))


def _file_chunks(log: LogFile) -> Iterator[bytes]:
    """A log file's bytes in slices of about CHUNK_BYTES that end at line ends, read as they are needed."""
    with log.open() as fh:
        pieces: list[bytes] = []
        while block := fh.read(CHUNK_BYTES):
            cut = block.rfind(b"\n")
            if cut < 0:  # inside a line longer than a slice
                pieces.append(block)
                continue
            pieces.append(block[: cut + 1])
            yield b"".join(pieces)
            pieces = [block[cut + 1:]]
        if tail := b"".join(pieces):
            yield tail


def _numbered(source: bytes | LogFile) -> Iterator[pl.DataFrame]:
    """The lines of ``source`` (``line_no``, ``line``; blank ones counted), a slice at a time;
    nothing for a file that is only white space."""
    chunks = _chunks(source) if isinstance(source, (bytes, bytearray)) else _file_chunks(source)
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    if second is None and first.isspace():
        return
    seen = 0
    for chunk in itertools.chain([first], [] if second is None else [second], chunks):
        lines = _read_lines(chunk).with_row_index("line_no", offset=seen + 1)
        seen += lines.height
        yield lines


def component_expr(pod: pl.Expr) -> pl.Expr:
    """``argocd-repo-server-6xhdgprp26-fsw6v`` -> ``argocd-repo-server``; ``…-controller-0`` -> ``…-controller``."""
    return (
        pod.str.replace(r"-[a-z0-9]{6,10}-[a-z0-9]{5}$", "")
        .str.replace(r"-[a-z0-9]{5}$", "")
        .str.replace(r"-\d+$", "")
    )


def component_of(pod: str) -> str:
    return pl.select(component_expr(pl.lit(pod))).item()


def _parse(lines: pl.DataFrame) -> pl.DataFrame:
    """Lines (``file``, ``line_no``, ``line``) -> rows with every field but the file's identity."""
    line, prefix = pl.col("line"), pl.col("prefix_time")
    frame = lines.with_columns(line.str.extract(_PREFIX, 1).alias("prefix_time"))
    # The line without its prefix (an ASCII timestamp and a space).
    frame = frame.with_columns(
        pl.when(prefix.is_null()).then(line).otherwise(line.str.slice(prefix.str.len_bytes() + 1)).alias("body"))
    b = pl.col("body")
    kind = (
        pl.when(b.str.starts_with("{")).then(pl.lit("json"))
        .when(b.str.contains(r"^\d{4}-\d\d-\d\dT\S+\t[A-Za-z]+\t")).then(pl.lit("console"))
        .when(b.str.starts_with('time="')).then(pl.lit("logfmt"))
        .when(b.str.contains(r"^[IWEF]\d{4} \d\d:\d\d:\d\d")).then(pl.lit("klog"))
        .otherwise(pl.lit("plain"))
    )
    frame = frame.with_columns(kind.alias("format"))
    fmt = pl.col("format")

    def body_of(name: str) -> pl.Expr:
        """The body of the lines of one format, null for the others: what a costly function runs on."""
        return pl.when(fmt == name).then(b)

    frame = frame.with_columns(body_of("console").str.split("\t").alias("parts"))
    parts = pl.col("parts")
    frame = frame.with_columns(
        pl.when(fmt == "json").then(b).when(fmt == "console").then(parts.list.get(4, null_on_oob=True)).alias("doc"),
        body_of("logfmt").str.extract_all(_PAIR).alias("pairs"),
    )
    json_fields = _json_fields(frame.get_column("doc"))
    logfmt_fields = _logfmt_fields(frame.get_column("pairs"))
    frame = frame.with_columns(
        *(pl.coalesce(json_fields.get_column(k), logfmt_fields.get_column(k)).alias(c) for k, c in _KEY_COLUMNS.items()),
        pl.when(fmt.is_in(["json", "console"])).then(_json_first(pl.col("doc"), "namespace"))
        .otherwise(logfmt_fields.get_column("namespace")).alias(_FIRST_NAMESPACE),
    )

    def field(key: str) -> pl.Expr:
        return pl.col(_KEY_COLUMNS[key])

    message = (
        pl.when(fmt == "json").then(pl.coalesce(field("msg"), field("message")))
        .when(fmt == "console").then(parts.list.get(3, null_on_oob=True))
        .when(fmt == "logfmt").then(field("msg"))
        .when(fmt == "klog").then(body_of("klog").str.replace(r"^\S+ \S+\s+\d+ [^\]]*\] ", ""))
        .otherwise(b)
    )
    level = (
        pl.when(fmt.is_in(["json", "logfmt"])).then(field("level"))
        .when(fmt == "console").then(parts.list.get(1, null_on_oob=True))
        .when(fmt == "klog").then(b.str.slice(0, 1).replace({"I": "info", "W": "warning", "E": "error", "F": "fatal"}))
    ).str.to_lowercase().replace({"warn": "warning", "dpanic": "panic"})
    own_time = (
        pl.when(fmt == "json").then(pl.coalesce(field("ts"), field("time")))
        .when(fmt == "console").then(parts.list.get(0, null_on_oob=True))
        .when(fmt == "logfmt").then(field("time"))
    )
    frame = frame.with_columns(own_time.alias("own_time"), message.alias("message"))
    frame = frame.filter(pl.col("message").is_not_null() & (pl.col("message").str.strip_chars() != ""))
    frame = frame.with_columns(_utc(frame.get_column("prefix_time")))
    # A line's own clock counts only without kubectl's.
    frame = frame.with_columns(pl.when(prefix.is_null()).then(pl.col("own_time")).alias("own_time"))
    frame = frame.with_columns(_utc(frame.get_column("own_time")).alias("own_utc"))
    # zap writes ``ts`` as epoch seconds unless told otherwise.
    epoch = (pl.col("own_time").cast(pl.Float64, strict=False) * 1_000_000).cast(pl.Int64, strict=False)
    own = pl.coalesce(pl.col("own_utc"), in_range(pl.from_epoch(epoch, time_unit="us").dt.replace_time_zone("UTC")))
    # Argo CD v2.5-v2.11 (and some later lines) write application=<namespace>/<name>.
    application = pl.coalesce(field("application"), field("app"))
    qualified_ns = application.str.extract(r"^([^/]+)/", 1)
    has_app = application.is_not_null()
    argo_ns = pl.coalesce(field("app-namespace"), qualified_ns)
    has_kind = field("kind").is_not_null()
    return frame.select(
        "file",
        pl.col("line_no").cast(pl.UInt32),
        # kubectl's prefix is the kubelet's receive time: the most reliable clock.
        pl.coalesce(pl.col("prefix_time"), own).alias("time"),
        fmt.alias("format"),
        level.alias("level"),
        "message",
        pl.coalesce(field("error"), field("grpc.error")).alias("error"),
        pl.coalesce(argo_ns, pl.col(_FIRST_NAMESPACE)).alias("object_namespace"),
        field("stage").alias("stage"),
        field("promotion").alias("promotion"),
        field("freight").alias("freight"),
        application.str.replace(r"^.*/", "").alias("app"),
        pl.when(has_app).then(pl.coalesce(argo_ns, field("namespace"))).alias("app_namespace"),
        field("kind").alias("resource_kind"),
        pl.when(has_kind).then(field("name")).alias("resource_name"),
        pl.when(has_kind).then(field("namespace")).alias("resource_namespace"),
    )


def _first_row(log: LogFile, file: int) -> pl.DataFrame | None:
    """The first line of a file that parses to a row (short windows first: it is usually line 1)."""
    for lines in _numbered(log):
        lines = lines.with_columns(pl.lit(file, pl.Int64).alias("file"))
        start, size = 0, 64
        while start < lines.height:
            rows = _parse(lines.slice(start, size))
            if rows.height:
                return rows.head(1)
            start, size = start + size, size * 16
    return None


def _first_rows(logs: list[LogFile], missing: list[int], problems: list[Problem] | None) -> list[pl.DataFrame]:
    """The first row of each file in ``missing``: the first lines of all of them in one parse,
    file by file only for a file whose first lines hold no row."""
    heads = []
    readable = []
    for i in missing:
        with _unreadable_to(problems, logs[i]):
            first = next(_numbered(logs[i]), None)
            readable.append(i)
            if first is not None:
                heads.append(first.head(64).with_columns(pl.lit(i, pl.Int64).alias("file")))
    missing = readable
    found: list[pl.DataFrame] = []
    done: set[int] = set()
    if heads:
        parsed = _parse(pl.concat(heads, how="vertical"))
        if parsed.height:
            found.append(parsed.group_by("file", maintain_order=True).head(1).select(parsed.columns))
            done = set(parsed.get_column("file").unique().to_list())
    for i in missing:
        if i not in done:
            with _unreadable_to(problems, logs[i]):
                if (row := _first_row(logs[i], i)) is not None:
                    found.append(row)
    return found


class LogReadAhead:
    """Picks the kept lines of each controller log on a thread of its own as soon as
    :func:`analyzer.bundle.open_bundle` has spooled it, while the rest of the tarball is
    still being inflated: the two overlap on two cores instead of one waiting for the other.
    What :func:`load_logs` then finds here it does not read again."""

    # A log as the bundle reader files it (LOG_RE), under the tarball's top directory if it has one.
    _LOG_PATH = re.compile(r"(?:^|/)" + LOG_RE.pattern.lstrip("^"))

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gitops-master-read-ahead")
        self._jobs: dict[tuple[str, int, int], Future] = {}

    def wants(self, path: str) -> bool:
        found = self._LOG_PATH.search(path)
        return found is not None and not found.group(3).endswith("-logs-errors")  # the reader skips those

    def spooled(self, path: str, member: OnDisk) -> None:
        log = LogFile(path, "", "", "", False, file=member.file, offset=member.offset, size=member.size, keep=member.keep)
        self._jobs[(member.file, member.offset, member.size)] = self._pool.submit(lambda: list(_kept_slices(log)))

    @property
    def pending(self) -> int:
        """Files picked (or being picked) that nothing has asked for yet."""
        return len(self._jobs)

    def kept(self, log: LogFile) -> list[pl.DataFrame] | None:
        """The kept lines of ``log`` a slice at a time, when they were picked ahead."""
        job = self._jobs.pop((log.file, log.offset, log.size), None) if log.file is not None else None
        return None if job is None else job.result()

    def close(self) -> None:
        """Drop what was not asked for (a member a later copy replaced, an input refused half-way)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._jobs.clear()


def load_logs(logs: list[LogFile], *, every_line: bool = False, ahead: LogReadAhead | None = None,
              problems: list[Problem] | None = None) -> pl.DataFrame:
    """The kept lines of every file (see the module's docstring); ``every_line``: all of them.
    ``ahead``: where the kept lines of some files were already picked. A file that can no longer
    be read is a problem in ``problems`` (the lines read before stay); without it, an error."""
    if not logs:
        return pl.DataFrame(schema=LOG_SCHEMA)
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
    parsed = [_parse(lines) for lines in _batches(_kept_lines(logs, every_line, ahead, problems))]
    rows = pl.concat(parsed, how="vertical") if parsed else _parse(_no_lines())
    if not every_line:
        have = set(rows.get_column("file").unique().to_list())
        extra = _first_rows(logs, [i for i in range(len(logs)) if i not in have], problems)
        if extra:
            rows = pl.concat([rows, *extra], how="vertical").sort("file", "line_no", maintain_order=True)
    # Each row's file described by position (``file`` numbers the files from 0): the parsed
    # columns are kept as they are, where a join would copy all of them once more.
    described = files.drop("file")[rows.get_column("file")]
    return (
        rows.hstack(described)
        .select(list(LOG_SCHEMA)).cast(LOG_SCHEMA)  # type: ignore[arg-type]
    )


def _kept_lines(logs: list[LogFile], every_line: bool, ahead: LogReadAhead | None,
                problems: list[Problem] | None) -> Iterator[pl.DataFrame]:
    """The kept lines (``line_no``, ``line``, ``file``) of each slice of each file."""
    for i, log in enumerate(logs):
        with _unreadable_to(problems, log):
            picked = ahead.kept(log) if ahead is not None and not every_line else None
            for kept in _numbered(log) if every_line else picked if picked is not None else _kept_slices(log):
                yield kept.with_columns(pl.lit(i, pl.Int64).alias("file"))


@contextmanager
def _unreadable_to(problems: list[Problem] | None, log: LogFile) -> Iterator[None]:
    """A log left in the bundle directory, gone or changed since it was listed: a problem, not an abort."""
    try:
        yield
    except OSError as exc:
        if problems is None:
            raise
        problems.append(unreadable(log.path, exc))


def _kept_slices(log: LogFile) -> Iterator[pl.DataFrame]:
    """The kept lines (``line_no``, ``line``) of each slice of ``log``."""
    keep = pl.col("line").str.contains(KEEP_PATTERN)
    # A filtered string column still holds the buffers of every line it came
    # from: the kept lines are copied out so that the slice they came from goes.
    copied = pl.concat_str([pl.col("line"), pl.lit("")])
    for lines in _numbered(log):
        yield lines.filter(keep).with_columns(copied)


def _batches(parts: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    """``parts`` joined into frames of at least PARSE_BATCH lines (the last may be shorter)."""
    pending: list[pl.DataFrame] = []
    size = 0
    for part in parts:
        pending.append(part)
        size += part.height
        if size >= PARSE_BATCH:
            yield pl.concat(pending, how="vertical")
            pending, size = [], 0
    if size:
        yield pl.concat(pending, how="vertical")


def _no_lines() -> pl.DataFrame:
    return pl.DataFrame(schema={"line_no": pl.UInt32, "line": pl.String, "file": pl.Int64})


def parse_log(log: LogFile) -> pl.DataFrame:
    """Every line of one file (tests and tools); the analysis keeps fewer (:func:`load_logs`)."""
    return load_logs([log], every_line=True)
