"""P1-P4: may this Freight be promoted to this Stage now, how, and what comes after.

P1 evaluates every "DO NOT PROMOTE IF" rule of the playbook on the bundle:

1. the target Stage has a Running (or Pending) Promotion: wait for it;
2. the target Stage has an Errored (or Failed) Promotion for this Freight: fix first;
3. no upstream Stage has verified this Freight (Freight ``status.verifiedIn``;
   ``approvedFor`` the target counts, a Warehouse-direct Stage needs none);
4. the target's Argo CD Applications are syncing.

and two more that make any Promotion fail or go unrecorded: an Application the
Stage promotes does not authorize it (the setup lint's rule), or the diagnosis
names a blocking fault of the Stage (a poisoned promotion history, a reconcile
error, an unreachable repo-server, a stuck Argo CD operation, a controller down). Verdict: NO-GO when a rule is broken,
UNKNOWN when one cannot be evaluated (its data was not collected), else GO;
exit codes 0 / 1 / 3.

P2 says how to promote (auto-promotion, the Kargo UI, the Kargo CLI; never a
Promotion created with kubectl), P3 where a running Promotion stands in the
expected progression, P4 the post-promotion checklist, evaluated when the
bundle already shows the Freight on the Stage.
"""

from __future__ import annotations

import shlex
from bisect import bisect_left
from dataclasses import dataclass

import polars as pl

from analyzer.findings import Evidence
from analyzer.modes.architecture import auto_promotion, freight_label
from analyzer.modes.common import (coverage, duration_seconds, first_rows, freight_relations, grouped_rows, rows_by, say,
                                   stage_apps)
from analyzer.modes.output import Header, header
from analyzer.rules.common import FAILED_PROMOTION, TERMINAL_PROMOTION, evidence, human_age, iso, since

GO, NO_GO, UNKNOWN = "GO", "NO-GO", "UNKNOWN"
EXIT_CODES = {GO: 0, NO_GO: 1, UNKNOWN: 3}
OK, BLOCKED, UNKNOWN_RULE = "ok", "blocked", "unknown"
MARKS = {OK: "[x]", BLOCKED: "[ ]", UNKNOWN_RULE: "[?]"}
WORDS = {OK: "", BLOCKED: " NO-GO", UNKNOWN_RULE: " UNKNOWN"}
SLOW_AFTER_SECONDS = 600  # the playbook's P3: a Promotion past 10 minutes needs a look


class PromoteError(ValueError):
    """The Stage asked for is not in the bundle."""


@dataclass(frozen=True)
class RuleResult:
    id: str
    label: str  # the playbook's line
    status: str  # ok | blocked | unknown
    detail: str
    action: str
    evidence: tuple[Evidence, ...]
    mark: str
    word: str


def _rule(ident: str, status: str, detail: str, action: str = "", ev=()) -> RuleResult:
    return RuleResult(ident, say(f"promote.rule.{ident}"), status, detail, action, tuple(ev), MARKS[status], WORDS[status])


@dataclass(frozen=True)
class Method:
    name: str
    text: str
    command: str  # a URL or a command line; "" when there is none


@dataclass(frozen=True)
class ProgressLine:
    what: str  # Promotion, Argo CD <app>, Stage
    expected: str  # the playbook's progression
    now: str


@dataclass(frozen=True)
class Progress:
    promotion: str
    phase: str
    age: str
    step: str
    lines: tuple[ProgressLine, ...]
    slow: bool
    checklist: tuple[str, ...]  # what to look at when it is slow
    watch: tuple[str, ...]  # commands that show it moving


@dataclass(frozen=True)
class PostCheck:
    label: str
    status: str  # PASS, FAIL, TODO (evaluate after promoting)
    detail: str
    command: str


@dataclass(frozen=True)
class PromoteContext:
    header: Header
    namespace: str
    project: str
    stage: str
    freight: str | None
    freight_label: str
    freight_choice: str  # how the Freight was chosen
    upstream: tuple[str, ...]
    verdict: str
    exit_code: int
    rules: tuple[RuleResult, ...]
    methods: tuple[Method, ...]
    progress: Progress | None
    post: tuple[PostCheck, ...]
    already_current: bool


# ------------------------------------------------------------------ all-Stage tables
# A report checks every Stage. What the checks read is worked out here for all Stages at once, in a
# few polars operations memoized per Frames, so that one check is dict lookups over its own few rows.

def _counts(frame: pl.DataFrame, keys: list[str]) -> dict[tuple, int]:
    return {tuple(r[:-1]): r[-1] for r in frame.group_by(keys).len().iter_rows()}


def _namespaced(frame: pl.DataFrame) -> pl.DataFrame:
    """An object without a namespace (pasted input) is in no project's lookups."""
    return frame.filter(pl.col("namespace").is_not_null())


_FREIGHT_COLUMNS = ("namespace", "name", "alias", "warehouse", "source", "created")


def _freight_in(frames, ns: str | None) -> list[dict]:
    """The Freight of namespace ``ns``, in the frame's order."""
    by_namespace = frames.derived("promote-freight", lambda f: grouped_rows(
        _namespaced(f.freight).select(_FREIGHT_COLUMNS), ["namespace"]))
    return by_namespace.get((ns,), [])


def _freight_named(frames, ns: str | None, name: str) -> dict | None:
    """The first Freight called ``name`` in namespace ``ns``."""
    firsts = frames.derived("promote-freight-by-name", lambda f: first_rows(
        _namespaced(f.freight).select(_FREIGHT_COLUMNS), ["namespace", "name"]))
    return firsts.get((ns, name))


def _requested_warehouses(frames) -> pl.DataFrame:
    """(namespace, stage, warehouses): the Warehouses named in each Stage's requested Freight (its first extras row)."""
    extras = frames.stage_extras
    if extras.is_empty():
        return pl.DataFrame(schema={"namespace": pl.String, "stage": pl.String, "warehouses": pl.List(pl.String)})
    warehouse = pl.element().struct.field("warehouse")
    return extras.unique(["namespace", "name"], keep="first", maintain_order=True).select(
        "namespace", pl.col("name").alias("stage"),
        pl.col("requested").list.eval(warehouse.filter(warehouse.is_not_null() & (warehouse != ""))).alias("warehouses"))


def _default_freight(frames) -> dict[tuple, dict]:
    """(namespace, Stage) -> the Freight proposed when none is named: the newest of the Stage's requested
    Warehouses (of any Warehouse when it names none) that an upstream Stage verified or that is approved for
    the Stage; the newest of them all when the Stage takes Freight straight from a Warehouse."""
    return frames.derived("promote-default-freight", _newest_eligible_freight)


def _newest_eligible_freight(frames) -> dict[tuple, dict]:
    freight = _namespaced(frames.freight).select(_FREIGHT_COLUMNS).with_row_index("freight_row")
    status = _namespaced(frames.freight_status)
    stages = _namespaced(frames.stages).select(
        "namespace", pl.col("name").alias("stage"), "upstream_stages",
        (pl.col("direct").fill_null(False) | (pl.col("upstream_stages").list.len().fill_null(0) == 0)).alias("from_warehouse"),
    ).join(_requested_warehouses(frames), on=["namespace", "stage"], how="left")
    from_upstream = stages.filter(~pl.col("from_warehouse"))
    verified_upstream = (
        from_upstream.select("namespace", "stage", pl.col("upstream_stages").alias("upstream")).explode("upstream")
        .join(status.filter(pl.col("relation") == "verifiedIn")
              .select("namespace", pl.col("stage").alias("upstream"), pl.col("freight").alias("name")), on=["namespace", "upstream"])
        .select("namespace", "stage", "name")
    )
    approved = status.filter(pl.col("relation") == "approvedFor").select("namespace", "stage", pl.col("freight").alias("name"))
    verified = pl.concat([verified_upstream, approved]).unique()
    columns = ["namespace", "stage", "warehouses", *_FREIGHT_COLUMNS[1:], "freight_row"]
    candidates = pl.concat([
        stages.filter("from_warehouse").join(freight, on="namespace").select(columns),
        from_upstream.join(verified, on=["namespace", "stage"]).join(freight, on=["namespace", "name"]).select(columns),
    ])
    wanted = pl.col("warehouses")
    newest_first = (
        candidates.filter((wanted.list.len().fill_null(0) == 0) | wanted.list.contains(pl.col("warehouse")))
        .sort(["created", "freight_row"], descending=[True, False])  # undated first, then the frame's order
    )
    return first_rows(newest_first, ["namespace", "stage"])


def _freight_status_times(frames, ns: str | None, freight: str, relation: str, stage: str | None) -> list:
    """When the Freight's status says ``relation`` (verifiedIn, approvedFor, currentlyIn) for ``stage``:
    one time per status row, in the frame's order."""
    table = frames.derived("promote-freight-status", lambda f: {
        tuple(r[:-1]): r[-1] for r in _namespaced(f.freight_status)
        .group_by(["namespace", "freight", "relation", "stage"], maintain_order=True).agg("at").iter_rows()})
    return table.get((ns, freight, relation, stage), []) if stage is not None else []


@dataclass(frozen=True)
class _StagePromotions:
    """Every Stage's Promotions as promote-check reads them, keyed by (namespace, stage)."""

    count: dict[tuple, int]
    active: dict[tuple, dict]  # the oldest Pending or Running one (a phase not yet set is Pending)
    active_count: dict[tuple, int]
    last_finished: dict[tuple, dict]  # (namespace, stage, freight) -> the newest finished one of that Freight
    stages_by_freight: dict[tuple, set[str]]  # (namespace, freight) -> the Stages with a Promotion of it


def _stage_promotions(frames) -> _StagePromotions:
    return frames.derived("promote-stage-promotions", _build_stage_promotions)


def _build_stage_promotions(frames) -> _StagePromotions:
    # Promotions without a namespace stay: a Stage without one (pasted input) shares their (None, stage) key.
    numbered = frames.promotions.with_row_index("promotion_row")
    active = (numbered.with_columns(pl.col("phase").fill_null("Pending"))
              .filter(~pl.col("phase").is_in(TERMINAL_PROMOTION))
              .sort(["created", "promotion_row"]))
    finished = (numbered.filter(pl.col("phase").is_in(TERMINAL_PROMOTION) & pl.col("freight").is_not_null())
                .sort(["created", "name", "promotion_row"], descending=[True, True, False])
                .select("namespace", "stage", "freight", "name", "source", "phase", "message", "finished_at"))
    started = (_namespaced(frames.promotions).filter(pl.col("freight").is_not_null() & pl.col("stage").is_not_null())
               .group_by(["namespace", "freight"]).agg(pl.col("stage").unique()))
    keys = ["namespace", "stage"]
    return _StagePromotions(
        count=_counts(frames.promotions, keys),
        active=first_rows(active, keys),
        active_count=_counts(active, keys),
        last_finished=first_rows(finished, [*keys, "freight"]),
        stages_by_freight={(ns, freight): set(stages) for ns, freight, stages in started.iter_rows()},
    )


def _apps_of(frames, ns: str | None, stage: str) -> list[dict]:
    """Each Application the Stage's argocd-update steps name, once, with what promote-check reads of its state."""
    return frames.derived("promote-stage-apps", _build_apps_by_stage).get((ns, stage), [])


def _build_apps_by_stage(frames) -> dict[tuple, list[dict]]:
    apps = (_namespaced(stage_apps(frames))
            .unique(["namespace", "stage", "app_namespace", "app_name"], keep="first", maintain_order=True)
            .select("namespace", "stage", "app_namespace", "app_name"))
    states = _namespaced(frames.applications).select(
        pl.col("namespace").alias("app_namespace"), pl.col("name").alias("app_name"),
        pl.col("source").alias("app_source"), "sync_status", "health_status", "op_phase", "op_message", "op_started",
        "op_initiated_by", "operation_requested", "requested_by")
    joined = apps.join(states, on=["app_namespace", "app_name"], how="left", maintain_order="left")
    return grouped_rows(joined, ["namespace", "stage"])


def _downstream_of(frames, ns: str | None, stage: str) -> list[dict]:
    """The Stages of ``ns`` that take Freight from ``stage``, in the frame's order."""
    table = frames.derived("promote-downstream", lambda f: grouped_rows(
        _namespaced(f.stages).with_row_index("stage_row")
        .select("stage_row", "namespace", "name", "auto_promotion_enabled", pl.col("upstream_stages").alias("upstream"))
        .explode("upstream")
        .unique(["stage_row", "upstream"], keep="first", maintain_order=True),  # an upstream named twice counts once
        ["namespace", "upstream"]))
    return table.get((ns, stage), [])


def _namespace_events(frames, ns: str | None) -> tuple[int, dict | None]:
    """(how many Events namespace ``ns`` has, its Warnings: count, the newest, and the dated ones' times)."""
    def build(f) -> tuple[dict, dict]:
        events = _namespaced(f.events).with_row_index("event_row")
        dated = pl.col("last_seen").is_not_null()
        newest_first = events.filter(pl.col("type") == "Warning").sort(["last_seen", "event_row"], descending=[True, False])
        warnings = newest_first.group_by("namespace", maintain_order=True).agg(
            pl.len().alias("count"),
            pl.struct("reason", "message").first().alias("newest"),  # an undated Warning sorts first
            pl.struct("reason", "message").filter(dated).first().alias("newest_dated"),
            pl.col("last_seen").drop_nulls().sort().alias("dated_ascending"),
        )
        return _counts(events, ["namespace"]), {r["namespace"]: r for r in warnings.iter_rows(named=True)}

    counts, warnings = frames.derived("promote-namespace-events", build)
    return counts.get((ns,), 0), warnings.get(ns)


def _warnings_since(warnings: dict | None, since_time) -> tuple[int, dict | None]:
    """How many of a namespace's Warnings were seen at or after ``since_time`` (all when None), and the newest."""
    if warnings is None:
        return 0, None
    if since_time is None:
        return warnings["count"], warnings["newest"]
    dated = warnings["dated_ascending"]
    return len(dated) - bisect_left(dated, since_time), warnings["newest_dated"]


def _authorization_findings(frames, ns: str | None, stage: str) -> list:
    """The setup lint's authorized-stage findings about the Stage."""
    from analyzer.rules.setup_lint import authorized_stage  # the lint rule owns the annotation semantics

    def build(f) -> dict[tuple, list]:
        out: dict[tuple, list] = {}
        for finding in f.derived("authorized-stage", authorized_stage):
            out.setdefault((finding.subject.namespace, finding.subject.name), []).append(finding)
        return out

    return frames.derived("promote-authorized-by-stage", build).get((ns, stage), [])


def _soak_seconds(frames, soak: str) -> int | None:
    memo = frames.derived("promote-soak-seconds", lambda f: {})
    if soak not in memo:
        memo[soak] = pl.select(duration_seconds(pl.lit(soak))).item()
    return memo[soak]


# ------------------------------------------------------------------ Freight

def _freight_matches(row: dict, wanted: str) -> bool:
    """``wanted`` is the Freight's name, alias, or a 7+ character prefix of its name."""
    return row["name"] == wanted or row["alias"] == wanted or (
        len(wanted) >= 7 and row["name"] is not None and row["name"].startswith(wanted))


def _resolve_freight(frames, ns: str, stage: dict, extras: dict, wanted: str | None) -> tuple[str | None, str, list[Evidence]]:
    freight = _freight_in(frames, ns)
    if wanted:
        hit = [r for r in freight if _freight_matches(r, wanted)]
        if len(hit) == 1:
            r = hit[0]
            return r["name"], say("promote.freight.given", freight=wanted), [evidence(r["source"], "Freight", f"{r['name']} ({r['alias'] or 'no alias'})", r["created"])]
        return wanted, say("promote.freight.given-unknown", freight=wanted), []
    warehouses = [r["warehouse"] for r in extras.get("requested") or [] if r.get("warehouse")]
    upstream = stage["upstream_stages"] or []
    how = "promote.freight.newest-direct" if stage["direct"] or not upstream else "promote.freight.newest-verified"
    r = _default_freight(frames).get((ns, stage["name"]))
    if r is None:
        if not coverage(frames, "freights.kargo.akuity.io", ns, present=len(freight) > 0).known:
            return None, say("promote.freight.unknown"), []
        return None, say("promote.freight.none", upstream=", ".join(upstream) or ", ".join(warehouses) or "?"), []
    return r["name"], say(how, upstream=", ".join(upstream), warehouse=", ".join(warehouses) or "?"), [
        evidence(r["source"], "Freight (newest eligible)", f"{r['name']} ({r['alias'] or 'no alias'})", r["created"])]


# ------------------------------------------------------------------ P1 rules

def rule_running(frames, ns: str, s: dict, bundle: str) -> RuleResult:
    promotions = _stage_promotions(frames)
    p = promotions.active.get((ns, s["name"]))
    if p:
        start = p["started_at"] or p["created"]
        return _rule("running", BLOCKED, say("promote.running.blocked", promotion=p["name"], phase=p["phase"],
                                              age=human_age(since(frames.now, start)), count=promotions.active_count[(ns, s["name"])]),
                     say("promote.running.action"), [evidence(p["source"], "status.phase", p["phase"], start)])
    if s["current_promotion"]:
        return _rule("running", BLOCKED, say("promote.running.current", promotion=s["current_promotion"]),
                     say("promote.running.action"), [evidence(s["source"], "status.currentPromotion.name", s["current_promotion"])])
    count = promotions.count.get((ns, s["name"]), 0)
    cov = coverage(frames, "promotions.kargo.akuity.io", ns, present=count > 0)
    if not cov.known:
        return _rule("running", UNKNOWN_RULE, cov.detail, say("verify.collect", what="promotions.kargo.akuity.io"))
    return _rule("running", OK, say("promote.running.ok", count=count))


def rule_errored(frames, ns: str, s: dict, freight: str | None, bundle: str) -> RuleResult:
    if not freight:
        cov = coverage(frames, "freights.kargo.akuity.io", ns, present=len(_freight_in(frames, ns)) > 0)
        return _rule("errored", OK if cov.known else UNKNOWN_RULE, say("promote.errored.no-freight") if cov.known else cov.detail)
    promotions = _stage_promotions(frames)
    p = promotions.last_finished.get((ns, s["name"], freight))
    if p:
        ev = [evidence(p["source"], f"Promotion {p['name']} status.phase", p["phase"] + (f": {p['message']}" if p["message"] else ""), p["finished_at"])]
        if p["phase"] in FAILED_PROMOTION:
            return _rule("errored", BLOCKED, say("promote.errored.blocked", promotion=p["name"], phase=p["phase"], message=p["message"] or "(no message)"),
                         say("promote.errored.action", bundle=bundle, stage=s["name"]), ev)
        return _rule("errored", OK, say("promote.errored.ok-last", promotion=p["name"], phase=p["phase"]), ev=ev)
    if s["last_promotion_freight"] == freight and s["last_promotion_phase"] in FAILED_PROMOTION:
        return _rule("errored", BLOCKED, say("promote.errored.blocked", promotion=s["last_promotion"], phase=s["last_promotion_phase"],
                                              message=s["last_promotion_message"] or "(no message)"),
                     say("promote.errored.action", bundle=bundle, stage=s["name"]),
                     [evidence(s["source"], "status.lastPromotion", f"{s['last_promotion']} {s['last_promotion_phase']}")])
    cov = coverage(frames, "promotions.kargo.akuity.io", ns, present=promotions.count.get((ns, s["name"]), 0) > 0)
    if not cov.known:
        return _rule("errored", UNKNOWN_RULE, cov.detail, say("verify.collect", what="promotions.kargo.akuity.io"))
    return _rule("errored", OK, say("promote.errored.ok"))


def rule_upstream(frames, ns: str, s: dict, extras: dict, freight: str | None, bundle: str) -> RuleResult:
    requested = extras.get("requested") or []
    upstream = s["upstream_stages"] or []
    if not freight:
        cov = coverage(frames, "freights.kargo.akuity.io", ns, present=len(_freight_in(frames, ns)) > 0)
        if not cov.known:
            return _rule("upstream", UNKNOWN_RULE, cov.detail, say("verify.collect", what="freights.kargo.akuity.io"))
        return _rule("upstream", BLOCKED, say("promote.upstream.nothing", upstream=", ".join(upstream) or "the Warehouse"),
                     say("promote.upstream.nothing-action", upstream=", ".join(upstream) or "the upstream Stage", bundle=bundle))
    f = _freight_named(frames, ns, freight)
    if f is None:
        cov = coverage(frames, "freights.kargo.akuity.io", ns, present=len(_freight_in(frames, ns)) > 0)
        if cov.known:
            return _rule("upstream", BLOCKED, say("promote.upstream.no-such", freight=freight), say("promote.upstream.no-such-action", namespace=ns))
        return _rule("upstream", UNKNOWN_RULE, cov.detail, say("verify.collect", what="freights.kargo.akuity.io"))
    entry = next((r for r in requested if r.get("warehouse") == f["warehouse"]), None)
    if requested and entry is None:
        return _rule("upstream", BLOCKED, say("promote.upstream.origin", freight=freight[:7], warehouse=f["warehouse"] or "?",
                                               wanted=", ".join(r["warehouse"] for r in requested if r.get("warehouse"))),
                     say("promote.upstream.origin-action"), [evidence(f["source"], "origin", f["warehouse"] or "?")])
    approved = _freight_status_times(frames, ns, freight, "approvedFor", s["name"])
    if approved:
        return _rule("upstream", OK, say("promote.upstream.approved", stage=s["name"]),
                     ev=[evidence(f["source"], f"status.approvedFor[{s['name']}]", "approved", approved[0])])
    ups = (entry or {}).get("stages") or upstream
    direct = (entry or {}).get("direct") if entry else s["direct"]
    if not ups or direct:
        return _rule("upstream", OK, say("promote.upstream.direct", warehouse=f["warehouse"] or "?"))
    # The last status row of a Stage wins, as when the rows were read into a dict in order.
    done = {u: times[-1] for u in ups if (times := _freight_status_times(frames, ns, freight, "verifiedIn", u))}
    strategy = (entry or {}).get("availability") or "OneOf"
    ev = [evidence(f["source"], f"status.verifiedIn[{u}]", f"verifiedAt {iso(done[u])}" if done.get(u) else "absent") for u in ups]
    ok = all(u in done for u in ups) if strategy == "All" else any(u in done for u in ups)
    if not ok:
        missing = [u for u in ups if u not in done]
        return _rule("upstream", BLOCKED, say("promote.upstream.blocked", freight=freight_label(frames, ns, freight), stages=", ".join(missing), strategy=strategy),
                     say("promote.upstream.action", stage=missing[0], bundle=bundle), ev)
    soak = (entry or {}).get("soak")
    if soak:
        seconds = _soak_seconds(frames, soak)
        soaked = [u for u in ups for at in _freight_status_times(frames, ns, freight, "currentlyIn", u)
                  if seconds is not None and at is not None and (frames.now - at).total_seconds() >= seconds]
        if not soaked:
            return _rule("upstream", UNKNOWN_RULE, say("promote.upstream.soak", soak=soak), say("promote.upstream.soak-action"), ev)
    return _rule("upstream", OK, say("promote.upstream.ok", freight=freight_label(frames, ns, freight),
                                      stages=", ".join(u for u in ups if u in done)), ev=ev)


# Diagnoses that make any Promotion of the Stage fail or go unrecorded, beyond the four rules above.
BLOCKING_STAGE_DIAGNOSES = ("stage-poisoned-promotion", "stage-reconcile-error", "argocd-repo-server-unreachable",
                            "argocd-operation-stuck")
BLOCKING_GLOBAL_DIAGNOSES = ("controller-down", "argocd-repo-server-oom")


def _blocking_findings(frames, findings: list, ns: str, stage: str) -> list:
    """The findings that block the Stage, in the findings' order; indexed once per findings list."""
    memo = frames.derived("promote-blocking-findings", lambda f: {})
    index = memo.get("index")
    # The list is the analysis's own: rebuilt if a different (or a grown) list comes in.
    if index is None or index[0] is not findings or index[1] != len(findings):
        everywhere, by_stage = [], {}
        for position, f in enumerate(findings):
            if f.severity not in ("critical", "error"):
                continue
            if f.id in BLOCKING_GLOBAL_DIAGNOSES:
                everywhere.append((position, f))
            elif f.id in BLOCKING_STAGE_DIAGNOSES:
                for key in dict.fromkeys((x.namespace, x.name) for x in (f.subject, *f.related) if x.kind == "Stage"):
                    by_stage.setdefault(key, []).append((position, f))
        index = memo["index"] = (findings, len(findings), everywhere, by_stage)
    _, _, everywhere, by_stage = index
    return [f for _, f in sorted(everywhere + by_stage.get((ns, stage), []), key=lambda hit: hit[0])]


def rule_diagnosis(frames, findings, ns: str, stage: str, bundle: str) -> RuleResult:
    hits = _blocking_findings(frames, findings, ns, stage)
    if hits:
        return _rule("diagnosis", BLOCKED, "; ".join(f"[{f.id}] {f.root_cause}" for f in hits[:3]),
                     say("promote.errored.action", bundle=bundle, stage=stage), [e for f in hits[:2] for e in f.evidence[:2]])
    return _rule("diagnosis", OK, say("promote.diagnosis.ok"))


def rule_syncing(frames, apps: list[dict]) -> RuleResult:
    if not apps:
        return _rule("syncing", OK, say("promote.syncing.no-apps"))
    busy, unknown, ev = [], [], []
    for a in apps:
        name = f"{a['app_namespace']}/{a['app_name']}"
        if a["app_source"] is None:
            if not coverage(frames, "applications.argoproj.io", a["app_namespace"]).known:
                unknown.append(name)
            continue
        if a["op_phase"] in ("Running", "Terminating") or a["operation_requested"]:
            busy.append(say("promote.syncing.app", app=name, phase=a["op_phase"] or "requested",
                            age=human_age(since(frames.now, a["op_started"])) if a["op_started"] else "?",
                            by=a["op_initiated_by"] or a["requested_by"] or "?"))
            ev.append(evidence(a["app_source"], "status.operationState", f"{a['op_phase'] or 'requested'}: {a['op_message'] or ''}", a["op_started"]))
    if busy:
        return _rule("syncing", BLOCKED, "; ".join(busy), say("promote.syncing.action"), ev)
    if unknown:
        return _rule("syncing", UNKNOWN_RULE, say("promote.syncing.unknown", apps=", ".join(unknown)), say("verify.collect", what="applications.argoproj.io"))
    return _rule("syncing", OK, say("promote.syncing.ok", count=len(apps)))


def rule_authorized(frames, ns: str, stage: str, apps: list[dict]) -> RuleResult:
    findings = _authorization_findings(frames, ns, stage)
    if findings:
        return _rule("authorized", BLOCKED, "; ".join(f.root_cause for f in findings), findings[0].fix[0].command,
                     [e for f in findings for e in f.evidence][:3])
    absent = [f"{a['app_namespace']}/{a['app_name']}" for a in apps if a["app_source"] is None]
    if absent and not all(coverage(frames, "applications.argoproj.io", a.split("/")[0]).known for a in absent):
        return _rule("authorized", UNKNOWN_RULE, say("promote.syncing.unknown", apps=", ".join(absent)), say("verify.collect", what="applications.argoproj.io"))
    if absent:
        return _rule("authorized", BLOCKED, say("verify.apps.not-found", app=", ".join(absent)), say("promote.authorized.absent-action"))
    return _rule("authorized", OK, say("promote.authorized.ok", expected=f"{ns}:{stage}") if apps else say("promote.syncing.no-apps"))


# ------------------------------------------------------------------ P2, P3, P4

def _kargo_host(frames) -> str | None:
    return frames.derived("promote-kargo-host", _find_kargo_host)


def _find_kargo_host(frames) -> str | None:
    ingresses = frames.ingresses
    if not ingresses.is_empty():
        hosts = ingresses.select(pl.col("hosts").explode().alias("host")).filter(pl.col("host").str.starts_with("kargo."))
        if hosts.height:
            return hosts.row(0, named=True)["host"]
    domain = frames.environment.get("domain")
    return f"kargo.{domain}" if domain else None


def methods(frames, project: str, stage: str, freight: str | None, auto: bool | None, blocked_auto: bool) -> tuple[Method, ...]:
    host = _kargo_host(frames)
    out = []
    if auto:
        out.append(Method(say("promote.method.auto"), say("promote.method.auto-on" if not blocked_auto else "promote.method.auto-stuck", stage=stage), ""))
    else:
        out.append(Method(say("promote.method.auto"), say("promote.method.auto-off" if auto is False else "promote.method.auto-unknown", stage=stage), ""))
    url = f"https://{host}/project/{project}/stage/{stage}" if host else f"https://kargo.<your domain>/project/{project}/stage/{stage}"
    out.append(Method(say("promote.method.ui"), say("promote.method.ui-text", freight=(freight or "FREIGHT")[:7]) +
                      ("" if host else " " + say("promote.method.ui-no-domain")), url))
    command = "kargo promote --project {} --stage {} --freight {}".format(shlex.quote(project), shlex.quote(stage), shlex.quote(freight or "FREIGHT"))
    out.append(Method(say("promote.method.cli"), say("promote.method.cli-text"), command))
    out.append(Method(say("promote.method.never"), say("promote.method.never-text"), ""))
    return tuple(out)


def _watch_commands(frames, ns: str, stage: str, apps: list[str]) -> tuple[str, ...]:
    argocd_ns = frames.environment.get("argocd_namespace", "argocd")
    if frames.versions.kargo.at_least(1, 11):
        promos = f"kubectl get promotions -n {shlex.quote(ns)} -l kargo.akuity.io/stage={shlex.quote(stage)} --sort-by=.metadata.creationTimestamp -o wide"
    else:  # the stage label is on Promotions only from Kargo v1.11.0
        promos = (f"kubectl get promotions -n {shlex.quote(ns)} --sort-by=.metadata.creationTimestamp "
                  f"-o jsonpath='{{range .items[?(@.spec.stage==\"{stage}\")]}}{{.metadata.name}} {{.status.phase}}{{\"\\n\"}}{{end}}'")
    out = [promos]
    for app in apps:
        out.append(f"kubectl get app {shlex.quote(app)} -n {shlex.quote(argocd_ns)} -o jsonpath='{{.status.sync.status}} {{.status.health.status}}{{\"\\n\"}}'")
    out.append(f"kubectl get stage {shlex.quote(stage)} -n {shlex.quote(ns)} -o jsonpath='{{range .status.conditions[*]}}{{.type}}={{.status}} {{end}}{{\"\\n\"}}'")
    return tuple(out)


def progress(frames, ns: str, s: dict, apps: list[dict]) -> Progress | None:
    p = _stage_promotions(frames).active.get((ns, s["name"]))
    app_names = [a["app_name"] for a in apps]
    if p is None:
        return None
    start = p["started_at"] or p["created"]
    elapsed = since(frames.now, start)
    steps = p["spec_steps"] or []
    meta = p["step_metadata"] or []
    index = p["current_step"] if p["current_step"] is not None else max(len(meta) - 1, 0)
    step_text = say("promote.progress.no-step")
    if steps:
        spec = steps[min(index, len(steps) - 1)] or {}
        m = meta[index] if index < len(meta) and meta[index] else {}
        step_age = human_age(since(frames.now, _parse(m.get("startedAt")))) if m.get("startedAt") else "?"
        step_text = say("promote.progress.step", index=index + 1, total=len(steps), alias=m.get("alias") or spec.get("as") or f"step-{index + 1}",
                        uses=spec.get("uses") or "?", age=step_age, errors=m.get("errorCount") or 0)
    lines = [ProgressLine("Promotion", "Pending -> Running -> Succeeded", f"{p['phase']} for {human_age(elapsed)}; {step_text}")]
    for a in apps:
        if a["app_source"] is None:
            now = say("verify.apps.unknown", apps=a["app_name"])
        else:
            op = f"; operation {a['op_phase']} since {human_age(since(frames.now, a['op_started']))}" if a["op_phase"] == "Running" and a["op_started"] else ""
            now = f"{a['sync_status'] or '?'}+{a['health_status'] or '?'}{op}"
        lines.append(ProgressLine(f"Argo CD {a['app_name']}", "OutOfSync -> Syncing -> Synced+Healthy", now))
    lines.append(ProgressLine("Stage", "NotApplicable -> Healthy -> (verification runs) -> Verified",
                              f"health {s['health_status'] or '?'}; Ready={s['ready_status'] or '?'}/{s['ready_reason'] or '?'}"))
    slow = elapsed is not None and elapsed.total_seconds() > SLOW_AFTER_SECONDS
    checklist = tuple(say(k, argocd=frames.environment.get("argocd_controller_namespace", "argocd"), stage=s["name"],
                          bundle=shlex.quote(frames.facts.source))
                      for k in ("promote.progress.slow.sync", "promote.progress.slow.repo", "promote.progress.slow.retry")) if slow else ()
    return Progress(p["name"], p["phase"], human_age(elapsed), step_text, tuple(lines), slow, checklist,
                    _watch_commands(frames, ns, s["name"], app_names))


def _parse(value):
    from analyzer.bundle import parse_time

    return parse_time(value) if isinstance(value, str) else value


def post_checks(frames, ns: str, s: dict, freight: str | None, bundle: str) -> tuple[tuple[PostCheck, ...], bool]:
    current = [r["freight"] for r in freight_relations(frames, "currentlyIn").get((ns, s["name"]), [])]
    is_current = bool(freight) and (freight in current or s["current_freight"] == freight)
    stage_q, ns_q = shlex.quote(s["name"]), shlex.quote(ns)
    downstream = _downstream_of(frames, ns, s["name"])
    down_names = sorted((d["name"] for d in downstream), key=lambda name: (name is not None, name or ""))
    checks = []
    if not is_current:
        checks.append(PostCheck(say("promote.post.verified"), "TODO", say("promote.post.todo"),
                                f"gitops-master verify NEW-BUNDLE --stage {stage_q}"))
        checks.append(PostCheck(say("promote.post.history"), "TODO", say("promote.post.todo"),
                                f"kubectl get stage {stage_q} -n {ns_q} -o jsonpath='{{.status.freightHistory[0].items}}{{\"\\n\"}}'"))
        checks.append(PostCheck(say("promote.post.downstream"), "TODO", say("promote.post.downstream-todo", stages=", ".join(down_names) or "none"),
                                f"gitops-master promote-check NEW-BUNDLE --stage {shlex.quote(down_names[0])}" if down_names else ""))
        checks.append(PostCheck(say("promote.post.events"), "TODO", say("promote.post.todo"),
                                f"kubectl get events -n {ns_q} --field-selector=type!=Normal --sort-by=.lastTimestamp"))
        return tuple(checks), False
    verified = s["verified_status"] == "True" or (s["verification_phase"] == "Successful")
    checks.append(PostCheck(say("promote.post.verified"), "PASS" if verified else "FAIL",
                            f"Verified={s['verified_status'] or '?'}/{s['verified_reason'] or s['verification_phase'] or '?'}",
                            f"gitops-master verify {bundle} --stage {stage_q}"))
    checks.append(PostCheck(say("promote.post.history"), "PASS", say("promote.post.history-ok", freight=freight_label(frames, ns, freight)), ""))
    if down_names:
        started = _stage_promotions(frames).stages_by_freight.get((ns, freight), set()) & set(down_names)
        auto = [d["name"] for d in downstream if auto_promotion(frames, ns, d["name"], d["auto_promotion_enabled"])]
        if auto and not started:
            status, detail = "FAIL", say("promote.post.downstream-missing", stages=", ".join(auto))
        else:
            status, detail = "PASS", say("promote.post.downstream-ok", started=", ".join(sorted(started)) or "none",
                                         auto=", ".join(auto) or "none")
        checks.append(PostCheck(say("promote.post.downstream"), status, detail, ""))
    else:
        checks.append(PostCheck(say("promote.post.downstream"), "PASS", say("promote.post.no-downstream"), ""))
    event_count, warnings = _namespace_events(frames, ns)
    count, w = _warnings_since(warnings, s["last_promotion_finished_at"])
    if count:
        checks.append(PostCheck(say("promote.post.events"), "FAIL", say("promote.post.events-found", count=count, reason=w["reason"] or "?",
                                                                        message=w["message"] or ""), f"kubectl get events -n {ns_q} --field-selector=type!=Normal"))
    elif coverage(frames, "events", ns).known or event_count:
        checks.append(PostCheck(say("promote.post.events"), "PASS", say("promote.post.events-none"), ""))
    else:
        checks.append(PostCheck(say("promote.post.events"), "TODO", coverage(frames, "events", ns).detail,
                                f"kubectl get events -n {ns_q} --field-selector=type!=Normal"))
    return tuple(checks), True


# ------------------------------------------------------------------ assembly

def _stages_by_name(frames) -> dict[str, list[dict]]:
    return frames.derived("stages-by-name", lambda f: {name: rows for (name,), rows in grouped_rows(f.stages, ("name",)).items()})


def promote_check(analysis, stage: str, freight: str | None = None) -> PromoteContext:
    """``stage`` is a Stage name, or ``project/name`` where several projects have a Stage of that name."""
    frames = analysis.frames
    project, _, stage = stage.rpartition("/")
    hits = [s for s in _stages_by_name(frames).get(stage, []) if not project or s["namespace"] == project]
    if not hits:
        known = ", ".join(sorted(set(frames.stages.get_column("name").to_list()))) or "none"
        where = f" in project {project!r}" if project else ""
        raise PromoteError(f"no Stage {stage!r}{where} in the bundle (Stages: {known})")
    if len(hits) > 1:
        projects = ", ".join(sorted(s["namespace"] for s in hits))
        raise PromoteError(f"Stage {stage!r} is in several projects ({projects}); name one: --stage PROJECT/{stage}")
    s = hits[0]
    ns = s["namespace"]
    extras = rows_by(frames, "stage_extras", ("namespace", "name"), ("requested",)).get((ns, stage)) or {}
    bundle = shlex.quote(frames.facts.source)
    chosen, choice, freight_ev = _resolve_freight(frames, ns, s, extras, freight)
    apps = _apps_of(frames, ns, stage)
    rules = (
        rule_running(frames, ns, s, bundle),
        rule_errored(frames, ns, s, chosen, bundle),
        rule_upstream(frames, ns, s, extras, chosen, bundle),
        rule_syncing(frames, apps),
        rule_authorized(frames, ns, stage, apps),
        rule_diagnosis(frames, analysis.findings, ns, stage, bundle),
    )
    statuses = {r.status for r in rules}
    verdict = NO_GO if BLOCKED in statuses else UNKNOWN if UNKNOWN_RULE in statuses else GO
    auto = auto_promotion(frames, ns, stage, s["auto_promotion_enabled"])
    errored = rules[1].status == BLOCKED
    post, current = post_checks(frames, ns, s, chosen, bundle)
    return PromoteContext(
        header=header(frames, "promote-check"),
        namespace=ns, project=ns, stage=stage,
        freight=chosen,
        freight_label=freight_label(frames, ns, chosen) if chosen else say("promote.no-freight"),
        freight_choice=choice,
        upstream=tuple(s["upstream_stages"] or []),
        verdict=verdict, exit_code=EXIT_CODES[verdict],
        rules=tuple(r if r.evidence or not freight_ev or r.id != "upstream" else RuleResult(
            r.id, r.label, r.status, r.detail, r.action, tuple(freight_ev), r.mark, r.word) for r in rules),
        methods=methods(frames, ns, stage, chosen, auto, errored),
        progress=progress(frames, ns, s, apps),
        post=post,
        already_current=current,
    )
