"""Per-rule fixtures: tests/rules/<id>/cases.yaml, one test per named case.

Each case points at a small bundle (a loose YAML/JSON file or a bundle
directory) next to it and says either which findings of that id it must
produce (``expect``) or that the id must stay silent (``quiet: true``); a case
with ``mode: lint`` runs the setup lint rules instead of the diagnosis. So
``pytest -k <id>`` runs one rule's cases. Every Kargo, Argo CD and Rollouts
object in the case bundles must validate against the real CRDs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from analyzer.analysis import analyze
from analyzer.bundle import parse_time
from crd_schema import shared_dir, validate_bundle

RULES = Path(__file__).parent / "rules"


def load_cases() -> list[tuple[str, Path, dict]]:
    out = []
    for cases_file in sorted(RULES.glob("*/cases.yaml")):
        ident = cases_file.parent.name
        for case in yaml.safe_load(cases_file.read_text())["cases"]:
            out.append((ident, cases_file.parent, case))
    return out


CASES = load_cases()


def case_id(item) -> str:
    return f"{item[0]}-{item[2]['name']}"


def subject_key(d: dict) -> tuple:
    return (d.get("kind"), d.get("namespace"), d.get("name"))


@pytest.mark.parametrize("item", CASES, ids=[case_id(c) for c in CASES])
def test_rule_case(item):
    ident, folder, case = item
    at = parse_time(str(case["at"])) if case.get("at") else None
    # `mode: lint` runs the setup lint rules instead of the diagnosis.
    analysis = analyze(folder / case["bundle"], at=at, modes=(case.get("mode", "diagnose"),))
    mine = {(f.subject.kind, f.subject.namespace, f.subject.name) for f in analysis.findings if f.id == ident}
    if case.get("quiet"):
        assert not mine, f"{ident} must not fire here, but did for {sorted(mine)}"
        return
    want = {subject_key(e) for e in case["expect"]}
    assert mine == want, f"{ident}: got {sorted(mine)}, want {sorted(want)}"
    for extra in case.get("also", []):
        assert any(f.id == extra for f in analysis.findings), f"expected {extra} alongside"
    for absent in case.get("not", []):
        assert not any(f.id == absent for f in analysis.findings), f"{absent} must not fire alongside"


@pytest.mark.skipif(not (shared_dir() / "crds").is_dir(), reason="../shared/crds not found (set GITOPS_SHARED)")
@pytest.mark.parametrize("item", CASES, ids=[case_id(c) for c in CASES])
def test_rule_case_objects_validate(item):
    _ident, folder, case = item
    errors = validate_bundle(folder / case["bundle"])
    assert not errors, "\n".join(errors[:20])


def test_every_catalog_id_has_a_firing_case_and_a_near_miss():
    from analyzer.catalog import load_catalog

    fires = {c[0] for c in CASES if not c[2].get("quiet")}
    quiet = {c[0] for c in CASES if c[2].get("quiet")}
    missing = sorted((set(load_catalog()) - fires) | (set(load_catalog()) - quiet))
    if missing:
        pytest.xfail(f"ids without a firing case or a near-miss yet: {missing}")
