"""The synthetic bundle generator (scripts/make_synthetic_bundle.py) on a tiny instance.

* its Kargo, Argo CD and Argo Rollouts objects validate against the real CRDs;
* it is a complete bundle: every manifest command's bytes and sha256 match its
  file, and the only collection gap is the one planted;
* the analyzer finds exactly what was planted: the set of finding ids equals the
  set of planted ids that have a rule, every planted subject is found, and no
  finding is about anything outside the planted scenarios (the healthy majority
  stays clean);
* the same seed writes the same bundle, as a directory or a tarball.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import tarfile
from pathlib import Path

import pytest

from analyzer.analysis import analyze
from analyzer.rules import load_builtin_rules

try:
    import crd_schema
except ImportError:  # tests/ imported as a package
    from tests import crd_schema

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "make_synthetic_bundle.py"
SCALE = 0.02
SEED = 7


def _generator():
    spec = importlib.util.spec_from_file_location("make_synthetic_bundle", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator():
    return _generator()


@pytest.fixture(scope="module")
def tiny(generator, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synthetic") / "bundle"
    planted = generator.generate(out, scale=SCALE, seed=SEED)
    return out, planted


@pytest.fixture(scope="module")
def analysis(tiny):
    return analyze(tiny[0], modes=("diagnose", "lint"))


def _key(kind: str, namespace: str | None, name: str) -> tuple:
    return kind, namespace, name


def test_planted_list_is_written_beside_the_bundle_not_inside(tiny):
    out, planted = tiny
    beside = out.with_name(out.name + ".planted.json")
    assert json.loads(beside.read_text())["ids"] == planted["ids"]
    assert not list(out.rglob("*planted*"))


def test_objects_validate_against_the_crds(tiny):
    crds = crd_schema.shared_dir() / "crds"
    if not crds.is_dir():
        pytest.skip(f"{crds} is absent")
    errors = crd_schema.validate_bundle(tiny[0])
    assert not errors, "\n".join(errors[:20])


def test_manifest_matches_every_file(tiny):
    out, _planted = tiny
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "gitops-bundle/v1"
    outputs = {c["output"]: c for c in manifest["commands"] if c["output"]}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert on_disk - set(outputs) == {"manifest.json", "config.yaml"}
    assert set(outputs) <= on_disk
    for rel, c in outputs.items():
        data = (out / rel).read_bytes()
        assert c["bytes"] == len(data), rel
        assert c["sha256"] == hashlib.sha256(data).hexdigest(), rel
        assert c["exit_code"] == 0, rel


def test_no_collection_gap_but_the_planted_one(tiny, analysis):
    _out, planted = tiny
    gap_subjects = {_key(s["kind"], s["namespace"], s["name"])
                    for p in planted["plants"] if p["scenario"] == "collection-gap" for s in p["subjects"]}
    gaps = {_key(g["kind"], g["namespace"], g["name"]) for g in analysis.frames.gaps.to_dicts()}
    assert gaps == gap_subjects
    assert analysis.frames.facts.complete is True


def test_findings_are_exactly_the_planted_ids(tiny, analysis):
    _out, planted = tiny
    registered = {i for r in load_builtin_rules().values() for i in r.ids}
    expected = set(planted["ids"]) & registered
    found = {f.id for f in analysis.findings}
    assert found == expected, f"unplanted: {sorted(found - expected)}; missing: {sorted(expected - found)}"


def test_every_planted_subject_is_found(tiny, analysis):
    _out, planted = tiny
    registered = {i for r in load_builtin_rules().values() for i in r.ids}
    found = {(f.id, *_key(f.subject.kind, f.subject.namespace, f.subject.name)) for f in analysis.findings}
    missing = []
    for p in planted["plants"]:
        ids = [i for i in p["ids"] if i in registered]
        for s in p["subjects"]:
            if ids and not any((i, s["kind"], s["namespace"], s["name"]) in found for i in ids):
                missing.append(f"{p['scenario']}: {s['kind']} {s['namespace']}/{s['name']} ({', '.join(ids)})")
    assert not missing, "\n".join(missing)


def test_healthy_majority_has_no_findings(tiny, analysis):
    _out, planted = tiny
    scope = {_key(s["kind"], s["namespace"], s["name"]) for p in planted["plants"] for s in p["scope"]}
    stray = [f"{f.id}: {f.subject.kind} {f.subject.namespace}/{f.subject.name}: {f.root_cause}"
             for f in analysis.findings if _key(f.subject.kind, f.subject.namespace, f.subject.name) not in scope]
    assert not stray, "\n".join(stray[:20])
    stages = analysis.frames.stages.height
    planted_stages = {k for k in scope if k[0] == "Stage"}
    assert stages > 2 * len(planted_stages) or stages >= 100


def test_same_seed_same_bundle(generator, tmp_path):
    a = generator.generate(tmp_path / "a", scale=0.01, seed=3)
    b = generator.generate(tmp_path / "b.tar.gz", scale=0.01, seed=3, tar=True)
    assert a["counts"] == b["counts"] and a["plants"] == b["plants"]
    manifest_a = json.loads((tmp_path / "a" / "manifest.json").read_text())
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        names = tar.getnames()
        tops = {n.split("/", 1)[0] for n in names}
        assert len(tops) == 1 and next(iter(tops)).startswith("gitops-bundle-")
        manifest_b = json.loads(tar.extractfile(f"{next(iter(tops))}/manifest.json").read())
    assert manifest_a == manifest_b
    again = generator.generate(tmp_path / "c.tar.gz", scale=0.01, seed=3, tar=True)
    assert again["counts"] == b["counts"]
    assert (tmp_path / "c.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
