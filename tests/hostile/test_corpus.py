"""The attack corpus (scripts/make_attack_corpus.py): every case ends as it must.

Each case runs as a child process under a 2 GiB address-space limit and a
timeout, from a sandbox directory with its own TMPDIR: one clear error line
(exit 2), or a report (exit 0 or 1) with the expected collection gap. Nothing
is written outside the sandbox, nothing outside the bundle is read into the
report, and every output format and mode survives the case too.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from analyzer.cli import main
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_support import SLOW, load_corpus_module, run_limited, snapshot

MOD = load_corpus_module()
NAMES = MOD.CASE_NAMES
# What a terminal would act on: no output may carry it raw.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("gitops-master: error: "), stderr
    assert "internal error" not in lines[0], lines[0]
    return lines[0]


def gap_causes(report: dict) -> list[str]:
    return [f["root_cause"] for f in report["findings"] if f["id"] == "collection-gap"]


@pytest.mark.parametrize("name", NAMES)
def test_case_outcome_under_limits(corpus_dir, tmp_path, name):
    out, cases = corpus_dir
    case = cases[name]
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    base = tmp_path.parent  # this run's temporary root: the corpus and every test's directory
    before = snapshot(base, skip=sandbox)

    run = run_limited(["diagnose", str(case.path), "--format", "json", *case.args], cwd=sandbox)

    assert run.seconds < SLOW, f"{name} took {run.seconds:.1f}s"
    assert "Traceback" not in run.stderr, run.stderr
    if case.expect == "error":
        assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
        assert case.message in one_line_error(run.stderr)
    else:
        assert run.returncode in (0, 1), (run.returncode, run.stderr[-2000:])
        assert "internal error" not in run.stderr
        report = json.loads(run.stdout)
        if case.expect == "gaps":
            causes = gap_causes(report)
            assert causes, "expected a collection-gap finding"
            assert any(case.message in c for c in causes), causes
    for text in case.forbidden:
        assert text not in run.stdout + run.stderr, f"{text!r} reached the output"
    after = snapshot(base, skip=sandbox)
    assert after == before, f"written outside the sandbox: {sorted(set(after) ^ set(before))[:5]}"
    for sentinel in MOD.ESCAPE_SENTINELS:
        for where in (base, base.parent, out, out.parent, sandbox.parent):
            assert not (where / sentinel).exists(), where / sentinel
    assert sorted(p.name for p in sandbox.iterdir()) == ["tmp"] and not any((sandbox / "tmp").iterdir())


RUNNABLE = [n for n in NAMES if n not in ("bomb-many-members", "bomb-bundle-cap", "huge-json-member", "many-members", "pax-header-bomb",
                                          "gzip-header-bomb", "random-bytes", "gzip-of-junk", "nested-json-100k",
                                          "nested-yaml-100k", "nested-yaml-300", "billion-laughs", "recursive-alias")]


def invoke(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    assert "internal error" not in result.stderr, result.stderr
    return result


@pytest.mark.parametrize("name", RUNNABLE)
def test_every_format_and_mode_survives(corpus_dir, tmp_path, name):
    _out, cases = corpus_dir
    case = cases[name]
    path = str(case.path)
    outputs = []
    for fmt in ("text", "md", "html", "junit", "json"):
        result = invoke("diagnose", path, "--format", fmt, *case.args)
        assert result.exit_code in (0, 1), result.stderr
        outputs.append(result.stdout)
    report = json.loads(outputs[-1])
    for ext in ("html", "md"):
        target = tmp_path / f"report.{ext}"
        result = invoke("report", path, "-o", str(target), *case.args)
        assert result.exit_code in (0, 1), result.stderr
        outputs.append(target.read_text(encoding="utf-8"))
    for mode, fmt in (("verify", "text"), ("verify", "md"), ("lint", "text"), ("lint", "json")):
        result = invoke(mode, path, "--format", fmt, *case.args)
        assert result.exit_code in (0, 1, 3), result.stderr
        outputs.append(result.stdout)
    stuck = report["summary"]["stuck_stages"]
    if stuck:
        result = invoke("promote-check", path, "--stage", stuck[0].split("/", 1)[1], *case.args)
        assert result.exit_code in (0, 1, 2, 3), result.stderr
        outputs.append(result.stdout)
    for text in outputs:
        assert not CONTROL.search(text), CONTROL.search(text)
        for forbidden in case.forbidden:
            assert forbidden not in text


@pytest.mark.parametrize("name", [n for n in NAMES if n != "bomb-bundle-cap"])  # bomb-many-members covers it
def test_scan_and_redact_survive(corpus_dir, tmp_path, name):
    _out, cases = corpus_dir
    case = cases[name]
    scan = invoke("scan", str(case.path), *case.args)
    assert scan.exit_code in (0, 1, 2)
    if scan.exit_code == 2:
        assert scan.stderr.strip().splitlines()[-1].startswith("gitops-master: error: ")
    assert not CONTROL.search(scan.stdout + scan.stderr)
    target = tmp_path / "redacted.tar.gz"
    redact = invoke("redact", str(case.path), "-o", str(target), *case.args)
    assert redact.exit_code in (0, 2)
    assert not CONTROL.search(redact.stdout + redact.stderr)
    if redact.exit_code == 0:
        again = invoke("scan", str(target), *case.args)
        assert again.exit_code in (0, 2), again.stdout  # nothing left to find
    else:
        assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["redacted.tar.gz"])
