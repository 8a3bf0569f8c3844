"""Frames: one typed polars DataFrame per kind, the second arrow of the data flow.

Rules read only :class:`Frames`; they never see files.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime

import polars as pl

from analyzer.bundle import Bundle, Problem, format_time
from analyzer.frames import argo, core, kargo, platform
from analyzer.frames.logs import LogReadAhead, load_logs
from analyzer.frames.timeline import build_timeline
from analyzer.frames.build import KindSpec, load_kind
from analyzer.frames.gaps import GAP_COLUMNS, command_gaps, problem_gaps
from analyzer.settings import Settings
from analyzer.versions import Versions, detect

ENVIRONMENT_KEYS = (
    "kargo_namespace", "kargo_controller_namespace", "argocd_namespace", "argocd_controller_namespace",
    "monitoring_namespace", "app_namespace", "domain", "kargo_project", "warehouse_name",
)


@dataclass(frozen=True)
class BundleFacts:
    """What the report says about the input itself."""

    source: str
    layout: str
    reference_time: datetime
    reference_time_source: str
    assumptions: tuple[str, ...]
    collector: str | None
    complete: bool | None
    commands: int
    commands_failed: int
    redaction: dict


@dataclass(frozen=True)
class Frames:  # noqa: PLR0904  (cached_property needs a __dict__: not slots)
    facts: BundleFacts
    environment: dict[str, str]  # the resolved .gitops-config.yaml keys
    versions: Versions
    stages: pl.DataFrame
    promotions: pl.DataFrame
    freight: pl.DataFrame
    freight_status: pl.DataFrame
    warehouses: pl.DataFrame
    project_configs: pl.DataFrame
    projects: pl.DataFrame
    analysis_runs: pl.DataFrame
    analysis_templates: pl.DataFrame
    applications: pl.DataFrame
    pods: pl.DataFrame
    containers: pl.DataFrame
    events: pl.DataFrame
    deployments: pl.DataFrame
    statefulsets: pl.DataFrame
    jobs: pl.DataFrame
    namespaces: pl.DataFrame
    logs: pl.DataFrame
    gaps: pl.DataFrame
    loaded: frozenset[str] = field(default_factory=frozenset)  # resources present in the bundle
    settings: Settings = field(default_factory=Settings)
    # Read by the verify, promote-check and setup modes (frames/platform.py).
    service_accounts: pl.DataFrame = field(default_factory=pl.DataFrame)
    roles: pl.DataFrame = field(default_factory=pl.DataFrame)
    cluster_roles: pl.DataFrame = field(default_factory=pl.DataFrame)
    role_bindings: pl.DataFrame = field(default_factory=pl.DataFrame)
    cluster_role_bindings: pl.DataFrame = field(default_factory=pl.DataFrame)
    ingresses: pl.DataFrame = field(default_factory=pl.DataFrame)
    services: pl.DataFrame = field(default_factory=pl.DataFrame)
    secrets: pl.DataFrame = field(default_factory=pl.DataFrame)
    certificates: pl.DataFrame = field(default_factory=pl.DataFrame)
    crds: pl.DataFrame = field(default_factory=pl.DataFrame)
    prometheus_targets: pl.DataFrame = field(default_factory=pl.DataFrame)
    pod_secret_refs: pl.DataFrame = field(default_factory=pl.DataFrame)
    application_resources: pl.DataFrame = field(default_factory=pl.DataFrame)
    stage_extras: pl.DataFrame = field(default_factory=pl.DataFrame)
    template_jobs: pl.DataFrame = field(default_factory=pl.DataFrame)
    cluster_template_jobs: pl.DataFrame = field(default_factory=pl.DataFrame)

    @cached_property
    def timeline(self) -> pl.DataFrame:
        """Everything that happened, on one time axis (see frames/timeline.py)."""
        return build_timeline(self)

    def derived(self, name: str, build):
        """``build(self)`` computed once per Frames: shared intermediate frames several rules read."""
        cache = self.__dict__.setdefault("_derived", {})
        if name not in cache:
            cache[name] = build(self)
        return cache[name]

    @contextmanager
    def scratch(self) -> Iterator[Frames]:
        """Derived values first computed inside are dropped on leaving: what one pass shares
        (the rules' classified failure texts of a large bundle are 100 MB or more) is not kept
        for the rest of the run; a later pass that wants it builds it again."""
        cache = self.__dict__.setdefault("_derived", {})
        before = set(cache)
        try:
            yield self
        finally:
            for name in set(cache) - before:
                del cache[name]

    @property
    def now(self) -> datetime:
        """The reference instant: every age is measured against it."""
        return self.facts.reference_time

    def collected(self, resource: str, namespace: str | None = None) -> bool:
        """False when a gap says this resource (in this namespace) was not collected."""
        hit = self.gaps.filter(
            (pl.col("resource") == resource)
            & (pl.col("namespace").is_null() | (pl.lit(namespace).is_null()) | (pl.col("namespace") == namespace))
        )
        return hit.is_empty()

    def age_seconds(self, column: str) -> pl.Expr:
        return (pl.lit(self.now) - pl.col(column)).dt.total_seconds()


SPECS: dict[str, KindSpec] = {
    "stages": kargo.STAGES,
    "promotions": kargo.PROMOTIONS,
    "freight": kargo.FREIGHT,
    "warehouses": kargo.WAREHOUSES,
    "project_configs": kargo.PROJECT_CONFIGS,
    "projects": kargo.PROJECTS,
    "analysis_runs": argo.ANALYSIS_RUNS,
    "analysis_templates": argo.ANALYSIS_TEMPLATES,
    "applications": argo.APPLICATIONS,
    "pods": core.PODS,
    "events": core.EVENTS,
    "deployments": core.DEPLOYMENTS,
    "statefulsets": core.STATEFULSETS,
    "jobs": core.JOBS,
    "namespaces": core.NAMESPACES,
    **platform.SPECS,  # verify, promote-check and setup modes
}


def load_frames(bundle: Bundle, settings: Settings | None = None, ahead: LogReadAhead | None = None) -> Frames:
    """The frames of ``bundle``; ``ahead``: the logs' kept lines picked while it was read."""
    problems: list[Problem] = list(bundle.problems)
    # The logs are read on a second thread while the objects load on this one: both are
    # mostly polars work, which runs without the interpreter lock, so two cores share it.
    log_problems: list[Problem] = []  # the other thread's, added after this one's so their order is fixed
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gitops-master-logs") as pool:
        logs = pool.submit(load_logs, bundle.logs, ahead=ahead, problems=log_problems)
        loaded = {name: load_kind(spec, bundle.resource_documents(spec.resource), problems) for name, spec in SPECS.items()}
        log_frame = logs.result()
    problems.extend(log_problems)
    freight_status = kargo.freight_status(bundle.resource_documents(kargo.FREIGHT.resource), problems)
    containers = core.containers(loaded["pods"])
    versions = detect(containers, loaded["stages"], loaded["applications"])
    gaps = pl.concat(
        [command_gaps(bundle.manifest), problem_gaps(_with_problems(bundle, problems))], how="vertical"
    ) if (bundle.manifest or problems) else pl.DataFrame(schema=GAP_COLUMNS)
    return Frames(
        facts=_facts(bundle),
        environment=_environment(bundle, loaded["pods"], loaded["stages"], loaded["applications"]),
        versions=versions,
        freight_status=freight_status,
        containers=containers,
        logs=log_frame,
        gaps=gaps,
        loaded=frozenset(bundle.documents),
        settings=settings or Settings(),
        **loaded,
    )


def _with_problems(bundle: Bundle, problems: list[Problem]) -> Bundle:
    return Bundle(bundle.source, bundle.layout, bundle.manifest, bundle.config, bundle.documents, bundle.logs,
                  problems, bundle.reference_time, bundle.reference_time_source, bundle.assumptions)


def _facts(bundle: Bundle) -> BundleFacts:
    manifest = bundle.manifest or {}
    commands = manifest.get("commands") if isinstance(manifest.get("commands"), list) else []
    # Optional commands (auth can-i) may fail without costing any data.
    failed = sum(1 for c in commands if isinstance(c, dict) and c.get("exit_code") != 0 and not c.get("optional"))
    collector = manifest.get("collector")
    collector_text = None
    if isinstance(collector, dict):
        collector_text = f"{collector.get('name', 'collector')} {collector.get('version', '')}".strip()
    redaction = manifest.get("redaction") if isinstance(manifest.get("redaction"), dict) else {}
    complete = manifest.get("complete")
    return BundleFacts(
        source=bundle.source,
        layout=bundle.layout,
        reference_time=bundle.reference_time,
        reference_time_source=bundle.reference_time_source,
        assumptions=tuple(bundle.assumptions),
        collector=collector_text,
        complete=complete if isinstance(complete, bool) else None,
        commands=len(commands),
        commands_failed=failed,
        redaction=redaction,
    )


def _environment(bundle: Bundle, pods: pl.DataFrame, stages: pl.DataFrame, apps: pl.DataFrame) -> dict[str, str]:
    """Resolved namespaces and names, for fix commands: manifest, then config.yaml, then the data."""
    env: dict[str, str] = {}
    recorded = (bundle.manifest or {}).get("config")
    for key in ENVIRONMENT_KEYS:
        value = None
        if isinstance(recorded, dict) and isinstance(recorded.get(key), dict):
            value = recorded[key].get("value")
        elif isinstance(recorded, dict) and isinstance(recorded.get(key), str):
            value = recorded[key]
        if value is None and isinstance(bundle.config.get(key), str):
            value = bundle.config[key]
        if isinstance(value, str) and value:
            env[key] = value

    def first(frame: pl.DataFrame, predicate: pl.Expr) -> str | None:
        hit = frame.filter(predicate).select("namespace").head(1)
        return hit.item() if hit.height else None

    guesses = {
        "kargo_namespace": first(stages, pl.lit(True)),
        "argocd_namespace": first(apps, pl.lit(True)),
        "kargo_controller_namespace": first(pods, (pl.col("app_name") == "kargo") & (pl.col("app_component") == "controller")),
        "argocd_controller_namespace": first(pods, pl.col("app_name") == "argocd-application-controller"),
    }
    for key, value in guesses.items():
        if key not in env and value:
            env[key] = value
    env.setdefault("kargo_controller_namespace", "kargo")
    env.setdefault("argocd_controller_namespace", env.get("argocd_namespace", "argocd"))
    env.setdefault("argocd_namespace", "argocd")
    return env


__all__ = ["Frames", "BundleFacts", "load_frames", "format_time"]
