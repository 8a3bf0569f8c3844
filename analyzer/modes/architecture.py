"""S1 architecture detection: the pipeline graph of each Kargo project, as a tree.

Warehouses at the roots; each Stage under the Stage (or Warehouse) it takes
Freight from; for every Stage the Argo CD Applications it promotes (class,
sync policy, authorization), its promotion steps with their retry, its
verification templates and the ServiceAccount their Jobs run as. A Stage with
several upstream Stages is drawn in full under the first and named under the
others.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analyzer.modes.apps import describe_apps
from analyzer.modes.common import grouped_rows, rows_by, say, stage_apps
from analyzer.modes.rbac import checklist, script_needs, summary
from analyzer.rules.common import rows


@dataclass(frozen=True)
class TreeLine:
    """One line of the tree; ``prefix`` draws it in text, ``depth`` nests it in Markdown."""

    depth: int
    prefix: str  # box-drawing characters for the text tree
    kind: str  # warehouse | stage | detail | reference
    text: str
    md_indent: str  # two spaces per level, for a Markdown list


@dataclass(frozen=True)
class ProjectTree:
    namespace: str
    stages: int
    warehouses: int
    lines: tuple[TreeLine, ...]


@dataclass(frozen=True)
class Architecture:
    projects: tuple[ProjectTree, ...]


def _policy(frames) -> dict[tuple[str, str], bool]:
    """(namespace, stage) -> auto-promotion enabled, from ProjectConfig/Project policies."""
    return frames.derived("auto-promotion-policy", _read_policy)


def _read_policy(frames) -> dict[tuple[str, str], bool]:
    out: dict[tuple[str, str], bool] = {}
    for frame in (getattr(frames, "projects", None), getattr(frames, "project_configs", None)):
        if frame is None or frame.is_empty() or "policies" not in frame.columns:
            continue
        for r in rows(frame.select("namespace", "policies").explode("policies").filter(pl.col("policies").is_not_null())
                      .select("namespace", pl.col("policies").struct.field("stage").alias("stage"),
                              pl.col("policies").struct.field("enabled").alias("enabled"))):
            if r["stage"]:
                out[(r["namespace"], r["stage"])] = bool(r["enabled"])
    return out


def auto_promotion(frames, namespace: str, stage: str, status_value: bool | None) -> bool | None:
    """Stage ``status.autoPromotionEnabled`` (Kargo v1.7+), else the project's promotion policy."""
    if status_value is not None:
        return bool(status_value)
    return _policy(frames).get((namespace, stage))


def _stage_details(frames, stage: dict, apps: list[dict], auto: bool | None) -> list[str]:
    details = []
    for a in apps:
        sync = say("arch.app.autosync" if a["auto_sync"] else "arch.app.manual") if a["in_bundle"] else say("arch.app.absent")
        auth = a["authorized_stage"] or say("arch.app.unauthorized")
        details.append(say("arch.app", app=f"{a['app_namespace']}/{a['app_name']}", klass=a["app_class"],
                           sync=sync, authorized=auth, dest=a["dest_namespace"] or "?"))
    steps = stage["steps"] or []
    if steps:
        parts = []
        for st in steps:
            uses = st.get("uses") or (f"task {st['task']['name']}" if st.get("task") else "?")
            retry = st.get("retry")
            if st.get("uses") == "argocd-update":
                retry_text = (say("arch.retry", timeout=retry.get("timeout") or "5m", threshold=retry.get("errorThreshold") or 1)
                              if retry else say("arch.no-retry"))
                uses += f" ({retry_text})"
            parts.append(uses)
        details.append(say("arch.steps", steps=" -> ".join(parts)))
    else:
        details.append(say("arch.control-flow"))
    templates = stage["verification_templates"] or []
    if templates:
        details.append(say("arch.verification", templates=", ".join(templates)))
    elif not stage["control_flow"]:
        details.append(say("arch.no-verification"))
    details.append(say("arch.auto-promotion", state=say("arch.on") if auto else say("arch.off") if auto is False else say("arch.unknown")))
    return details


def _rbac_details(frames, namespace: str, jobs: list[dict]) -> list[str]:
    out = []
    for j in jobs:
        if not script_needs(j["script"]):
            out.append(say("arch.rbac.none", sa=f"{namespace}/{j['service_account']}"))
            continue
        check = checklist(frames, namespace, j["service_account"], j["templates"], j["script"], [])
        state = "ok" if check.ok else "missing" if check.failed else "unknown"
        out.append(say("arch.rbac", sa=f"{namespace}/{j['service_account']}", state=say(f"arch.rbac.{state}"),
                       detail=summary(check)))
    return out


def freight_label(frames, namespace: str, name: str | None) -> str:
    """``sunny-mantis (cdd7f5c)`` for a Freight name; other summaries ("1/2 Fulfilled") as they are."""
    if not name:
        return say("arch.no-freight")
    hit = rows_by(frames, "freight", ("namespace", "name"), ("alias",)).get((namespace, name))
    alias = hit["alias"] if hit else None
    return f"{alias} ({name[:7]})" if alias else (name[:7] if len(name) == 40 else name)


def verification_jobs_by_stage(frames) -> dict[tuple[str, str], list[dict]]:
    """(namespace, Stage) -> its verification Jobs' ServiceAccounts, templates and commands;
    a pasted Stage without a namespace has none."""
    from analyzer.rules.setup_lint import verification_jobs  # the lint rules own the Job lookup

    return frames.derived("verification-jobs-by-stage", lambda f: grouped_rows(
        verification_jobs(f).filter(pl.col("namespace").is_not_null() & pl.col("stage").is_not_null()),
        ("namespace", "stage")))


def build_architecture(frames, stage_filter: str | None = None) -> Architecture:
    described = describe_apps(frames).select(
        pl.col("namespace").alias("app_namespace"), pl.col("name").alias("app_name"), "app_class", "auto_sync",
        "authorized_stage", "dest_namespace", pl.lit(True).alias("in_bundle"))
    apps = stage_apps(frames).join(described, on=["app_namespace", "app_name"], how="left").with_columns(
        pl.col("app_class").fill_null("simple"), pl.col("in_bundle").fill_null(False))
    # Every lookup the trees make, grouped once: per Stage for apps and Jobs, per project for the rest.
    apps_of = grouped_rows(apps, ("namespace", "stage"))
    jobs_of = verification_jobs_by_stage(frames)
    stages_of = grouped_rows(frames.stages.sort("name", maintain_order=True), ("namespace",))
    warehouses_of = grouped_rows(frames.warehouses.sort("name", maintain_order=True), ("namespace",))
    projects = []
    for (ns,) in sorted(k for k in stages_of if k[0] is not None):
        projects.append(_project_tree(frames, ns, stages_of[(ns,)], warehouses_of.get((ns,), []),
                                      apps_of, jobs_of, stage_filter))
    return Architecture(tuple(projects))


def _project_tree(frames, ns: str, stage_rows: list[dict], warehouse_rows: list[dict], apps_of: dict, jobs_of: dict,
                  stage_filter: str | None) -> ProjectTree:
    """One project's tree: Warehouses at the roots, Stages under their Freight source."""
    stages = {s["name"]: s for s in stage_rows}
    warehouses = {w["name"]: w for w in warehouse_rows}
    children: dict[str, list[str]] = {}
    roots: dict[str, list[str]] = {}
    missing_up: dict[str, list[str]] = {}
    for name, s in stages.items():
        ups = s["upstream_stages"] or []
        if s["direct"] or not ups:
            for wh in s["warehouses"] or ["(no Warehouse)"]:
                roots.setdefault(wh, []).append(name)
        for up in ups:
            children.setdefault(up, []).append(name)
        if ups and not s["direct"] and not any(u in stages for u in ups):
            missing_up.setdefault(ups[0], []).append(name)
    lines: list[TreeLine] = []
    drawn: set[str] = set()

    def add(depth: int, kind: str, text: str, prefix: str) -> None:
        lines.append(TreeLine(depth, prefix, kind, text, "  " * depth))

    def draw_stage(name: str, depth: int, lead: str, last: bool) -> None:
        branch = lead + ("└── " if last else "├── ")
        below = lead + ("    " if last else "│   ")
        s = stages.get(name)
        if s is None:
            add(depth, "reference", say("arch.unknown-stage", stage=name), branch)
            return
        if name in drawn:
            add(depth, "reference", say("arch.see-above", stage=name), branch)
            return
        drawn.add(name)
        auto = auto_promotion(frames, ns, name, s["auto_promotion_enabled"])
        add(depth, "stage", say("arch.stage", stage=name, ready=s["ready_status"] or "?", reason=s["ready_reason"] or "?",
                                freight=freight_label(frames, ns, s["freight_summary"])), branch)
        kids = sorted(children.get(name, []))
        details = _stage_details(frames, s, apps_of.get((ns, name), []), auto) + _rbac_details(frames, ns, jobs_of.get((ns, name), []))
        for d in details:
            add(depth + 1, "detail", d, below + ("│ " if kids else "  "))
        for i, kid in enumerate(kids):
            draw_stage(kid, depth + 1, below, i == len(kids) - 1)

    root_names = sorted(set(roots) | set(warehouses))
    for wh in root_names:
        w = warehouses.get(wh)
        subs = ", ".join(w["subscriptions"] or []) if w else ""
        text = say("arch.warehouse", warehouse=wh, subscriptions=subs or say("arch.none")) if w else say("arch.unknown-warehouse", warehouse=wh)
        add(0, "warehouse", text, "")
        kids = sorted(roots.get(wh, []))
        for i, kid in enumerate(kids):
            draw_stage(kid, 1, "", i == len(kids) - 1)
    for up, kids in sorted(missing_up.items()):
        add(0, "reference", say("arch.unknown-stage", stage=up), "")
        for i, name in enumerate(sorted(kids)):
            draw_stage(name, 1, "", i == len(kids) - 1)
    orphans = [n for n in stages if n not in drawn]
    if orphans:
        add(0, "reference", say("arch.orphans"), "")
        for i, name in enumerate(sorted(orphans)):
            draw_stage(name, 1, "", i == len(orphans) - 1)
    if stage_filter:
        lines = _only(lines, stage_filter)
    return ProjectTree(ns, len(stages), len(warehouses), tuple(lines))


def _only(lines: list[TreeLine], stage: str) -> list[TreeLine]:
    """Only the line of ``stage`` and its detail lines."""
    keep = []
    for i, line in enumerate(lines):
        if line.kind == "stage" and line.text.split(" ", 1)[0] == stage:
            keep.append(TreeLine(0, "", line.kind, line.text, ""))
            for follow in lines[i + 1:]:
                if follow.depth <= line.depth:
                    break
                if follow.depth == line.depth + 1 and follow.kind == "detail":
                    keep.append(TreeLine(1, "  ", follow.kind, follow.text, "  "))
    return keep
