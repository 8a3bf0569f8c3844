"""gitops-master verify: each level passing, failing and unknown, on variations of a complete bundle.

The base is sample_bundles/verified-pipeline (every kind verify reads was
collected; both Stages pass all four levels). Each case changes one thing on
the prod Stage and checks which level fails (the later ones SKIPPED) or which
check turns UNKNOWN because its data was not collected.
"""

from __future__ import annotations

import copy

import json
import re

import pytest
from click.testing import CliRunner

from analyzer.analysis import analyze
from analyzer.cli import main
from analyzer.modes.verify import verify
from conftest import SAMPLES
from mode_bundles import BundleCopy, app_file, stage_file

PROD_PODS = "cluster-resources/pods/guestbook-prod.json"
PROD_SECRETS = "cluster-resources/secrets/guestbook-prod.json"
PROD_INGRESS = "cluster-resources/ingresses/guestbook-prod.json"
PROD_CERTS = "cluster-resources/custom-resources/certificates.cert-manager.io/guestbook-prod.json"
CRDS = "cluster-resources/customresourcedefinitions.json"
RUNS = "cluster-resources/custom-resources/analysisruns.argoproj.io/kargo-demo.json"
TEMPLATES = "cluster-resources/custom-resources/analysistemplates.argoproj.io/kargo-demo.json"


def prod(bundle, quick: bool = False):
    context = verify(analyze(str(bundle), stage="prod"), quick=quick)
    (stage,) = context.stages
    return context, stage


def statuses(stage) -> list[str]:
    return [level.status for level in stage.levels]


def check(stage, ident: str):
    found = [c for level in stage.levels for c in level.checks if c.id == ident]
    assert found, f"no {ident} check in {[c.id for lv in stage.levels for c in lv.checks]}"
    return found[0]


# ------------------------------------------------------------------ pass


def test_complete_bundle_passes_every_level_on_every_stage():
    context = verify(analyze(str(SAMPLES / "verified-pipeline")))
    assert [s.name for s in context.stages] == ["dev", "prod"]
    for stage in context.stages:
        assert statuses(stage) == ["PASS"] * 4, stage
        assert stage.overall_text == "PASS" and stage.action_required == "None"
    assert (context.verdict, context.exit_code) == ("PASS", 0)


# ------------------------------------------------------------------ fail at each level


def _crash(pod):
    pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}
    pod["status"]["containerStatuses"][0]["ready"] = False


def _secret_ref(pod):
    pod["spec"]["containers"][0]["env"] = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "guestbook-db", "key": "password"}}}]


def _managed_crd(app):
    # external-secrets is not installed (prometheus-operator is: the dev Application deploys a Prometheus)
    app["status"]["resources"].append({"group": "external-secrets.io", "kind": "ExternalSecret", "name": "guestbook",
                                       "namespace": "guestbook-prod", "status": "OutOfSync", "version": "v1"})


def _degraded(app):
    app["status"]["health"]["status"] = "Degraded"


def _no_address(ing):
    ing["status"]["loadBalancer"] = {}


def _cert_failing(cert):
    cert["status"]["conditions"][0].update(status="False", reason="Failed", message="ACME challenge failed: 403")


def _run_failed(run):
    run["status"]["phase"] = "Failed"
    run["status"]["message"] = 'Metric "healthz" assessed Failed due to failed (2) > failureLimit (1)'


def _stage_run_failed(stage):
    stage["status"]["freightHistory"][0]["verificationHistory"][0]["phase"] = "Failed"


FAILS = [
    # (case, level, check, changes)
    ("pod-crashlooping", 1, "pods", [(PROD_PODS, None, _crash)]),
    ("referenced-secret-missing", 1, "secrets", [(PROD_PODS, None, _secret_ref)]),
    ("managed-crd-not-installed", 1, "crds", [(app_file(), "guestbook-prod", _managed_crd)]),
    ("app-degraded", 2, "apps", [(app_file(), "guestbook-prod", _degraded)]),
    ("ingress-without-address", 3, "ingress", [(PROD_INGRESS, "guestbook", _no_address)]),
    ("certificate-not-ready", 3, "tls", [(PROD_CERTS, "guestbook-tls", _cert_failing)]),
    ("analysis-run-failed", 4, "analysis", [(RUNS, None, _run_failed), (stage_file(), "prod", _stage_run_failed)]),
]


@pytest.mark.parametrize("case, level, ident, changes", FAILS, ids=[f[0] for f in FAILS])
def test_fails_at_the_first_failing_level_and_skips_the_rest(tmp_path, case, level, ident, changes):
    bundle = BundleCopy(tmp_path)
    for rel, name, change in changes:
        if name is None:  # every object of the file (the prod pods, the prod AnalysisRuns)
            items = bundle.items(rel)
            for obj in items:
                if rel != RUNS or obj["metadata"]["name"].startswith("prod.01m84"):
                    change(obj)
            bundle.write(rel, items)
        else:
            bundle.edit(rel, name, change)
    context, stage = prod(bundle)
    assert statuses(stage)[:level - 1] == ["PASS"] * (level - 1)
    assert stage.levels[level - 1].status == "FAIL"
    assert statuses(stage)[level:] == ["SKIPPED"] * (4 - level)
    assert check(stage, ident).status == "FAIL"
    assert stage.overall_text == f"FAIL at Level {level}"
    assert stage.action_required not in ("", "None")
    assert (context.verdict, context.exit_code) == ("FAIL", 1)


def test_level_two_failure_skips_level_three_even_when_it_would_fail(tmp_path):
    bundle = BundleCopy(tmp_path)
    bundle.edit(app_file(), "guestbook-prod", _degraded)
    bundle.edit(PROD_INGRESS, "guestbook", _no_address)
    _, stage = prod(bundle)
    assert statuses(stage) == ["PASS", "FAIL", "SKIPPED", "SKIPPED"]
    assert stage.levels[2].checks == () and "Level 2 failed" in stage.levels[2].note


def test_missing_secret_named_by_the_kubelet_fails_without_secrets_collected(tmp_path):
    bundle = BundleCopy(tmp_path)
    bundle.drop(PROD_SECRETS)

    def waiting(pod):
        pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "CreateContainerConfigError",
                                                                      "message": 'secret "guestbook-db" not found'}}
    items = bundle.items(PROD_PODS)
    for pod in items:
        waiting(pod)
    bundle.write(PROD_PODS, items)
    _, stage = prod(bundle)
    assert check(stage, "secrets").status == "FAIL"
    assert "guestbook-prod/guestbook-db" in check(stage, "secrets").detail


def test_forbidden_in_the_verification_job_log_is_named_as_the_cause(tmp_path):
    bundle = BundleCopy(tmp_path)
    run_name = next(r["metadata"]["name"] for r in bundle.items(RUNS) if r["metadata"]["name"].startswith("prod.01m84"))
    bundle.edit(TEMPLATES, "guestbook-smoke", lambda t: t["spec"]["metrics"].append({
        "name": "pods", "provider": {"job": {"spec": {"backoffLimit": 0, "template": {"spec": {
            "serviceAccountName": "kargo-verification", "restartPolicy": "Never",
            "containers": [{"name": "verify", "image": "alpine/k8s:1.31.2", "command": ["sh", "-c"],
                            "args": ["kubectl exec -n guestbook-prod deploy/guestbook -- wget -qO- localhost:8080/healthz"]}]}}}}}}))
    bundle.add("cluster-resources/jobs/kargo-demo.json", {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "f00dfeed.pods.1", "namespace": "kargo-demo",
                     "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "name": run_name, "uid": "x"}]},
        "spec": {"template": {"spec": {"serviceAccountName": "kargo-verification"}}},
        "status": {"failed": 1}})
    log = tmp_path / "verified-pipeline/cluster-resources/pods/logs/kargo-demo/f00dfeed.pods.1-x7k2p/verify.log"
    log.parent.mkdir(parents=True)
    log.write_text('2026-11-24T08:00:01.000000000Z Error from server (Forbidden): pods "guestbook-5d8f7" is forbidden: '
                   'User "system:serviceaccount:kargo-demo:kargo-verification" cannot create resource "pods/exec" '
                   'in API group "" in the namespace "guestbook-prod"\n')
    bundle.edit(RUNS, run_name, _run_failed)
    bundle.edit(stage_file(), "prod", _stage_run_failed)
    _, stage = prod(bundle)
    assert stage.overall_text == "FAIL at Level 4"
    assert check(stage, "rbac-grants").status == "FAIL"  # pods/exec is not in the playbook's ClusterRole
    forbidden = check(stage, "rbac-forbidden")
    assert forbidden.status == "FAIL" and "cannot create pods/exec in guestbook-prod" in forbidden.detail
    (rbac,) = stage.rbac
    assert rbac.service_account == "kargo-verification" and [n.label for n in rbac.missing] == ["create pods/exec"]


# ------------------------------------------------------------------ unknown for each gap




def _secret_ref_all(bundle):
    items = bundle.items(PROD_PODS)
    for pod in items:
        _secret_ref(pod)
    bundle.write(PROD_PODS, items)


def _running(stage):
    stage["status"]["freightHistory"][0]["verificationHistory"][0]["phase"] = "Running"


def _run_running(bundle):
    items = bundle.items(RUNS)
    for run in items:
        if run["metadata"]["name"].startswith("prod.01m84"):
            run["status"]["phase"] = "Running"
    bundle.write(RUNS, items)


def _not_visited(bundle):
    bundle.drop_namespace("guestbook-prod")
    manifest = bundle.manifest()
    manifest["config"]["app_namespace"]["value"] = "guestbook-dev"
    bundle.save_manifest(manifest)


UNKNOWNS = [
    # (case, how the data goes missing, level, check): the ways a real collection misses data.
    ("namespace-not-visited", _not_visited, 1, "pods"),
    ("pods-forbidden", lambda b: b.fail(PROD_PODS, "pods"), 1, "pods"),
    ("secrets-not-collected", lambda b: (b.drop_kind("cluster-resources/secrets"), _secret_ref_all(b)), 1, "secrets"),
    ("crds-not-collected", lambda b: (b.drop(CRDS), b.edit(app_file(), "guestbook-prod", _managed_crd)), 1, "crds"),
    ("ingresses-not-collected", lambda b: b.drop_kind("cluster-resources/ingresses"), 3, "ingress"),
    ("certificates-not-collected", lambda b: b.drop_kind("cluster-resources/custom-resources/certificates.cert-manager.io"), 3, "tls"),
    ("verification-still-running", lambda b: (b.edit(stage_file(), "prod", _running), _run_running(b)), 4, "analysis"),
]


@pytest.mark.parametrize("case, change, level, ident", UNKNOWNS, ids=[u[0] for u in UNKNOWNS])
def test_missing_data_is_unknown_never_pass(tmp_path, case, change, level, ident):
    bundle = BundleCopy(tmp_path)
    change(bundle)
    context, stage = prod(bundle)
    assert check(stage, ident).status == "UNKNOWN", check(stage, ident)
    assert stage.levels[level - 1].status == "UNKNOWN"
    assert "FAIL" not in statuses(stage)
    # UNKNOWN does not stop the levels after it.
    assert "SKIPPED" not in statuses(stage)
    assert stage.overall_text == f"UNKNOWN at Level {level} (collection gap)"
    assert (context.verdict, context.exit_code) == ("UNKNOWN", 3)


def test_forbidden_pods_say_why(tmp_path):
    bundle = BundleCopy(tmp_path)
    bundle.fail(PROD_PODS, "pods")
    _, stage = prod(bundle)
    assert "forbidden" in check(stage, "pods").detail


def test_no_ingress_collected_and_none_present_is_nothing_to_check(tmp_path):
    bundle = BundleCopy(tmp_path)
    bundle.write(PROD_INGRESS, [])
    _, stage = prod(bundle)
    assert check(stage, "ingress").status == "N/A"
    assert stage.levels[2].status == "PASS"


def test_prometheus_targets(tmp_path):
    bundle = BundleCopy(tmp_path)
    bundle.edit(app_file(), "guestbook-prod", lambda a: a["status"]["resources"].append({
        "group": "monitoring.coreos.com", "kind": "Prometheus", "name": "k8s", "namespace": "guestbook-prod",
        "status": "Synced", "version": "v1"}))
    _, stage = prod(bundle)
    assert check(stage, "prometheus").status == "UNKNOWN"  # the targets were not collected
    target = {"apiVersion": "bundle.gitops-master.io/v1", "kind": "PrometheusTarget",
              "metadata": {"name": "prometheus-operated", "namespace": "guestbook-prod"},
              "response": {"status": "success", "data": {"activeTargets": [
                  {"scrapePool": "serviceMonitor/guestbook-prod/guestbook/0", "health": "down", "lastError": "connection refused"}]}}}
    rel = "cluster-resources/custom-resources/prometheustargets.bundle.gitops-master.io/guestbook-prod.json"
    bundle.add(rel, target)
    _, stage = prod(bundle)
    assert check(stage, "prometheus").status == "FAIL" and "0 active of 1" in check(stage, "prometheus").detail
    target["response"]["data"]["activeTargets"].append({"scrapePool": "serviceMonitor/guestbook-prod/guestbook/1", "health": "up"})
    bundle.write(rel, [target])
    _, stage = prod(bundle)
    assert check(stage, "prometheus").status == "PASS" and "1/2" in check(stage, "prometheus").detail
    # Two Services in front of one Prometheus (kube-prometheus-stack) answer the same targets: counted once.
    for i, t in enumerate(target["response"]["data"]["activeTargets"]):
        t["scrapeUrl"] = f"http://10.0.0.{i}:8080/metrics"
    twin = copy.deepcopy(target)
    twin["metadata"]["name"] = "kube-prometheus-stack-prometheus"
    bundle.write(rel, [target, twin])
    _, stage = prod(bundle)
    assert "1/2" in check(stage, "prometheus").detail
    twin["response"]["data"]["activeTargets"][0]["scrapeUrl"] = "http://10.0.0.9:8080/metrics"  # another Prometheus
    bundle.write(rel, [target, twin])
    _, stage = prod(bundle)
    assert "2/4" in check(stage, "prometheus").detail


def test_stage_without_verification_is_unknown_at_level_four(tmp_path):
    bundle = BundleCopy(tmp_path)
    bundle.edit(stage_file(), "prod", lambda s: s["spec"].pop("verification"))
    _, stage = prod(bundle)
    assert check(stage, "verification").status == "UNKNOWN"
    assert stage.overall_text == "UNKNOWN at Level 4 (collection gap)"


# ------------------------------------------------------------------ --quick, output, CLI


def test_quick_is_levels_one_and_two(tmp_path):
    bundle = BundleCopy(tmp_path)
    bundle.edit(PROD_INGRESS, "guestbook", _no_address)
    context, stage = prod(bundle, quick=True)
    assert statuses(stage) == ["PASS", "PASS", "SKIPPED", "SKIPPED"]
    assert "--quick" in stage.levels[2].note
    assert context.exit_code == 0


V4_LINES = [
    r"VERIFICATION REPORT",
    r"===================",
    r"Stage: prod",
    r"Timestamp: 2026-11-24T08:30:41Z",
    r"Level 1 \(Infrastructure\): (PASS|FAIL|UNKNOWN)",
    r"Level 2 \(Service Health\): (PASS|FAIL|UNKNOWN|SKIPPED)",
    r"Level 3 \(Ingress & Auth\): (PASS|FAIL|UNKNOWN|SKIPPED)",
    r"Level 4 \(Functional\): (PASS|FAIL|UNKNOWN|SKIPPED)",
    r"Overall: (PASS|FAIL at Level \d|UNKNOWN at Level \d \(collection gap\))",
    r"Action Required: .+",
]


def _v4_skeleton(text: str) -> list[str]:
    block = text.split("VERIFICATION REPORT\n", 1)[1].split("\n\n", 1)[0]
    lines = ["VERIFICATION REPORT"] + block.splitlines()
    return [line for line in lines if not line.startswith("[")]


@pytest.mark.parametrize("quick", [False, True])
def test_text_is_the_v4_block_with_the_bundle_time(quick):
    args = ["verify", str(SAMPLES / "verified-pipeline"), "--stage", "prod"] + (["--quick"] if quick else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    skeleton = _v4_skeleton(result.stdout)
    assert len(skeleton) == len(V4_LINES)
    for line, pattern in zip(skeleton, V4_LINES, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)
    block = result.stdout.split("VERIFICATION REPORT\n", 1)[1]
    checks = [line for line in block.splitlines() if line.startswith("[")]
    assert checks and all(re.match(r"^\[(x| |\?|-)\] [^:]+: ", line) for line in checks)
    assert "[x] Pods running: 1/1 in guestbook-prod" in checks


def test_failed_check_lines_end_in_failed():
    result = CliRunner().invoke(main, ["verify", str(SAMPLES / "verification-failed"), "--stage", "qa"])
    assert result.exit_code == 1
    assert re.search(r"^\[ \] AnalysisRun for current Freight: .* FAILED$", result.stdout, re.M)
    assert "Overall: FAIL at Level 4" in result.stdout


@pytest.mark.parametrize("sample, code", [("verified-pipeline", 0), ("verification-failed", 1), ("healthy-pipeline", 3)])
def test_exit_codes(sample, code):
    result = CliRunner().invoke(main, ["verify", str(SAMPLES / sample)])
    assert result.exit_code == code, result.output


def test_json_and_markdown():
    result = CliRunner().invoke(main, ["verify", str(SAMPLES / "healthy-pipeline"), "--format", "json"])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["verdict"] == "UNKNOWN" and data["exit_code"] == 3
    level3 = data["stages"][0]["levels"][2]
    assert level3["status"] == "UNKNOWN" and "not collected" in level3["checks"][0]["detail"]
    md = CliRunner().invoke(main, ["verify", str(SAMPLES / "verified-pipeline"), "--format", "md"]).stdout
    assert md.startswith("# gitops-master verify") and "### Level 4 (Functional): PASS" in md


def test_unknown_stage_and_control_flow(tmp_path):
    result = CliRunner().invoke(main, ["verify", str(SAMPLES / "verified-pipeline"), "--stage", "nope"])
    assert result.exit_code == 3 and "No Stage to verify" in result.stdout, result.output


def test_junit_for_ci():
    import xml.etree.ElementTree as ET

    result = CliRunner().invoke(main, ["verify", str(SAMPLES / "verification-failed"), "--format", "junit"])
    assert result.exit_code == 1
    suite = ET.fromstring(result.stdout).find("testsuite")
    cases = {(c.get("classname"), c.get("name")): [x.tag for x in c] for c in suite.iter("testcase")}
    assert cases[("verify.kargo-demo.qa", "Level 4 (Functional)")] == ["failure"]
    assert cases[("verify.kargo-demo.qa", "Level 3 (Ingress & Auth)")] == ["error"]  # not collected
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("8", "1", "2")


def test_prometheus_targets_refused_by_the_proxy_is_a_gap(tmp_path):
    bundle = BundleCopy(tmp_path)
    bundle.edit(app_file(), "guestbook-prod", lambda a: a["status"]["resources"].append({
        "group": "monitoring.coreos.com", "kind": "Prometheus", "name": "k8s", "namespace": "guestbook-prod",
        "status": "Synced", "version": "v1"}))
    manifest = bundle.manifest()
    manifest["commands"].append({
        "id": "prometheustargets.bundle.gitops-master.io/guestbook-prod", "output": None, "exit_code": 1,
        "argv": ["kubectl", "get", "--raw", "/api/v1/namespaces/guestbook-prod/services/prometheus-operated:9090/proxy/api/v1/targets"],
        "stderr": 'Error from server (Forbidden): services "prometheus-operated:9090" is forbidden: cannot get resource "services/proxy"',
        "started_at": manifest["collected_at"], "finished_at": manifest["collected_at"]})
    bundle.save_manifest(manifest)
    _, stage = prod(bundle)
    assert check(stage, "prometheus").status == "UNKNOWN" and "forbidden" in check(stage, "prometheus").detail


def test_a_verification_time_the_bundle_left_empty_reads_as_unknown(tmp_path):
    # Found by the fuzz run: Freight status.verifiedIn.<stage> set to null once made verify fail.
    bundle = BundleCopy(tmp_path)
    rel = "cluster-resources/custom-resources/freights.kargo.akuity.io/kargo-demo.json"
    freight = bundle.items(rel)
    for f in freight:
        for stage in list((f.get("status") or {}).get("verifiedIn") or {}):
            f["status"]["verifiedIn"][stage] = None
    bundle.write(rel, freight)
    result = CliRunner().invoke(main, ["verify", str(bundle), "--format", "json"])
    assert result.exit_code in (0, 1, 3), result.output
    assert "internal error" not in result.output
    result = CliRunner().invoke(main, ["promote-check", str(bundle), "--stage", "prod"])
    assert result.exit_code in (0, 1, 3) and "internal error" not in result.output


def test_a_pasted_stage_without_a_namespace_is_verified_not_a_crash(tmp_path):
    # Found by the fuzz run: a Stage whose metadata lost its namespace broke the per-namespace lookups.
    import yaml

    docs = list(yaml.safe_load_all((SAMPLES / "pasted-ticket" / "ticket.yaml").read_text()))
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "Stage":
            doc["metadata"].pop("namespace", None)
    ticket = tmp_path / "ticket.yaml"
    ticket.write_text(yaml.safe_dump_all(docs))
    for command in (["verify", str(ticket)], ["lint", str(ticket)], ["report", str(ticket), "-o", str(tmp_path / "r.html")]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code in (0, 1, 3), result.output
        assert "internal error" not in result.output
