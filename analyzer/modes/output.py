"""Render a mode's context: text and Markdown from jinja2 templates, JSON from the same dataclasses.

Templates (``report_templates/<mode>.<fmt>.j2``) only lay out what the
context already holds; JSON is the context itself, so every format says the
same thing.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime

import jinja2
import orjson

from analyzer import __version__
from analyzer.bundle import format_time
from analyzer.findings import Finding

FORMATS = ("text", "md", "html", "json", "junit")
SUFFIX = {"text": "txt", "md": "md", "html": "html"}
_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class Version:
    product: str
    label: str
    evidence: str
    assumed: bool


@dataclass(frozen=True)
class Header:
    """What every mode's report says about the bundle it read."""

    tool_version: str
    command: str
    source: str
    layout: str
    reference_time: str
    reference_time_source: str
    assumptions: tuple[str, ...]
    versions: tuple[Version, ...]
    complete: bool | None


def header(frames, command: str) -> Header:
    facts, v = frames.facts, frames.versions
    return Header(
        tool_version=__version__,
        command=command,
        source=facts.source,
        layout=facts.layout,
        reference_time=format_time(facts.reference_time),
        reference_time_source=facts.reference_time_source,
        assumptions=tuple(facts.assumptions),
        versions=tuple(Version(name, d.label, d.evidence, d.assumed)
                       for name, d in (("Kargo", v.kargo), ("Argo CD", v.argocd), ("Argo Rollouts", v.rollouts))),
        complete=facts.complete,
    )


def _environment(xml: bool = False) -> jinja2.Environment:
    from analyzer.render import bytecode_cache, template_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "xml.j2"), default_for_string=False),
        bytecode_cache=bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_escape
    env.filters["mdcode"] = markdown_code
    if xml:
        env.finalize = lambda value: _XML_INVALID.sub(" ", value) if isinstance(value, str) else value
    return env


def markdown_escape(text: object) -> str:
    """Bundle text in Markdown: no markup, no HTML, one line."""
    out = " ".join(str(text).split())
    for ch in "\\`*_{}[]<>()#+!|~":
        out = out.replace(ch, "\\" + ch)
    return out


def markdown_code(text: object) -> str:
    """Inline code that a backtick in the value cannot close."""
    value = " ".join(str(text).split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def jsonable(value: object) -> object:
    """A context as plain JSON data: findings as in the diagnose report, times in RFC 3339."""
    if isinstance(value, Finding):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return format_time(value)
    return value


@dataclass(frozen=True)
class JUnitCase:
    classname: str
    name: str
    outcome: str  # pass, failure, error (could not be evaluated), skipped
    message: str
    text: str


@dataclass(frozen=True)
class JUnit:
    cases: tuple[JUnitCase, ...]
    tests: int
    failures: int
    errors: int
    skipped: int


def junit_cases(context, mode: str) -> JUnit:
    """verify: a case per Stage and level; promote: per rule; lint: per Stage (failing at --fail-on)."""
    cases: list[JUnitCase] = []
    if mode == "verify":
        outcome = {"PASS": "pass", "FAIL": "failure", "UNKNOWN": "error", "SKIPPED": "skipped"}
        for s in context.stages:
            for level in s.levels:
                bad = [c for c in level.checks if c.status in ("FAIL", "UNKNOWN")]
                text = "\n".join(f"{c.mark} {c.label}: {c.detail}{c.suffix}" for c in level.checks)
                message = "; ".join(f"{c.label}: {c.detail}" for c in bad) or level.note or level.status
                cases.append(JUnitCase(f"verify.{s.namespace}.{s.name}", f"Level {level.number} ({level.name})",
                                       outcome[level.status], message, text + (f"\nAction Required: {s.action_required}" if bad else "")))
    elif mode == "promote":
        outcome = {"ok": "pass", "blocked": "failure", "unknown": "error"}
        for r in context.rules:
            text = "\n".join([r.detail, *(e.describe() for e in r.evidence), *([f"action: {r.action}"] if r.action else [])])
            cases.append(JUnitCase(f"promote-check.{context.namespace}.{context.stage}", r.label, outcome[r.status], r.detail, text))
    elif mode == "lint":
        from analyzer.findings import at_least

        for s in context.stages:
            failing = [f for f in s.findings if at_least(f.severity, context.fail_on)]
            text = "\n".join(f"[{f.severity}] {f.id}: {f.root_cause}\n  change: {f.fix[0].command}" for f in s.findings)
            cases.append(JUnitCase(f"lint.{s.namespace}", s.name, "failure" if failing else "pass",
                                   "; ".join(f"{f.id}: {f.root_cause}" for f in failing), text))
        if not cases:
            cases.append(JUnitCase("lint", "setup", "pass", "", ""))
    count = {o: sum(1 for c in cases if c.outcome == o) for o in ("failure", "error", "skipped")}
    return JUnit(tuple(cases), len(cases), count["failure"], count["error"], count["skipped"])


def render_mode(context: object, mode: str, fmt: str) -> str:
    """``mode`` names the templates: ``report_templates/<mode>.txt.j2``, ``<mode>.md.j2``, ``<mode>.html.j2``."""
    if fmt == "json":
        return orjson.dumps(jsonable(context), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "junit":
        return _environment(xml=True).get_template("mode.junit.xml.j2").render(ctx=context, junit=junit_cases(context, mode))
    template = _environment().get_template(f"{mode}.{SUFFIX[fmt]}.j2")
    return template.render(ctx=context)
