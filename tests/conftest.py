"""Shared paths and helpers for the test suite."""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SAMPLES = REPO / "sample_bundles"


def sample_paths() -> list[Path]:
    """Every sample bundle: directories and .tar.gz files under sample_bundles/."""
    if not SAMPLES.is_dir():
        return []
    return sorted(p for p in SAMPLES.iterdir() if p.is_dir() or p.name.endswith(".tar.gz"))


def expectation_for(sample: Path) -> dict:
    if sample.is_dir():
        return json.loads((sample / "expected.json").read_text())
    return json.loads(sample.with_name(sample.name[: -len(".tar.gz")] + ".expected.json").read_text())


def k8s_list(items: list[dict]) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}).encode()


def write_tar(path: Path, members: dict[str, bytes], top: str = "gitops-bundle-20261120T031245Z") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}/{name}" if top else name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def stage(name: str, ns: str = "kargo-demo", **status) -> dict:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2026-11-01T00:00:00Z", "generation": 1},
        "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "guestbook"}, "sources": {"direct": True}}]},
        "status": status,
    }


MANIFEST = {
    "format": "gitops-bundle/v1",
    "collector": {"name": "collector.sh", "version": "0.1.0"},
    "collected_at": "2026-11-20T03:12:45Z",
    "finished_at": "2026-11-20T03:12:58Z",
    "complete": True,
    "commands": [],
}


@pytest.fixture
def minimal_bundle(tmp_path: Path) -> Path:
    """A tiny well-formed bundle directory: one Ready stage."""
    root = tmp_path / "bundle"
    (root / "cluster-resources/custom-resources/stages.kargo.akuity.io").mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps(MANIFEST))
    ready = stage("dev", conditions=[{"type": "Ready", "status": "True", "reason": "Verified", "message": "Freight has been verified",
                                      "lastTransitionTime": "2026-11-20T03:00:00Z"}])
    (root / "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json").write_bytes(k8s_list([ready]))
    return root


# ---- hostile-input tests (tests/hostile): one conftest for the whole suite,
# since the tests import this module by its plain name.


def pytest_collection_modifyitems(config, items):
    if "fuzz_long" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="long fuzz: run with `pytest -m fuzz_long` or scripts/fuzz.py")
    for item in items:
        if "fuzz_long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parent / "hostile"))
    from hostile_support import load_corpus_module

    mod = load_corpus_module()
    out = tmp_path_factory.mktemp("attack") / "corpus"
    cases = {c.name: c for c in mod.build(out)}
    yield out, cases
    mod.remove_tree(out)  # one directory is deeper than shutil.rmtree recurses


# The one GET collector.sh sends through a Prometheus Service's proxy.
PROMETHEUS_TARGETS_PATH = re.compile(r"^/api/v1/namespaces/[a-z0-9-]+/services/[a-z0-9-]+:[0-9]+/proxy/api/v1/targets\?state=active$")
