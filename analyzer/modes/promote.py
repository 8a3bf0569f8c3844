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
from dataclasses import dataclass

import polars as pl

from analyzer.findings import Evidence
from analyzer.modes.architecture import auto_promotion, freight_label
from analyzer.modes.common import NamespaceIndex, coverage, duration_seconds, freight_relations, in_namespaces, rows_by, say, stage_apps
from analyzer.modes.output import Header, header
from analyzer.rules.common import FAILED_PROMOTION, TERMINAL_PROMOTION, evidence, human_age, iso, rows, since

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


# ------------------------------------------------------------------ Freight

def _resolve_freight(frames, ns: str, stage: dict, extras: dict, wanted: str | None) -> tuple[str | None, str, list[Evidence]]:
    freight = in_namespaces(frames, "freight", ns)
    if wanted:
        hit = freight.filter((pl.col("name") == wanted) | (pl.col("alias") == wanted)
                             | ((pl.lit(len(wanted)) >= 7) & pl.col("name").str.starts_with(wanted)))
        if hit.height == 1:
            r = hit.row(0, named=True)
            return r["name"], say("promote.freight.given", freight=wanted), [evidence(r["source"], "Freight", f"{r['name']} ({r['alias'] or 'no alias'})", r["created"])]
        return wanted, say("promote.freight.given-unknown", freight=wanted), []
    warehouses = [r["warehouse"] for r in extras.get("requested") or [] if r.get("warehouse")]
    own = freight.filter(pl.col("warehouse").is_in(warehouses)) if warehouses else freight
    upstream = stage["upstream_stages"] or []
    if stage["direct"] or not upstream:
        pick = own.sort("created", descending=True)
        how = "promote.freight.newest-direct"
    else:
        verified = in_namespaces(frames, "freight_status", ns).filter((
            ((pl.col("relation") == "verifiedIn") & pl.col("stage").is_in(upstream))
            | ((pl.col("relation") == "approvedFor") & (pl.col("stage") == stage["name"]))))
        pick = own.join(verified.select(pl.col("freight").alias("name")).unique(), on="name", how="semi").sort("created", descending=True)
        how = "promote.freight.newest-verified"
    if pick.is_empty():
        if not coverage(frames, "freights.kargo.akuity.io", ns, present=freight.height > 0).known:
            return None, say("promote.freight.unknown"), []
        return None, say("promote.freight.none", upstream=", ".join(upstream) or ", ".join(warehouses) or "?"), []
    r = pick.row(0, named=True)
    return r["name"], say(how, upstream=", ".join(upstream), warehouse=", ".join(warehouses) or "?"), [
        evidence(r["source"], "Freight (newest eligible)", f"{r['name']} ({r['alias'] or 'no alias'})", r["created"])]


# ------------------------------------------------------------------ P1 rules

def _promotions(frames, ns: str, stage: str) -> pl.DataFrame:
    by_stage = frames.derived("promotions-by-stage", lambda f: f.promotions.partition_by(
        "namespace", "stage", as_dict=True, maintain_order=True))
    return by_stage.get((ns, stage), frames.promotions.clear())


def rule_running(frames, ns: str, s: dict, bundle: str) -> RuleResult:
    promos = _promotions(frames, ns, s["name"]).with_columns(pl.col("phase").fill_null("Pending"))
    active = promos.filter(~pl.col("phase").is_in(TERMINAL_PROMOTION)).sort("created")
    if active.height:
        p = active.row(0, named=True)
        start = p["started_at"] or p["created"]
        return _rule("running", BLOCKED, say("promote.running.blocked", promotion=p["name"], phase=p["phase"],
                                              age=human_age(since(frames.now, start)), count=active.height),
                     say("promote.running.action"), [evidence(p["source"], "status.phase", p["phase"], start)])
    if s["current_promotion"]:
        return _rule("running", BLOCKED, say("promote.running.current", promotion=s["current_promotion"]),
                     say("promote.running.action"), [evidence(s["source"], "status.currentPromotion.name", s["current_promotion"])])
    cov = coverage(frames, "promotions.kargo.akuity.io", ns, present=promos.height > 0)
    if not cov.known:
        return _rule("running", UNKNOWN_RULE, cov.detail, say("verify.collect", what="promotions.kargo.akuity.io"))
    return _rule("running", OK, say("promote.running.ok", count=promos.height))


def rule_errored(frames, ns: str, s: dict, freight: str | None, bundle: str) -> RuleResult:
    if not freight:
        cov = coverage(frames, "freights.kargo.akuity.io", ns, present=in_namespaces(frames, "freight", ns).height > 0)
        return _rule("errored", OK if cov.known else UNKNOWN_RULE, say("promote.errored.no-freight") if cov.known else cov.detail)
    promos = _promotions(frames, ns, s["name"]).filter((pl.col("freight") == freight) & pl.col("phase").is_in(TERMINAL_PROMOTION))
    last = promos.sort("created", "name", descending=True).head(1)
    if last.height:
        p = last.row(0, named=True)
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
    cov = coverage(frames, "promotions.kargo.akuity.io", ns, present=_promotions(frames, ns, s["name"]).height > 0)
    if not cov.known:
        return _rule("errored", UNKNOWN_RULE, cov.detail, say("verify.collect", what="promotions.kargo.akuity.io"))
    return _rule("errored", OK, say("promote.errored.ok"))


def rule_upstream(frames, ns: str, s: dict, extras: dict, freight: str | None, bundle: str) -> RuleResult:
    requested = extras.get("requested") or []
    upstream = s["upstream_stages"] or []
    if not freight:
        cov = coverage(frames, "freights.kargo.akuity.io", ns, present=in_namespaces(frames, "freight", ns).height > 0)
        if not cov.known:
            return _rule("upstream", UNKNOWN_RULE, cov.detail, say("verify.collect", what="freights.kargo.akuity.io"))
        return _rule("upstream", BLOCKED, say("promote.upstream.nothing", upstream=", ".join(upstream) or "the Warehouse"),
                     say("promote.upstream.nothing-action", upstream=", ".join(upstream) or "the upstream Stage", bundle=bundle))
    row = in_namespaces(frames, "freight", ns).filter((pl.col("name") == freight))
    if row.is_empty():
        cov = coverage(frames, "freights.kargo.akuity.io", ns, present=in_namespaces(frames, "freight", ns).height > 0)
        if cov.known:
            return _rule("upstream", BLOCKED, say("promote.upstream.no-such", freight=freight), say("promote.upstream.no-such-action", namespace=ns))
        return _rule("upstream", UNKNOWN_RULE, cov.detail, say("verify.collect", what="freights.kargo.akuity.io"))
    f = row.row(0, named=True)
    entry = next((r for r in requested if r.get("warehouse") == f["warehouse"]), None)
    if requested and entry is None:
        return _rule("upstream", BLOCKED, say("promote.upstream.origin", freight=freight[:7], warehouse=f["warehouse"] or "?",
                                               wanted=", ".join(r["warehouse"] for r in requested if r.get("warehouse"))),
                     say("promote.upstream.origin-action"), [evidence(f["source"], "origin", f["warehouse"] or "?")])
    status = in_namespaces(frames, "freight_status", ns).filter((pl.col("freight") == freight))
    approved = status.filter((pl.col("relation") == "approvedFor") & (pl.col("stage") == s["name"]))
    if approved.height:
        return _rule("upstream", OK, say("promote.upstream.approved", stage=s["name"]),
                     ev=[evidence(f["source"], f"status.approvedFor[{s['name']}]", "approved", approved.row(0, named=True)["at"])])
    ups = (entry or {}).get("stages") or upstream
    direct = (entry or {}).get("direct") if entry else s["direct"]
    if not ups or direct:
        return _rule("upstream", OK, say("promote.upstream.direct", warehouse=f["warehouse"] or "?"))
    verified = status.filter((pl.col("relation") == "verifiedIn") & pl.col("stage").is_in(ups))
    done = {r["stage"]: r["at"] for r in rows(verified)}
    strategy = (entry or {}).get("availability") or "OneOf"
    ev = [evidence(f["source"], f"status.verifiedIn[{u}]", f"verifiedAt {iso(done[u])}" if done.get(u) else "absent") for u in ups]
    ok = all(u in done for u in ups) if strategy == "All" else any(u in done for u in ups)
    if not ok:
        missing = [u for u in ups if u not in done]
        return _rule("upstream", BLOCKED, say("promote.upstream.blocked", freight=freight_label(frames, ns, freight), stages=", ".join(missing), strategy=strategy),
                     say("promote.upstream.action", stage=missing[0], bundle=bundle), ev)
    soak = (entry or {}).get("soak")
    if soak:
        seconds = pl.select(duration_seconds(pl.lit(soak))).item()
        current = status.filter((pl.col("relation") == "currentlyIn") & pl.col("stage").is_in(ups))
        soaked = [r["stage"] for r in rows(current) if seconds is not None and r["at"] is not None
                  and (frames.now - r["at"]).total_seconds() >= seconds]
        if not soaked:
            return _rule("upstream", UNKNOWN_RULE, say("promote.upstream.soak", soak=soak), say("promote.upstream.soak-action"), ev)
    return _rule("upstream", OK, say("promote.upstream.ok", freight=freight_label(frames, ns, freight),
                                      stages=", ".join(u for u in ups if u in done)), ev=ev)


# Diagnoses that make any Promotion of the Stage fail or go unrecorded, beyond the four rules above.
BLOCKING_STAGE_DIAGNOSES = ("stage-poisoned-promotion", "stage-reconcile-error", "argocd-repo-server-unreachable",
                            "argocd-operation-stuck")
BLOCKING_GLOBAL_DIAGNOSES = ("controller-down", "argocd-repo-server-oom")


def rule_diagnosis(findings, ns: str, stage: str, bundle: str) -> RuleResult:
    hits = [f for f in findings if f.severity in ("critical", "error") and (
        (f.id in BLOCKING_STAGE_DIAGNOSES and any(x.kind == "Stage" and x.namespace == ns and x.name == stage for x in (f.subject, *f.related)))
        or f.id in BLOCKING_GLOBAL_DIAGNOSES)]
    if hits:
        return _rule("diagnosis", BLOCKED, "; ".join(f"[{f.id}] {f.root_cause}" for f in hits[:3]),
                     say("promote.errored.action", bundle=bundle, stage=stage), [e for f in hits[:2] for e in f.evidence[:2]])
    return _rule("diagnosis", OK, say("promote.diagnosis.ok"))


def rule_syncing(frames, apps: pl.DataFrame) -> RuleResult:
    if apps.is_empty():
        return _rule("syncing", OK, say("promote.syncing.no-apps"))
    busy, unknown, ev = [], [], []
    for a in rows(apps):
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
    return _rule("syncing", OK, say("promote.syncing.ok", count=apps.height))


def rule_authorized(frames, ns: str, stage: str, apps: pl.DataFrame) -> RuleResult:
    from analyzer.rules.setup_lint import authorized_stage  # the lint rule owns the annotation semantics

    findings = [f for f in frames.derived("authorized-stage", authorized_stage) if f.subject.namespace == ns and f.subject.name == stage]
    if findings:
        return _rule("authorized", BLOCKED, "; ".join(f.root_cause for f in findings), findings[0].fix[0].command,
                     [e for f in findings for e in f.evidence][:3])
    absent = [f"{a['app_namespace']}/{a['app_name']}" for a in rows(apps) if a["app_source"] is None]
    if absent and not all(coverage(frames, "applications.argoproj.io", a.split("/")[0]).known for a in absent):
        return _rule("authorized", UNKNOWN_RULE, say("promote.syncing.unknown", apps=", ".join(absent)), say("verify.collect", what="applications.argoproj.io"))
    if absent:
        return _rule("authorized", BLOCKED, say("verify.apps.not-found", app=", ".join(absent)), say("promote.authorized.absent-action"))
    return _rule("authorized", OK, say("promote.authorized.ok", expected=f"{ns}:{stage}") if apps.height else say("promote.syncing.no-apps"))


# ------------------------------------------------------------------ P2, P3, P4

def _kargo_host(frames) -> str | None:
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


def progress(frames, ns: str, s: dict, apps: pl.DataFrame) -> Progress | None:
    active = _promotions(frames, ns, s["name"]).with_columns(pl.col("phase").fill_null("Pending")).filter(
        ~pl.col("phase").is_in(TERMINAL_PROMOTION)).sort("created")
    app_names = [a["app_name"] for a in rows(apps)]
    if active.is_empty():
        return None
    p = active.row(0, named=True)
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
    for a in rows(apps):
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
    downstream = in_namespaces(frames, "stages", ns).filter(pl.col("upstream_stages").list.contains(s["name"]))
    down_names = downstream.get_column("name").sort().to_list()
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
        started = in_namespaces(frames, "promotions", ns).filter(pl.col("stage").is_in(down_names) & (pl.col("freight") == freight))
        auto = [d["name"] for d in rows(downstream) if auto_promotion(frames, ns, d["name"], d["auto_promotion_enabled"])]
        if auto and started.is_empty():
            status, detail = "FAIL", say("promote.post.downstream-missing", stages=", ".join(auto))
        else:
            status, detail = "PASS", say("promote.post.downstream-ok", started=", ".join(sorted(set(started.get_column("stage").to_list()))) or "none",
                                         auto=", ".join(auto) or "none")
        checks.append(PostCheck(say("promote.post.downstream"), status, detail, ""))
    else:
        checks.append(PostCheck(say("promote.post.downstream"), "PASS", say("promote.post.no-downstream"), ""))
    since_time = s["last_promotion_finished_at"]
    warnings = in_namespaces(frames, "events", ns).filter((pl.col("type") == "Warning"))
    if since_time is not None:
        warnings = warnings.filter(pl.col("last_seen") >= since_time)
    if warnings.height:
        w = warnings.sort("last_seen", descending=True).row(0, named=True)
        checks.append(PostCheck(say("promote.post.events"), "FAIL", say("promote.post.events-found", count=warnings.height, reason=w["reason"] or "?",
                                                                        message=w["message"] or ""), f"kubectl get events -n {ns_q} --field-selector=type!=Normal"))
    elif coverage(frames, "events", ns).known or in_namespaces(frames, "events", ns).height:
        checks.append(PostCheck(say("promote.post.events"), "PASS", say("promote.post.events-none"), ""))
    else:
        checks.append(PostCheck(say("promote.post.events"), "TODO", coverage(frames, "events", ns).detail,
                                f"kubectl get events -n {ns_q} --field-selector=type!=Normal"))
    return tuple(checks), True


# ------------------------------------------------------------------ assembly

def _stages_by_name(frames) -> dict[str, list[dict]]:
    def build(f) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for row in f.stages.iter_rows(named=True):
            out.setdefault(row["name"], []).append(row)
        return out

    return frames.derived("stages-by-name", build)


def _app_states(frames) -> NamespaceIndex:
    """What promote-check reads of each Application, split by its namespace once."""
    return frames.derived("promote-app-states", lambda f: NamespaceIndex(f.applications.select(
        "namespace", pl.col("namespace").alias("app_namespace"), pl.col("name").alias("app_name"),
        pl.col("source").alias("app_source"), "sync_status", "health_status", "op_phase", "op_message", "op_started",
        "op_initiated_by", "operation_requested", "requested_by")))


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
    apps = (
        stage_apps(frames, ns).filter(pl.col("stage") == stage)
        .unique(["app_namespace", "app_name"], maintain_order=True)
    )
    states = _app_states(frames).get(apps.get_column("app_namespace").unique(maintain_order=True).to_list()).drop("namespace")
    apps = apps.join(states, on=["app_namespace", "app_name"], how="left", maintain_order="left")
    rules = (
        rule_running(frames, ns, s, bundle),
        rule_errored(frames, ns, s, chosen, bundle),
        rule_upstream(frames, ns, s, extras, chosen, bundle),
        rule_syncing(frames, apps),
        rule_authorized(frames, ns, stage, apps),
        rule_diagnosis(analysis.findings, ns, stage, bundle),
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
