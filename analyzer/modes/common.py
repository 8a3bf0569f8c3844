"""What the modes share: collection coverage, durations, a Stage's apps and namespaces, texts.

Coverage answers the question every check asks before it concludes that
something is absent: was it collected at all? A failed collector command is a
gap; a kind the bundle holds nothing of was not collected; a namespaced kind is
known for a namespace when its objects there are present, or when the
collector covered that namespace (it gathers every kind per namespace it
visits). Only "collected" lets a check say FAIL for a missing object;
otherwise the check is UNKNOWN.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cache
from importlib import resources

import polars as pl
import yaml

COLLECTED, GAP, NOT_COLLECTED = "collected", "gap", "not collected"

# Kubernetes API groups whose kinds every cluster serves (no CRD behind them).
BUILTIN_GROUPS = frozenset({
    "", "apps", "batch", "policy", "autoscaling", "extensions", "networking.k8s.io", "rbac.authorization.k8s.io",
    "apiextensions.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io", "coordination.k8s.io",
    "discovery.k8s.io", "scheduling.k8s.io", "certificates.k8s.io", "node.k8s.io", "events.k8s.io",
    "flowcontrol.apiserver.k8s.io", "apiregistration.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "metrics.k8s.io", "resource.k8s.io",
})

_NS_FROM_PATH = r"^cluster-resources/(?:custom-resources/)?[^/]+/([^/]+)\.json$"
# Frames whose per-namespace files show which namespaces the collector visited.
_NAMESPACED_FRAMES = ("pods", "events", "deployments", "statefulsets", "jobs", "services", "service_accounts",
                      "secrets", "ingresses", "role_bindings", "roles")


@dataclass(frozen=True)
class Coverage:
    state: str  # COLLECTED, GAP or NOT_COLLECTED
    detail: str  # what to say when it is not collected

    @property
    def known(self) -> bool:
        return self.state == COLLECTED


def normalize_resource(resource: str) -> str:
    """``clusterroles.rbac.authorization.k8s.io`` -> ``clusterroles``; custom resources keep their group."""
    head, _, group = resource.lower().partition(".")
    return head if group in BUILTIN_GROUPS or group.endswith(".k8s.io") else resource.lower()


class NamespaceIndex:
    """A frame split by namespace once, for lookups of one namespace at a time.

    The modes look up every Stage's namespaces; filtering the whole frame for
    each Stage grows with stages x rows, a lookup here with the rows it returns.
    """

    def __init__(self, frame: pl.DataFrame):
        self.frame = frame
        self.empty = frame.clear()
        self.parts: dict[str, pl.DataFrame] = {}
        if "namespace" in frame.columns and not frame.is_empty():
            parts = frame.partition_by("namespace", as_dict=True, maintain_order=True)
            self.parts = {key[0]: part for key, part in parts.items() if key[0] is not None}

    def get(self, namespaces) -> pl.DataFrame:
        """The rows in ``namespaces`` (one name or several), in the frame's order."""
        if namespaces is None:  # an object without a namespace (pasted input) is in none
            return self.empty
        if isinstance(namespaces, str):
            return self.parts.get(namespaces, self.empty)
        wanted = [n for n in dict.fromkeys(namespaces) if n in self.parts]
        if not wanted:
            return self.empty
        if len(wanted) == 1:
            return self.parts[wanted[0]]
        return self.frame.filter(pl.col("namespace").is_in(wanted))


def in_namespaces(frames, name: str, namespaces) -> pl.DataFrame:
    """The rows of ``frames.<name>`` in ``namespaces``, through an index built once per Frames."""
    return frames.derived(f"by-namespace:{name}", lambda f: NamespaceIndex(getattr(f, name))).get(namespaces)


def rows_by(frames, name: str, keys: tuple[str, ...], columns: tuple[str, ...]) -> dict[tuple, dict]:
    """``columns`` of the first row of ``frames.<name>`` for each value of ``keys``, built once
    per Frames, for the lookups the modes make one Stage at a time."""
    def build(f) -> dict[tuple, dict]:
        frame = getattr(f, name)
        return first_rows(frame.select(*dict.fromkeys([*keys, *columns])) if not frame.is_empty() else frame, keys)

    return frames.derived(f"rows-by:{name}:{keys}:{columns}", build)


def first_rows(frame: pl.DataFrame, keys) -> dict[tuple, dict]:
    """The first row of ``frame`` for each value of ``keys``."""
    if frame.is_empty():
        return {}
    firsts = frame.unique(list(keys), keep="first", maintain_order=True)
    return {tuple(r[k] for k in keys): r for r in firsts.iter_rows(named=True)}


def grouped_rows(frame: pl.DataFrame, keys) -> dict[tuple, list[dict]]:
    """The rows of ``frame`` grouped by ``keys`` (in frame order within a group), for lookups one
    group at a time; polars does the grouping, one pass for all groups."""
    if frame.is_empty():
        return {}
    grouped = frame.group_by(list(keys), maintain_order=True).agg(pl.struct(frame.columns).alias("__rows__"))
    return {tuple(key): group for *key, group in grouped.select(*keys, "__rows__").iter_rows()}


def freight_relations(frames, relation: str) -> dict[tuple[str, str], list[dict]]:
    """(namespace, stage) -> the Freight rows of ``relation`` (currentlyIn, verifiedIn, ...), newest first."""
    return frames.derived(f"freight-relations:{relation}", lambda f: grouped_rows(
        f.freight_status.filter(pl.col("relation") == relation).sort("at", descending=True, maintain_order=True),
        ("namespace", "stage")))


def covered_namespaces(frames) -> set[str]:
    """Namespaces the collector visited: the resolved environment and every per-namespace file with objects."""
    return frames.derived("covered-namespaces", _covered_namespaces)


def _covered_namespaces(frames) -> set[str]:
    found: set[str] = set()
    for key in ("kargo_namespace", "argocd_namespace", "app_namespace", "kargo_controller_namespace",
                "argocd_controller_namespace", "monitoring_namespace"):
        value = frames.environment.get(key)
        if value and frames.facts.layout != "loose":
            found.update(v.strip() for v in value.split(",") if v.strip())
    if frames.facts.layout == "loose":
        return found
    for name in _NAMESPACED_FRAMES:
        frame = getattr(frames, name, None)
        if frame is None or "source" not in frame.columns or frame.is_empty():
            continue
        found.update(v for v in frame.select(pl.col("source").str.extract(_NS_FROM_PATH, 1).unique()).to_series().to_list() if v)
    return found


def coverage(frames, resource: str, namespace: str | None = None, *, present: bool = False) -> Coverage:
    """Whether ``resource`` (in ``namespace``) was collected; ``present``: objects of it are there."""
    memo = frames.derived("coverage", lambda f: {})
    key = (resource, namespace, present)
    if key not in memo:
        memo[key] = _coverage(frames, resource, namespace, present)
    return memo[key]


def _gaps_by_resource(frames) -> dict[str, list[tuple[int, str | None, str | None, str | None]]]:
    """Each gap under every name coverage may ask for it by (its resource, the resource's first
    word, its command id's kind), as (row, namespace, reason, detail), worked out once."""
    resource = pl.col("resource").fill_null("").str.to_lowercase()
    gaps = frames.gaps.with_row_index("row").select(
        "row", "namespace", "reason", "detail",
        resource.alias("gap_resource"),
        resource.str.split(".").list.first().alias("gap_head"),
        # Commands kubectl cannot name a resource for (``get --raw`` through a service proxy) carry it in their id.
        pl.col("command_id").fill_null("").str.to_lowercase().str.split("/").list.first().alias("gap_id"),
    )
    out: dict[str, list[tuple[int, str | None, str | None, str | None]]] = {}
    for row, namespace, reason, detail, *names in gaps.iter_rows():
        for name in dict.fromkeys(names):
            out.setdefault(name, []).append((row, namespace, reason, detail))
    return out


def _first_gap(frames, names: tuple[str, ...], namespace: str | None):
    """The first gap (in collection order) filed under any of ``names`` that covers ``namespace``."""
    by_name = frames.derived("gaps-by-resource", _gaps_by_resource)
    found = [g for name in dict.fromkeys(names) for g in by_name.get(name, ())
             if namespace is None or g[1] is None or g[1] == namespace]
    return min(found, default=None)


def _coverage(frames, resource: str, namespace: str | None, present: bool) -> Coverage:
    norm = normalize_resource(resource)
    # A gap counts when its resource is the one asked for, or its first word is, or its command's kind is.
    gap = _first_gap(frames, (norm, resource.lower()), namespace)
    if gap is not None:
        _row, _ns, reason, detail = gap
        where = f" in {namespace}" if namespace else ""
        return Coverage(GAP, say("coverage.gap", resource=norm, where=where, reason=reason or "error",
                                 detail=(detail or "").strip()))
    where = f" in {namespace}" if namespace else ""
    if frames.facts.layout == "loose":
        # Pasted objects prove what is there, never what is not.
        return Coverage(NOT_COLLECTED, say("coverage.loose", resource=norm, where=where))
    if present:
        return Coverage(COLLECTED, "")
    loaded = {normalize_resource(r) for r in frames.loaded}
    if norm not in loaded:
        return Coverage(NOT_COLLECTED, say("coverage.absent", resource=norm, where=where))
    if namespace is None or namespace in covered_namespaces(frames):
        return Coverage(COLLECTED, "")
    return Coverage(NOT_COLLECTED, say("coverage.namespace", resource=norm, where=where))


# ------------------------------------------------------------ durations

def duration_seconds(expr: pl.Expr) -> pl.Expr:
    """Go duration text (``10m``, ``5m0s``, ``1h30m``) -> seconds; null when absent or unreadable."""
    def part(unit: str) -> pl.Expr:
        return expr.str.extract(rf"(\d+){unit}(?:\d|$)", 1).cast(pl.Int64, strict=False).fill_null(0)

    valid = expr.str.contains(r"^(?:\d+h)?(?:\d+m)?(?:\d+s)?$") & (expr.str.len_chars() > 0)
    total = part("h") * 3600 + part("m") * 60 + part("s")
    return pl.when(valid).then(total)


def seconds_text(seconds: int | None) -> str:
    if seconds is None:
        return "none"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


# ------------------------------------------------------------ stages

def stage_apps(frames, namespace: str | None = None) -> pl.DataFrame:
    """One row per (Stage, step index, Application) of its argocd-update steps, with the step's retry;
    only the Stages of ``namespace`` when given."""
    if namespace is not None:
        return frames.derived("stage-apps-by-namespace", lambda f: NamespaceIndex(stage_apps(f))).get(namespace)
    return frames.derived("stage-apps", _stage_apps)


def _stage_apps(frames) -> pl.DataFrame:
    default_ns = frames.environment.get("argocd_namespace", "argocd")
    steps = (
        frames.stages.select("namespace", pl.col("name").alias("stage"), pl.col("source").alias("stage_source"),
                             pl.col("steps"))
        .filter(pl.col("steps").list.len().fill_null(0) > 0)
        .with_columns(pl.int_ranges(0, pl.col("steps").list.len()).alias("index"))
        .explode("steps", "index")
        .filter(pl.col("steps").is_not_null())
        .with_columns(
            pl.col("steps").struct.field("uses").alias("uses"),
            pl.coalesce(pl.col("steps").struct.field("as"), pl.format("step-{}", pl.col("index") + 1)).alias("step"),
            pl.col("steps").struct.field("retry").struct.field("timeout").alias("retry_timeout"),
            pl.col("steps").struct.field("retry").struct.field("errorThreshold").alias("retry_threshold"),
            pl.col("steps").struct.field("retry").is_not_null().alias("has_retry"),
            pl.col("steps").struct.field("config").struct.field("apps").alias("app"),
        )
        .filter(pl.col("uses") == "argocd-update")
    )
    return (
        steps.explode("app")
        .filter(pl.col("app").is_not_null() & pl.col("app").struct.field("name").is_not_null())
        .with_columns(
            pl.col("app").struct.field("name").alias("app_name"),
            pl.col("app").struct.field("namespace").fill_null(default_ns).alias("app_namespace"),
        )
        .drop("steps", "app")
    )


# ------------------------------------------------------------ texts

@cache
def _texts() -> dict[str, str]:
    data = resources.files("analyzer.modes").joinpath("texts.yaml").read_text(encoding="utf-8")
    loaded = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {k: " ".join(str(v).split()) for k, v in loaded.items()}


def say(key: str, **params) -> str:
    """The words of ``key`` from texts.yaml, filled; a missing parameter is a bug, not a blank."""
    template = _texts()[key]
    wanted = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    missing = wanted - params.keys()
    if missing:
        raise KeyError(f"text {key}: parameters {sorted(missing)} not given")
    return template.format_map({k: _clean(v) for k, v in params.items()})


def text_keys() -> set[str]:
    return set(_texts())


def _clean(value: object) -> str:
    text = str(value)
    return text if text.isprintable() else "".join(ch if ch.isprintable() else " " for ch in text)


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
