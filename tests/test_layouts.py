"""Every accepted input layout reads to the same frames."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import yaml
from click.testing import CliRunner

from analyzer.bundle import open_bundle
from analyzer.cli import main
from analyzer.frames import load_frames
from conftest import MANIFEST, k8s_list, stage, write_tar

READY = [{"type": "Ready", "status": "True", "reason": "Verified", "lastTransitionTime": "2026-11-20T02:00:00Z"}]
STAGES = [stage("dev", conditions=READY), stage("prod", conditions=READY)]


def names(path, **kw) -> list[str]:
    return sorted(load_frames(open_bundle(path, **kw)).stages.get_column("name").to_list())


def test_tarball_and_directory_read_the_same(tmp_path):
    members = {
        "manifest.json": json.dumps(MANIFEST).encode(),
        "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json": k8s_list(STAGES),
    }
    tar = write_tar(tmp_path / "b.tar.gz", members)
    root = tmp_path / "dir"
    for rel, data in members.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    a, b = open_bundle(tar), open_bundle(root)
    assert names(tar) == names(root) == ["dev", "prod"]
    assert a.reference_time == b.reference_time == datetime(2026, 11, 20, 3, 12, 45, tzinfo=timezone.utc)
    assert a.reference_time_source == "manifest.json collected_at"


def test_pasted_multi_document_yaml_with_comments(tmp_path):
    ticket = tmp_path / "ticket.yaml"
    ticket.write_text(
        "# kubectl get stage dev -n kargo-demo -o yaml\n"
        + yaml.safe_dump(STAGES[0])
        + "---\n# and the list\n"
        + yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [STAGES[1]]})
    )
    bundle = open_bundle(ticket)
    assert bundle.layout == "loose"
    assert names(ticket) == ["dev", "prod"]
    # No manifest: the newest timestamp in the data, stated as an assumption.
    assert bundle.reference_time == datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
    assert bundle.reference_time_source == "newest timestamp in the data"
    assert any("--at" in a for a in bundle.assumptions)


def test_unquoted_yaml_timestamps_stay_strings(tmp_path):
    ticket = tmp_path / "t.yaml"
    ticket.write_text(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: dev\n  namespace: kargo-demo\n"
        "  creationTimestamp: 2026-11-01T00:00:00Z\nstatus:\n  conditions:\n  - type: Ready\n    status: 'True'\n"
        "    lastTransitionTime: 2026-11-19T08:00:00Z\n"
    )
    frames = load_frames(open_bundle(ticket))
    assert frames.stages.row(0, named=True)["ready_since"] == datetime(2026, 11, 19, 8, 0, tzinfo=timezone.utc)


def test_loose_directory_of_json_files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(STAGES[0]))
    (tmp_path / "b.json").write_bytes(k8s_list([STAGES[1]]))
    (tmp_path / "expected.json").write_text(json.dumps({"findings": []}))
    assert names(tmp_path) == ["dev", "prod"]


def test_at_overrides_the_reference_time(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(STAGES[0]))
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    bundle = open_bundle(tmp_path, at=at)
    assert bundle.reference_time == at and bundle.reference_time_source == "--at"


def test_far_future_timestamp_does_not_move_the_reference_time(tmp_path):
    odd = stage("dev", conditions=[{**READY[0], "lastTransitionTime": "9999-01-01T00:00:00Z"}])
    (tmp_path / "a.json").write_text(json.dumps(odd))
    (tmp_path / "b.json").write_text(json.dumps(STAGES[1]))
    assert open_bundle(tmp_path).reference_time.year == 2026


def test_troubleshoot_support_bundle_with_error_sidecar(tmp_path):
    members = {
        "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json": k8s_list(STAGES),
        "cluster-resources/custom-resources/promotions.kargo.akuity.io-errors.json":
            json.dumps({"kargo-demo": 'promotions.kargo.akuity.io is forbidden: User "x" cannot list resource'}).encode(),
    }
    tar = write_tar(tmp_path / "support-bundle-2026-11-20T03_12_45.tar.gz", members, top="support-bundle-2026-11-20T03_12_45")
    frames = load_frames(open_bundle(tar))
    assert sorted(frames.stages.get_column("name")) == ["dev", "prod"]
    assert not frames.collected("promotions.kargo.akuity.io", "kargo-demo")
    assert frames.collected("stages.kargo.akuity.io", "kargo-demo")


def test_forbidden_command_is_a_gap_not_an_empty_list(tmp_path):
    manifest = {**MANIFEST, "commands": [{
        "id": "analysisruns.argoproj.io/kargo-demo",
        "argv": ["kubectl", "get", "analysisruns.argoproj.io", "-n", "kargo-demo", "-o", "json"],
        "output": None, "exit_code": 1,
        "stderr": 'Error from server (Forbidden): analysisruns.argoproj.io is forbidden: User "u" cannot list resource "analysisruns"',
    }]}
    root = tmp_path / "b"
    root.mkdir()
    (root / "manifest.json").write_text(json.dumps(manifest))
    frames = load_frames(open_bundle(root))
    gap = frames.gaps.row(0, named=True)
    assert (gap["resource"], gap["kind"], gap["namespace"], gap["name"], gap["reason"]) == (
        "analysisruns.argoproj.io", "AnalysisRun", "kargo-demo", "*", "forbidden")
    assert not frames.collected("analysisruns.argoproj.io", "kargo-demo")
    assert frames.collected("analysisruns.argoproj.io", "other")


@pytest.mark.parametrize("image,expected", [
    ("ghcr.io/akuity/kargo:v1.10.2", (1, 10, 2)),
    ("ghcr.io/akuity/kargo:1.4.4", (1, 4, 4)),
])
def test_kargo_version_from_controller_image(tmp_path, image, expected):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "kargo-controller-7d9f", "namespace": "kargo",
                        "labels": {"app.kubernetes.io/name": "kargo", "app.kubernetes.io/component": "controller"}},
           "spec": {"containers": [{"name": "controller", "image": image}]},
           "status": {"phase": "Running", "containerStatuses": [{"name": "controller", "image": image, "ready": True, "restartCount": 0}]}}
    (tmp_path / "pods.json").write_bytes(k8s_list([pod]))
    versions = load_frames(open_bundle(tmp_path)).versions
    assert versions.kargo.version == expected and not versions.kargo.assumed
    assert image in versions.kargo.evidence


def test_kargo_version_from_shape_when_no_image(tmp_path):
    old = stage("dev", phase="Steady", conditions=READY)
    (tmp_path / "s.json").write_text(json.dumps(old))
    versions = load_frames(open_bundle(tmp_path)).versions
    assert versions.kargo.assumed and versions.kargo.version == (1, 4, 0)
    assert "status.phase" in versions.kargo.evidence


def test_report_of_pasted_stages_with_and_without_a_namespace(tmp_path):
    """A Stage pasted without its metadata.namespace is checked by its name, next to one that has one."""
    dev, bare = stage("dev"), stage("qa")
    del bare["metadata"]["namespace"]
    for s in (dev, bare):  # a Stage that deploys (no steps: control flow, which promote-check skips)
        s["spec"]["promotionTemplate"] = {"spec": {"steps": [{"uses": "argocd-update",
                                                              "config": {"apps": [{"name": f"guestbook-{s['metadata']['name']}"}]}}]}}
    pasted = tmp_path / "stages.json"
    pasted.write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": [dev, bare]}))
    report = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["report", str(pasted), "-o", str(report)])
    assert result.exit_code in (0, 1, 3), result.output
    checks = {c["stage"]: c for c in json.loads(report.read_text())["promote_checks"]}
    assert set(checks) == {"dev", "qa"}
    assert checks["qa"]["verdict"] != "ERROR", checks["qa"]
