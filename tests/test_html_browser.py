"""The HTML report in a real headless Chromium, opened from file:// as a reader would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from conftest import REPO, expectation_for, sample_paths

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/test.sh installs it)")

ARTIFACTS = REPO / "test-artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def open_report(browser, html: Path):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    console_errors, requests = [], []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(html.as_uri())
    return page, console_errors, requests


def render_report(sample: Path, out: Path) -> Path:
    result = CliRunner().invoke(main, ["report", str(sample), "-o", str(out)])
    assert result.exit_code in (0, 1), result.output
    return out


@pytest.mark.parametrize("sample", sample_paths(), ids=lambda p: p.name)
def test_sample_report_in_chromium(browser, sample, tmp_path):
    html = render_report(sample, tmp_path / "report.html")
    assert html.stat().st_size < 2 * 1024 * 1024
    page, console_errors, requests = open_report(browser, html)
    assert console_errors == []
    assert requests == [html.as_uri()], f"the report tried to load {requests[1:]}"
    answer = page.locator("#answer").inner_text()
    expected = expectation_for(sample)["findings"]
    stuck = [f for f in expected if f["subject"]["kind"] == "Stage"]
    if stuck:
        for f in stuck:
            assert f"{f['subject']['namespace']}/{f['subject']['name']}" in answer
            assert f["id"] in answer
    else:
        assert "No stuck stages" in answer
    # The answer comes before any raw data.
    order = page.evaluate("Array.from(document.querySelectorAll('section')).map(s => s.id)")
    assert order[0] == "answer"
    assert page.locator("svg.pipeline g.node.stage").count() >= 1
    assert page.locator("svg.timeline").first.is_visible()
    assert page.locator("svg.timeline rect.mark").count() > 0
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{sample.name.replace('.tar.gz', '')}.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    page.close()


def test_zoom_switches_the_visible_timeline(browser, tmp_path):
    html = render_report(REPO / "sample_bundles" / "repo-server-refused.tar.gz", tmp_path / "r.html")
    page, _errors, _requests = open_report(browser, html)
    assert page.locator("#view-incident").is_visible()
    page.locator("label[for=zoom-1h]").click()
    assert page.locator("#view-1h").is_visible() and not page.locator("#view-incident").is_visible()
    page.close()


def test_bundle_text_never_runs_as_markup(browser, tmp_path):
    hostile = "<script>window.pwned=1</script><img src=x onerror=window.pwned=2>"
    stage = {
        "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage",
        "metadata": {"name": "prod", "namespace": "kargo-demo", "creationTimestamp": "2026-11-01T00:00:00Z"},
        "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}]},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "ReconcileError", "message": hostile,
                                   "lastTransitionTime": "2026-11-20T03:00:00Z"}]},
    }
    bundle = tmp_path / "ticket.json"
    bundle.write_text(json.dumps(stage))
    html = render_report(bundle, tmp_path / "r.html")
    page, console_errors, requests = open_report(browser, html)
    assert page.evaluate("window.pwned") is None
    assert page.locator("script").count() == 0
    assert hostile in page.locator("#answer").inner_text()
    assert requests == [html.as_uri()]
    page.close()


def test_print_to_pdf_shows_every_view(browser, tmp_path):
    html = render_report(REPO / "sample_bundles" / "verification-failed", tmp_path / "r.html")
    page, _e, _r = open_report(browser, html)
    page.emulate_media(media="print")
    assert page.locator("#view-24h").is_visible() and page.locator("#view-1h").is_visible()
    pdf = tmp_path / "r.pdf"
    page.pdf(path=str(pdf))
    assert pdf.read_bytes()[:4] == b"%PDF"
    page.close()


def test_report_includes_verification_promote_check_and_lint(browser, tmp_path):
    html = render_report(REPO / "sample_bundles" / "repo-server-refused.tar.gz", tmp_path / "r.html")
    page, console_errors, _requests = open_report(browser, html)
    assert console_errors == []
    ids = page.evaluate("Array.from(document.querySelectorAll('section')).map(s => s.id)")
    for section in ("answer", "pipeline", "timeline", "findings", "verification", "promote", "lint", "gaps", "facts"):
        assert section in ids
    assert ids[0] == "answer"
    promote = page.locator("#promote").inner_text()
    assert "staging" in promote and "NO-GO" in promote
    assert "FAIL at Level 2" in page.locator("#verification").inner_text()
    page.close()
