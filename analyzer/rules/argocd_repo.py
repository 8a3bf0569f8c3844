"""argocd-repo-server: unreachable, out of memory, or unable to render manifests.

Precedence: an unreachable-class failure (EOF, closed transport, connection
refused, deadline) with a repo-server OOM kill within the correlation window of
it is argocd-repo-server-oom, not argocd-repo-server-unreachable.
"""

from __future__ import annotations

import polars as pl

from analyzer.catalog import make_finding
from analyzer.findings import Finding, Subject
from analyzer.rules import rule
from analyzer.rules.argocd_signals import (
    log_signals,
    memory_suggestion,
    oom_kills,
    oom_near,
    oom_state,
    repo_server_containers,
    report,
    status_signals,
)
from analyzer.rules.argocd_taxonomy import MANIFEST, OOM, UNREACHABLE
from analyzer.rules.common import evidence, human_age, iso, rows, since

NEEDS = ("stages", "promotions", "applications", "pods", "logs")


def _oom_reclaimed(frames) -> pl.DataFrame:
    """Unreachable-class status rows of Applications with a repo-server OOM kill near them."""
    sig = status_signals(frames, UNREACHABLE)
    kills = oom_kills(frames).select("last_finished_at").drop_nulls()
    if sig.is_empty() or kills.is_empty():
        return sig.clear()
    window = frames.settings.correlation_window.total_seconds()
    near = (
        sig.with_row_index("_row").join(kills, how="cross")
        .filter((pl.col("time").fill_null(pl.lit(frames.now)) - pl.col("last_finished_at")).dt.total_seconds().abs() <= window)
        .unique("_row", keep="first").sort("_row")
    )
    return near.select(sig.columns).with_columns(pl.lit(OOM).alias("id"))


def _repo_state(frames, failed_at) -> tuple[str, list, list]:
    """What the repo-server containers did around ``failed_at``: words, evidence, related pods."""
    repo = repo_server_containers(frames)
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
                               f"{c['last_terminated_reason']} exitCode={c['last_exit_code']} finishedAt={iso(c['last_finished_at'])} restartCount={c['restarts']}",
                               c["last_finished_at"]))
    return ("; " + "; ".join(texts)) if texts else "", ev, related


@rule(UNREACHABLE, needs=NEEDS)
def repo_server_unreachable(frames) -> list[Finding]:
    """Argo CD could not reach argocd-repo-server on :8081.

    **Symptom** A Promotion's argocd-update step, or an Application's manifest
    generation, fails with ``connection refused`` / ``Unavailable`` / ``EOF`` /
    ``DeadlineExceeded`` talking to repo-server.
    **Evidence** The failing message (Promotion step, Application condition or
    operationState, controller log), and the repo-server pods' restarts and
    readiness around the time of the failure. When one of them was OOMKilled
    near the failure, argocd-repo-server-oom reports it instead.
    **Fix** Make repo-server healthy, add retry config to argocd-update steps,
    promote again.
    """
    reclaimed = {(s["namespace"], s["app"]) for s in rows(_oom_reclaimed(frames))}

    def params(scope: str, f, base: dict) -> dict:
        at = f.failed_at if scope == "stage" else f.time
        state, ev, pods = _repo_state(frames, at)
        return {"repo_server_state": state, "_evidence": ev, "_related": pods}

    found = report(frames, UNREACHABLE, params=params)
    return [f for f in found if not (f.subject.kind == "Application" and (f.subject.namespace, f.subject.name) in reclaimed)]


@rule(OOM, needs=NEEDS)
def repo_server_oom(frames) -> list[Finding]:
    """argocd-repo-server ran out of memory while rendering manifests.

    **Symptom** Promotions or syncs fail with ``error reading from server: EOF``,
    ``transport is closing`` or ``connection refused`` (repo-server died in the
    middle of the call, or was restarting), or with ``signal: killed`` (the
    kernel killed helm or kustomize); repo-server restarts.
    **Evidence** The repo-server containers' ``lastState.terminated`` (reason
    OOMKilled, exit code 137, finishedAt within the correlation window of the
    failure), their memory limit, the failing message, ``signal: killed`` in
    repo-server's log. A recent OOM kill is reported on the Pod even before
    anything failed on it.
    **Fix** Raise repo-server's memory limit, cap ``reposerver.parallelism.limit``,
    give heavy argocd-update steps retry config, promote again.
    """
    out: list[Finding] = []
    suggested = memory_suggestion(rows(oom_kills(frames)))

    def params(scope: str, f, base: dict) -> dict:
        at = f.failed_at if scope == "stage" else f.time
        kills = f.kills if scope == "stage" else oom_near(frames, at)
        state, ev, pods = oom_state(kills, at)
        return {"oom_state": state, "memory_suggestion": memory_suggestion(kills) if kills else suggested,
                "_evidence": ev, "_related": pods}

    out.extend(report(frames, OOM, params=params, extra=_oom_reclaimed(frames)))
    explained = {(s.namespace, s.name) for f in out for s in f.related if s.kind == "Pod"}
    out.extend(_pod_level(frames, explained))
    return out


def _pod_level(frames, explained: set[tuple[str, str]]) -> list[Finding]:
    """Recent repo-server OOM kills (or killed renders in its log) that no failure above explains."""
    lookback = frames.settings.oom_lookback.total_seconds()
    kills = oom_kills(frames).filter(
        frames.age_seconds("last_finished_at").is_null() | (frames.age_seconds("last_finished_at") <= lookback)
    )
    killed_logs = log_signals(frames, OOM).filter(
        (pl.col("component") == "argocd-repo-server") & (frames.age_seconds("time") <= lookback).fill_null(True)
    )
    pods: dict[tuple[str, str], dict] = {}
    for c in rows(kills.sort("pod")):
        pods.setdefault((c["namespace"], c["pod"]), {"kills": [], "lines": []})["kills"].append(c)
    log_pods = frames.logs.select("source", "namespace", "pod").unique()
    for line in rows(killed_logs.join(log_pods, on="source", how="left", suffix="_pod").sort("time", nulls_last=True)):
        key = (line["namespace_pod"], line["pod"])
        pods.setdefault(key, {"kills": [], "lines": []})["lines"].append(line)
    env = frames.environment
    out = []
    for (ns, pod), found in sorted(pods.items()):
        if (ns, pod) in explained:
            continue
        kill = found["kills"][0] if found["kills"] else None
        at = kill["last_finished_at"] if kill else found["lines"][-1]["time"]
        state, ev, _related = oom_state(found["kills"], None)
        if not found["kills"]:
            state = "; its log shows renders killed by the kernel (signal: killed)"
        for line in found["lines"][-2:]:
            ev.append(evidence(line["source"], line["path"], line["message"], line["time"]))
        out.append(make_finding(
            OOM, Subject("Pod", ns, pod),
            {"pod": pod, "age": human_age(since(frames.now, at)), "oom_state": state,
             "argocd_controller_namespace": env["argocd_controller_namespace"],
             "memory_suggestion": memory_suggestion(found["kills"])},
            ev, variant="pod", severity="warning",
            assumptions=(f"OOM kills within {human_age(frames.settings.oom_lookback)} of collection count",),
        ))
    return out


_MANIFEST_VARIANTS = ("auth", "revision", "path", "helm", "kustomize", "plugin", "timeout")


@rule(MANIFEST, needs=NEEDS)
def manifest_generation_failed(frames) -> list[Finding]:
    """Argo CD could not render the Application's manifests.

    **Symptom** A ComparisonError (``Failed to load target state: failed to
    generate manifest for source 1 of 1: rpc error: code = Unknown desc = ...``
    since v2.9, a bare ``rpc error: ...`` before), sync status Unknown; a
    Promotion's argocd-update step fails with it wrapped; ``Manifest generation
    error (cached)`` after three failures.
    **Evidence** The condition (or operation) message, classified: repository
    credentials, revision not found, app path does not exist, helm / kustomize /
    plugin error, exec timeout; the Promotion that wraps it; repo-server's and
    the controller's log lines.
    **Fix** Fix what the message names (credentials, revision, path, chart,
    overlay), hard-refresh the Application to drop the cached failure, promote
    again.
    """
    def variant(scope: str, category: str) -> str:
        return f"{scope}-{category if category in _MANIFEST_VARIANTS else 'other'}"

    return report(frames, MANIFEST, variant=variant)
