"""Argo CD sync and operation failures, and how they block Kargo Stages."""

from __future__ import annotations

import polars as pl

from analyzer.catalog import make_finding
from analyzer.findings import Finding, Subject
from analyzer.rules import rule
from analyzer.rules.common import (
    APP_IN_MESSAGE,
    REPO_SERVER_UNREACHABLE,
    evidence,
    failed_step,
    human_age,
    rows,
    since,
    stage_subject,
)
from analyzer.rules.kargo_stage import failures_caused_by


def _repo_server_state(frames, failed_at) -> tuple[str, list, list]:
    """What the repo-server containers did around ``failed_at``: text, evidence, related pods."""
    repo = frames.containers.filter(pl.col("app_name") == "argocd-repo-server")
    if repo.is_empty():
        if not frames.collected("pods", frames.environment["argocd_controller_namespace"]):
            return "; the repo-server pods were not collected", [], []
        return "", [], []
    window = frames.settings.correlation_window
    texts, ev, related = [], [], []
    for c in rows(repo.sort("pod")):
        related.append(Subject("Pod", c["namespace"], c["pod"]))
        if not c["ready"]:
            texts.append(f"repo-server pod {c['pod']} is not ready ({c['waiting_reason'] or c['phase']})")
            ev.append(evidence(c["source"], f"{c['pod']} containerStatuses[{c['container']}]", f"ready=false {c['waiting_reason'] or ''}"))
        if c["last_finished_at"] is not None and failed_at is not None and abs(c["last_finished_at"] - failed_at) <= window:
            delta = failed_at - c["last_finished_at"]
            when = f"{human_age(delta)} before the failure" if delta.total_seconds() >= 0 else f"{human_age(-delta)} after the failure"
            texts.append(f"repo-server container {c['pod']} restarted {when} (last state {c['last_terminated_reason']}, exit code {c['last_exit_code']})")
            ev.append(evidence(c["source"], f"{c['pod']} containerStatuses[{c['container']}].lastState.terminated",
                               f"{c['last_terminated_reason']} exitCode={c['last_exit_code']} finishedAt={c['last_finished_at']:%Y-%m-%dT%H:%M:%SZ} restartCount={c['restarts']}",
                               c["last_finished_at"]))
    return ("; " + "; ".join(texts)) if texts else "", ev, related


@rule("argocd-repo-server-unreachable", needs=("stages", "promotions", "applications", "pods"))
def repo_server_unreachable(frames) -> list[Finding]:
    """Argo CD could not reach argocd-repo-server on :8081.

    **Symptom** A Promotion's argocd-update step, or an Application's manifest
    generation, fails with ``connection refused`` / ``Unavailable`` / ``EOF``
    talking to repo-server.
    **Evidence** The failing message (Promotion step, Application condition or
    operationState), and the repo-server pods' restarts and readiness around the
    time of the failure.
    **Fix** Make repo-server healthy, add retry config to argocd-update steps,
    promote again.
    """
    out: list[Finding] = []
    covered: set[tuple[str, str]] = set()
    for stage, promo, message in failures_caused_by(frames, "argocd-repo-server-unreachable"):
        index, alias, uses, step_message = failed_step(promo)
        failed_at = (promo or {}).get("finished_at") or stage["last_promotion_finished_at"]
        state, state_ev, pods = _repo_server_state(frames, failed_at)
        related = [Subject("Promotion", stage["namespace"], stage["last_promotion"])]
        ev = [evidence(stage["source"], "status.lastPromotion", f"{stage['last_promotion']} {stage['last_promotion_phase']}", failed_at)]
        if promo:
            ev.append(evidence(promo["source"], f"status.stepExecutionMetadata[{index}].message" if index is not None else "status.message",
                               step_message or message, failed_at))
        if m := APP_IN_MESSAGE.search(message):
            covered.add((m.group(2), m.group(1)))
            related.append(Subject("Application", m.group(2), m.group(1)))
            app = frames.applications.filter((pl.col("name") == m.group(1)) & (pl.col("namespace") == m.group(2)))
            if app.height and app.row(0, named=True)["op_message"]:
                a = app.row(0, named=True)
                ev.append(evidence(a["source"], "status.operationState", f"{a['op_phase']}: {a['op_message']}", a["op_finished"]))
        ev.extend(state_ev)
        out.append(make_finding(
            "argocd-repo-server-unreachable", stage_subject(stage),
            {"who": f"Promotion {stage['last_promotion']} ({alias}, {uses})", "message": _short(step_message or message),
             "repo_server_state": state, "namespace": stage["namespace"], "stage": stage["name"],
             "argocd_controller_namespace": frames.environment["argocd_controller_namespace"],
             "step_index": index if index is not None else "STEP_INDEX",
             "freight": stage["last_promotion_freight"] or "FREIGHT"},
            ev,
            related=tuple(related + pods),
        ))
    out.extend(_application_level(frames, covered))
    return out


def _application_level(frames, covered: set[tuple[str, str]]) -> list[Finding]:
    """Applications whose current condition shows repo-server unreachable, not already tied to a Stage."""
    apps = frames.applications.with_columns(
        pl.col("conditions").list.eval(
            pl.element().filter(pl.element().struct.field("message").str.contains(REPO_SERVER_UNREACHABLE.pattern))
        ).list.first().alias("hit")
    ).filter(pl.col("hit").is_not_null())
    out = []
    for a in rows(apps.sort("namespace", "name")):
        if (a["namespace"], a["name"]) in covered:
            continue
        cond = a["hit"]
        since_text = cond.get("lastTransitionTime")  # kept as written: an RFC 3339 string
        state, state_ev, pods = _repo_server_state(frames, None)
        out.append(make_finding(
            "argocd-repo-server-unreachable", Subject("Application", a["namespace"], a["name"]),
            {"who": f"Manifest generation for Application {a['name']}", "message": _short(cond.get("message") or ""),
             "repo_server_state": state, "namespace": a["namespace"], "stage": "STAGE",
             "argocd_controller_namespace": frames.environment["argocd_controller_namespace"],
             "step_index": "STEP_INDEX", "freight": "FREIGHT"},
            [evidence(a["source"], f"status.conditions[{cond.get('type')}]", f"{cond.get('message')} (since {since_text or 'unknown'})"), *state_ev],
            related=tuple(pods),
        ))
    return out


def _short(message: str) -> str:
    """The part of a wrapped gRPC error that names the failure."""
    for marker in ("rpc error:", "dial tcp"):
        i = message.find(marker)
        if i >= 0:
            return message[i:]
    return message


@rule("argocd-stale-operation-state", needs=("applications",))
def stale_operation_state(frames) -> list[Finding]:
    """An old failed operationState on an Application that is now Synced and Healthy.

    **Symptom** ``status.operationState.phase`` is Failed or Error, yet the
    Application is Synced and Healthy.
    **Evidence** ``operationState.finishedAt`` earlier than ``status.reconciledAt``
    (the Application was reconciled after that operation), current sync and health.
    **Fix** None: it is history. Said so that nobody chases it.
    """
    stale = frames.applications.filter(
        pl.col("op_phase").is_in(["Failed", "Error"])
        & (pl.col("sync_status") == "Synced")
        & (pl.col("health_status") == "Healthy")
        & pl.col("op_finished").is_not_null()
        & (pl.col("reconciled_at") > pl.col("op_finished"))
        & ~pl.col("operation_requested")
    )
    out = []
    for a in rows(stale.sort("namespace", "name")):
        out.append(make_finding(
            "argocd-stale-operation-state", Subject("Application", a["namespace"], a["name"]),
            {"phase": a["op_phase"], "age": human_age(since(frames.now, a["op_finished"])),
             "reconciled_ago": human_age(since(frames.now, a["reconciled_at"])),
             "sync": a["sync_status"], "health": a["health_status"], "app": a["name"], "namespace": a["namespace"]},
            [
                evidence(a["source"], "status.operationState", f"{a['op_phase']} finishedAt={a['op_finished']:%Y-%m-%dT%H:%M:%SZ}: {a['op_message'] or ''}", a["op_finished"]),
                evidence(a["source"], "status.reconciledAt", f"{a['reconciled_at']:%Y-%m-%dT%H:%M:%SZ}", a["reconciled_at"]),
                evidence(a["source"], "status.sync.status / status.health.status", f"{a['sync_status']} / {a['health_status']}"),
            ],
        ))
    return out
