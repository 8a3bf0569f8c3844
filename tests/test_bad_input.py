"""Bad input: one clear line naming the file and the problem (exit 2), or a
collection-gap finding while the rest of the analysis goes on. Never a traceback."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tarfile
import zlib

import pytest
from click.testing import CliRunner
from isal import igzip, isal_zlib

import analyzer.bundle as bundle_module
from analyzer.bundle import Limits, open_bundle
from analyzer.cli import main
from analyzer.frames import load_frames
from conftest import MANIFEST, REPO, k8s_list, stage, write_tar


def run(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in (result.output + (result.stderr or ""))
    return result


def one_line_error(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gitops-master: error: ")
    return lines[0]


def gap_sources(result) -> dict[str, str]:
    data = json.loads(result.stdout)
    return {f["subject"]["name"]: f["root_cause"] for f in data["findings"] if f["id"] == "collection-gap"}


def test_missing_path(tmp_path):
    result = run("diagnose", str(tmp_path / "nope.tar.gz"))
    assert result.exit_code == 2
    assert "nope.tar.gz: no such file or directory" in one_line_error(result)


def test_file_that_is_not_a_bundle(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("this is a shopping list, not a bundle\n")
    result = run("diagnose", str(junk))
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "notes.txt" in line and "not a bundle" in line


def test_truncated_tar_gz_with_nothing_readable(tmp_path):
    good = write_tar(tmp_path / "b.tar.gz", {"manifest.json": json.dumps(MANIFEST).encode() * 200})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[:60])
    result = run("diagnose", str(cut))
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "cut.tar.gz" in line and "not a readable tar.gz bundle" in line


def _bundle_with_filler(tmp_path) -> bytes:
    """A tar.gz with one Stage, then incompressible pods so a cut or a garbled stretch at 2/3 lands after the Stage."""
    ready = stage("dev", conditions=[{"type": "Ready", "status": "True", "reason": "Verified"}])
    members = {
        "manifest.json": json.dumps(MANIFEST).encode(),
        "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json": k8s_list([ready]),
        "cluster-resources/pods/kargo.json": k8s_list([{"kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "kargo"},
                                                        "status": {"message": os.urandom(200).hex()}} for i in range(200)]),
    }
    return write_tar(tmp_path / "b.tar.gz", members).read_bytes()


def test_truncated_tar_gz_keeps_what_was_read(tmp_path):
    whole = _bundle_with_filler(tmp_path)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    result = run("diagnose", str(cut), "--format", "json")
    assert result.exit_code == 0, result.output
    gaps = gap_sources(result)
    assert any("truncated or damaged" in cause for cause in gaps.values()), gaps
    assert json.loads(result.stdout)["summary"]["stages_checked"] == 1


INFLATERS = {"isal": (igzip.IGzipFile, isal_zlib.error), "zlib": (gzip.GzipFile, zlib.error)}


@pytest.mark.parametrize("inflater", sorted(INFLATERS))
def test_damaged_deflate_data_keeps_what_was_read(tmp_path, monkeypatch, inflater):
    """Bytes garbled mid-stream: ISA-L and zlib (the fallback) each end in the same gap, not a traceback."""
    reader, error = INFLATERS[inflater]
    monkeypatch.setattr(bundle_module, "GzipReader", reader)
    monkeypatch.setattr(bundle_module, "InflateError", error)
    whole = bytearray(_bundle_with_filler(tmp_path))
    middle = len(whole) * 2 // 3
    whole[middle:middle + 64] = b"\xff" * 64
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(bytes(whole))
    result = run("diagnose", str(damaged), "--format", "json")
    assert result.exit_code == 0, result.output
    assert any("truncated or damaged" in cause for cause in gap_sources(result).values())
    assert json.loads(result.stdout)["summary"]["stages_checked"] == 1


def test_data_far_past_the_end_of_the_archive_is_a_gap_not_read_on(tmp_path):
    ready = stage("dev", conditions=[{"type": "Ready", "status": "True", "reason": "Verified"}])
    tar_bytes = gzip.decompress(write_tar(tmp_path / "b.tar.gz", {
        "manifest.json": json.dumps(MANIFEST).encode(),
        "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json": k8s_list([ready]),
    }).read_bytes())
    padded = tmp_path / "padded.tar.gz"
    padded.write_bytes(gzip.compress(tar_bytes + bytes(40 * 1024**2)))
    result = run("diagnose", str(padded), "--format", "json")
    assert result.exit_code == 0, result.output
    assert any("bytes after the end of the archive" in cause for cause in gap_sources(result).values())
    assert json.loads(result.stdout)["summary"]["stages_checked"] == 1


def test_json_file_that_does_not_parse(tmp_path):
    bad = tmp_path / "stage.json"
    bad.write_text('{"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage", ')
    result = run("diagnose", str(bad))
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "stage.json" in line and "does not parse as JSON" in line


def test_bundle_file_that_does_not_parse_becomes_a_gap(minimal_bundle):
    broken = minimal_bundle / "cluster-resources/custom-resources/promotions.kargo.akuity.io"
    broken.mkdir(parents=True)
    (broken / "kargo-demo.json").write_text('{"items": [ {"metadata": ')
    result = run("diagnose", str(minimal_bundle), "--format", "json")
    assert result.exit_code == 0
    gaps = gap_sources(result)
    path = "cluster-resources/custom-resources/promotions.kargo.akuity.io/kargo-demo.json"
    assert path in gaps and "does not parse as JSON" in gaps[path]
    assert json.loads(result.stdout)["summary"]["stages_checked"] == 1


def test_wrong_typed_field_skips_only_that_object(minimal_bundle):
    path = minimal_bundle / "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json"
    broken = stage("prod", conditions="Ready")  # a string where a list belongs
    good = stage("qa", conditions=[{"type": "Ready", "status": "True", "reason": "Verified"}])
    data = json.loads(path.read_text())
    data["items"] += [broken, good]
    path.write_text(json.dumps(data))
    result = run("diagnose", str(minimal_bundle), "--format", "json")
    assert result.exit_code == 0
    gaps = gap_sources(result)
    cause = gaps[str(path.relative_to(minimal_bundle))]
    assert "Stage kargo-demo/prod skipped: status.conditions: expected a list, got str" in cause
    assert json.loads(result.stdout)["summary"]["stages_checked"] == 2


def test_object_missing_fields_is_read_as_unknown(minimal_bundle):
    path = minimal_bundle / "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json"
    bare = {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage", "metadata": {"name": "bare", "namespace": "kargo-demo"}}
    data = json.loads(path.read_text())
    data["items"].append(bare)
    path.write_text(json.dumps(data))
    result = run("diagnose", str(minimal_bundle), "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["summary"]["stages_checked"] == 2


def test_manifest_that_does_not_parse(minimal_bundle):
    (minimal_bundle / "manifest.json").write_text("{not json")
    result = run("diagnose", str(minimal_bundle), "--format", "json", "--at", "2026-11-20T03:12:45Z")
    assert result.exit_code == 0
    assert "does not parse as a JSON object" in gap_sources(result)["manifest.json"]


def test_path_traversal_and_links_in_tar_are_skipped(tmp_path):
    ready = stage("dev", conditions=[{"type": "Ready", "status": "True", "reason": "Verified"}])
    bundle = tmp_path / "evil.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in {
            "gitops-bundle-20261120T031245Z/manifest.json": json.dumps(MANIFEST).encode(),
            "gitops-bundle-20261120T031245Z/cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json": k8s_list([ready]),
            "../../escape.json": b"{}",
            "/etc/owned.json": b"{}",
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("gitops-bundle-20261120T031245Z/cluster-resources/pods/kargo.json")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    result = run("diagnose", str(bundle), "--format", "json")
    assert result.exit_code == 0
    causes = " | ".join(gap_sources(result).values())
    assert causes.count("path escapes the bundle") == 2
    assert "is a link to '/etc/passwd'" in causes
    assert not (tmp_path.parent / "escape.json").exists()


def test_decompression_bomb_is_refused(tmp_path):
    bomb = tmp_path / "bomb.tar.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        info = tarfile.TarInfo("gitops-bundle-x/cluster-resources/pods/big.json")
        info.size = 3 * 1024**2
        tar.addfile(info, io.BytesIO(b" " * info.size))
    result = run("diagnose", str(bomb), "--max-bundle-size", "1M", "--max-file-size", "8M")
    assert result.exit_code == 2
    assert "--max-bundle-size" in one_line_error(result)


def test_oversized_member_is_skipped_with_a_gap(minimal_bundle):
    big = minimal_bundle / "cluster-resources/events"
    big.mkdir(parents=True)
    (big / "kargo-demo.json").write_bytes(b" " * 4096)
    result = run("diagnose", str(minimal_bundle), "--max-file-size", "2k", "--format", "json")
    assert result.exit_code == 0
    assert "--max-file-size" in gap_sources(result)["cluster-resources/events/kargo-demo.json"]


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-45T00:00:00Z"])
def test_bad_at_is_a_usage_error(minimal_bundle, bad):
    result = run("diagnose", str(minimal_bundle), "--at", bad)
    assert result.exit_code == 2
    assert "RFC 3339" in result.stderr


def test_unknown_report_extension(minimal_bundle, tmp_path):
    result = run("report", str(minimal_bundle), "-o", str(tmp_path / "r.pdf"))
    assert result.exit_code == 2
    assert "unknown report extension" in one_line_error(result)


def test_files_gone_from_a_bundle_directory_after_it_was_listed_become_gaps(tmp_path):
    """Objects and logs are read from a bundle directory when the frames want them, not when it is
    listed: one removed in between is a gap like any unreadable file, and the rest is analysed."""
    copy = tmp_path / "bundle"
    shutil.copytree(REPO / "sample_bundles" / "healthy-pipeline", copy)
    bundle = open_bundle(copy, limits=Limits())
    pods = next(d for d in bundle.resource_documents("pods"))
    log = bundle.logs[0]
    (copy / pods.path).unlink()
    (copy / log.path).unlink()
    frames = load_frames(bundle)
    causes = dict(zip(frames.gaps.get_column("source").to_list(), frames.gaps.get_column("detail").to_list()))
    assert causes.get(pods.path, "").startswith("unreadable:"), causes
    assert causes.get(log.path, "").startswith("unreadable:"), causes
    assert frames.stages.height > 0
