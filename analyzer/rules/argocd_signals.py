"""What every Argo CD rule reads: failure texts per Application, classified.

- :func:`signals`: one row per failure text of every Application (conditions,
  the current operation, its failed tasks, unhealthy resources) and per Argo CD
  log line that names a cause, classified by :mod:`argocd_taxonomy`. A failed
  operation that is history (the Application is Synced and Healthy and was
  reconciled after it finished) contributes nothing: argocd-stale-operation-state
  reports it.
- :func:`stage_failures`: Stages whose last Promotion failed on an Argo CD
  operation, each with the id that explains it best (a generic sync failure
  yields to the failed task's specific cause; an unreachable repo-server yields
  to its OOM kill near the failure).
- :func:`app_failures`: Applications showing a cause themselves, minus those
  already reported on the Stage they block.

Each is computed once per :class:`Frames`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from analyzer.findings import Evidence, Subject
from analyzer.frames.build import utc
from analyzer.rules.argocd_taxonomy import FAMILY, GENERIC, OOM, UNREACHABLE, by_index, classify_text, match_index
from analyzer.rules.common import APP_IN_MESSAGE, evidence, failed_step, human_age, iso, rows, specific_cause

SIGNAL_SCHEMA = {
    "namespace": pl.String,  # the Application's (null for log lines that name none)
    "app": pl.String,
    "source": pl.String,
    "field": pl.String,  # cond | op | res | health | log
    "path": pl.String,  # field path, or "line N"
    "message": pl.String,
    "time": pl.Datetime("us", "UTC"),
    "resource": pl.String,  # "group/Kind namespace/name" for res and health rows
    "res_group": pl.String,
    "res_kind": pl.String,
    "res_namespace": pl.String,
    "res_name": pl.String,
    "component": pl.String,  # log rows: the workload that wrote the line
}
FIELD_ORDER = {"op": 0, "res": 1, "cond": 2, "health": 3, "log": 4}
SUCCESS = r"(?i)Sync operation to \S+ succeeded|successfully synced|phase: \w+ -> Succeeded"

def _cached(name: str, frames, build):
    """``build(frames)`` once per Frames: every Argo CD rule reads the same signals."""
    return frames.derived(f"argocd_signals.{name}", build)


def stale_expr() -> pl.Expr:
    """An operationState error that is history: Synced+Healthy and reconciled since it finished."""
    return (
        pl.col("op_phase").is_in(["Failed", "Error"])
        & (pl.col("sync_status") == "Synced")
        & (pl.col("health_status") == "Healthy")
        & pl.col("op_finished").is_not_null()
        & (pl.col("reconciled_at") > pl.col("op_finished"))
        & ~pl.col("operation_requested")
    ).fill_null(False)


def current_op_expr() -> pl.Expr:
    """An operation whose failure is current: Failed/Error and not stale, or waiting to retry."""
    failed = pl.col("op_phase").is_in(["Failed", "Error"]) & ~stale_expr()
    retrying = (pl.col("op_phase") == "Running") & pl.col("op_finished").is_not_null()
    return (failed | retrying).fill_null(False)


def _resource_label(el: pl.Expr) -> pl.Expr:
    return pl.format("{}/{} {}/{}", el.struct.field("group").fill_null(""), el.struct.field("kind"),
                     el.struct.field("namespace").fill_null(""), el.struct.field("name"))


def _res_columns(el: pl.Expr) -> list[pl.Expr]:
    return [
        _resource_label(el).alias("resource"),
        el.struct.field("group").fill_null("").alias("res_group"),
        el.struct.field("kind").alias("res_kind"),
        el.struct.field("namespace").alias("res_namespace"),
        el.struct.field("name").alias("res_name"),
    ]


def _no_res() -> list[pl.Expr]:
    return [pl.lit(None, pl.String).alias(n) for n in ("resource", "res_group", "res_kind", "res_namespace", "res_name", "component")]


def _build_signals(frames) -> pl.DataFrame:
    apps = frames.applications
    base = [pl.col("namespace"), pl.col("name").alias("app"), pl.col("source")]
    cond = (
        apps.select(*base, pl.col("conditions").alias("c")).explode("c").filter(pl.col("c").is_not_null())
        .filter(pl.col("c").struct.field("type").str.ends_with("Error").fill_null(False))
        .select("namespace", "app", "source", pl.lit("cond").alias("field"),
                pl.format("status.conditions[{}]", pl.col("c").struct.field("type")).alias("path"),
                pl.col("c").struct.field("message").alias("message"),
                utc(pl.col("c").struct.field("lastTransitionTime")).alias("time"), *_no_res())
    )
    current = apps.filter(current_op_expr())
    op = current.select(*base, pl.lit("op").alias("field"), pl.lit("status.operationState.message").alias("path"),
                        pl.col("op_message").alias("message"), pl.col("op_finished").alias("time"), *_no_res())
    r = pl.col("r")
    res = (
        current.select(*base, "op_finished", pl.col("sync_result_resources").alias("r")).explode("r")
        .filter(r.is_not_null() & ((r.struct.field("status") == "SyncFailed")
                                   | r.struct.field("hookPhase").is_in(["Failed", "Error"])).fill_null(False))
        .select("namespace", "app", "source", pl.lit("res").alias("field"),
                pl.format("status.operationState.syncResult.resources[{}]", _resource_label(r)).alias("path"),
                r.struct.field("message").alias("message"), pl.col("op_finished").alias("time"),
                *_res_columns(r), pl.lit(None, pl.String).alias("component"))
    )
    health_of = r.struct.field("health")
    health = (
        apps.select(*base, pl.col("live_resources").alias("r")).explode("r")
        .filter(r.is_not_null() & health_of.struct.field("status").is_in(["Degraded", "Missing"]).fill_null(False))
        .select("namespace", "app", "source", pl.lit("health").alias("field"),
                pl.format("status.resources[{}].health", _resource_label(r)).alias("path"),
                pl.format("{}: {}", health_of.struct.field("status"), health_of.struct.field("message").fill_null("")).alias("message"),
                utc(health_of.struct.field("lastTransitionTime")).alias("time"),
                *_res_columns(r), pl.lit(None, pl.String).alias("component"))
    )
    logs = frames.logs.filter(pl.col("component").str.starts_with("argocd-").fill_null(False)).select(
        pl.col("app_namespace").alias("namespace"), "app", "source", pl.lit("log").alias("field"),
        pl.format("line {}", pl.col("line_no")).alias("path"),
        pl.when(pl.col("error").is_not_null()).then(pl.format("{}: {}", pl.col("message"), pl.col("error")))
        .otherwise(pl.col("message")).alias("message"),
        "time",
        pl.when(pl.col("resource_kind").is_not_null()).then(pl.format(
            "/{} {}/{}", pl.col("resource_kind"), pl.col("resource_namespace").fill_null(""), pl.col("resource_name"))).alias("resource"),
        pl.lit(None, pl.String).alias("res_group"), pl.col("resource_kind").alias("res_kind"),
        pl.col("resource_namespace").alias("res_namespace"), pl.col("resource_name").alias("res_name"),
        pl.col("component"),
    )
    out = pl.concat([f.select(list(SIGNAL_SCHEMA)).cast(SIGNAL_SCHEMA) for f in (cond, op, res, health, logs)], how="vertical")  # type: ignore[arg-type]
    out = out.filter(pl.col("message").is_not_null()).with_columns(
        match_index(pl.col("message"), pl.col("field")).alias("_index")
    ).with_columns(
        by_index(pl.col("_index"), "id").alias("id"),
        by_index(pl.col("_index"), "key").alias("key"),
        by_index(pl.col("_index"), "category").alias("category"),
    ).drop("_index")
    # A log line counts only when it names a cause; an Application's own
    # unhealthy resources are kept for argocd-app-degraded.
    return out.filter(pl.col("id").is_not_null() | (pl.col("field") == "health"))


def signals(frames) -> pl.DataFrame:
    """Every current failure text of every Application (and of Argo CD's logs), classified."""
    return _cached("signals", frames, _build_signals)


def status_signals(frames, ident: str) -> pl.DataFrame:
    """Status rows (cond/op/res) naming ``ident``, after precedence.

    The generic id yields, per Application, to any specific id of the same
    operation (up to v3.4 the operation says only ``one or more synchronization
    tasks are not valid`` and the failed task says why).
    """
    # Health rows are argocd-app-degraded's: an unhealthy resource is not a failed sync.
    sig = signals(frames).filter(pl.col("field").is_in(["cond", "op", "res"]) & pl.col("id").is_not_null())
    if ident in GENERIC:
        specific = (
            sig.filter(pl.col("field").is_in(["op", "res"]) | (pl.col("path") == "status.conditions[SyncError]"))
            .filter(~pl.col("id").is_in(list(GENERIC))).select("namespace", "app").unique()
        )
        sig = sig.join(specific, on=["namespace", "app"], how="anti")
    return sig.filter(pl.col("id") == ident)


def log_signals(frames, ident: str) -> pl.DataFrame:
    return signals(frames).filter((pl.col("field") == "log") & (pl.col("id") == ident))


# ------------------------------------------------------------ repo-server OOM


def repo_server_containers(frames) -> pl.DataFrame:
    return frames.containers.filter(
        ((pl.col("app_name") == "argocd-repo-server") | (pl.col("app_component") == "repo-server")
         | pl.col("pod").str.starts_with("argocd-repo-server")).fill_null(False)
    )


def oom_kills(frames) -> pl.DataFrame:
    """Repo-server containers whose last termination was an OOM kill (reason OOMKilled or exit code 137)."""
    return repo_server_containers(frames).filter(
        ((pl.col("last_terminated_reason") == "OOMKilled") | (pl.col("last_exit_code") == 137)
         | (pl.col("terminated_reason") == "OOMKilled")).fill_null(False)
    )


def oom_near(frames, when: datetime | None) -> list[dict]:
    """Repo-server OOM kills within the correlation window of ``when`` (else of the collection)."""
    at = when or frames.now
    window = frames.settings.correlation_window.total_seconds()
    kills = oom_kills(frames).filter(
        ((pl.col("last_finished_at") - pl.lit(at)).dt.total_seconds().abs() <= window).fill_null(False)
    )
    return rows(kills.sort("pod"))


def oom_state(kills: list[dict] | tuple[dict, ...], at: datetime | None) -> tuple[str, list[Evidence], list[Subject]]:
    """Words, evidence and related Pods for OOM kills (``at``: the failure they explain)."""
    texts, ev, related = [], [], []
    for c in kills:
        related.append(Subject("Pod", c["namespace"], c["pod"]))
        finished = c["last_finished_at"]
        when = ""
        if finished is not None and at is not None:
            delta = at - finished
            when = f" {human_age(delta)} before the failure" if delta.total_seconds() >= 0 else f" {human_age(-delta)} after it"
        limit = f", memory limit {c['memory_limit']}" if c["memory_limit"] else ""
        texts.append(f"repo-server container {c['pod']} was OOMKilled{when} (exit code {c['last_exit_code']}, "
                     f"{c['restarts']} restarts{limit})")
        ev.append(evidence(c["source"], f"{c['pod']} containerStatuses[{c['container']}].lastState.terminated",
                           f"{c['last_terminated_reason']} exitCode={c['last_exit_code']}"
                           + (f" finishedAt={iso(finished)}" if finished else "")
                           + f" restartCount={c['restarts']}" + limit.replace(",", ""), finished))
    return ("; " + "; ".join(texts)) if texts else "", ev, related


def memory_suggestion(kills: list[dict] | tuple[dict, ...]) -> str:
    """Twice the current limit (Kubernetes quantity), or 2Gi when none is known."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9}
    best = 0
    for c in kills:
        text = (c.get("memory_limit") or "").strip()
        for unit, factor in units.items():
            if text.endswith(unit) and text[: -len(unit)].isdigit():
                best = max(best, int(text[: -len(unit)]) * factor)
                break
        else:
            if text.isdigit():
                best = max(best, int(text))
    if not best:
        return "2Gi"
    doubled = 2 * best
    return f"{doubled // 2**30}Gi" if doubled % 2**30 == 0 else f"{-(-doubled // 2**20)}Mi"


# ------------------------------------------------------------ stage failures


@dataclass(frozen=True)
class StageFailure:
    id: str
    stage: dict
    promotion: dict | None
    message: str  # the Promotion's message (wrapping the Argo CD one)
    argo_message: str  # the Argo CD operation message inside it
    app: dict | None  # the Application row, when collected
    app_namespace: str | None
    app_name: str | None
    key: str | None
    category: str
    failed_at: datetime | None
    kills: tuple[dict, ...] = field(default_factory=tuple)  # repo-server OOM kills near the failure
    task: dict | None = None  # the failed task (signal row) the id came from


def argo_message(message: str) -> str:
    """The Argo CD text inside Kargo's wrapper (or the message itself)."""
    marker = "failed with: "
    i = message.rfind(marker)
    return message[i + len(marker):] if i >= 0 else message


def _build_stage_failures(frames) -> list[StageFailure]:
    from analyzer.rules.kargo_stage import failures_caused_by

    out: list[StageFailure] = []
    apps = frames.applications
    for ident in FAMILY:
        for stage, promo, message in failures_caused_by(frames, ident):
            failed_at = (promo or {}).get("finished_at") or stage["last_promotion_finished_at"]
            inner = argo_message(message)
            final, key, category = classify_text(inner, "op")
            final = final or specific_cause(message) or ident
            matches = list(APP_IN_MESSAGE.finditer(message))
            app_ns, app_name = (matches[-1].group(2), matches[-1].group(1)) if matches else (None, None)
            app = None
            if app_name:
                hit = apps.filter((pl.col("name") == app_name) & (pl.col("namespace") == app_ns))
                app = hit.row(0, named=True) if hit.height else None
            task = None
            # The failed task of that very operation names the cause the operation message does not.
            if app is not None and app["op_promotion"] == stage["last_promotion"]:
                tasks = signals(frames).filter(
                    (pl.col("namespace") == app_ns) & (pl.col("app") == app_name) & (pl.col("field") == "res")
                    & pl.col("id").is_not_null()
                )
                specific = tasks.filter(~pl.col("id").is_in(list(GENERIC)))
                if final in GENERIC and specific.height:
                    task = specific.row(0, named=True)
                    final, key, category = task["id"], task["key"], task["category"]
                elif tasks.filter(pl.col("id") == final).height:
                    task = tasks.filter(pl.col("id") == final).row(0, named=True)
            kills: list[dict] = []
            if final in (UNREACHABLE, OOM):
                # A repo-server OOM-killed near the failure explains an EOF, a closed
                # transport or a refused connection as well as a killed render.
                kills = oom_near(frames, failed_at)
                if kills:
                    final = OOM
            out.append(StageFailure(final, stage, promo, message, inner, app, app_ns, app_name, key,
                                    category or "", failed_at, tuple(kills), task))
    return out


def stage_failures(frames, ident: str | None = None) -> list[StageFailure]:
    """Stages whose last Promotion failed on an Argo CD operation, each with the id that explains it."""
    found: list[StageFailure] = _cached("stage_failures", frames, _build_stage_failures)  # type: ignore[assignment]
    return [f for f in found if ident is None or f.id == ident]


def stage_evidence(frames, f: StageFailure) -> list[Evidence]:
    """The Stage, the failing step, the Argo CD operation and the task or log lines behind it."""
    stage, promo = f.stage, f.promotion
    index, _alias, _uses, step_message = failed_step(promo)
    ev = [evidence(stage["source"], "status.lastPromotion", f"{stage['last_promotion']} {stage['last_promotion_phase']}", f.failed_at)]
    if promo:
        ev.append(evidence(promo["source"], f"status.stepExecutionMetadata[{index}].message" if index is not None else "status.message",
                           step_message or f.message, f.failed_at))
    a = f.app
    if a is not None and a["op_message"]:
        ev.append(evidence(a["source"], "status.operationState", f"{a['op_phase']}: {a['op_message']}", a["op_finished"]))
    if f.task is not None:
        ev.append(evidence(f.task["source"], f.task["path"], f.task["message"], f.task["time"]))
    if f.app_name:
        ev.extend(log_evidence(frames, f.app_namespace, f.app_name, {f.id, UNREACHABLE} if f.id == OOM else {f.id}))
    return ev


def log_evidence(frames, namespace: str | None, app: str, ids: set[str], limit: int = 2) -> list[Evidence]:
    lines = signals(frames).filter(
        (pl.col("field") == "log") & (pl.col("app") == app) & pl.col("id").is_in(list(ids))
        & (pl.col("namespace").is_null() | (pl.col("namespace") == namespace))
    ).sort("time", descending=True, nulls_last=True).head(limit)
    return [evidence(s["source"], s["path"], s["message"], s["time"]) for s in rows(lines)]


def step_params(f: StageFailure) -> dict:
    index, alias, uses, _step_message = failed_step(f.promotion)
    stage = f.stage
    return {
        "who": f"Promotion {stage['last_promotion']} ({alias}, {uses})"
               + (f" syncing Application {f.app_name}" if f.app_name else ""),
        "namespace": stage["namespace"], "stage": stage["name"], "promotion": stage["last_promotion"],
        "freight": stage["last_promotion_freight"] or "FREIGHT",
        "step_index": index if index is not None else "STEP_INDEX",
    }


# ------------------------------------------------------------ application failures


@dataclass(frozen=True)
class AppFailure:
    id: str
    namespace: str
    name: str
    app: dict | None  # None: the Application was not collected; judged from logs
    signals: tuple[dict, ...]  # its status rows (or log lines) naming the id, best first
    time: datetime | None


def app_failures(frames, ident: str, extra: pl.DataFrame | None = None) -> list[AppFailure]:
    """Applications whose own status (or, when Applications were not collected, log) names ``ident``.

    Those already reported on the Stage they block are left out. ``extra``
    adds signal rows the caller re-classified to ``ident``.
    """
    covered = {(f.app_namespace, f.app_name) for f in stage_failures(frames, ident) if f.app_name}
    sig = status_signals(frames, ident)
    if extra is not None and extra.height:
        sig = pl.concat([sig, extra.select(sig.columns)], how="vertical")
    out: list[AppFailure] = []
    apps = frames.applications
    if sig.height:
        ranked = sig.with_columns(pl.col("field").replace_strict(FIELD_ORDER, default=9).alias("order")).sort(
            "namespace", "app", "order", "time", nulls_last=True)
        for (ns, name), group in ranked.group_by(["namespace", "app"], maintain_order=True):
            if (ns, name) in covered:
                continue
            app = apps.filter((pl.col("namespace") == ns) & (pl.col("name") == name)).row(0, named=True)
            found = rows(group.drop("order"))
            out.append(AppFailure(ident, ns, name, app, tuple(found), found[0]["time"]))
    gap = frames.gaps.filter(pl.col("resource") == "applications.argoproj.io")
    if "applications.argoproj.io" not in frames.loaded or not gap.is_empty():
        out.extend(_from_logs(frames, ident, covered))
    return out


def _from_logs(frames, ident: str, covered: set) -> list[AppFailure]:
    """When Applications were not collected: the last cause each app's log names, unless a success followed."""
    lines = log_signals(frames, ident).filter(pl.col("app").is_not_null())
    if ident in GENERIC and not lines.is_empty():
        specific = signals(frames).filter(
            (pl.col("field") == "log") & pl.col("id").is_not_null() & ~pl.col("id").is_in(list(GENERIC))
        ).select("namespace", "app").unique()
        lines = lines.join(specific, on=["namespace", "app"], how="anti", nulls_equal=True)
    if lines.is_empty():
        return []
    last = lines.sort("time", nulls_last=True).group_by("namespace", "app").last()
    ok = (
        frames.logs.filter(pl.col("message").str.contains(SUCCESS) & pl.col("app").is_not_null())
        .group_by(pl.col("app_namespace").alias("namespace"), "app").agg(pl.col("time").max().alias("ok_at"))
    )
    last = last.join(ok, on=["namespace", "app"], how="left").filter(
        pl.col("ok_at").is_null() | (pl.col("time") > pl.col("ok_at")))
    out = []
    for s in rows(last.sort("namespace", "app", nulls_last=True)):
        if (s["namespace"], s["app"]) in covered:
            continue
        out.append(AppFailure(ident, s["namespace"] or frames.environment["argocd_namespace"], s["app"], None, (s,), s["time"]))
    return out


def app_evidence(frames, f: AppFailure, limit: int = 4) -> list[Evidence]:
    ev = [evidence(s["source"], s["path"], s["message"], s["time"]) for s in f.signals[:limit]]
    a = f.app
    if a is not None:
        ev.append(evidence(a["source"], "status.sync.status / status.health.status", f"{a['sync_status']} / {a['health_status']}",
                           a["reconciled_at"]))
        ev.extend(log_evidence(frames, f.namespace, f.name, {f.id}))
    return ev


def app_params(frames, namespace: str, name: str, app: dict | None, sig: dict | None) -> dict:
    """Every parameter an Argo CD catalog entry may name, for one Application."""
    env = frames.environment
    a = app or {}
    group = (sig or {}).get("res_group")
    kind = (sig or {}).get("res_kind")
    res_name = (sig or {}).get("res_name")
    ref = f"{kind.lower()}{'.' + group if group else ''}/{res_name}" if kind and res_name else "deployments,statefulsets,pods"
    options = [o for o in (a.get("sync_options") or []) if o != "SkipDryRunOnMissingResource=true"]
    return {
        "app": name, "argocd_namespace": namespace,
        "argocd_controller_namespace": env["argocd_controller_namespace"],
        "who": f"Application {name}",
        "project": a.get("project") or "default",
        "repo": a.get("repo_url") or "REPO_URL", "path": a.get("path") or ".",
        "revision": a.get("target_revision") or "HEAD",
        "server": a.get("dest_server") or a.get("dest_name") or "https://kubernetes.default.svc",
        "dest_namespace": a.get("dest_namespace") or (sig or {}).get("res_namespace") or "default",
        "phase": (a.get("op_phase") or "unknown") + (f", retry {a['op_retry_count']}" if a.get("op_retry_count") else ""),
        "resource": (sig or {}).get("resource") or "a resource",
        "ref": ref, "group": group if group is not None else "GROUP", "kind": kind or "KIND",
        "res_namespace": (sig or {}).get("res_namespace") or a.get("dest_namespace") or "default",
        "kind_label": f"{kind} ({group})" if kind and group else (kind or "a kind"),
        # The whole list when it is known (a merge patch replaces lists), else an append.
        "patch_type": "merge" if app is not None else "json",
        "sync_options_patch": json_arg({"spec": {"syncPolicy": {"syncOptions": [*options, "SkipDryRunOnMissingResource=true"]}}})
        if app is not None else json_arg([{"op": "add", "path": "/spec/syncPolicy/syncOptions/-", "value": "SkipDryRunOnMissingResource=true"}]),
        # Stage parameters, for the variants that name one.
        "namespace": env.get("kargo_namespace", "KARGO_NAMESPACE"), "stage": "STAGE", "freight": "FREIGHT",
        "promotion": "PROMOTION", "step_index": "STEP_INDEX",
    }


def json_arg(value: object) -> str:
    """A JSON document for a kubectl ``-p`` argument (shell-quoted by the catalog)."""
    return json.dumps(value, separators=(",", ":"))


_WRAPPERS = re.compile(r"^(?:(?:ComparisonError|InvalidSpecError): |Failed to load target state: "
                       r"|failed to generate manifest for source \d+ of \d+: )+")
# Controller log lines that carry an operation or task message (knowledge/argocd.md 4.3).
_LOG_CARRIERS = re.compile(r"^(?:Adding resource result, status: '[^']*', phase: '[^']*', message: '(.*)'"
                           r"|Updating operation state\. phase: .*?, message: '.*?' -> '(.*)'"
                           r"|Sync operation to \S+ failed: (.*))$", re.S)


def short(message: str | None, limit: int = 300) -> str:
    """One line of a long, wrapped error: the Argo CD part that names the failure."""
    text = " ".join(argo_message(message or "").split())
    if m := _LOG_CARRIERS.match(text):
        text = next(g for g in m.groups() if g is not None)
    text = _WRAPPERS.sub("", text)
    if ":8081" in text or "argocd-repo-server" in text:
        i = text.find("rpc error:")
        text = text[i:] if i > 0 else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


def with_task(message: str | None, task: dict | None) -> str:
    """The operation's message, and the failed task's when the operation does not say it."""
    text = short(message)
    if task and task.get("message") and task["field"] == "res":
        whole = " ".join((message or "").split())
        if " ".join(task["message"].split()) not in whole:
            text = f"{text}; {task['resource']}: {short(task['message'], 240)}"
    return text


# ------------------------------------------------------------ findings


def report(frames, ident: str, *, variant=None, params=None, extra: pl.DataFrame | None = None,
           stage_only: bool = False) -> list:
    """Findings of ``ident``: one per Stage it blocks, then one per Application showing it alone.

    ``variant(scope, category)`` names the catalog variant ("stage" / "app" by
    default); ``params(scope, failure, base)`` adds or overrides parameters.
    """
    from analyzer.catalog import make_finding
    from analyzer.rules.common import stage_subject

    def pick(scope: str, category: str) -> str:
        return variant(scope, category) if variant else scope

    out = []
    env = frames.environment
    for f in stage_failures(frames, ident):
        ns = f.app_namespace or env["argocd_namespace"]
        base = app_params(frames, ns, f.app_name or "APP", f.app, f.task)
        base.update(step_params(f))
        base["message"] = with_task(f.argo_message, f.task)
        if params:
            base.update(params("stage", f, base))
        more_ev, more_related = list(base.pop("_evidence", [])), list(base.pop("_related", []))
        related = [Subject("Promotion", f.stage["namespace"], f.stage["last_promotion"])]
        if f.app_name:
            related.append(Subject("Application", ns, f.app_name))
        out.append(make_finding(
            ident, stage_subject(f.stage), base, stage_evidence(frames, f) + more_ev,
            variant=pick("stage", f.category), related=tuple(related + more_related),
        ))
    if stage_only:
        return out
    for f in app_failures(frames, ident, extra):
        sig = next((s for s in f.signals if s.get("resource")), f.signals[0])
        base = app_params(frames, f.namespace, f.name, f.app, sig)
        base["message"] = with_task(f.signals[0]["message"], sig if sig is not f.signals[0] else None)
        if params:
            base.update(params("app", f, base))
        more_ev, more_related = list(base.pop("_evidence", [])), list(base.pop("_related", []))
        assumptions = () if f.app is not None else (
            f"Application {f.namespace}/{f.name} was not collected: judged from Argo CD's log",)
        out.append(make_finding(
            ident, Subject("Application", f.namespace, f.name), base, app_evidence(frames, f) + more_ev,
            variant=pick("app", f.signals[0].get("category") or ""),
            related=tuple(stages_of(frames, f.namespace, f.name) + more_related), assumptions=assumptions,
        ))
    return out


def stages_of(frames, namespace: str, app: str) -> list[Subject]:
    """The Stages whose argocd-update steps name this Application."""
    found = (
        frames.stages.select("namespace", "name", "argocd_apps").explode("argocd_apps")
        .filter(pl.col("argocd_apps").is_not_null())
        .filter((pl.col("argocd_apps").struct.field("name") == app)
                & (pl.col("argocd_apps").struct.field("namespace").fill_null(frames.environment["argocd_namespace"]) == namespace))
        .select("namespace", "name").unique().sort("namespace", "name")
    )
    return [Subject("Stage", s["namespace"], s["name"]) for s in rows(found)]
