"""Argo CD Applications themselves: stuck operations, unhealthy apps, self-heal on its way."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from analyzer.catalog import make_finding
from analyzer.findings import Finding, Subject
from analyzer.rules import rule
from analyzer.rules.argocd_signals import signals, stages_of
from analyzer.rules.common import evidence, human_age, iso, rows, since

_RETRY_WAIT = r"Retrying attempt #\d+"


@rule("argocd-operation-stuck", needs=("applications", "promotions", "logs"))
def operation_stuck(frames) -> list[Finding]:
    """An Argo CD operation has been running far too long and blocks every new sync.

    **Symptom** ``status.operationState.phase`` is Running (or Terminating) for
    longer than the threshold (30 min by default), ``.operation`` is still set
    after its operation finished, or a sync requested that long ago (Argo CD's
    ``OperationStarted`` event) never started; auto-sync logs ``Skipping
    auto-sync: another operation is in progress``. A retry wait (Running, ``finishedAt`` set,
    ``Retrying attempt #N``) counts only once its retries are used up and it
    still has not finished.
    **Evidence** ``operationState`` phase, startedAt/finishedAt against the
    collection time, message, retryCount and limit, ``.operation``, the
    controller's log. An operation a Running Kargo Promotion waits on is left to
    promotion-stuck, which names it.
    **Fix** Read what it waits for; clear ``.operation`` to stop it; restart the
    application controller only if that does not help.
    """
    threshold = frames.settings.operation_stuck_after.total_seconds()
    apps = frames.applications
    started_age = frames.age_seconds("op_started")
    finished_age = frames.age_seconds("op_finished")
    retry_wait = (pl.col("op_phase") == "Running") & pl.col("op_finished").is_not_null()
    exhausted = (pl.col("op_retry_limit") >= 0) & (pl.col("op_retry_count").fill_null(0) >= pl.col("op_retry_limit"))
    variant = (
        pl.when(pl.col("op_phase").is_in(["Running", "Terminating"]) & ~retry_wait & (started_age > threshold)).then(pl.lit("running"))
        .when(retry_wait & exhausted & (finished_age > threshold)).then(pl.lit("retrying"))
        .when(pl.col("operation_requested") & pl.col("op_phase").is_in(["Succeeded", "Failed", "Error"])
              & (finished_age > threshold)).then(pl.lit("inconsistent"))
        .when((pl.col("op_phase") == "Succeeded") & pl.col("op_finished").is_null() & (started_age > threshold)).then(pl.lit("inconsistent"))
        .when(pl.col("operation_requested") & pl.col("op_phase").is_null() & (frames.age_seconds("requested_at") > threshold)).then(pl.lit("waiting"))
    )
    # When a sync was requested: Argo CD's OperationStarted event ("<user> initiated sync to ...").
    requested = (
        frames.events.filter((pl.col("object_kind") == "Application") & (pl.col("reason") == "OperationStarted"))
        .sort("last_seen").group_by(pl.col("object_namespace").alias("namespace"), pl.col("object_name").alias("name"))
        .agg(pl.col("last_seen").last().alias("requested_at"), pl.col("message").last().alias("requested_message"),
             pl.col("source").last().alias("requested_source"))
    )
    apps = apps.join(requested, on=["namespace", "name"], how="left")
    stuck = apps.with_columns(variant.alias("variant")).filter(pl.col("variant").is_not_null())
    # promotion-stuck names the operation a Running Promotion waits on.
    running = frames.promotions.filter(pl.col("phase") == "Running").select(pl.col("name").alias("op_promotion"))
    stuck = stuck.join(running, on="op_promotion", how="anti")
    if stuck.is_empty():
        return []
    skips = (
        frames.logs.filter(pl.col("message").str.contains("another operation is (?:already )?in progress") & pl.col("app").is_not_null())
        .group_by(pl.col("app_namespace").alias("namespace"), pl.col("app").alias("name"))
        .agg(pl.len().alias("skips"), pl.col("source").first().alias("skip_source"), pl.col("line_no").last().alias("skip_line"),
             pl.col("time").max().alias("skip_at"), pl.col("message").last().alias("skip_message"))
    )
    stuck = stuck.join(skips, on=["namespace", "name"], how="left")
    env = frames.environment
    out = []
    for a in rows(stuck.sort("namespace", "name")):
        v = a["variant"]
        since_at = a["op_finished"] if v != "running" and a["op_finished"] is not None else a["op_started"]
        if v == "waiting":
            since_at = a["requested_at"]
            ev = [evidence(a["source"], "status.operationState", "absent: the controller has not started the operation"),
                  evidence(a["requested_source"], f"event OperationStarted on Application {a['name']}", a["requested_message"], a["requested_at"])]
        else:
            ev = [evidence(a["source"], "status.operationState",
                           f"{a['op_phase']} startedAt={iso(a['op_started'])} finishedAt={iso(a['op_finished'])}"
                           f" retryCount={a['op_retry_count'] or 0}: {a['op_message'] or ''}", a["op_started"])]
        ev.append(evidence(a["source"], ".operation", f"set (requested by {a['requested_by'] or 'unknown'})" if a["operation_requested"] else "not set"))
        if a["skips"]:
            ev.append(evidence(a["skip_source"], f"line {a['skip_line']}", f"{a['skip_message']} ({a['skips']} such lines)", a["skip_at"]))
        limit = a["op_retry_limit"]
        out.append(make_finding(
            "argocd-operation-stuck", Subject("Application", a["namespace"], a["name"]),
            {"app": a["name"], "phase": a["op_phase"], "age": human_age(since(frames.now, since_at)),
             "threshold": human_age(frames.settings.operation_stuck_after),
             "message": a["op_message"] or a["requested_message"] or "(no message)",
             "retries": f"{a['op_retry_count'] or 0} of {limit}" if limit is not None else f"{a['op_retry_count'] or 0}",
             "argocd_namespace": a["namespace"], "argocd_controller_namespace": env["argocd_controller_namespace"]},
            ev, variant=v, related=tuple(stages_of(frames, a["namespace"], a["name"])),
            assumptions=(f"stuck after {human_age(frames.settings.operation_stuck_after)} (Settings.operation_stuck_after)",),
        ))
    return out


def _reconcile_period(frames) -> tuple[timedelta, str]:
    """The longest wait until the next reconcile, and how it was decided."""
    argocd = frames.versions.argocd
    if frames.settings.reconcile_period is not None:
        period = frames.settings.reconcile_period
        return period, f"{human_age(period)} (configured)"
    if argocd.at_least(3, 0):
        return timedelta(seconds=180), "every 120s plus up to 60s of jitter from Argo CD v3.0"
    return timedelta(seconds=180), "every 180s up to Argo CD v2.14"


def _deletions(frames) -> pl.DataFrame:
    """When an Application's resource went missing: Argo CD's own events about it."""
    ev = frames.events.filter(pl.col("object_kind") == "Application")
    deleted = ev.filter((pl.col("reason") == "ResourceDeleted") & pl.col("message").str.starts_with("deleted resource "))
    parsed = deleted.with_columns(
        pl.col("message").str.extract(r"^deleted resource ([^/]*)/(\S+) '([^']+)'", 1).alias("res_group"),
        pl.col("message").str.extract(r"^deleted resource ([^/]*)/(\S+) '([^']+)'", 2).alias("res_kind"),
        pl.col("message").str.extract(r"^deleted resource ([^/]*)/(\S+) '([^']+)'", 3).alias("res_name"),
    )
    went = ev.filter(pl.col("message").str.contains(r"^Updated (?:health status: \w+ -> Missing|sync status: Synced -> OutOfSync)")).with_columns(
        *[pl.lit(None, pl.String).alias(c) for c in ("res_group", "res_kind", "res_name")])
    cols = ["source", "object_namespace", "object_name", "reason", "message", "last_seen", "res_group", "res_kind", "res_name"]
    return pl.concat([parsed.select(cols), went.select(cols)], how="vertical").rename(
        {"object_namespace": "namespace", "object_name": "name", "last_seen": "deleted_at", "source": "event_source"})


def _pending(frames) -> pl.DataFrame:
    period, _how = _reconcile_period(frames)
    apps = frames.applications.filter(pl.col("auto_sync") & pl.col("self_heal"))
    if apps.is_empty():
        return pl.DataFrame()
    recent = _deletions(frames).filter(frames.age_seconds("deleted_at") <= period.total_seconds())
    # Without an event (kubectl delete leaves none on the Application): a resource
    # whose persisted health (up to v2.14) is Missing at a reconcile this recent.
    seen = (
        apps.filter(frames.age_seconds("reconciled_at") <= period.total_seconds())
        .select("namespace", "name", "source", "reconciled_at", pl.col("live_resources").alias("r")).explode("r")
        .filter((pl.col("r").struct.field("health").struct.field("status") == "Missing").fill_null(False))
        .select(pl.col("source").alias("event_source"), "namespace", "name", pl.lit("status.resources").alias("reason"),
                pl.format("{}/{} {}/{} health Missing", pl.col("r").struct.field("group").fill_null(""),
                          pl.col("r").struct.field("kind"), pl.col("r").struct.field("namespace").fill_null(""),
                          pl.col("r").struct.field("name")).alias("message"),
                pl.col("reconciled_at").alias("deleted_at"),
                pl.col("r").struct.field("group").fill_null("").alias("res_group"),
                pl.col("r").struct.field("kind").alias("res_kind"), pl.col("r").struct.field("name").alias("res_name"))
    )
    recent = pl.concat([recent, seen.select(recent.columns)], how="vertical_relaxed")
    hits = apps.join(recent, on=["namespace", "name"], how="inner")
    # Already back: reconciled after the deletion and Synced again.
    healed = (pl.col("reconciled_at") > pl.col("deleted_at")) & (pl.col("sync_status") == "Synced") & (pl.col("health_status") != "Missing")
    rank = pl.col("reason").replace_strict({"ResourceDeleted": 0, "ResourceUpdated": 1}, default=2, return_dtype=pl.Int8)
    hits = hits.filter(~healed.fill_null(False)).with_columns(rank.alias("rank"))
    return hits.sort("rank", pl.col("deleted_at"), descending=[False, True]).unique(["namespace", "name"], keep="first")


@rule("selfheal-pending", needs=("applications", "events"))
def selfheal_pending(frames) -> list[Finding]:
    """A resource deleted moments before collection will be recreated by self-heal.

    **Symptom** A resource an Application manages is gone (health Missing,
    OutOfSync) minutes after someone deleted it, on an Application with
    automated sync and selfHeal.
    **Evidence** Argo CD's ``ResourceDeleted`` event (``deleted resource
    <group>/<Kind> '<name>'``) or its ``Updated health status: ... -> Missing``
    event less than the reconcile period before collection (180s up to v2.14;
    120s plus up to 60s jitter from v3.0), the resource's Missing/OutOfSync
    status.
    **Fix** None: wait for the next reconcile (or request a refresh).
    """
    pending = _pending(frames)
    if pending.is_empty():
        return []
    period, how = _reconcile_period(frames)
    out = []
    for a in rows(pending.sort("namespace", "name")):
        missing = [r for r in (a["live_resources"] or []) if r and (r.get("status") == "OutOfSync"
                   or ((r.get("health") or {}).get("status") == "Missing"))]
        named = next((r for r in missing if r.get("name") == a["res_name"] and r.get("kind") == a["res_kind"]), None)
        res = named or (missing[0] if missing else None)
        kind = a["res_kind"] or (res or {}).get("kind")
        name = a["res_name"] or (res or {}).get("name")
        group = a["res_group"] if a["res_group"] is not None else (res or {}).get("group") or ""
        res_ns = (res or {}).get("namespace") or a["dest_namespace"] or "default"
        ref = f"{kind.lower()}{'.' + group if group else ''}/{name}" if kind and name else "all"
        event = a["reason"] != "status.resources"
        ev = [evidence(a["event_source"], f"event {a['reason']} on Application {a['name']}", a["message"], a["deleted_at"])] if event else []
        if res:
            health = (res.get("health") or {}).get("status")
            ev.append(evidence(a["source"], f"status.resources[{group}/{kind} {res_ns}/{name}]",
                               f"{res.get('status')}" + (f" health={health}" if health else ""), a["reconciled_at"]))
        ev.append(evidence(a["source"], "spec.syncPolicy.automated.selfHeal", "true"))
        due = a["deleted_at"] + period
        out.append(make_finding(
            "selfheal-pending", Subject("Application", a["namespace"], a["name"]),
            {"resource": f"{kind or 'a resource'} {res_ns}/{name}" if name else "a resource", "app": a["name"],
             "age": human_age(since(frames.now, a["deleted_at"])), "period": how, "due": iso(due),
             "argocd_namespace": a["namespace"], "ref": ref, "res_namespace": res_ns},
            ev, variant="" if event else "seen", related=tuple(stages_of(frames, a["namespace"], a["name"])),
            assumptions=(frames.versions.argocd.describe("Argo CD"),),
        ))
    return out


@rule("argocd-app-degraded", needs=("applications", "containers"))
def app_degraded(frames) -> list[Finding]:
    """An Argo CD Application's health is Degraded or Missing.

    **Symptom** ``status.health.status`` is Degraded (a resource failed) or
    Missing (its resources do not exist).
    **Evidence** The Application's health; up to v2.14 the unhealthy resources
    and their messages from ``status.resources[].health``; from v3.0 (health no
    longer persisted inline, ``resourceHealthSource: appTree``) said so, with the
    destination namespace's failing containers instead.
    **Fix** Look at the failing resource (pods, events, describe), fix it in git,
    sync again.
    """
    apps = frames.applications.filter(pl.col("health_status").is_in(["Degraded", "Missing"]))
    # A Missing app in the middle of its sync is being created; self-heal on its way is not a fault.
    apps = apps.filter(~((pl.col("health_status") == "Missing") & (pl.col("op_phase") == "Running") & pl.col("op_finished").is_null()).fill_null(False))
    pending = _pending(frames)
    if not pending.is_empty():
        apps = apps.join(pending.select("namespace", "name"), on=["namespace", "name"], how="anti")
    if apps.is_empty():
        return []
    health = signals(frames).filter(pl.col("field") == "health")
    failing = frames.containers.filter(
        pl.col("waiting_reason").is_not_null() | (~pl.col("ready") & (pl.col("phase") == "Running"))
        | pl.col("terminated_reason").is_in(["Error", "OOMKilled"])
    )
    argocd = frames.versions.argocd
    out = []
    for a in rows(apps.sort("namespace", "name")):
        mine = rows(health.filter((pl.col("namespace") == a["namespace"]) & (pl.col("app") == a["name"])).head(5))
        ev = [evidence(a["source"], "status.health", f"{a['health_status']}" + (f" since {iso(a['health_since'])}" if a["health_since"] else ""),
                       a["health_since"] or a["reconciled_at"])]
        ev.extend(evidence(s["source"], s["path"], s["message"], s["time"]) for s in mine)
        assumptions: tuple[str, ...] = ()
        if not mine:
            if a["resource_health_source"] == "appTree" or argocd.at_least(3, 0):
                assumptions = (f"{argocd.describe('Argo CD')}: from v3.0 resource health is not persisted in the "
                               "Application (resourceHealthSource: appTree); the unhealthy resource is only in the "
                               "resource tree (argocd app get, the UI)",)
            dest = a["dest_namespace"]
            bad = rows(failing.filter(pl.col("namespace") == dest).sort("pod").head(3)) if dest else []
            for c in bad:
                ev.append(evidence(c["source"], f"{c['pod']} containerStatuses[{c['container']}]",
                                   f"ready={c['ready']} {c['waiting_reason'] or c['terminated_reason'] or ''} {c['waiting_message'] or ''} restarts={c['restarts']}"))
        first = mine[0] if mine else None
        described = "; ".join(f"{s['resource']} {s['message']}" for s in mine)
        variant = "missing" if a["health_status"] == "Missing" else "degraded"
        group, kind, name = ((first or {}).get("res_group"), (first or {}).get("res_kind"), (first or {}).get("res_name"))
        ref = f"{kind.lower()}{'.' + group if group else ''}/{name}" if kind and name else "deployments,statefulsets,pods"
        out.append(make_finding(
            "argocd-app-degraded", Subject("Application", a["namespace"], a["name"]),
            {"app": a["name"], "health": a["health_status"], "resources": described,
             "argocd_namespace": a["namespace"], "dest_namespace": (first or {}).get("res_namespace") or a["dest_namespace"] or "default",
             "ref": ref},
            ev, variant=variant if mine else f"{variant}-untracked",
            related=tuple(stages_of(frames, a["namespace"], a["name"])),
            assumptions=assumptions,
        ))
    return out
