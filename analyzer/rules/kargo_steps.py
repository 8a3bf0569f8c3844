"""Promotion steps that failed for a known reason: argocd-update refusals and races, git steps.

Each id registers the messages it owns with ``cause()`` (and git its step kinds
with ``step_cause()``), so promotion-step-failed stays silent for them.
Messages per Kargo version (pkg/promotion/runner/builtin/argocd_updater.go,
pkg/controller/git/work_tree.go, v1.0-v1.11).
"""

from __future__ import annotations

import re

import polars as pl

from analyzer.catalog import make_finding
from analyzer.findings import Finding, Subject
from analyzer.rules import rule
from analyzer.rules.common import APP_IN_MESSAGE, cause, evidence, failed_step, human_age, iso, rows, since, stage_subject
from analyzer.rules.kargo_common import foreign_operation_waits, stage_apps
from analyzer.rules.kargo_stage import failures_caused_by, step_cause

UNAUTHORIZED = cause(
    "argocd-update-unauthorized",
    r'Argo CD Application "[^"]+" in namespace "[^"]+" (?:is not authorized|does not permit mutation by Kargo Stage)'
    r'|Application\(s\) matching selector in namespace "[^"]+", but none are authorized for Stage'
    r'|unable to parse value of annotation "kargo\.akuity\.io/authorized-stage"',
)
FOREIGN = cause(
    "argocd-update-foreign-operation",
    r"current operation was (?:not )?initiated (?:by|for) ",
)
CONFLICT = cause(
    "argocd-update-conflict",
    r"Operation cannot be fulfilled on applications\.argoproj\.io"
    r'|(?:patching|syncing|updating) Argo CD Application "[^"]+".*the object has been modified',
)
MISMATCH = cause(
    "argocd-update-revision-mismatch",
    r"sync result revisions? .*do(?:es)? not match desired revisions?",
)
GIT = cause(
    "git-step-failed",
    r"error pushing commits to remote|error pushing branch|error cloning |error adding work tree"
    r'|error committing changes|failed to run step "git-(?:clone|commit|push|tag|clear)"',
)
step_cause("git-step-failed", "git-clone", "git-commit", "git-push", "git-tag", "git-clear")

GIT_VARIANTS = (
    ("auth", re.compile(
        r"authentication required|authentication failed|could not read Username|terminal prompts disabled"
        r"|Permission denied \(publickey|invalid username or password|returned error: 40[13]"
        r"|error getting credentials|Repository not found|403 Forbidden|401 Unauthorized", re.I)),
    ("path-exists", re.compile(r"working tree already exists at|already exists and is not an empty directory|fatal: '[^']+' already exists", re.I)),
    ("non-fast-forward", re.compile(r"non-fast-forward|fetch first|\[(?:remote )?rejected\]|cannot lock ref|incorrect old value provided", re.I)),
)
REPO_URL = re.compile(r"((?:https?|ssh)://[^\s\"',:]+(?::\d+)?[^\s\"',]*|git@[^\s\"',]+)")
MISMATCH_LOG = r"sync result revisions? .*do(?:es)? not match desired revision"


def _failure_evidence(stage: dict, promo: dict | None, message: str) -> tuple[list, str, str, int | None]:
    """Evidence for a Stage's failed last Promotion: (evidence, step alias, step kind, index)."""
    index, alias, uses, step_message = failed_step(promo)
    ev = [evidence(stage["source"], "status.lastPromotion",
                   f"{stage['last_promotion']} {stage['last_promotion_phase']}", stage["last_promotion_finished_at"])]
    if promo:
        where = f"status.stepExecutionMetadata[{index}].message" if index is not None and step_message else "status.message"
        ev.append(evidence(promo["source"], where, f"{alias} ({uses}): {step_message or message}", promo.get("finished_at")))
    else:
        ev.append(evidence(stage["source"], "status.lastPromotion.status.message", message))
    return ev, alias, uses, index


def _app_row(frames, name: str, namespace: str) -> dict | None:
    hit = frames.applications.filter((pl.col("name") == name) & (pl.col("namespace") == namespace))
    return hit.row(0, named=True) if hit.height else None


def _base_params(frames, stage: dict) -> dict:
    return {"namespace": stage["namespace"], "stage": stage["name"], "promotion": stage["last_promotion"],
            "freight": stage["last_promotion_freight"] or "FREIGHT",
            "argocd_namespace": frames.environment["argocd_namespace"]}


@rule("argocd-update-unauthorized", needs=("stages", "promotions", "applications"))
def argocd_update_unauthorized(frames) -> list[Finding]:
    """argocd-update refused to touch an Application that does not authorize the Stage.

    **Symptom** The Promotion Errored in its argocd-update step with ``... is not
    authorized`` (v1.9+), ``... does not permit mutation by Kargo Stage`` (<= v1.8)
    or ``... but none are authorized for Stage`` (selector).
    **Evidence** The step's message and the Application's
    ``kargo.akuity.io/authorized-stage`` annotation (missing, or naming another Stage).
    **Fix** Annotate the Application with ``<project>:<stage>`` (in the manifest
    that creates it), then promote again through Kargo.
    """
    out = []
    for stage, promo, message in failures_caused_by(frames, "argocd-update-unauthorized"):
        ev, alias, uses, _ = _failure_evidence(stage, promo, message)
        params = _base_params(frames, stage)
        wanted = f"{stage['namespace']}:{stage['name']}"
        related = [Subject("Promotion", stage["namespace"], stage["last_promotion"])]
        app_name, app_ns, current = "APP", params["argocd_namespace"], None
        if m := APP_IN_MESSAGE.search(message):
            app_name, app_ns = m.group(1), m.group(2)
            related.append(Subject("Application", app_ns, app_name))
            app = _app_row(frames, app_name, app_ns)
            if app is not None:
                current = app["authorized_stage"]
                ev.append(evidence(app["source"], "metadata.annotations[kargo.akuity.io/authorized-stage]", current or "(not set)"))
        if current and "*" in current:
            state = f"its kargo.akuity.io/authorized-stage annotation is {current!r}; glob patterns are no longer accepted"
        elif current:
            state = f"its kargo.akuity.io/authorized-stage annotation names {current}, not {wanted}"
        elif app_name != "APP" and _app_row(frames, app_name, app_ns) is not None:
            state = "it has no kargo.akuity.io/authorized-stage annotation"
        else:
            state = "the Application does not name this Stage in kargo.akuity.io/authorized-stage"
        value = wanted
        if current and "*" not in current and frames.versions.kargo.at_least(1, 11):
            value = f"{current},{wanted}"  # v1.11 accepts a comma-separated list
        params.update(app=app_name, app_namespace=app_ns, state=state, value=value, step=alias)
        out.append(make_finding("argocd-update-unauthorized", stage_subject(stage), params, ev, related=tuple(related),
                                assumptions=(frames.versions.kargo.describe("Kargo"),)))
    return out


@rule("argocd-update-foreign-operation", needs=("stages", "promotions", "applications"))
def argocd_update_foreign_operation(frames) -> list[Finding]:
    """argocd-update waits on an Argo CD operation that Kargo did not start.

    **Symptom** A Promotion sits in its argocd-update step (Running, or Errored
    with a step timeout) while the Application syncs on someone else's behalf:
    auto-sync, a person, or another Promotion.
    **Evidence** The Promotion's current step; the Application's
    ``status.operationState`` (phase, ``initiatedBy``, the ``kargo.akuity.io/promotion``
    info entry or its absence); ``spec.syncPolicy.automated``.
    **Fix** Turn off auto-sync for Applications Kargo promotes; end or wait out
    the foreign operation; promote again.
    """
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    threshold = frames.settings.promotion_stuck_after
    waits = foreign_operation_waits(frames)
    for w in rows(waits.sort("namespace", "stage", "name", "app_name")) if not waits.is_empty() else []:
        key = (w["namespace"], w["stage"])
        if key in seen:
            continue
        seen.add(key)
        waited = since(frames.now, w["started_at"] or w["created"])
        by = w["op_initiated_by"] or "(unknown)"
        if w["op_promotion"]:
            variant, who = "other-promotion", f"Kargo, for another Promotion ({w['op_promotion']})"
        elif w["auto_sync"] or w["op_automated"]:
            variant, who = "auto-sync", "Argo CD auto-sync" + (f" ({w['op_initiated_by']})" if w["op_initiated_by"] else "")
        else:
            variant, who = "person", by
        op_age = human_age(since(frames.now, w["op_started"]))
        ev = [evidence(w["source"], "status.phase / status.currentStep",
                       f"{w['phase']} in argocd-update" + (f": {w['message']}" if w["message"] else ""), w["finished_at"]),
              evidence(w["app_source"], "status.operationState",
                       f"{w['op_phase']} since {iso(w['op_started'])}, initiatedBy={by}"
                       + (f", automated={w['op_automated']}" if w["op_automated"] is not None else "")
                       + f", kargo.akuity.io/promotion={w['op_promotion'] or '(none)'}: {w['op_message'] or ''}", w["op_started"])]
        if w["auto_sync"]:
            ev.append(evidence(w["app_source"], "spec.syncPolicy.automated", "set (auto-sync on)"))
        done = w["phase"] != "Running"
        severity = "error" if done or (waited is not None and waited > threshold) else "warning"
        params = {"namespace": w["namespace"], "stage": w["stage"], "promotion": w["name"], "app": w["app_name"],
                  "app_namespace": w["app_namespace"], "who": who, "op_phase": w["op_phase"], "op_age": op_age,
                  "state": f"timed out ({w['message']})" if done else f"has waited {human_age(waited)}",
                  "freight": w["freight"] or "FREIGHT"}
        out.append(make_finding(
            "argocd-update-foreign-operation", Subject("Stage", w["namespace"], w["stage"]), params, ev,
            variant=variant, severity=severity,
            related=(Subject("Promotion", w["namespace"], w["name"]), Subject("Application", w["app_namespace"], w["app_name"])),
        ))
    for stage, promo, message in failures_caused_by(frames, "argocd-update-foreign-operation"):
        if (stage["namespace"], stage["name"]) in seen:
            continue
        ev, _alias, _uses, _ = _failure_evidence(stage, promo, message)
        m = re.search(r'initiated by "([^"]+)"', message)
        app = APP_IN_MESSAGE.search(message)
        params = {**_base_params(frames, stage), "app": app.group(1) if app else "APP",
                  "app_namespace": app.group(2) if app else frames.environment["argocd_namespace"],
                  "who": m.group(1) if m else "someone other than this Promotion", "op_phase": "Running",
                  "op_age": "an unknown time", "state": "failed waiting for it"}
        out.append(make_finding("argocd-update-foreign-operation", stage_subject(stage), params, ev, variant="person",
                                related=(Subject("Promotion", stage["namespace"], stage["last_promotion"]),)))
    return out


@rule("argocd-update-conflict", needs=("stages", "promotions", "applications"))
def argocd_update_conflict(frames) -> list[Finding]:
    """argocd-update lost a write race on the Application.

    **Symptom** The argocd-update step Errored with ``Operation cannot be fulfilled
    on applications.argoproj.io ...: the object has been modified``.
    **Evidence** The step's message, its retry configuration, and what else writes
    the Application (auto-sync, self-heal).
    **Fix** Give the step a retry (``errorThreshold``), stop other writers, promote again.
    """
    out = []
    for stage, promo, message in failures_caused_by(frames, "argocd-update-conflict"):
        ev, alias, _uses, index = _failure_evidence(stage, promo, message)
        params = _base_params(frames, stage)
        steps = (promo or {}).get("spec_steps") or []
        retry = (steps[index] or {}).get("retry") if index is not None and index < len(steps) else None
        threshold = (retry or {}).get("errorThreshold")
        ev.append(evidence((promo or stage)["source"], f"spec.steps[{index if index is not None else '?'}].retry",
                           f"errorThreshold={threshold}" if threshold else "not set (errorThreshold defaults to 1)"))
        related = [Subject("Promotion", stage["namespace"], stage["last_promotion"])]
        writers = ""
        app_name, app_ns = "APP", params["argocd_namespace"]
        if m := APP_IN_MESSAGE.search(message) or re.search(r'Argo CD Application "([^"]+)"()', message):
            app_name = m.group(1)
            app_ns = m.group(2) or app_ns
            related.append(Subject("Application", app_ns, app_name))
            app = _app_row(frames, app_name, app_ns)
            if app is not None and (app["auto_sync"] or app["self_heal"]):
                writers = "; the Application also has auto-sync" + (" with self-heal" if app["self_heal"] else "") + ", so Argo CD writes it too"
                ev.append(evidence(app["source"], "spec.syncPolicy.automated", f"selfHeal={app['self_heal']}"))
        i = message.find("Operation cannot be fulfilled")
        params.update(app=app_name, app_namespace=app_ns, step=alias, retry=threshold or 1, writers=writers,
                      message=message[i:] if i >= 0 else message,
                      step_index=index if index is not None else "STEP_INDEX")
        out.append(make_finding("argocd-update-conflict", stage_subject(stage), params, ev, related=tuple(related)))
    return out


@rule("argocd-update-revision-mismatch", needs=("stages", "promotions", "applications", "logs"))
def argocd_update_revision_mismatch(frames) -> list[Finding]:
    """The Application synced a revision other than the one the Promotion asked for.

    **Symptom** argocd-update keeps re-syncing until its timeout (``step ... timed
    out after``), or fails with ``sync result revisions [...] do not match desired
    revisions [...]``.
    **Evidence** The step's message, the controller's INFO lines ``sync result
    revision does not match desired revision`` for the Promotion, and the
    Application's synced revision.
    **Fix** Point the Application at the branch the Promotion writes, hard-refresh
    it (a stale repo-server cache serves the old commit), promote again.
    """
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for stage, promo, message in failures_caused_by(frames, "argocd-update-revision-mismatch"):
        seen.add((stage["namespace"], stage["name"]))
        ev, alias, _uses, _ = _failure_evidence(stage, promo, message)
        out.append(_mismatch_finding(frames, stage["namespace"], stage["name"], stage["last_promotion"],
                                     stage["last_promotion_freight"], message, ev))
    lines = frames.logs.filter(
        pl.col("promotion").is_not_null() & pl.col("message").str.contains(MISMATCH_LOG)
    ).group_by("promotion").agg(pl.len().alias("times"), pl.col("time").max().alias("last_seen"),
                                pl.col("source").first().alias("log_source"), pl.col("message").first().alias("log_message"))
    if lines.is_empty():
        return out
    last = frames.stages.select("namespace", pl.col("name").alias("stage"), "last_promotion", pl.col("source").alias("stage_source"))
    promos = (
        frames.promotions.join(lines, left_on="name", right_on="promotion")
        .join(last, on=["namespace", "stage"], how="left")
        .filter((pl.col("phase") == "Running") | (pl.col("name") == pl.col("last_promotion")) & pl.col("phase").is_in(["Errored", "Failed"]))
    )
    for p in rows(promos.sort("namespace", "stage", "name")):
        if (p["namespace"], p["stage"]) in seen:
            continue
        seen.add((p["namespace"], p["stage"]))
        ev = [evidence(p["source"], "status.phase", f"{p['phase']}" + (f": {p['message']}" if p["message"] else ""), p["finished_at"]),
              evidence(p["log_source"], f"log lines for Promotion {p['name']}",
                       f"{p['log_message']} (x{p['times']}, last at {iso(p['last_seen'])})", p["last_seen"])]
        out.append(_mismatch_finding(frames, p["namespace"], p["stage"], p["name"], p["freight"], p["message"] or p["log_message"], ev))
    return out


def _mismatch_finding(frames, namespace: str, stage: str, promotion: str, freight: str | None, message: str, ev: list) -> Finding:
    apps = stage_apps(frames).filter((pl.col("namespace") == namespace) & (pl.col("stage") == stage)).sort("app_name")
    first = apps.row(0, named=True) if apps.height else {}
    app_name = first.get("app_name") or "APP"
    app_ns = first.get("app_namespace") or frames.environment["argocd_namespace"]
    related = [Subject("Promotion", namespace, promotion)]
    synced = "unknown"
    app = _app_row(frames, app_name, app_ns)
    if app is not None:
        related.append(Subject("Application", app_ns, app_name))
        synced = app["sync_revision"] or "unknown"
        ev.append(evidence(app["source"], "status.sync.revision / status.operationState",
                           f"{synced}; last operation {app['op_phase']} for Promotion {app['op_promotion'] or '(none)'}", app["op_finished"]))
    return make_finding(
        "argocd-update-revision-mismatch", Subject("Stage", namespace, stage),
        {"namespace": namespace, "stage": stage, "promotion": promotion, "freight": freight or "FREIGHT",
         "app": app_name, "app_namespace": app_ns, "synced": synced, "message": message},
        ev, related=tuple(related),
    )


@rule("git-step-failed", needs=("stages", "promotions"))
def git_step_failed(frames) -> list[Finding]:
    """A git-clone, git-commit or git-push step failed.

    **Symptom** The Promotion Errored in a git step: the repository refused the
    credentials, a checkout path already existed, or the push was rejected as
    non-fast-forward (someone else pushed to the branch first).
    **Evidence** The failing step's kind and message, and the repository it used.
    **Fix** By cause: update the repository credentials; give every checkout its
    own path; promote again (the next clone includes the remote change).
    """
    out = []
    for stage, promo, message in failures_caused_by(frames, "git-step-failed"):
        ev, alias, uses, index = _failure_evidence(stage, promo, message)
        variant = next((name for name, pattern in GIT_VARIANTS if pattern.search(message)), "other")
        steps = (promo or {}).get("spec_steps") or []
        repo = next((s["config"]["repoURL"] for s in steps if s and s.get("config") and s["config"].get("repoURL")), None)
        if repo is None and (m := REPO_URL.search(message)):
            repo = m.group(1).rstrip("/.")
        if uses == "unknown" and (m := re.search(r'failed to run step "([a-z0-9-]+)"', message)):
            uses = m.group(1)
        params = {**_base_params(frames, stage), "step": alias, "uses": uses, "repo": repo or "REPO_URL",
                  "message": _git_core(message)}
        out.append(make_finding("git-step-failed", stage_subject(stage), params, ev, variant=variant,
                                related=(Subject("Promotion", stage["namespace"], stage["last_promotion"]),)))
    return out


GIT_OUTPUT = re.compile(r"(?:^|\n)\s*((?:fatal:|error:|remote:|! \[).*)", re.S)


def _git_core(message: str) -> str:
    """The part of a wrapped git error that says what went wrong: git's own output when it is there."""
    if m := GIT_OUTPUT.search(message):
        return m.group(1).strip()
    return re.sub(r'^(?:step "[^"]+"|step execution failed: step \d+) met error threshold of \d+: ', "", message)
