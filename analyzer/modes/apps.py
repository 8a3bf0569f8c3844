"""What an Argo CD Application is, from its chart and name: the S4 tuning class, and whether it is the foundation.

The S4 tuning table (retry of the argocd-update step that promotes it):

| class | timeout | errorThreshold | recognised by chart or name |
|---|---|---|---|
| simple | 3m | 2 | anything else |
| medium | 5m | 2 | external-secrets, crossplane, cert-manager, istio, kyverno, gatekeeper |
| heavy | 10m | 3 | kube-prometheus-stack, prometheus, victoria-metrics |
| very heavy | 10m | 3 | loki, mimir, tempo, thanos, elasticsearch, opensearch |

The foundation (Argo CD, Kargo) is recognised by its chart (``argo-cd``,
``kargo``), its name, or the controllers among the resources it manages.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

CLASS_ORDER = ("simple", "medium", "heavy", "very heavy")


@dataclass(frozen=True)
class Tuning:
    timeout_seconds: int
    timeout: str
    error_threshold: int


TUNING: dict[str, Tuning] = {
    "simple": Tuning(180, "3m", 2),
    "medium": Tuning(300, "5m", 2),
    "heavy": Tuning(600, "10m", 3),
    "very heavy": Tuning(600, "10m", 3),
}

# Checked heaviest first; a token matches whole words of a chart, release or app name.
CLASS_PATTERNS: tuple[tuple[str, str], ...] = (
    ("very heavy", r"loki|mimir|tempo|thanos|elasticsearch|opensearch"),
    ("heavy", r"kube-prometheus-stack|prometheus|victoria-metrics"),
    ("medium", r"external-secrets|crossplane|cert-manager|istio|istiod|kyverno|gatekeeper"),
)
FOUNDATION_CHARTS = r"^(?:argo-cd|argocd|kargo)$"
FOUNDATION_NAMES = r"^(?:argo-?cd|kargo)(?:-(?:server|controller|system|core))?$"
FOUNDATION_WORKLOADS = r"^(?:argocd-(?:application-controller|server|repo-server)|kargo-(?:controller|api))$"

# Kargo's defaults for an argocd-update step without retry config.
DEFAULT_TIMEOUT_SECONDS = 300
DEFAULT_ERROR_THRESHOLD = 1


def _word(pattern: str) -> str:
    return rf"(?:^|[^a-z0-9])(?:{pattern})(?:$|[^a-z0-9])"


def describe_apps(frames) -> pl.DataFrame:
    """Every Application in the bundle with its class and why, and whether it is the foundation."""
    apps = frames.applications.select("namespace", "name", "chart", "dest_namespace", "auto_sync", "self_heal",
                                      "authorized_stage", pl.col("source").alias("app_source"))
    extra = frames.application_resources.select(
        "namespace", "name", "charts", "release_names",
        pl.col("resources").list.eval(
            pl.element().filter(pl.element().struct.field("kind").is_in(["Deployment", "StatefulSet"]))
            .struct.field("name")
        ).alias("workloads"),
    )
    apps = apps.join(extra, on=["namespace", "name"], how="left")
    return apps.with_columns(*classify(pl.col("name"), pl.col("charts"), pl.col("release_names")), *foundation())


def classify(name: pl.Expr, charts: pl.Expr, releases: pl.Expr) -> list[pl.Expr]:
    """``app_class`` and ``class_why`` ("chart kube-prometheus-stack") from the chart first, then the names."""
    chart_text = charts.fill_null([]).list.join(" ").str.to_lowercase()
    release_text = releases.fill_null([]).list.join(" ").str.to_lowercase()
    name_text = name.fill_null("").str.to_lowercase()
    klass = pl.lit("simple")
    why = pl.lit("")
    for label, pattern in reversed(CLASS_PATTERNS):
        for text, what in ((name_text, "name"), (release_text, "release"), (chart_text, "chart")):
            hit = text.str.contains(_word(pattern))
            token = text.str.extract(rf"((?:{pattern})[a-z0-9-]*)", 1)
            klass = pl.when(hit).then(pl.lit(label)).otherwise(klass)
            why = pl.when(hit).then(pl.format("{} {}", pl.lit(what), token)).otherwise(why)
    # The loop above lets the heaviest class and the chart win, being applied last.
    return [klass.alias("app_class"), why.alias("class_why")]


def foundation() -> list[pl.Expr]:
    chart_hit = pl.col("charts").fill_null([]).list.eval(pl.element().str.to_lowercase().str.contains(FOUNDATION_CHARTS)).list.any()
    name_hit = pl.col("name").str.to_lowercase().str.contains(FOUNDATION_NAMES)
    workload = pl.col("workloads").fill_null([]).list.eval(
        pl.element().filter(pl.element().str.contains(FOUNDATION_WORKLOADS))).list.first()
    component = (
        pl.when(pl.concat_str(pl.col("charts").fill_null([]).list.join(" "), pl.col("name"), workload.fill_null(""), separator=" ")
                .str.to_lowercase().str.contains("kargo"))
        .then(pl.lit("Kargo")).otherwise(pl.lit("Argo CD"))
    )
    why = (
        pl.when(chart_hit).then(pl.format("chart {}", pl.col("charts").list.first()))
        .when(workload.is_not_null()).then(pl.format("it manages {}", workload))
        .when(name_hit).then(pl.format("its name {}", pl.col("name")))
    )
    return [
        (chart_hit | name_hit | workload.is_not_null()).fill_null(False).alias("foundation"),
        component.alias("foundation_component"),
        why.alias("foundation_why"),
    ]


def heavier(a: str, b: str) -> str:
    return a if CLASS_ORDER.index(a) >= CLASS_ORDER.index(b) else b
