"""gitops-master lint: the S1 pipeline tree and the setup findings, exit codes for CI.

The per-rule true positives and near misses live in tests/rules/setup-*/;
these tests run the command as a user would, on the sample bundles.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from analyzer.analysis import analyze
from analyzer.cli import main
from conftest import SAMPLES, sample_paths


def lint(*args: str):
    return CliRunner().invoke(main, ["lint", *args])


def test_tree_and_findings_on_the_healthy_pipeline():
    result = lint(str(SAMPLES / "healthy-pipeline"))
    assert result.exit_code == 0, result.output  # warnings only
    text = result.stdout
    tree = text.split("PIPELINE\n========\n", 1)[1].split("\nLINT\n", 1)[0]
    assert "Warehouse guestbook (https://github.com/example-org/guestbook.git, ghcr.io/example-org/guestbook)" in tree
    assert "└── dev Ready=True/Verified freight sunny-mantis (cdd7f5c)" in tree
    assert "    └── staging " in tree and "        ├── prod-eu " in tree and "        └── prod-us " in tree
    assert "app argocd/guestbook-dev (simple, manual sync, authorized-stage kargo-demo:dev) -> namespace guestbook-dev" in tree
    assert "argocd-update (retry 10m/1)" in tree
    assert text.count("[WARNING] setup-retry-too-low") == 4
    assert "errorThreshold: 2}" in text  # the exact YAML change
    assert "exit code 0 (fails on error or worse)" in text


def test_fail_on_warning():
    assert lint(str(SAMPLES / "healthy-pipeline"), "--fail-on", "warning").exit_code == 1


def test_failed_then_transient_history_makes_an_error():
    result = lint(str(SAMPLES / "repo-server-refused.tar.gz"), "--stage", "staging", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    (stage,) = data["stages"]
    (finding,) = stage["findings"]
    assert finding["id"] == "setup-retry-too-low" and finding["severity"] == "error"
    assert "errorThreshold 3" in finding["root_cause"] and "transient error" in finding["root_cause"]
    assert any("Errored" in e["value"] for e in finding["evidence"])
    assert data["gaps"] and data["gaps"][0]["id"] == "collection-gap"  # Secrets were forbidden


def test_markdown_has_the_tree_as_a_nested_list():
    result = lint(str(SAMPLES / "verification-failed"), "--format", "md")
    md = result.stdout
    assert md.startswith("# gitops-master lint")
    assert "- **Warehouse guestbook" in md and "  - **dev Ready=True/Verified" in md and "    - **qa " in md
    assert "| Stage | Severity | Id | Root cause |" in md


@pytest.mark.parametrize("sample", sample_paths(), ids=lambda p: p.name)
def test_lint_rules_stay_out_of_diagnose(sample):
    findings = analyze(str(sample)).findings
    assert not [f for f in findings if f.id.startswith("setup-")]


def test_bad_input_is_exit_2(tmp_path):
    assert lint(str(tmp_path / "nope")).exit_code == 2


def test_every_text_the_modes_use_exists():
    """The words of verify, promote-check, lint and ask live in analyzer/modes/texts.yaml."""
    import re
    from pathlib import Path

    from analyzer.modes.common import text_keys

    used = set()
    root = Path(__file__).resolve().parents[1] / "analyzer"
    for path in [*(root / "modes").glob("*.py"), root / "rules" / "setup_lint.py"]:
        used |= set(re.findall(r'say\("([a-z0-9.-]+)"', path.read_text()))
    assert used and not used - text_keys(), sorted(used - text_keys())


def test_html_reports_escape_bundle_text(tmp_path):
    from mode_bundles import BundleCopy

    bundle = BundleCopy(tmp_path)
    rel = "cluster-resources/custom-resources/analysisruns.argoproj.io/kargo-demo.json"
    items = bundle.items(rel)
    for run in items:
        run["status"]["phase"] = "Failed"
        run["status"]["message"] = "<script>alert(1)</script>"
    bundle.write(rel, items)
    stages = "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json"
    bundle.edit(stages, "prod", lambda s: s["status"]["freightHistory"][0]["verificationHistory"][0].update(phase="Failed"))
    for command in (["verify"], ["promote-check", "--stage", "prod"], ["lint"]):
        result = CliRunner().invoke(main, [command[0], str(bundle), *command[1:], "--format", "html"])
        assert result.exit_code in (0, 1, 3), result.output
        assert result.stdout.startswith("<!DOCTYPE html>") and "<script>" not in result.stdout
    verify_html = CliRunner().invoke(main, ["verify", str(bundle), "--format", "html"]).stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in verify_html and "VERIFICATION REPORT" in verify_html
