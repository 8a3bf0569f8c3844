"""Speed never changes an answer.

The fast path reads each kind's files in one polars call, keeps large logs in
the spool and reads them in slices, keeps only the log lines rules can use, and
looks Stages up through per-namespace indexes. The simple path reads file by
file, holds every log in memory in one slice, and parses every line. On the same
synthetic bundle both give the same report: findings, verify, promote-check and
lint sections alike.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import polars as pl
import pytest

import analyzer.bundle as bundle_module
import analyzer.frames.build as build_module
import analyzer.frames.logs as logs_module
from analyzer.analysis import analyze
from analyzer.bundle import LogFile, open_bundle
from analyzer.modes.common import NamespaceIndex
from analyzer.render import render_analysis

REPO = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("make_synthetic_bundle_fast", REPO / "scripts" / "make_synthetic_bundle.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fast") / "bundle.tar.gz"
    _generator().generate(out, scale=0.05, seed=11, tar=True)
    return out


def _report(path: Path) -> dict:
    analysis = analyze(path)
    report = json.loads(render_analysis(analysis, "json", command="report"))
    report.pop("generated_at", None)
    return report


def test_fast_and_simple_paths_give_the_same_report(synthetic, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(bundle_module, "SPOOL_BYTES", 0)  # every log through the spool
        m.setattr(logs_module, "CHUNK_BYTES", 4096)  # many slices per file
        m.setattr(build_module, "GROUP_BYTES", 4096)  # large Lists cut into pieces, files in many groups
        fast = _report(synthetic)
    with monkeypatch.context() as m:
        m.setattr(bundle_module, "SPOOL_BYTES", 1 << 62)  # every log in memory
        m.setattr(build_module, "_load_together", lambda *args: None)  # file by file
        m.setattr(logs_module, "KEEP_PATTERN", "")  # every line parsed
        simple = _report(synthetic)
    assert fast["findings"], "the synthetic bundle plants faults; an empty report proves nothing"
    assert [f["id"] for f in fast["findings"]] == [f["id"] for f in simple["findings"]]
    assert fast == simple


def test_spooled_log_reads_as_the_same_lines_as_one_in_memory(tmp_path, monkeypatch):
    lines = [f'time="2026-11-20T03:{i // 60:02d}:{i % 60:02d}Z" level=error msg="sync failed {i}" app=a{i}' for i in range(3000)]
    data = ("\n".join(lines) + "\n\n" + "x" * 10_000 + "\nlast line without newline").encode()
    spooled = tmp_path / "c.log"
    spooled.write_bytes(data)
    held = LogFile("cluster-resources/pods/logs/ns/pod-1/c.log", "ns", "pod-1", "c", False, data)
    on_disk = LogFile(held.path, "ns", "pod-1", "c", False, file=str(spooled), size=len(data))
    monkeypatch.setattr(logs_module, "CHUNK_BYTES", 1000)  # slices cut inside lines and inside the long one
    assert logs_module.parse_log(on_disk).equals(logs_module.parse_log(held))
    numbers = [n for part in logs_module._numbered(on_disk) for n in part.get_column("line_no").to_list()]
    assert numbers == list(range(1, logs_module.line_count(data) + 1))


def test_spool_lives_in_the_tools_temporary_directory_and_goes_with_the_bundle(synthetic, tmp_path, monkeypatch):
    monkeypatch.setattr(bundle_module, "SPOOL_BYTES", 0)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # tempfile caches the directory it chose
    bundle = open_bundle(synthetic)
    spooled = [log.file for log in bundle.logs if log.file]
    assert spooled and all(Path(f).parent.parent == tmp_path and Path(f).parent.name.startswith("gitops-master-") for f in spooled)
    assert all(os.stat(f).st_mode & 0o077 == 0 for f in spooled)  # readable by the user only
    spool_dir = Path(spooled[0]).parent
    del bundle, spooled
    import gc

    gc.collect()
    assert not spool_dir.exists()


def test_namespace_index_returns_rows_in_frame_order():
    frame = pl.DataFrame({"namespace": ["b", "a", "b", None, "c", "a"], "n": [1, 2, 3, 4, 5, 6]})
    index = NamespaceIndex(frame)
    assert index.get("a")["n"].to_list() == [2, 6]
    assert index.get(["c", "a", "b"])["n"].to_list() == [1, 2, 3, 5, 6]  # frame order, not the order asked
    assert index.get(["zz"]).is_empty() and index.get("zz").columns == ["namespace", "n"]
    assert index.get(("a", "a"))["n"].to_list() == [2, 6]
    assert index.get(None).is_empty() and index.get([None, "a"])["n"].to_list() == [2, 6]  # found by the fuzz run


def test_a_stage_name_several_projects_use_is_checked_per_project(synthetic):
    from analyzer.modes.promote import PromoteError, promote_check

    analysis = analyze(synthetic)
    stages = analysis.frames.stages
    counts = stages.group_by("name").agg(pl.col("namespace").sort().alias("projects"))
    shared = counts.filter(pl.col("projects").list.len() > 1).sort("name").row(0, named=True)
    name, projects = shared["name"], shared["projects"]
    with pytest.raises(PromoteError, match=f"several projects.*--stage PROJECT/{name}"):
        promote_check(analysis, name)
    for project in projects:
        assert promote_check(analysis, f"{project}/{name}").namespace == project
    with pytest.raises(PromoteError, match="in project 'no-such-project'"):
        promote_check(analysis, f"no-such-project/{name}")
    report = json.loads(render_analysis(analysis, "json", command="report"))
    shown = [v["stage"] for v in report["promote_checks"]]
    assert all(f"{p}/{name}" in shown for p in projects) and name not in shown
    assert len(shown) == stages.filter(~pl.col("control_flow")).height  # one verdict per Stage, none lost to a shared name


def _pods_list(count: int, indent: int) -> bytes:
    pods = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "ns", "labels": {"app": "a"}},
             "spec": {"containers": [{"name": "c", "env": [{"name": "X", "value": "}, {"}]}]},
             "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}}
            for i in range(count)]
    return json.dumps({"apiVersion": "v1", "items": pods, "kind": "List"}, indent=indent).encode()


@pytest.mark.parametrize("indent", [4, 2, 8])
def test_a_large_list_read_in_pieces_equals_it_read_whole(monkeypatch, indent):
    from analyzer.bundle import Document
    from analyzer.frames import SPECS

    data = _pods_list(400, indent)
    doc = [Document("cluster-resources/pods/ns.json", "pods", "ns", data)]
    whole = build_module.load_kind(SPECS["pods"], doc, [])
    monkeypatch.setattr(build_module, "GROUP_BYTES", 2000)
    pieces = list(build_module._cut_list(data)) if build_module._cuttable(data) else None
    if indent == 4:  # kubectl's layout is cut between items
        assert pieces and len(pieces) > 10
    problems: list = []
    cut = build_module.load_kind(SPECS["pods"], doc, problems)
    assert cut.equals(whole) and whole.height == 400 and not problems


def test_logs_picked_while_the_tarball_is_read_are_the_logs_read_after(synthetic, monkeypatch):
    monkeypatch.setattr(bundle_module, "SPOOL_BYTES", 0)
    monkeypatch.setattr(logs_module, "CHUNK_BYTES", 4096)
    ahead = logs_module.LogReadAhead()
    try:
        bundle = open_bundle(synthetic, watch=ahead)
        assert bundle.logs and ahead.pending == len(bundle.logs), "every spooled log is picked while reading"
        picked = logs_module.load_logs(bundle.logs, ahead=ahead)
        assert ahead.pending == 0, "load_logs used what was picked"
        assert picked.height > 0
        assert picked.equals(logs_module.load_logs(bundle.logs))
    finally:
        ahead.close()


def test_what_a_rules_run_derives_is_dropped_after_it_and_built_again_on_demand():
    frames = analyze(REPO / "sample_bundles" / "poisoned-promotion").frames
    builds: list[str] = []

    def build(name):
        return lambda _f: builds.append(name) or name

    frames.derived("before", build("before"))
    with frames.scratch():
        frames.derived("before", build("before"))
        frames.derived("inside", build("inside"))
        frames.derived("inside", build("inside"))
    frames.derived("before", build("before"))
    frames.derived("inside", build("inside"))
    assert builds == ["before", "inside", "inside"]
    assert "argocd_signals.signals" not in frames.__dict__["_derived"], "the rules' own intermediates are gone"
