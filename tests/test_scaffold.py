"""gitops-master scaffold stage: the generated objects validate against the real CRDs and pass our own lint."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from analyzer.analysis import analyze
from analyzer.cli import main
from analyzer.modes.rbac import BASELINE, Need, script_needs, ungranted
from crd_schema import shared_dir, validate_object

ARGS = ["scaffold", "stage", "--project", "kargo-demo", "--name", "monitoring", "--upstream", "operators",
        "--app", "kube-prometheus-stack", "--app", "loki", "--app", "external-secrets", "--app", "alloy",
        "--warehouse", "platform-apps", "--app-namespace", "monitoring"]

needs_crds = pytest.mark.skipif(not (shared_dir() / "crds").is_dir(), reason="../shared/crds not found (set GITOPS_SHARED)")


def scaffold(*args: str) -> list[dict]:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def by_kind(docs: list[dict]) -> dict[str, dict]:
    return {d["kind"]: d for d in docs}


@needs_crds
def test_every_object_validates():
    docs = scaffold(*ARGS)
    assert [d["kind"] for d in docs] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "AnalysisTemplate", "Stage"]
    for doc in docs:
        assert validate_object(doc) == [], doc["kind"]
        assert doc["apiVersion"] and doc["metadata"]["name"]
    stage = by_kind(docs)["Stage"]
    assert stage["apiVersion"] == "kargo.akuity.io/v1alpha1"


def test_retry_follows_the_tuning_table():
    stage = by_kind(scaffold(*ARGS))["Stage"]
    steps = stage["spec"]["promotionTemplate"]["spec"]["steps"]
    got = {s["config"]["apps"][0]["name"]: (s["uses"], s["retry"]["timeout"], s["retry"]["errorThreshold"]) for s in steps}
    assert got == {
        "kube-prometheus-stack": ("argocd-update", "10m", 3),
        "loki": ("argocd-update", "10m", 3),
        "external-secrets": ("argocd-update", "5m", 2),
        "alloy": ("argocd-update", "3m", 2),
    }
    assert stage["spec"]["requestedFreight"] == [{"origin": {"kind": "Warehouse", "name": "platform-apps"},
                                                  "sources": {"stages": ["operators"]}}]
    assert stage["spec"]["verification"] == {"analysisTemplates": [{"name": "monitoring-health"}],
                                             "args": [{"name": "namespace", "value": "monitoring"}]}


def test_without_upstream_the_stage_takes_freight_from_the_warehouse():
    result = CliRunner().invoke(main, ["scaffold", "stage", "--project", "demo", "--name", "dev", "--app", "web"])
    assert result.exit_code == 0
    assert "--warehouse not given" in result.stderr
    stage = by_kind([d for d in yaml.safe_load_all(result.stdout) if d])["Stage"]
    assert stage["spec"]["requestedFreight"][0] == {"origin": {"kind": "Warehouse", "name": "demo"}, "sources": {"direct": True}}


def test_the_verification_job_is_granted_what_it_runs():
    docs = by_kind(scaffold(*ARGS))
    template = docs["AnalysisTemplate"]
    job = template["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]
    assert job["serviceAccountName"] == docs["ServiceAccount"]["metadata"]["name"]
    assert docs["ClusterRoleBinding"]["subjects"][0]["name"] == job["serviceAccountName"]
    needs = script_needs("\n".join(job["containers"][0]["args"]))
    assert {(n.group, n.resource, n.verb) for n in needs} >= {("", "pods", "list"), ("apps", "deployments", "list"),
                                                              ("argoproj.io", "applications", "get")}
    import polars as pl
    rules = pl.DataFrame([{"groups": r["apiGroups"], "resources": r["resources"], "verbs": r["verbs"]} for r in docs["ClusterRole"]["rules"]])
    assert ungranted(rules, needs) == []
    assert ungranted(rules, list(BASELINE)) == []  # the playbook's checklist
    assert ungranted(rules, [Need("", "pods/exec", "create", "x")])  # and nothing more


def test_generated_stage_passes_the_lint(tmp_path):
    docs = scaffold(*ARGS)
    apps = []
    for name in ("kube-prometheus-stack", "loki", "external-secrets", "alloy"):
        apps.append({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                     "metadata": {"name": name, "namespace": "argocd",
                                  "annotations": {"kargo.akuity.io/authorized-stage": "kargo-demo:monitoring"}},
                     "spec": {"project": "default", "source": {"repoURL": "https://charts.example.com", "chart": name,
                                                               "targetRevision": "1.0.0"},
                              "destination": {"server": "https://kubernetes.default.svc", "namespace": "monitoring"}}})
    bundle = tmp_path / "stage.yaml"
    bundle.write_text(yaml.safe_dump_all(docs + apps))
    findings = analyze(str(bundle), modes=("lint",)).findings
    assert [f.id for f in findings] == []


def test_output_directory(tmp_path):
    out = tmp_path / "kargo"
    runner = CliRunner()
    result = runner.invoke(main, [*ARGS, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["analysistemplate-monitoring-health.yaml", "stage-monitoring.yaml",
                                                     "verification-rbac-kargo-demo.yaml"]
    assert runner.invoke(main, [*ARGS, "-o", str(out)]).exit_code == 0  # same content: fine
    (out / "stage-monitoring.yaml").write_text("# edited by hand\n")
    result = runner.invoke(main, [*ARGS, "-o", str(out)])
    assert result.exit_code == 2 and "exists and differs" in result.output


@pytest.mark.parametrize("bad", [["--name", "Prod_EU"], ["--app", "bad app"], ["--project", ""], ["--upstream", "a:b"]])
def test_invalid_names_are_refused(bad):
    args = ["scaffold", "stage", "--project", "demo", "--name", "prod", "--app", "web"]
    key = bad[0]
    if key in ("--name", "--project"):
        args[args.index(key) + 1] = bad[1]
    else:
        args += bad
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "not a valid Kubernetes name" in result.output
