"""Setup lint: each Stage against the S2 checklist, the S4 tuning table and the anti-patterns.

Lint rules (``mode="lint"``) judge configuration, not the moment: they run in
``gitops-master lint`` and ``report``, never in ``diagnose``. Each finding
names the Stage it is about, the evidence, and the exact change to make in git.
"""

from __future__ import annotations

import shlex

import polars as pl

from analyzer.catalog import Raw, make_finding
from analyzer.findings import Finding, Subject
from analyzer.modes.apps import CLASS_ORDER, DEFAULT_ERROR_THRESHOLD, DEFAULT_TIMEOUT_SECONDS, TUNING, classify, describe_apps
from analyzer.modes.common import coverage, duration_seconds, rows_by, seconds_text, stage_apps
from analyzer.modes.rbac import can_i, checklist, rules_yaml, script_needs
from analyzer.rules import rule
from analyzer.rules.common import FAILED_PROMOTION, evidence, rows

HEAVY = ("heavy", "very heavy")
INTERMITTENT_THRESHOLD = 3
# A step that gave up on its first error, on something a retry would have outlived.
TRANSIENT_KINDS = (r"connection refused|code = Unavailable|EOF|i/o timeout|timed out|deadline exceeded|connection reset"
                   r"|no such host|TLS handshake timeout")
TRANSIENT = rf"(?i)met error threshold of 1\b.*(?:{TRANSIENT_KINDS})"


def _apps_with_class(frames) -> pl.DataFrame:
    """stage_apps joined with what each Application is (class, foundation), by chart when the app is in the bundle."""
    apps = describe_apps(frames).drop("app_class", "class_why")
    joined = stage_apps(frames).join(
        apps.rename({"namespace": "app_namespace", "name": "app_name"}), on=["app_namespace", "app_name"], how="left",
    )
    return joined.with_columns(*classify(pl.col("app_name"), pl.col("charts"), pl.col("release_names")))


def _steps(frames) -> pl.DataFrame:
    """One row per argocd-update step: its apps, heaviest class, effective retry and the tuning row."""
    apps = _apps_with_class(frames).with_columns(
        pl.col("app_class").replace_strict({c: i for i, c in enumerate(CLASS_ORDER)}, return_dtype=pl.Int64).alias("order"))
    steps = apps.sort("order", descending=True, maintain_order=True).group_by(
        "namespace", "stage", "stage_source", "index", "step", "has_retry", "retry_timeout", "retry_threshold",
        maintain_order=True,
    ).agg(
        pl.col("app_name").alias("apps"),
        pl.col("app_class").first().alias("app_class"),
        pl.col("class_why").first().alias("class_why"),
    )
    want_timeout = pl.col("app_class").replace_strict({k: v.timeout_seconds for k, v in TUNING.items()}, return_dtype=pl.Int64)
    want_threshold = pl.col("app_class").replace_strict({k: v.error_threshold for k, v in TUNING.items()}, return_dtype=pl.Int64)
    steps = steps.with_columns(
        pl.coalesce(duration_seconds(pl.col("retry_timeout")), pl.lit(DEFAULT_TIMEOUT_SECONDS)).alias("timeout_s"),
        pl.when(pl.col("retry_threshold").fill_null(0) > 0).then(pl.col("retry_threshold"))
        .otherwise(pl.lit(DEFAULT_ERROR_THRESHOLD)).alias("threshold"),
        want_timeout.alias("want_timeout_s"),
        want_threshold.alias("want_threshold"),
    )
    # The change to make never lowers what is already set.
    return steps.with_columns(
        pl.max_horizontal("timeout_s", "want_timeout_s").alias("set_timeout_s"),
        pl.max_horizontal("threshold", "want_threshold").alias("set_threshold"),
    )


def _retry_history(frames) -> pl.DataFrame:
    """Per Stage: Promotions that failed and later succeeded for the same Freight, and steps that needed retries."""
    promos = frames.promotions
    failed = promos.filter(pl.col("phase").is_in(FAILED_PROMOTION)).select(
        "namespace", "stage", "freight", pl.col("name").alias("failed"), pl.col("created").alias("failed_at"), "source")
    succeeded = promos.filter(pl.col("phase") == "Succeeded").select(
        "namespace", "stage", "freight", pl.col("name").alias("succeeded"), pl.col("created").alias("succeeded_at"))
    pairs = (
        failed.join(succeeded, on=["namespace", "stage", "freight"])
        .filter(pl.col("succeeded_at") > pl.col("failed_at"))
        .sort("succeeded_at")
        .unique(["namespace", "stage", "failed"], keep="first")
        .group_by("namespace", "stage")
        .agg(pl.len().alias("retried"), pl.format("{} failed, then {} succeeded with the same Freight",
                                                  pl.col("failed"), pl.col("succeeded")).head(2).alias("retried_text"),
             pl.col("source").first().alias("history_source"))
    )
    transient = (
        promos.filter(pl.col("phase").is_in(FAILED_PROMOTION) & pl.col("message").fill_null("").str.contains(TRANSIENT))
        .group_by("namespace", "stage")
        .agg(pl.format("{} {} on a transient error ({}) with errorThreshold 1", pl.col("name"), pl.col("phase"),
                       pl.col("message").str.extract(rf"(?i)({TRANSIENT_KINDS})", 1)).head(2).alias("transient_text"),
             pl.format("{} {}: {}", pl.col("name"), pl.col("phase"), pl.col("message")).head(2).alias("transient_evidence"),
             pl.col("source").first().alias("transient_source"))
    )
    errors = (
        promos.filter(pl.col("phase") == "Succeeded")
        .select("namespace", "stage", pl.col("name").alias("promotion"), "step_metadata", "source")
        .explode("step_metadata")
        .filter(pl.col("step_metadata").struct.field("errorCount").fill_null(0) > 0)
        .group_by("namespace", "stage")
        .agg(pl.len().alias("step_retries"), pl.col("source").first().alias("errors_source"),
             pl.format("step {} of {} succeeded after {} error(s)", pl.col("step_metadata").struct.field("alias"),
                       pl.col("promotion"), pl.col("step_metadata").struct.field("errorCount")).head(2).alias("errors_text"))
    )
    return (pairs.join(errors, on=["namespace", "stage"], how="full", coalesce=True)
            .join(transient, on=["namespace", "stage"], how="full", coalesce=True))


def _apps_text(apps: list[str]) -> str:
    return ", ".join(apps) if apps else "no Application"


@rule("setup-missing-retry", "setup-retry-too-low", needs=("stages", "applications", "promotions"), mode="lint")
def retry_config(frames) -> list[Finding]:
    """An argocd-update step has no retry config, or less than the S4 tuning table asks for its apps.

    **Symptom** Promotions fail on the first transient error ("met error
    threshold of 1", connection refused on :8081, a timeout while a heavy chart
    syncs) and succeed when promoted again by hand.
    **Evidence** The step's ``retry`` (absent, or its timeout and
    errorThreshold), the class of the apps it promotes (from chart and name),
    and Promotions that failed and then succeeded for the same Freight or steps
    that needed several attempts.
    **Fix** Set ``retry: {timeout, errorThreshold}`` on the step from the
    tuning table, in git.
    """
    steps = _steps(frames)
    if steps.is_empty():
        return []
    steps = steps.join(_retry_history(frames), on=["namespace", "stage"], how="left")
    # S4 symptoms: failing intermittently, or succeeding when promoted again -> errorThreshold 3, whatever the class.
    history = (pl.col("retried_text").list.len().fill_null(0) + pl.col("errors_text").list.len().fill_null(0)
               + pl.col("transient_text").list.len().fill_null(0)) > 0
    steps = steps.with_columns(
        pl.when(history).then(pl.max_horizontal("want_threshold", pl.lit(INTERMITTENT_THRESHOLD)))
        .otherwise(pl.col("want_threshold")).alias("want_threshold"),
    ).with_columns(pl.max_horizontal("threshold", "want_threshold").alias("set_threshold"))
    bad = steps.filter(~pl.col("has_retry") | (pl.col("timeout_s") < pl.col("want_timeout_s"))
                       | (pl.col("threshold") < pl.col("want_threshold")))
    out = []
    for s in rows(bad.sort("namespace", "stage", "index")):
        history_items = (s["retried_text"] or []) + (s["errors_text"] or []) + (s["transient_text"] or [])
        history = f"; its Promotions already needed retries: {'; '.join(history_items)}" if history_items else ""
        ev = [evidence(s["stage_source"], f"spec.promotionTemplate.spec.steps[{s['index']}].retry",
                       "absent" if not s["has_retry"] else f"timeout={s['retry_timeout'] or 'default 5m'} errorThreshold={s['retry_threshold'] or 'default 1'}")]
        ev.append(evidence(s["stage_source"], f"spec.promotionTemplate.spec.steps[{s['index']}].config.apps",
                           f"{_apps_text(s['apps'])} ({s['app_class']}{', ' + s['class_why'] if s['class_why'] else ''})"))
        source = s["history_source"] or s["errors_source"] or s["transient_source"] or "promotions.kargo.akuity.io"
        for item in (s["retried_text"] or []) + (s["errors_text"] or []) + (s["transient_evidence"] or []):
            ev.append(evidence(source, "Promotions of " + s["stage"], item))
        ident = "setup-missing-retry" if not s["has_retry"] else "setup-retry-too-low"
        severity = "error" if (s["app_class"] in HEAVY or history_items) else None
        out.append(make_finding(
            ident, Subject("Stage", s["namespace"], s["stage"]),
            {"stage": s["stage"], "namespace": s["namespace"], "step": s["step"], "index": s["index"],
             "apps": _apps_text(s["apps"]), "app_class": s["app_class"],
             "why_class": f", {s['class_why']}" if s["class_why"] else "",
             "timeout": seconds_text(s["timeout_s"]), "threshold": s["threshold"],
             "table_timeout": TUNING[s["app_class"]].timeout, "table_threshold": s["want_threshold"],
             "want_timeout": seconds_text(s["set_timeout_s"]), "history": history, "want_threshold": s["set_threshold"]},
            ev,
            severity=severity,
            related=tuple(Subject("Application", None, a) for a in s["apps"]),
        ))
    return out


@rule("setup-missing-authorized-stage", needs=("stages", "applications"), mode="lint")
def authorized_stage(frames) -> list[Finding]:
    """An Application a Stage promotes does not authorize that Stage.

    **Symptom** Every Promotion of the Stage ends Errored in its argocd-update
    step with "is not authorized" / "does not permit mutation by Kargo Stage".
    **Evidence** The Application's ``kargo.akuity.io/authorized-stage``
    annotation (absent, another Stage, a glob, or a list on Kargo before
    v1.11.0) and the Stage that promotes it.
    **Fix** Set the annotation to ``<project>:<stage>`` on the Application or
    its ApplicationSet template, in git.
    """
    kargo = frames.versions.kargo
    lists_ok = kargo.at_least(1, 11)
    apps = stage_apps(frames).join(
        frames.applications.select(pl.col("namespace").alias("app_namespace"), pl.col("name").alias("app_name"),
                                   "authorized_stage", pl.col("source").alias("app_source")),
        on=["app_namespace", "app_name"], how="inner",
    ).with_columns(
        pl.format("{}:{}", pl.col("namespace"), pl.col("stage")).alias("expected"),
        pl.col("authorized_stage").fill_null("").str.split(",").list.eval(pl.element().str.strip_chars())
        .list.filter(pl.element() != "").alias("values"),
    )
    # Every Stage that promotes the same Application: the list it needs on v1.11+.
    wanted = apps.group_by("app_namespace", "app_name").agg(pl.col("expected").unique().sort().str.join(",").alias("all_expected"))
    apps = apps.join(wanted, on=["app_namespace", "app_name"])
    variant = (
        pl.when(pl.col("authorized_stage").is_null() | (pl.col("values").list.len() == 0)).then(pl.lit("missing"))
        .when(pl.col("values").list.eval(pl.element().str.contains(r"\*")).list.any() & pl.lit(lists_ok)
              & ~pl.col("values").list.contains(pl.col("expected"))).then(pl.lit("glob"))
        .when(pl.col("values").list.contains(pl.col("expected")) & (pl.col("values").list.len() > 1) & ~pl.lit(lists_ok)).then(pl.lit("list-unsupported"))
        .when(~pl.col("values").list.contains(pl.col("expected"))
              & ~(pl.col("values").list.eval(pl.element().str.contains(r"\*")).list.any() & ~pl.lit(lists_ok))).then(pl.lit("other-stage"))
    )
    bad = apps.with_columns(variant.alias("variant")).filter(pl.col("variant").is_not_null())
    out = []
    for a in rows(bad.sort("namespace", "stage", "app_name")):
        value = a["authorized_stage"] or "(none)"
        wanted_value = a["all_expected"] if lists_ok else a["expected"]
        out.append(make_finding(
            "setup-missing-authorized-stage", Subject("Stage", a["namespace"], a["stage"]),
            {"app": a["app_name"], "stage": a["stage"], "value": value, "expected": a["expected"], "wanted": wanted_value,
             "kargo": f"Kargo {kargo.label}", "app_namespace": a["app_namespace"]},
            [evidence(a["app_source"], "metadata.annotations[kargo.akuity.io/authorized-stage]", value),
             evidence(a["stage_source"], f"spec.promotionTemplate.spec.steps[{a['index']}].config.apps", f"{a['app_namespace']}/{a['app_name']}")],
            variant=a["variant"],
            related=(Subject("Application", a["app_namespace"], a["app_name"]),),
            assumptions=(kargo.describe("Kargo") + (": comma-separated lists accepted" if lists_ok else ": one Stage per Application"),),
        ))
    return out


@rule("setup-autosync-conflict", needs=("stages", "applications"), mode="lint")
def autosync_conflict(frames) -> list[Finding]:
    """Auto-sync is on for an Application that a Kargo Stage promotes.

    **Symptom** argocd-update waits on "current operation was not initiated by
    Kargo"; Applications move before a Promotion asks them to.
    **Evidence** ``spec.syncPolicy.automated`` of the Application and the Stage
    that promotes it.
    **Fix** Remove ``automated`` from the Application (or ApplicationSet
    template) in git; only the foundation layer auto-syncs.
    """
    apps = _apps_with_class(frames).filter(pl.col("auto_sync").fill_null(False) & ~pl.col("foundation").fill_null(False))
    return [
        make_finding(
            "setup-autosync-conflict", Subject("Stage", a["namespace"], a["stage"]),
            {"app": a["app_name"], "stage": a["stage"], "app_namespace": a["app_namespace"],
             "self_heal": " with selfHeal" if a["self_heal"] else ""},
            [evidence(a["app_source"], "spec.syncPolicy.automated", "selfHeal=true" if a["self_heal"] else "enabled"),
             evidence(a["stage_source"], f"spec.promotionTemplate.spec.steps[{a['index']}].config.apps", f"{a['app_namespace']}/{a['app_name']}")],
            related=(Subject("Application", a["app_namespace"], a["app_name"]),),
        )
        for a in rows(apps.sort("namespace", "stage", "app_name"))
    ]


@rule("setup-foundation-self-promotion", needs=("stages", "applications"), mode="lint")
def foundation_self_promotion(frames) -> list[Finding]:
    """A Stage promotes Argo CD or Kargo themselves.

    **Symptom** Promotions of the foundation Stage hang or error when the Kargo
    controller or Argo CD restarts mid-sync; the Stage cannot recover itself.
    **Evidence** The Application's chart (``argo-cd``, ``kargo``), name, or the
    controllers among its resources, and the Stage's argocd-update step.
    **Fix** Take the Application out of the Stage; let Argo CD manage the
    foundation with auto-sync.
    """
    apps = _apps_with_class(frames).filter(pl.col("foundation").fill_null(False))
    return [
        make_finding(
            "setup-foundation-self-promotion", Subject("Stage", a["namespace"], a["stage"]),
            {"stage": a["stage"], "namespace": a["namespace"], "app": a["app_name"], "index": a["index"],
             "component": a["foundation_component"], "why": a["foundation_why"]},
            [evidence(a["app_source"], "spec.source / status.resources", a["foundation_why"]),
             evidence(a["stage_source"], f"spec.promotionTemplate.spec.steps[{a['index']}].config.apps", f"{a['app_namespace']}/{a['app_name']}")],
            related=(Subject("Application", a["app_namespace"], a["app_name"]),),
        )
        for a in rows(apps.sort("namespace", "stage", "app_name"))
    ]


def _scaffold_params(frames, stage: dict) -> dict:
    """The scaffold command line that rebuilds a Stage's verification (Raw shell fragments)."""
    apps = stage_apps(frames, stage["namespace"]).filter(pl.col("stage") == stage["name"])
    names = list(dict.fromkeys(apps.get_column("app_name").to_list())) or ["APP"]
    upstream = stage.get("upstream_stages") or []
    return {
        "project": stage["namespace"],
        "upstream": Raw(" ".join(f"--upstream {shlex.quote(u)}" for u in upstream) or f"--warehouse {shlex.quote((stage.get('warehouses') or ['WAREHOUSE'])[0])}"),
        "apps": Raw(" ".join(f"--app {shlex.quote(n)}" for n in names)),
        "out_dir": f"./stage-{stage['name']}",
    }


@rule("setup-missing-verification", needs=("stages", "analysis_templates"), mode="lint")
def missing_verification(frames) -> list[Finding]:
    """A Stage has no verification, or verifies with an AnalysisTemplate that does not exist.

    **Symptom** Freight moves downstream without any functional check; or the
    Stage's verification errors before any AnalysisRun exists.
    **Evidence** The Stage's ``spec.verification`` (absent) or the
    AnalysisTemplates it names and those its namespace holds.
    **Fix** Add an AnalysisTemplate and ``spec.verification`` (``gitops-master
    scaffold stage`` writes both, with the verification RBAC).
    """
    stages = frames.stages.filter(~pl.col("control_flow"))
    downstream = (
        frames.stages.select("namespace", pl.col("name").alias("down"), pl.col("upstream_stages").alias("stage"))
        .explode("stage").filter(pl.col("stage").is_not_null())
        .group_by("namespace", "stage").agg(pl.col("down").sort().alias("downstream"))
    )
    stages = stages.join(downstream, left_on=["namespace", "name"], right_on=["namespace", "stage"], how="left")
    out = []
    for s in rows(stages.filter(~pl.col("has_verification")).sort("namespace", "name")):
        down = s["downstream"] or []
        out.append(make_finding(
            "setup-missing-verification", Subject("Stage", s["namespace"], s["name"]),
            {"stage": s["name"], "namespace": s["namespace"], "template_kind": "AnalysisTemplate", "template": "",
             "template_wanted": f"{s['name']}-health",
             "downstream": ("its downstream Stages " + ", ".join(down)) if down else "anyone relies on it",
             **_scaffold_params(frames, s)},
            [evidence(s["source"], "spec.verification", "absent")],
            variant="none",
        ))
    # Templates named by a Stage that its namespace (or the cluster) does not hold.
    refs = (
        frames.stage_extras.select("namespace", pl.col("name").alias("stage"), "templates", pl.col("source").alias("stage_source"))
        .explode("templates").filter(pl.col("templates").is_not_null())
        .select("namespace", "stage", "stage_source", pl.col("templates").struct.field("name").alias("template"),
                pl.col("templates").struct.field("kind").fill_null("AnalysisTemplate").alias("template_kind"))
    )
    local = frames.analysis_templates.select("namespace", pl.col("name").alias("template"), pl.lit(True).alias("held")) \
        .unique(["namespace", "template"])
    cluster = frames.cluster_template_jobs.get_column("name")
    refs = refs.join(local, on=["namespace", "template"], how="left", maintain_order="left").with_columns(
        pl.when(pl.col("template_kind") == "ClusterAnalysisTemplate").then(pl.col("template").is_in(cluster.implode()))
        .otherwise(pl.col("held").fill_null(False)).alias("present"))
    holding = set(frames.analysis_templates.get_column("namespace").drop_nulls().to_list())
    stage_rows = rows_by(frames, "stages", ("namespace", "name"), tuple(frames.stages.columns))
    for r in rows(refs.filter(~pl.col("present")).sort("namespace", "stage", "template")):
        if r["template_kind"] == "ClusterAnalysisTemplate":
            cov = coverage(frames, "clusteranalysistemplates.argoproj.io")
        else:
            cov = coverage(frames, "analysistemplates.argoproj.io", r["namespace"], present=r["namespace"] in holding)
        if not cov.known:
            continue
        stage = stage_rows[(r["namespace"], r["stage"])]
        out.append(make_finding(
            "setup-missing-verification", Subject("Stage", r["namespace"], r["stage"]),
            {"stage": r["stage"], "namespace": r["namespace"], "template": r["template"], "template_kind": r["template_kind"],
             "template_wanted": r["template"], "downstream": "", **_scaffold_params(frames, stage)},
            [evidence(r["stage_source"], "spec.verification.analysisTemplates", f"{r['template_kind']} {r['template']}"),
             evidence(f"{r['template_kind']} objects", r["namespace"], "no " + r["template"])],
            variant="template-missing", severity="error",
            related=(Subject(r["template_kind"], r["namespace"], r["template"]),),
        ))
    return out


def verification_jobs(frames) -> pl.DataFrame:
    """(Stage, ServiceAccount) -> the templates whose Job metrics run as it, and their commands."""
    refs = (
        frames.stage_extras.select("namespace", pl.col("name").alias("stage"), "templates")
        .explode("templates").filter(pl.col("templates").is_not_null())
        .select("namespace", "stage", pl.col("templates").struct.field("name").alias("template"),
                pl.col("templates").struct.field("kind").fill_null("AnalysisTemplate").alias("template_kind"))
    )
    local = frames.template_jobs.select("namespace", pl.col("name").alias("template"), "metrics", "source")
    cluster = frames.cluster_template_jobs.select(pl.col("name").alias("template"), pl.col("metrics").alias("cluster_metrics"))
    joined = (
        refs.join(local, on=["namespace", "template"], how="left")
        .join(cluster, on="template", how="left")
        .with_columns(pl.when(pl.col("template_kind") == "ClusterAnalysisTemplate").then(pl.col("cluster_metrics"))
                      .otherwise(pl.col("metrics")).alias("metrics"))
        .explode("metrics").filter(pl.col("metrics").is_not_null() & pl.col("metrics").struct.field("is_job"))
        .with_columns(pl.col("metrics").struct.field("service_account").fill_null("default").alias("service_account"),
                      pl.col("metrics").struct.field("script").fill_null("").alias("script"))
    )
    return joined.group_by("namespace", "stage", "service_account", maintain_order=True).agg(
        pl.col("template").unique(maintain_order=True).alias("templates"),
        pl.col("script").str.join("\n").alias("script"),
        pl.col("source").first().alias("template_source"),
    )


@rule("setup-verification-rbac-missing", needs=("stages", "analysis_templates"), mode="lint")
def verification_rbac(frames) -> list[Finding]:
    """The ServiceAccount of a verification Job is missing, unbound, or not granted what its commands use.

    **Symptom** Verification fails with nothing useful on the AnalysisRun; the
    Job's log says "forbidden".
    **Evidence** The AnalysisTemplate's ``serviceAccountName`` (``default``
    when unset), the ServiceAccounts, RoleBindings and ClusterRoleBindings in
    the bundle, and the kubectl commands of the Job's containers.
    **Fix** Add the ServiceAccount, ClusterRole and binding of the S3
    checklist (``gitops-master scaffold stage`` writes them), or the missing
    rules.
    """
    out = []
    jobs = verification_jobs(frames)
    stages = {(s["namespace"], s["name"]): s for s in rows(frames.stages)}
    for j in rows(jobs.sort("namespace", "stage", "service_account")):
        needs = script_needs(j["script"])
        check = checklist(frames, j["namespace"], j["service_account"], j["templates"], j["script"], [])
        if check.sa_state == "missing" and j["service_account"] != "default":
            variant = "sa-missing"
        elif check.binding_state == "missing" and needs:
            variant = "unbound"
        elif check.grants_state == "missing" and check.missing:
            variant = "missing-grants"
        else:
            continue
        missing = list(check.missing) or needs
        stage = stages.get((j["namespace"], j["stage"]), {"namespace": j["namespace"], "name": j["stage"]})
        role = next((b.role_name for b in check.bindings if b.role_kind == "ClusterRole"), "kargo-verification")
        ev = [evidence(j["template_source"] or "analysistemplates.argoproj.io", "spec.metrics[].provider.job...serviceAccountName",
                       f"{j['service_account']} ({', '.join(j['templates'])})"),
              *check.evidence]
        if variant == "missing-grants":
            ev.append(evidence(j["template_source"] or "analysistemplates.argoproj.io", "the Job's kubectl commands",
                               "; ".join(sorted({n.why for n in check.missing}))))
        out.append(make_finding(
            "setup-verification-rbac-missing", Subject("Stage", j["namespace"], j["stage"]),
            {"template": ", ".join(j["templates"]), "stage": j["stage"], "namespace": j["namespace"], "sa": j["service_account"],
             "missing": ", ".join(n.label for n in missing) or "anything", "role": role,
             "rules": Raw(rules_yaml(missing) or "(none)"),
             "can_i": Raw(can_i(missing[0], None) if missing else "list pods -A"),
             **_scaffold_params(frames, stage)},
            ev,
            variant=variant,
            related=(Subject("ServiceAccount", j["namespace"], j["service_account"]),),
        ))
    return out


@rule("setup-unknown-freight-source", needs=("stages", "warehouses"), mode="lint")
def unknown_freight_source(frames) -> list[Finding]:
    """A Stage requests Freight from a Warehouse or upstream Stage that does not exist.

    **Symptom** The Stage never gets Freight (``NoFreight``), though the
    pipeline around it moves.
    **Evidence** ``spec.requestedFreight`` of the Stage and the Warehouses and
    Stages of its namespace.
    **Fix** Name an existing Warehouse or Stage, in git.
    """
    requested = (
        frames.stage_extras.select("namespace", pl.col("name").alias("stage"), "requested", pl.col("source").alias("stage_source"))
        .filter(pl.col("requested").list.len().fill_null(0) > 0)
        .with_columns(pl.int_ranges(0, pl.col("requested").list.len()).alias("index"))
        .explode("requested", "index").filter(pl.col("requested").is_not_null())
        .unnest("requested")
    )
    out = []
    known_stages = frames.stages.group_by("namespace").agg(pl.col("name").sort().alias("names"))
    known_wh = frames.warehouses.group_by("namespace").agg(pl.col("name").sort().alias("names"))
    stage_names = {r["namespace"]: r["names"] for r in rows(known_stages)}
    wh_names = {r["namespace"]: r["names"] for r in rows(known_wh)}
    for r in rows(requested.sort("namespace", "stage", "index")):
        ns = r["namespace"]
        checks = []
        if r["warehouse"]:
            cov = coverage(frames, "warehouses.kargo.akuity.io", ns, present=bool(wh_names.get(ns)))
            if cov.known and r["warehouse"] not in wh_names.get(ns, []):
                checks.append(("from", "Warehouse", r["warehouse"], wh_names.get(ns, []), "warehouses.kargo.akuity.io"))
        stages_cov = coverage(frames, "stages.kargo.akuity.io", ns, present=True)
        for up in r["stages"] or []:
            if stages_cov.known and up not in stage_names.get(ns, []):
                checks.append(("through", "Stage", up, stage_names.get(ns, []), "stages.kargo.akuity.io"))
        for relation, kind, name, known, resource in checks:
            out.append(make_finding(
                "setup-unknown-freight-source", Subject("Stage", ns, r["stage"]),
                {"stage": r["stage"], "namespace": ns, "relation": relation, "kind": kind, "source": name,
                 "known": ", ".join(known) or "none", "index": r["index"], "resource": resource},
                [evidence(r["stage_source"], f"spec.requestedFreight[{r['index']}]", f"{kind} {name}"),
                 evidence(resource, ns, f"{kind}s: {', '.join(known) or 'none'}")],
                related=(Subject(kind, ns, name),),
            ))
    return out
