"""Argo CD sync failures (apply, CRDs, immutable fields, project, live state) and stale operation state.

Each rule reports the Stage a failed Promotion's argocd-update step blocks
when the Promotion's message wraps the Argo CD error, and otherwise the
Application whose own status shows it (see argocd_signals.report).
"""

from __future__ import annotations

import re

from analyzer.catalog import make_finding
from analyzer.findings import Finding, Subject
from analyzer.rules import rule
from analyzer.rules.argocd_signals import json_arg, report, stale_expr
from analyzer.rules.argocd_taxonomy import CRD, IMMUTABLE, LIVE, PROJECT, SYNC
from analyzer.rules.common import evidence, human_age, iso, rows, since

NEEDS = ("stages", "promotions", "applications", "logs")


@rule(SYNC, needs=NEEDS)
def sync_failed(frames) -> list[Finding]:
    """The Argo CD sync failed for a cause no more specific id names.

    **Symptom** The Application's last operation is Failed or Error (or waits to
    retry): an admission webhook denied an object, a hook Job failed, an apply
    or validation error, retries used up; a Promotion's argocd-update step fails
    with ``Argo CD Application ... failed with: one or more synchronization tasks
    completed unsuccessfully``.
    **Evidence** ``status.operationState.message`` and the failed tasks in
    ``syncResult.resources[]`` (status SyncFailed or hook phase Failed), the
    SyncError condition, the controller's log lines, the failed Promotion's step.
    An operation that is history (Synced, Healthy and reconciled since) is left
    to argocd-stale-operation-state.
    **Fix** Read the failed task's message and fix the object it names (webhook
    policy, hook Job, manifest), then sync or promote again.
    """
    return report(frames, SYNC)


@rule(CRD, needs=NEEDS)
def crd_missing(frames) -> list[Finding]:
    """A sync applies a kind the cluster does not serve: its CRD is missing.

    **Symptom** A failed task reads ``the server could not find the requested
    resource`` or, since v2.8, ``The Kubernetes API could not find <group>/<Kind>
    ... Make sure the "<crd>" CRD is installed on the destination cluster``
    (``no matches for kind`` from older tools); the operation says ``one or more
    synchronization tasks are not valid``.
    **Evidence** The failed task in ``syncResult.resources[]`` (its group and
    kind), the operation message, the Promotion that wraps it, the controller's
    ``Adding resource result`` log line.
    **Fix** Install the CRD first: an earlier sync wave, or the operator in an
    earlier Stage than its users; ``SkipDryRunOnMissingResource=true`` for
    custom resources synced with their CRD. Then sync or promote again.
    """
    return report(frames, CRD)


@rule(IMMUTABLE, needs=NEEDS)
def field_immutable(frames) -> list[Finding]:
    """Applying a manifest changes an immutable field; the object must be replaced.

    **Symptom** A failed task (or a server-side diff) reads ``... is invalid:
    spec.selector: Invalid value: ...: field is immutable`` (or a StatefulSet's
    ``Forbidden: updates to statefulset spec for fields other than ...``), every
    retry fails the same way.
    **Evidence** The failed task and its object, the operation message, the
    Promotion that wraps it.
    **Fix** Mark the resource ``argocd.argoproj.io/sync-options:
    Force=true,Replace=true`` in git, or delete it once, then sync or promote again.
    """
    return report(frames, IMMUTABLE)


def _project_patch(scope: str, failure, base: dict) -> dict:
    """The AppProject JSON patch that allows what the message names."""
    sig = getattr(failure, "task", None) if scope == "stage" else next(
        (s for s in failure.signals if s.get("resource")), failure.signals[0])
    message = (getattr(failure, "argo_message", None) if scope == "stage" else failure.signals[0]["message"]) or ""
    if sig and sig.get("message"):
        message = sig["message"]
    category = (sig or {}).get("category") or (getattr(failure, "category", "") if scope == "stage" else "") or "resource"
    if category == "repo" and (m := re.search(r"(?:application repo|helm repos?|source repo) (\S+) (?:is|are) not permitted", message)):
        patch = [{"op": "add", "path": "/spec/sourceRepos/-", "value": m.group(1).strip("'\"")}]
    elif category == "destination":
        m = re.search(r"destination server '([^']*)' and namespace '([^']*)'", message)
        server, namespace = (m.group(1), m.group(2)) if m else (base["server"], base["dest_namespace"])
        patch = [{"op": "add", "path": "/spec/destinations/-", "value": {"server": server, "namespace": namespace}}]
    else:
        m = re.search(r"resource ([^\s:]*):(\S+) is not permitted", message)
        group, kind = (m.group(1), m.group(2)) if m else ((sig or {}).get("res_group") or "", (sig or {}).get("res_kind") or base["kind"])
        scoped = (sig or {}).get("res_namespace")
        target = "namespaceResourceWhitelist" if scoped else "clusterResourceWhitelist"
        patch = [{"op": "add", "path": f"/spec/{target}/-", "value": {"group": group, "kind": kind}}]
    if m := re.search(r"in project '?([a-z0-9.-]+)", message):
        base = {**base, "project": m.group(1)}
    return {"project_patch": json_arg(patch), "project": base["project"]}


@rule(PROJECT, needs=NEEDS)
def project_denied(frames) -> list[Finding]:
    """The Application's AppProject does not permit its source, destination or a resource kind.

    **Symptom** An ``InvalidSpecError`` condition (``application destination ...
    do not match any of the allowed destinations in project``, ``application repo
    ... is not permitted in project``, ``Application referencing project ...
    which does not exist``) with sync and health Unknown, or a sync task failing
    with ``resource :Namespace is not permitted in project ...``.
    **Evidence** The condition or failed task, the operation message, the
    Promotion that wraps it.
    **Fix** Allow it in the AppProject (sourceRepos, destinations, resource
    whitelists), or create the missing project, then refresh or promote again.
    """
    def variant(scope: str, category: str) -> str:
        return f"{scope}-missing" if category == "missing" else scope

    return report(frames, PROJECT, variant=variant, params=_project_patch)


@rule(LIVE, needs=NEEDS)
def live_state_failed(frames) -> list[Finding]:
    """Argo CD cannot read the destination cluster's live state.

    **Symptom** A ComparisonError ``Failed to load live state: failed to get
    cluster info for "...": error synchronizing cache state : ...`` (forbidden to
    list a kind, API server or APIService unavailable) or ``failed to get cluster
    version for cluster``; sync status Unknown.
    **Evidence** The condition or operation message, the Promotion that wraps
    it, the controller's log lines.
    **Fix** Repair what the message names: the controller's RBAC on the
    destination, the unavailable APIService, the cluster Secret; then refresh.
    """
    return report(frames, LIVE)


@rule("argocd-stale-operation-state", needs=("applications",))
def stale_operation_state(frames) -> list[Finding]:
    """An old failed operationState on an Application that is now Synced and Healthy.

    **Symptom** ``status.operationState.phase`` is Failed or Error, yet the
    Application is Synced and Healthy.
    **Evidence** ``operationState.finishedAt`` earlier than ``status.reconciledAt``
    (the Application was reconciled after that operation), current sync and health.
    **Fix** None: it is history. Said so that nobody chases it.
    """
    stale = frames.applications.filter(stale_expr())
    out = []
    for a in rows(stale.sort("namespace", "name")):
        out.append(make_finding(
            "argocd-stale-operation-state", Subject("Application", a["namespace"], a["name"]),
            {"phase": a["op_phase"], "age": human_age(since(frames.now, a["op_finished"])),
             "reconciled_ago": human_age(since(frames.now, a["reconciled_at"])),
             "sync": a["sync_status"], "health": a["health_status"], "app": a["name"], "namespace": a["namespace"]},
            [
                evidence(a["source"], "status.operationState", f"{a['op_phase']} finishedAt={iso(a['op_finished'])}: {a['op_message'] or ''}", a["op_finished"]),
                evidence(a["source"], "status.reconciledAt", f"{iso(a['reconciled_at'])}", a["reconciled_at"]),
                evidence(a["source"], "status.sync.status / status.health.status", f"{a['sync_status']} / {a['health_status']}"),
            ],
        ))
    return out
