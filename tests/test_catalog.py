"""The catalog, the rule registry and the generated docs agree with each other."""

from __future__ import annotations

import subprocess
import sys

import pytest

from analyzer.catalog import load_catalog, make_finding, template_fields
from analyzer.findings import Subject
from analyzer.rules import load_builtin_rules, rule
from conftest import REPO


def test_every_catalog_id_has_exactly_one_rule():
    owners = {}
    for r in load_builtin_rules().values():
        for ident in r.ids:
            assert ident not in owners, f"{ident} emitted by {owners[ident]} and {r.name}"
            owners[ident] = r.name
    missing = sorted(set(load_catalog()) - set(owners))
    assert not missing, f"catalog ids without a rule: {missing}"


@pytest.mark.parametrize("name", sorted(load_builtin_rules()))
def test_rule_docstring_has_symptom_evidence_fix(name):
    doc = load_builtin_rules()[name].doc
    positions = [doc.find(f"**{part}**") for part in ("Symptom", "Evidence", "Fix")]
    assert all(p > 0 for p in positions) and positions == sorted(positions), f"{name}: docstring needs Symptom, Evidence, Fix in order"


def test_registry_rejects_unknown_and_duplicate_ids():
    with pytest.raises(ValueError, match="not in the catalog"):
        rule("no-such-id")(lambda frames: [])
    with pytest.raises(ValueError, match="already emitted by"):
        def impostor(frames):
            return []
        rule("stage-poisoned-promotion")(impostor)


@pytest.mark.parametrize("ident", sorted(load_catalog()))
def test_every_template_variant_renders(ident):
    entry = load_catalog()[ident]
    variants = (set(entry.root_cause) | set(entry.fix) | set(entry.verify)) - {""} or {""}
    for variant in variants:
        fields = set()
        for group in (entry.root_cause, entry.verify):
            fields |= template_fields(group.get(variant, group.get("", "")))
        for cmd, why in entry.fix.get(variant, entry.fix.get("", ())):
            fields |= template_fields(cmd) | template_fields(why)
        params = {name: f"x-{name}" for name in fields}
        finding = make_finding(ident, Subject("Stage", "ns", "s"), params, [], variant=variant)
        assert finding.fix and finding.verify and finding.root_cause
        assert "{" not in finding.root_cause


def test_hostile_values_are_quoted_in_commands():
    finding = make_finding(
        "stage-reconcile-error", Subject("Stage", "ns", "s"),
        {"message": "m", "namespace": "ns; rm -rf /", "stage": "$(reboot)", "controller_namespace": "kargo"}, [])
    commands = " ".join(step.command for step in finding.fix)
    assert "'ns; rm -rf /'" in commands and "'$(reboot)'" in commands


@pytest.mark.parametrize("generator", ["gen_rules_doc.py", "gen_cli_doc.py"])
def test_generated_doc_is_current(generator):
    """docs/rules.md and docs/cli.md are written from the rules and the commands' own --help."""
    result = subprocess.run([sys.executable, f"scripts/{generator}", "--check"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
