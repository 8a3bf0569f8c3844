"""The sample bundles look like what a real cluster returns, and stay reproducible.

* every Kargo, Argo CD and Argo Rollouts object validates against the real CRD
  schema of its version (tests/crd_schema.py);
* the tarball has the layout DESIGN.md prescribes;
* every manifest command's bytes/sha256 match its output file;
* scripts/make_sample_bundles.py rewrites the committed files byte for byte.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

try:
    import crd_schema
except ImportError:  # tests/ imported as a package
    from tests import crd_schema

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_bundles"
GENERATOR = REPO / "scripts" / "make_sample_bundles.py"
TOP_DIR = re.compile(r"^gitops-bundle-\d{8}T\d{6}Z$")


def _bundles() -> list[Path]:
    if not SAMPLES.is_dir():
        return []
    out = [p for p in sorted(SAMPLES.iterdir()) if not p.name.startswith(".")]
    return [p for p in out if p.is_dir() or p.name.endswith(".tar.gz")]


BUNDLES = _bundles()
TARBALLS = [p for p in BUNDLES if p.name.endswith(".tar.gz")]
needs_crds = pytest.mark.skipif(
    not (crd_schema.shared_dir() / "crds").is_dir(),
    reason=f"CRD schemas not found under {crd_schema.shared_dir()} (set GITOPS_SHARED)",
)


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def _bundle_files(bundle: Path) -> dict[str, bytes]:
    """Files of a bundle by path relative to the bundle root."""
    if bundle.is_dir():
        return {p.relative_to(bundle).as_posix(): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    files = {}
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            if member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                files[member.name.split("/", 1)[1]] = handle.read()
    return files


def test_sample_bundles_exist():
    names = {p.name for p in BUNDLES}
    assert {"poisoned-promotion", "repo-server-refused.tar.gz", "verification-failed", "healthy-pipeline",
            "pasted-ticket"} <= names


# ---------------------------------------------------------------- schema validity


@needs_crds
@pytest.mark.parametrize("bundle", BUNDLES, ids=_ids(BUNDLES))
def test_objects_validate_against_crds(bundle: Path):
    objects = list(crd_schema.iter_bundle_objects(bundle))
    kargo_schema = crd_schema.kargo_schema_for([obj for _rel, obj in objects])
    checked = 0
    problems = []
    for rel, obj in objects:
        if not crd_schema.is_validated_kind(obj):
            continue
        checked += 1
        for error in crd_schema.validate_object(obj, kargo_schema):
            problems.append(f"{rel}: {error}")
    assert checked, f"{bundle.name}: no Kargo/Argo CD/Rollouts object found"
    assert not problems, f"{bundle.name} ({kargo_schema}):\n" + "\n".join(problems)


@needs_crds
def test_kargo_schema_follows_the_bundle_version():
    chosen = {}
    for bundle in BUNDLES:
        objects = [obj for _rel, obj in crd_schema.iter_bundle_objects(bundle)]
        chosen[bundle.name] = crd_schema.kargo_schema_for(objects)
    assert chosen["pasted-ticket"] == "kargo-v1.4.4"
    assert chosen["poisoned-promotion"] == "kargo-v1.11.2"
    assert chosen["repo-server-refused.tar.gz"] == "kargo-v1.11.2"


# ---------------------------------------------------------------- the validator can fail


def _valid_stage() -> dict:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": "dev", "namespace": "kargo-demo"},
        "spec": {
            "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "guestbook"}, "sources": {"direct": True}}],
            "promotionTemplate": {"spec": {"steps": [{"uses": "git-clone", "config": {"anything": ["goes"]}}]}},
        },
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Verified",
                                   "message": "Freight has been verified",
                                   "lastTransitionTime": "2026-11-20T03:00:00Z"}]},
    }


@needs_crds
def test_validator_accepts_a_valid_object():
    assert crd_schema.validate_object(_valid_stage()) == []


@needs_crds
def test_validator_rejects_unknown_field():
    stage = _valid_stage()
    stage["status"]["phase"] = "Steady"  # removed in Kargo v1.5
    errors = crd_schema.validate_object(stage, "kargo-v1.11.2")
    assert errors and "phase" in errors[0]
    assert crd_schema.validate_object(stage, "kargo-v1.4.4") == []
    nested = _valid_stage()
    nested["spec"]["requestedFreight"][0]["sources"]["autoPromote"] = True
    assert any("autoPromote" in e for e in crd_schema.validate_object(nested))


@needs_crds
def test_validator_rejects_wrong_type_and_enum():
    stage = _valid_stage()
    stage["spec"]["requestedFreight"][0]["sources"]["direct"] = "yes"
    errors = crd_schema.validate_object(stage)
    assert len(errors) == 1 and "spec.requestedFreight[0].sources.direct" in errors[0]
    stage = _valid_stage()
    stage["status"]["conditions"][0]["status"] = "Yes"
    assert crd_schema.validate_object(stage)


@needs_crds
def test_validator_knows_int_or_string_and_preserved_fields():
    run = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "r"},
        "spec": {"metrics": [{"name": "m", "failureLimit": 1, "count": "3",
                              "provider": {"plugin": {"any/plugin": {"free": "form"}}}}]},
        "status": {"phase": "Running"},
    }
    assert crd_schema.validate_object(run) == []
    broken = copy.deepcopy(run)
    broken["spec"]["metrics"][0]["failureLimit"] = [1]
    assert crd_schema.validate_object(broken)


@needs_crds
def test_validator_checks_argo_cd_and_skips_core_kinds():
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"},
           "spec": {"destination": {}, "project": "default"},
           "status": {"operationState": {"phase": "Running", "startedAt": "2026-11-20T03:00:00Z",
                                         "operation": {}, "stuck": True}}}
    errors = crd_schema.validate_object(app)
    assert any("stuck" in e for e in errors)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"anything": 1}}
    assert not crd_schema.is_validated_kind(pod)
    assert crd_schema.validate_object(pod) == []
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"}}
    assert not crd_schema.is_validated_kind(rollout)


def test_iter_bundle_objects_reads_loose_yaml(tmp_path: Path):
    paste = tmp_path / "paste.yaml"
    paste.write_text(
        "# kubectl get stage dev -o yaml\n"
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: dev\n"
        "---\n"
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\n"
        "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: b\n"
        "metadata:\n  resourceVersion: \"\"\n"
    )
    found = [(rel, obj["kind"], obj["metadata"]["name"]) for rel, obj in crd_schema.iter_bundle_objects(paste)]
    assert found == [("paste.yaml", "Stage", "dev"), ("paste.yaml", "Pod", "a"), ("paste.yaml", "Pod", "b")]


# ---------------------------------------------------------------- bundle layout


@pytest.mark.parametrize("tarball", TARBALLS, ids=_ids(TARBALLS))
def test_tarball_layout(tarball: Path):
    with tarfile.open(tarball) as tar:
        members = tar.getmembers()
    tops = {m.name.split("/", 1)[0] for m in members}
    assert len(tops) == 1, f"top-level entries: {sorted(tops)}"
    top = tops.pop()
    assert TOP_DIR.match(top), top
    for m in members:
        assert not (m.issym() or m.islnk()), f"link in tarball: {m.name}"
        assert m.isfile() or m.isdir(), f"special file in tarball: {m.name}"
        assert not m.name.startswith("/") and ".." not in m.name.split("/"), m.name
    names = {m.name for m in members}
    assert f"{top}/manifest.json" in names
    manifest = json.loads(_bundle_files(tarball)["manifest.json"])
    stamp = manifest["collected_at"].replace("-", "").replace(":", "")
    assert top == f"gitops-bundle-{stamp}"


BUNDLES_WITH_MANIFEST = [b for b in BUNDLES if b.name.endswith(".tar.gz") or (b / "manifest.json").exists()]


@pytest.mark.parametrize("bundle", BUNDLES_WITH_MANIFEST, ids=_ids(BUNDLES_WITH_MANIFEST))
def test_manifest_commands_match_files(bundle: Path):
    files = _bundle_files(bundle)
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == "gitops-bundle/v1"
    assert manifest["collected_at"] <= manifest["finished_at"]
    outputs = set()
    for cmd in manifest["commands"]:
        assert cmd["started_at"] >= manifest["collected_at"] and cmd["finished_at"] <= manifest["finished_at"]
        if cmd["output"] is None:
            assert cmd["exit_code"] != 0 and cmd["stderr"], cmd["id"]
            continue
        data = files.get(cmd["output"])
        assert data is not None, f"{cmd['id']}: {cmd['output']} missing"
        assert cmd["bytes"] == len(data), cmd["id"]
        assert cmd["sha256"] == hashlib.sha256(data).hexdigest(), cmd["id"]
        outputs.add(cmd["output"])
    unlisted = set(files) - outputs - {"manifest.json", "config.yaml", "expected.json"}
    assert not unlisted, f"files without a command: {sorted(unlisted)}"


@pytest.mark.parametrize("bundle", BUNDLES, ids=_ids(BUNDLES))
def test_expected_file(bundle: Path):
    if bundle.name.endswith(".tar.gz"):
        path = bundle.with_name(bundle.name.removesuffix(".tar.gz") + ".expected.json")
    else:
        path = bundle / "expected.json"
    expected = json.loads(path.read_text())
    assert set(expected) == {"description", "findings", "must_not"}
    assert expected["description"].strip()
    for item in expected["findings"] + expected["must_not"]:
        assert set(item) == {"id", "subject"}
        assert set(item["subject"]) == {"kind", "namespace", "name"}
    wanted = {(f["id"], json.dumps(f["subject"], sort_keys=True)) for f in expected["findings"]}
    forbidden = {(f["id"], json.dumps(f["subject"], sort_keys=True)) for f in expected["must_not"]}
    assert not wanted & forbidden


# ---------------------------------------------------------------- reproducibility


def test_generator_reproduces_committed_files(tmp_path: Path):
    out = tmp_path / "bundles"
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)], check=True, cwd=REPO)
    generated = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert generated
    tops = {rel.split("/", 1)[0] for rel in generated}
    committed = {
        p.relative_to(SAMPLES).as_posix(): p.read_bytes()
        for p in SAMPLES.rglob("*")
        if p.is_file() and p.relative_to(SAMPLES).as_posix().split("/", 1)[0] in tops
    }
    assert sorted(committed) == sorted(generated), "file sets differ; re-run scripts/make_sample_bundles.py"
    changed = [rel for rel in generated if generated[rel] != committed[rel] and not _same_gzip(rel, generated, committed)]
    assert not changed, f"stale sample files (re-run scripts/make_sample_bundles.py): {changed}"


def _same_gzip(rel: str, generated: dict[str, bytes], committed: dict[str, bytes]) -> bool:
    """A .tar.gz whose compressed bytes differ only because another zlib built it."""
    if not rel.endswith(".gz"):
        return False
    return gzip.decompress(generated[rel]) == gzip.decompress(committed[rel])


@pytest.mark.parametrize("tarball", TARBALLS, ids=_ids(TARBALLS))
def test_tarball_is_reproducible(tarball: Path):
    data = tarball.read_bytes()
    assert data[4:8] == b"\0\0\0\0", "gzip header mtime must be 0"
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "root", "root"), member.name
    mtimes = {m.mtime for m in tarfile.open(tarball).getmembers()}
    assert len(mtimes) == 1, f"members carry different mtimes: {sorted(mtimes)}"
