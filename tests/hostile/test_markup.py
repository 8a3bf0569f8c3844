"""Bundle text carrying HTML, script, Markdown and terminal escapes is shown, never obeyed.

Text output: no control character reaches the terminal (escape sequences are
written as \\u001b...). Markdown: no HTML from the bundle, no link or image
built from bundle text. HTML: opened in Chromium, no script runs and nothing
is fetched. JUnit: well-formed XML.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from analyzer.cli import main
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_support import load_corpus_module

MOD = load_corpus_module()
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def markup_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("markup")
    return MOD._markup_bundle(out / "bundle")


def render(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code in (0, 1, 3), result.output  # 3: verify or promote-check UNKNOWN
    assert "internal error" not in result.stderr
    return result.stdout


@pytest.mark.parametrize("command", [["diagnose"], ["verify"], ["lint"], ["promote-check", "--stage", "ok"]])
def test_text_output_has_no_control_characters(markup_bundle, command):
    out = render(command[0], str(markup_bundle), *command[1:], "--format", "text")
    assert not CONTROL.search(out), repr(CONTROL.search(out))
    if command == ["diagnose"]:
        assert "\\u001b[31mRED" in out  # shown, escaped
        assert "<script>" in out  # shown as text


def test_terminal_escapes_in_error_lines_are_escaped(tmp_path):
    bad = tmp_path / "x\x1b[31m.json"
    bad.write_text("{")
    result = CliRunner().invoke(main, ["diagnose", str(bad)])
    assert result.exit_code == 2
    assert not CONTROL.search(result.stderr)
    assert "\\u001b" in result.stderr


def _markdown_tokens(text: str):
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(text)
    flat = []
    stack = list(tokens)
    while stack:
        tok = stack.pop()
        flat.append(tok)
        stack.extend(tok.children or [])
    return flat, md.render(text)


@pytest.mark.parametrize("command", [["diagnose"], ["verify"], ["lint"], ["promote-check", "--stage", "ok"]])
def test_markdown_carries_no_html_and_no_links_from_the_bundle(markup_bundle, command):
    pytest.importorskip("markdown_it")
    text = render(command[0], str(markup_bundle), *command[1:], "--format", "md")
    assert not CONTROL.search(text)
    tokens, html = _markdown_tokens(text)
    for tok in tokens:
        if tok.type in ("html_inline", "html_block"):
            tags = set(re.findall(r"</?\s*([A-Za-z][A-Za-z0-9-]*)", tok.content))
            assert tags <= {"details", "summary"}, tok.content  # the report's own folding, nothing else
        assert tok.type not in ("image",), tok
        if tok.type == "link_open":
            href = tok.attrGet("href") or ""
            assert "evil" not in href and "javascript" not in href, href
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html


def test_report_markdown_file_too(markup_bundle, tmp_path):
    pytest.importorskip("markdown_it")
    out = tmp_path / "r.md"
    result = CliRunner().invoke(main, ["report", str(markup_bundle), "-o", str(out)])
    assert result.exit_code in (0, 1)
    text = out.read_text()
    assert not CONTROL.search(text)
    _tokens, html = _markdown_tokens(text)
    assert "<script" not in html and "<img" not in html


def test_junit_is_well_formed(markup_bundle):
    ET.fromstring(render("diagnose", str(markup_bundle), "--format", "junit"))


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/test.sh installs it)")
def test_html_report_runs_no_script_in_chromium(markup_bundle, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    html = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", str(markup_bundle), "-o", str(html)])
    assert result.exit_code in (0, 1)
    assert "<script>window.pwned" not in html.read_text()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        requests, dialogs = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(html.as_uri())
        assert page.evaluate("window.pwned") is None
        assert page.locator("script").count() == 0
        assert page.locator("img").count() == 0
        assert page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
                             ".filter(h => h.includes('evil') || h.startsWith('javascript'))") == []
        assert requests == [html.as_uri()]
        assert dialogs == []
        assert "<script>window.pwned=1</script>" in page.locator("body").inner_text()
        browser.close()
