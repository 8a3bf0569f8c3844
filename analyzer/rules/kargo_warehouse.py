"""Warehouses: discovery failures, and newest artifacts that produced no new Freight.

Facts per Kargo version (pkg/controller/warehouses, pkg/controller/git):
discovery and the Freight id use the commit SHA, never the tree hash, so an
empty commit makes new Freight unless includePaths/excludePaths (an empty diff
matches no path) or an expressionFilter skip it; ``FreightCreated=False/
AlreadyExists`` only says the newest artifacts already form a Freight; from
v1.11 ``discoveredArtifacts.git[].observedRefs.branchHead`` is the unfiltered
branch tip.
"""

from __future__ import annotations

import re

import polars as pl

from analyzer.catalog import make_finding
from analyzer.findings import Finding, Subject
from analyzer.rules import rule
from analyzer.rules.common import evidence, human_age, iso, rows, since

DISCOVERY_READY = ("DiscoveryFailure", "MissingArtifacts", "MissingCommits", "MissingImageReferences", "MissingChartVersions")
DISCOVERY_HEALTHY = ("DiscoveryFailed", "NoCommitsDiscovered", "NoImageReferencesDiscovered", "NoChartVersionsDiscovered",
                     "MissingArtifacts")
NOTHING_MATCHED = ("MissingArtifacts", "MissingCommits", "MissingImageReferences", "MissingChartVersions",
                   "NoCommitsDiscovered", "NoImageReferencesDiscovered", "NoChartVersionsDiscovered")
CREDENTIALS = re.compile(
    r"authentication required|authentication failed|unauthorized|\b401\b|\b403\b|forbidden|access denied|denied:"
    r"|could not read Username|terminal prompts disabled|Permission denied|no basic auth credentials"
    r"|invalid username or password|Repository not found|error getting credentials", re.I)
NOT_FOUND = re.compile(r"manifest[ _]unknown|name[ _]unknown|not known to registry|not found|does not exist|\b404\b"
                       r"|no such host|unknown revision|couldn't find remote ref", re.I)
REPO_IN_MESSAGE = re.compile(r'"((?:https?|ssh|oci)://[^"]+|git@[^"]+|[a-z0-9.-]+\.[a-z]{2,}(?::\d+)?/[^"\s]+)"'
                             r"|repo URL ([^\s:]+(?::\d+)?[^\s:]*):")
TOOL_OUTPUT = re.compile(r"(?:^|\n)\s*((?:fatal:|remote:|error:).*)", re.S)


def _direct_stages(frames, namespace: str, warehouse: str) -> list[str]:
    hit = frames.stages.filter(
        (pl.col("namespace") == namespace) & pl.col("direct") & pl.col("warehouses").list.contains(warehouse))
    return sorted(hit.get_column("name").to_list())


@rule("warehouse-discovery-failed", needs=("warehouses", "stages"))
def warehouse_discovery_failed(frames) -> list[Finding]:
    """The Warehouse cannot discover artifacts.

    **Symptom** No new Freight appears; the Warehouse is ``Ready=False`` with
    ``DiscoveryFailure`` (or ``Healthy=False`` with ``DiscoveryFailed`` / ``No...Discovered``).
    **Evidence** The Warehouse's Ready and Healthy conditions (the wrapped
    discovery error), its subscriptions, and the Stages that take Freight from it.
    **Fix** By cause: fix the repository credentials, the repository URL or the
    tag/branch selection; then refresh the Warehouse.
    """
    bad = frames.warehouses.filter(
        pl.col("ready_reason").is_in(DISCOVERY_READY) | pl.col("healthy_reason").is_in(DISCOVERY_HEALTHY))
    out = []
    for w in rows(bad.sort("namespace", "name")):
        message = w["ready_message"] or w["healthy_message"] or ""
        reasons = {w["ready_reason"], w["healthy_reason"]}
        if CREDENTIALS.search(message):
            variant = "credentials"
        elif reasons & set(NOTHING_MATCHED) and not reasons & {"DiscoveryFailure", "DiscoveryFailed"}:
            variant = "nothing-matched"
        elif NOT_FOUND.search(message):
            variant = "not-found"
        else:
            variant = "other"
        m = REPO_IN_MESSAGE.search(message)
        repo = (m.group(1) or m.group(2)) if m else (w["subscriptions"] or ["REPO_URL"])[0]
        lowered = message.lower()
        cred_type = ("image" if "image" in lowered else "helm" if ("chart" in lowered or "helm" in lowered)
                     else "git" if ("git" in lowered or "commit" in lowered) else "git")
        ev = []
        if w["ready_reason"]:
            ev.append(evidence(w["source"], "status.conditions[Ready]", f"{w['ready_status']} {w['ready_reason']}: {w['ready_message'] or ''}", w["ready_since"]))
        if w["healthy_reason"] and w["healthy_reason"] != w["ready_reason"]:
            ev.append(evidence(w["source"], "status.conditions[Healthy]", f"{w['healthy_status']} {w['healthy_reason']}: {w['healthy_message'] or ''}", w["healthy_since"]))
        ev.append(evidence(w["source"], "spec.subscriptions", ", ".join(w["subscriptions"] or []) or "(none)"))
        stages = _direct_stages(frames, w["namespace"], w["name"])
        failing = human_age(since(frames.now, w["ready_since"] or w["healthy_since"]))
        out.append(make_finding(
            "warehouse-discovery-failed", Subject("Warehouse", w["namespace"], w["name"]),
            {"namespace": w["namespace"], "warehouse": w["name"], "message": _core(message), "repo": repo,
             "cred_type": cred_type, "since": failing,
             "controller_namespace": frames.environment["kargo_controller_namespace"],
             "stages": ", ".join(stages) or "no Stage takes Freight directly from it"},
            ev, variant=variant,
            related=tuple(Subject("Stage", w["namespace"], s) for s in stages),
        ))
    return out


def _core(message: str) -> str:
    """The part of a wrapped discovery error that says what went wrong: git's own output when it is there."""
    if m := TOOL_OUTPUT.search(message):
        return m.group(1).strip()
    return re.sub(r"^(?:(?:Artifact discovery failed|Unable to discover artifacts|error discovering artifacts): )+", "", message)


@rule("warehouse-no-new-freight", needs=("warehouses", "freight"))
def warehouse_no_new_freight(frames) -> list[Finding]:
    """The newest artifacts produced no new Freight.

    **Symptom** A commit or image was pushed (and often the Warehouse refreshed),
    yet no Freight appears.
    **Evidence** ``FreightCreated=False/AlreadyExists``, the newest selected commit
    next to the branch tip (``observedRefs.branchHead``, v1.11+), the
    subscription's includePaths/excludePaths/expressionFilter, the
    ``FreightCreationCriteriaSatisfied`` condition, the creation policy.
    Freight is deduplicated by commit SHA, not by tree: an empty commit does make
    new Freight unless a path or expression filter skips it.
    **Fix** By cause: change the filters or commit under an included path; fix the
    creation criteria; create the Freight by hand under the Manual policy; push a
    new commit.
    """
    refresh_window = frames.settings.warehouse_refresh_window.total_seconds()
    tip_skipped = pl.col("discovered_git").list.eval(
        pl.element().struct.field("branch_head").is_not_null()
        & pl.element().struct.field("newest").is_not_null()
        & (pl.element().struct.field("branch_head") != pl.element().struct.field("newest"))
    ).list.any().fill_null(False)
    recent_refresh = pl.col("refreshed_at").is_not_null() & (frames.age_seconds("refreshed_at") <= refresh_window)
    candidates = frames.warehouses.filter(
        ~pl.col("ready_reason").is_in(DISCOVERY_READY).fill_null(False)
        & (
            tip_skipped
            | (pl.col("criteria_status") == "False")
            | (pl.col("freight_creation_policy") == "Manual")
            | ((pl.col("freightcreated_reason") == "AlreadyExists") & recent_refresh)
        )
    ).with_columns(tip_skipped.alias("tip_skipped"), recent_refresh.alias("recent_refresh"))
    out = []
    for w in rows(candidates.sort("namespace", "name")):
        finding = _no_new_freight(frames, w)
        if finding is not None:
            out.append(finding)
    return out


def _no_new_freight(frames, w: dict) -> Finding | None:
    own = frames.freight.filter((pl.col("namespace") == w["namespace"]) & (pl.col("warehouse") == w["name"]))
    known_commits = set(c for ids in own.get_column("commit_ids").to_list() for c in (ids or []))
    last = own.filter(pl.col("name") == w["last_freight_id"]) if w["last_freight_id"] else own.head(0)
    if last.is_empty() and own.height:
        last = own.sort("created", descending=True).head(1)
    last_row = last.row(0, named=True) if last.height else None
    last_text = f"{last_row['name']} ({last_row['alias'] or 'no alias'})" if last_row else (w["last_freight_id"] or "none")
    subs = {s["repoURL"]: s for s in (w["git_subscriptions"] or []) if s}
    discovered = [d for d in (w["discovered_git"] or []) if d]
    ev = []
    if w["freightcreated_reason"]:
        ev.append(evidence(w["source"], "status.conditions[FreightCreated]", f"{w['freightcreated_status']} {w['freightcreated_reason']}: {w['freightcreated_message'] or ''}", w["freightcreated_since"]))
    params = {"namespace": w["namespace"], "warehouse": w["name"], "last": last_text, "filters": "", "head": "", "why": "",
              "newest": "", "repo": "", "branch": "", "refresh": "", "criteria": w["freight_creation_criteria"] or "(none)"}
    if w["recent_refresh"]:
        params["refresh"] = f"a refresh {human_age(since(frames.now, w['refreshed_at']))} before collection found nothing new; "
        ev.append(evidence(w["source"], "status.lastHandledRefresh", w["last_handled_refresh"], w["refreshed_at"]))
    severity = None
    if w["criteria_status"] == "False":
        variant = "criteria"
        ev.append(evidence(w["source"], "status.conditions[FreightCreationCriteriaSatisfied]", f"False {w['criteria_reason']}: {w['criteria_message'] or ''}", w["criteria_since"]))
        ev.append(evidence(w["source"], "spec.freightCreationCriteria.expression", params["criteria"]))
    elif w["tip_skipped"]:
        variant = "filtered"
        d = next(d for d in discovered if d["branch_head"] and d["branch_head"] != d["newest"])
        sub = subs.get(d["repoURL"], {})
        params.update(head=d["branch_head"], newest=d["newest"], repo=d["repoURL"], branch=sub.get("branch") or "its branch",
                      filters=_filters_text(sub),
                      why=" (a commit that changes no matching path is skipped, and an empty commit changes none)"
                      if sub.get("includePaths") or sub.get("excludePaths") else " (the expression rejects them)")
        ev.append(evidence(w["source"], "status.discoveredArtifacts.git[].observedRefs.branchHead", d["branch_head"], w["discovered_at"]))
        ev.append(evidence(w["source"], "status.discoveredArtifacts.git[].commits[0]", f"{d['newest']} {d['newest_subject'] or ''}", w["discovered_at"]))
        ev.append(evidence(w["source"], "spec.subscriptions[].git", params["filters"] or "no includePaths, excludePaths or expressionFilter"))
        if not _has_filters(sub):
            return None  # not a filter: the selection strategy or discoveryLimit picked another commit
        severity = None if w["recent_refresh"] else "info"
    elif w["freight_creation_policy"] == "Manual":
        newest = [d["newest"] for d in discovered if d["newest"]]
        if not newest or all(c in known_commits for c in newest):
            return None
        variant = "manual"
        params.update(newest=", ".join(newest))
        ev.append(evidence(w["source"], "spec.freightCreationPolicy", "Manual"))
        ev.append(evidence(w["source"], "status.discoveredArtifacts.git[].commits[0]", params["newest"], w["discovered_at"]))
        severity = "info"
    else:
        variant = "already-exists"
        d = discovered[0] if discovered else {}
        sub = subs.get(d.get("repoURL"), {}) if d else {}
        params.update(newest=d.get("newest") or "unknown", repo=d.get("repoURL") or "", branch=sub.get("branch") or "its branch")
        if _has_filters(sub) or w["has_path_filters"] or w["has_expression_filter"]:
            params["filters"] = (f"its subscription has {_filters_text(sub)}: a commit that changes no matching path "
                                 "(an empty commit changes none) or fails the filter is skipped")
        else:
            params["filters"] = ("Freight is keyed by commit SHA, so any new commit on the branch, even an empty one, "
                                 "would have made new Freight: no newer commit was there when discovery ran")
        if d:
            ev.append(evidence(w["source"], "status.discoveredArtifacts.git[].commits[0]", f"{d.get('newest')} {d.get('newest_subject') or ''}", w["discovered_at"]))
        severity = "info"
    if last_row:
        ev.append(evidence(last_row["source"], f"Freight {last_row['name']}", f"created {iso(last_row['created'])}", last_row["created"]))
    return make_finding("warehouse-no-new-freight", Subject("Warehouse", w["namespace"], w["name"]), params, ev,
                        variant=variant, severity=severity)


def _has_filters(sub: dict) -> bool:
    return bool(sub and (sub.get("includePaths") or sub.get("excludePaths") or sub.get("expressionFilter")))


def _filters_text(sub: dict) -> str:
    parts = []
    if sub.get("includePaths"):
        parts.append("includePaths " + ", ".join(sub["includePaths"]))
    if sub.get("excludePaths"):
        parts.append("excludePaths " + ", ".join(sub["excludePaths"]))
    if sub.get("expressionFilter"):
        parts.append(f"expressionFilter {sub['expressionFilter']!r}")
    return "; ".join(parts)
