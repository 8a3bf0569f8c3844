"""Each sample bundle produces exactly the findings its expectation file lists."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from conftest import expectation_for, sample_paths

SAMPLES = sample_paths()


def key(finding: dict) -> tuple:
    s = finding["subject"]
    return (finding["id"], s["kind"], s.get("namespace"), s["name"])


def diagnose_json(sample) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["diagnose", str(sample), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def test_there_are_at_least_five_samples_one_a_tarball():
    assert len(SAMPLES) >= 5
    assert any(p.name.endswith(".tar.gz") for p in SAMPLES)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_exact_expected_findings(sample):
    expected = expectation_for(sample)
    code, report = diagnose_json(sample)
    got = {key(f) for f in report["findings"]}
    want = {key(f) for f in expected["findings"]}
    assert got == want, f"unexpected: {sorted(got - want)}; missing: {sorted(want - got)}"
    for bad in expected.get("must_not", []):
        for f in report["findings"]:
            same_id = f["id"] == bad["id"]
            same_subject = "subject" not in bad or key(f)[1:] == key({"id": "", "subject": bad["subject"]})[1:]
            assert not (same_id and same_subject), f"must not report {bad}"
    worst_error = any(f["severity"] in ("critical", "error") for f in report["findings"])
    assert code == (1 if worst_error else 0)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_every_finding_carries_evidence_fix_and_risk(sample):
    _, report = diagnose_json(sample)
    for f in report["findings"]:
        assert f["evidence"] and all(e["source"] and e["value"] for e in f["evidence"]), f
        assert f["fix"] and f["verify"] and f["risk"] in ("LOW", "MEDIUM", "HIGH")
        assert f["severity"] in ("critical", "error", "warning", "info")


def test_healthy_sample_has_nothing_at_warning_or_worse():
    healthy = [p for p in SAMPLES if "healthy" in p.name]
    assert healthy, "a healthy sample bundle is required"
    for sample in healthy:
        code, report = diagnose_json(sample)
        assert code == 0
        assert not [f for f in report["findings"] if f["severity"] != "info"]


D7_FIELDS = ["Stage:", "Phase:", "Health:", "Root Cause:", "Evidence:", "Recommended Fix:", "Risk Level:"]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_text_output_is_the_d7_block_per_stuck_stage(sample):
    _, report = diagnose_json(sample)
    result = CliRunner().invoke(main, ["diagnose", str(sample)])
    text = result.stdout
    blocks = text.split("DIAGNOSIS\n=========\n")[1:]
    assert len(blocks) == len(report["summary"]["stuck_stages"])
    for block in blocks:
        head, risk, _rest = block.partition("\nRisk Level:")
        block = head + risk + _rest.split("\n", 1)[0]
        starts = [line.split(" ", 1)[0] + (" " + line.split(" ")[1] if line.startswith(("Root", "Recommended", "Risk")) else "")
                  for line in block.splitlines() if re.match(r"^[A-Z][a-z]+( [A-Z][a-z]+)?:", line)]
        assert starts == D7_FIELDS, starts
        assert re.search(r"^Risk Level: (LOW|MEDIUM|HIGH)$", block, re.M)
