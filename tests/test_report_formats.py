"""JSON against its schema, Markdown through a CommonMark parser, JUnit through an XML parser."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from analyzer.cli import main
from analyzer.render import MARKDOWN_BUDGET
from conftest import REPO, sample_paths

SCHEMA = json.loads((REPO / "docs" / "report.schema.json").read_text())


def output(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.stdout


@pytest.mark.parametrize("sample", sample_paths(), ids=lambda p: p.name)
def test_json_matches_the_schema(sample):
    report = json.loads(output("diagnose", str(sample), "--format", "json"))
    jsonschema.validate(report, SCHEMA)


def test_schema_rejects_a_finding_without_evidence():
    report = json.loads(output("diagnose", str(REPO / "sample_bundles" / "poisoned-promotion"), "--format", "json"))
    del report["findings"][0]["evidence"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, SCHEMA)


@pytest.mark.parametrize("sample", sample_paths(), ids=lambda p: p.name)
def test_markdown_structure(sample):
    text = output("diagnose", str(sample), "--format", "md")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    headings = [(t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings[0][0] == "h1"
    assert headings[1] == ("h2", "Answer"), "the answer comes first"
    report = json.loads(output("diagnose", str(sample), "--format", "json"))
    for stuck in report["summary"]["stuck_stages"]:
        assert ("h3", f"Stage {stuck}") in headings
    # Evidence and bundle facts are collapsible HTML blocks; nothing else is raw HTML.
    html = [t.content for t in tokens if t.type == "html_block"]
    assert all(h.strip().startswith(("<details>", "</details>")) for h in html)
    assert len(text) <= MARKDOWN_BUDGET


def test_markdown_budget_is_kept_with_a_note(tmp_path):
    stages = []
    for i in range(400):
        stages.append({
            "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage",
            "metadata": {"name": f"stage-{i:03d}", "namespace": "kargo-demo", "creationTimestamp": "2026-11-01T00:00:00Z"},
            "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}]},
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "ReconcileError",
                                       "message": "failed to sync Promotions: " + "x" * 300,
                                       "lastTransitionTime": "2026-11-20T03:00:00Z"}]},
        })
    bundle = tmp_path / "many.json"
    bundle.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": stages}))
    text = output("diagnose", str(bundle), "--format", "md")
    assert len(text) <= MARKDOWN_BUDGET
    assert "Shortened to fit 60,000 characters" in text


def test_hostile_text_does_not_become_markdown_or_html(tmp_path):
    stage = {
        "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage",
        "metadata": {"name": "prod", "namespace": "kargo-demo", "creationTimestamp": "2026-11-01T00:00:00Z"},
        "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}]},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "ReconcileError",
                                   "message": "<img src=x onerror=alert(1)> [click](http://evil.example) **bold** ``` `x`",
                                   "lastTransitionTime": "2026-11-20T03:00:00Z"}]},
    }
    bundle = tmp_path / "t.json"
    bundle.write_text(json.dumps(stage))
    tokens = MarkdownIt("commonmark").enable("table").parse(output("diagnose", str(bundle), "--format", "md"))
    inline = [c for t in tokens if t.type == "inline" for c in t.children or []]
    assert not [c for c in inline if c.type in ("html_inline", "link_open", "image")]
    emphasised = [inline[i + 1].content for i, c in enumerate(inline[:-1]) if c.type == "strong_open"]
    assert "bold" not in emphasised
    assert all(t.content.strip().startswith(("<details>", "</details>")) for t in tokens if t.type == "html_block")


@pytest.mark.parametrize("sample", sample_paths(), ids=lambda p: p.name)
def test_junit_has_a_case_per_stage_and_failures_for_stuck_ones(sample):
    report = json.loads(output("diagnose", str(sample), "--format", "json"))
    root = ET.fromstring(output("diagnose", str(sample), "--format", "junit"))
    cases = root.findall(".//testcase")
    stage_cases = [c for c in cases if c.get("classname", "").startswith("stages.")]
    assert len(stage_cases) == report["summary"]["stages_checked"]
    failing = {f"{c.get('classname').removeprefix('stages.')}/{c.get('name')}" for c in stage_cases if c.find("failure") is not None}
    erroring = {f"{f['subject']['namespace']}/{f['subject']['name']}" for f in report["findings"]
                if f["subject"]["kind"] == "Stage" and f["severity"] in ("critical", "error")}
    assert failing == erroring
    assert int(root.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)


def test_junit_survives_control_characters(tmp_path):
    stage = {
        "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage",
        "metadata": {"name": "prod", "namespace": "kargo-demo", "creationTimestamp": "2026-11-01T00:00:00Z"},
        "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}]},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "ReconcileError",
                                   "message": "bad \x1b[31mred\x1b[0m \x00 bytes & <tags>", "lastTransitionTime": "2026-11-20T03:00:00Z"}]},
    }
    bundle = tmp_path / "t.json"
    bundle.write_text(json.dumps(stage))
    root = ET.fromstring(output("diagnose", str(bundle), "--format", "junit"))
    failure = root.find(".//failure")
    assert failure is not None and "& <tags>" in failure.get("message")


def test_a_template_cache_that_cannot_be_written_is_skipped(tmp_path):
    import jinja2

    from analyzer.render import _BestEffortBytecodeCache

    cache = _BestEffortBytecodeCache(str(tmp_path / "removed since"))  # writing into it fails
    env = jinja2.Environment(loader=jinja2.DictLoader({"t": "{{ 1 + 1 }}"}), bytecode_cache=cache)
    assert env.get_template("t").render() == "2"
