"""Render an analysis: the last arrow of the data flow.

:func:`build_context` computes everything a report shows (ages, derived
phases, ordering); templates only lay it out. JSON is written from the same
context, so every format says the same thing.
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path

import jinja2
import orjson
import polars as pl

from analyzer import __version__
from analyzer.analysis import Analysis
from analyzer.bundle import format_time
from analyzer.findings import SEVERITIES, Finding, at_least
from analyzer.graphics import PipelineGraph, TimelineView, pipeline_graph, timeline_views

FORMATS = ("text", "md", "html", "json", "junit")
EXTENSIONS = {".txt": "text", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json",
              ".xml": "junit"}
TEMPLATE_FILES = {"text": "diagnosis.txt.j2", "md": "report.md.j2", "html": "report.html.j2", "junit": "report.junit.xml.j2"}


@dataclass(frozen=True)
class StageBlock:
    """One D7 DIAGNOSIS block: a stuck Stage and its findings, root cause first."""

    namespace: str
    name: str
    phase: str  # status.phase, or the phase derived from conditions (Kargo v1.5+ has none)
    health: str
    primary: Finding
    others: tuple[Finding, ...]
    anchor: int = 0  # position of the primary finding in the findings list (1-based), for links
    other_anchors: tuple[int, ...] = ()


@dataclass(frozen=True)
class VersionLine:
    product: str
    label: str
    evidence: str
    assumed: bool


@dataclass(frozen=True)
class ReportContext:
    """Everything a template may show, computed before rendering."""

    tool_version: str
    command: str  # the mode that produced the report
    heading: str  # "report", or "diagnose report" for a mode's own report
    source: str
    layout: str
    reference_time: str
    reference_time_source: str
    assumptions: tuple[str, ...]
    collector: str | None
    complete: bool | None
    commands: int
    commands_failed: int
    versions: tuple[VersionLine, ...]
    stage_filter: str | None
    stages_checked: int
    stage_blocks: tuple[StageBlock, ...]
    other_findings: tuple[Finding, ...]  # not about a stuck Stage, or ranked below its root cause
    unblocked_findings: tuple[Finding, ...]  # in no DIAGNOSIS block at all
    findings: tuple[Finding, ...]
    counts: dict[str, int]
    exit_code: int
    redaction: dict = field(default_factory=dict)
    pipeline: PipelineGraph | None = None  # pictures are computed only for HTML
    timeline: tuple[TimelineView, ...] = ()
    timeline_rows: tuple[dict, ...] = ()  # the newest rows of the timeline, for the table under the picture
    timeline_total: int = 0
    gaps: tuple[Finding, ...] = ()
    stages: tuple[tuple[str, str], ...] = ()  # every Stage checked, (namespace, name)
    modes: "ModeSections | None" = None  # report only: verify, promote-check and lint of the same bundle


@dataclass(frozen=True)
class PromoteVerdict:
    stage: str
    verdict: str  # GO, NO-GO, UNKNOWN, or ERROR when the check itself could not run
    freight: str
    first_blocker: str  # the first rule that blocks, or why the check could not run
    context: object | None  # the full PromoteContext


@dataclass(frozen=True)
class ModeSections:
    """What ``report`` adds to a diagnosis: the other modes, run on the same frames."""

    verification: object  # modes.verify.VerifyContext
    promote_checks: tuple[PromoteVerdict, ...]
    lint: object  # modes.lint.LintContext


@dataclass(frozen=True)
class JUnitCase:
    """One test case of the JUnit report: a Stage, or another object a finding is about."""

    classname: str
    name: str
    failure: Finding | None  # the root cause, when something at error or worse is found
    findings: tuple[Finding, ...]


TIMELINE_TABLE_ROWS = 300


def build_context(analysis: Analysis, command: str = "diagnose", pictures: bool = False) -> ReportContext:
    frames = analysis.frames
    facts = frames.facts
    findings = tuple(analysis.findings)
    stages = frames.stages
    if analysis.stage:
        stages = stages.filter(pl.col("name") == analysis.stage)
    stage_rows = {(r["namespace"], r["name"]): r for r in _stage_states(stages).to_dicts()}
    by_stage: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.subject.kind == "Stage" and f.severity != "info":
            by_stage.setdefault((f.subject.namespace or "", f.subject.name), []).append(f)
    blocks = []
    in_blocks: set[int] = set()
    in_any_block: set[int] = set()
    for key in sorted(by_stage):
        ranked = sorted(by_stage[key], key=lambda f: (f.rank, SEVERITIES.index(f.severity)))
        state = stage_rows.get(key, {})
        position = {id(f): i for i, f in enumerate(findings, 1)}
        blocks.append(StageBlock(key[0], key[1], state.get("phase_text", "unknown (Stage not in the bundle)"),
                                 state.get("health_text", "unknown"), ranked[0], tuple(ranked[1:]),
                                 position[id(ranked[0])], tuple(position[id(f)] for f in ranked[1:])))
        in_blocks.add(id(ranked[0]))
        in_any_block.update(id(f) for f in ranked)
    others = tuple(f for f in findings if id(f) not in in_blocks)
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    v = frames.versions
    extras: dict = {}
    if pictures:
        timeline = frames.timeline
        if analysis.stage:
            timeline = timeline.filter((pl.col("stage") == analysis.stage) | pl.col("stage").is_null())
        window = timeline.filter(pl.col("time") <= facts.reference_time).sort("time", descending=True)
        extras = {
            "pipeline": pipeline_graph(stages, frames.warehouses, findings),
            "timeline": timeline_views(timeline, facts.reference_time),
            "timeline_rows": tuple(
                window.head(TIMELINE_TABLE_ROWS)
                .select(pl.col("time").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("time"), "category", "severity",
                        "object_kind", "object_namespace", "object_name", "stage", "summary", "source")
                .to_dicts()),
            "timeline_total": timeline.height,
        }
    return ReportContext(
        tool_version=__version__,
        command=command,
        heading="report" if command == "report" else f"{command} report",
        source=facts.source,
        layout=facts.layout,
        reference_time=format_time(facts.reference_time),
        reference_time_source=facts.reference_time_source,
        assumptions=facts.assumptions,
        collector=facts.collector,
        complete=facts.complete,
        commands=facts.commands,
        commands_failed=facts.commands_failed,
        versions=tuple(VersionLine(name, d.label, d.evidence, d.assumed)
                       for name, d in (("Kargo", v.kargo), ("Argo CD", v.argocd), ("Argo Rollouts", v.rollouts))),
        stage_filter=analysis.stage,
        stages_checked=stages.height,
        stage_blocks=tuple(blocks),
        other_findings=others,
        unblocked_findings=tuple(f for f in findings if id(f) not in in_any_block),
        findings=findings,
        counts=counts,
        exit_code=analysis.exit_code,
        redaction=facts.redaction,
        gaps=tuple(f for f in findings if f.id == "collection-gap"),
        stages=tuple(stages.select("namespace", "name").sort("namespace", "name").iter_rows()),
        **extras,
    )


def _stage_states(stages: pl.DataFrame) -> pl.DataFrame:
    """The D7 Phase and Health lines. Kargo v1.5+ has no status.phase: derive it
    from the conditions the way v1.1-v1.4 did, and say that it was derived."""
    ready = pl.format("Ready={}/{}", pl.col("ready_status").fill_null("?"), pl.col("ready_reason").fill_null("?"))
    derived = (
        pl.when(pl.col("ready_reason") == "ReconcileError").then(pl.lit("Failed"))
        .when(pl.col("promoting_status") == "True").then(pl.lit("Promoting"))
        .when(pl.col("last_promotion_phase").is_in(["Failed", "Errored", "Aborted"])).then(pl.lit("Failed"))
        .when(pl.col("healthy_status") == "False").then(pl.lit("Failed"))
        .when(pl.col("verified_status") != "True").then(pl.lit("Verifying"))
        .when(pl.col("ready_status") == "True").then(pl.lit("Steady"))
        .otherwise(pl.lit("Unknown"))
    )
    phase_text = (
        pl.when(pl.col("phase").is_not_null()).then(pl.format("{} (status.phase)", pl.col("phase")))
        .when(pl.col("condition_count") > 0).then(pl.format("{} (derived from {}; status.phase is gone since Kargo v1.5)", derived, ready))
        .otherwise(pl.lit("unknown (no status.phase and no conditions)"))
    )
    health_text = pl.format(
        "{} (Healthy={}/{})",
        pl.col("health_status").fill_null("not reported"),
        pl.col("healthy_status").fill_null("?"),
        pl.col("healthy_reason").fill_null("?"),
    )
    return stages.select("namespace", "name", phase_text.alias("phase_text"), health_text.alias("health_text"))


# ------------------------------------------------------------------ output


class _BestEffortBytecodeCache(jinja2.FileSystemBytecodeCache):
    """A cache that cannot be read or written any more (a full disk, its directory removed) is
    skipped: the templates compile again, the report is unaffected."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


@functools.cache
def bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (compiling them is a good part of a small report's time),
    in jinja2's per-user directory, which it creates private and checks is ours; none if it cannot."""
    try:
        return _BestEffortBytecodeCache()
    except (OSError, RuntimeError):
        return None


def template_dir() -> Path:
    """Templates ship inside the wheel; in a checkout they sit beside the package."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / "report_templates", here.parent / "report_templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("report_templates not found beside the analyzer package")


def junit_cases(context: ReportContext) -> tuple[JUnitCase, ...]:
    """A case per Stage (passing when nothing is wrong), then one per other object with findings."""
    by_subject: dict[tuple[str, str | None, str], list[Finding]] = {}
    for f in context.findings:
        by_subject.setdefault((f.subject.kind, f.subject.namespace, f.subject.name), []).append(f)
    cases = []
    for namespace, name in context.stages:
        found = tuple(sorted(by_subject.pop(("Stage", namespace, name), []), key=lambda f: (f.rank, f.id)))
        failing = [f for f in found if at_least(f.severity, "error")]
        cases.append(JUnitCase(f"stages.{namespace}", name, failing[0] if failing else None, found))
    for (kind, namespace, name), found in sorted(by_subject.items(), key=lambda kv: tuple(x or "" for x in kv[0])):
        ranked = tuple(sorted(found, key=lambda f: (f.rank, f.id)))
        failing = [f for f in ranked if at_least(f.severity, "error")]
        classname = f"{kind.lower()}s.{namespace}" if namespace else f"{kind.lower()}s"
        cases.append(JUnitCase(classname, name, failing[0] if failing else None, ranked))
    return tuple(cases)


def _environment(fmt: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "xml.j2"), default_for_string=False),
        bytecode_cache=bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    if fmt == "junit":
        env.finalize = _xml_text
    env.filters["md"] = _markdown_escape
    env.filters["mdcode"] = _markdown_code
    env.filters["mdblock"] = _markdown_block
    return env


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: object) -> object:
    """XML 1.0 cannot hold control characters even escaped: drop them from bundle text."""
    return _XML_INVALID.sub("", value) if isinstance(value, str) else value


def _markdown_block(text: object, lang: str = "", indent: int = 0) -> str:
    """A fenced code block whose fence no backtick run in the text can close."""
    value = str(text)
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " * indent
    body = "\n".join(pad + line for line in value.splitlines() or [""])
    return f"{pad}{fence}{lang}\n{body}\n{pad}{fence}"


def _markdown_escape(text: object) -> str:
    """Bundle text in Markdown: no markup, no HTML, one line."""
    out = " ".join(str(text).split())
    # Only what can start markup inside a line: emphasis, code, links, HTML, tables.
    for ch in "\\`*_[]<>|~":
        out = out.replace(ch, "\\" + ch)
    return out


def _markdown_code(text: object) -> str:
    """Inline code that a backtick in the value cannot close."""
    value = " ".join(str(text).split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def render_analysis(analysis: Analysis, fmt: str, command: str = "diagnose") -> str:
    context = build_context(analysis, command=command, pictures=(fmt == "html"))
    if command == "report":
        context = replace(context, modes=mode_sections(analysis))
    return render(context, fmt)


def mode_sections(analysis: Analysis) -> ModeSections:
    from analyzer.modes.lint import lint
    from analyzer.modes.promote import PromoteError, promote_check
    from analyzer.modes.verify import verify

    verdicts = []
    stages = analysis.frames.stages.filter(~pl.col("control_flow"))
    if analysis.stage:
        stages = stages.filter(pl.col("name") == analysis.stage)
    # A pasted Stage may have no namespace: it sorts first and is checked by its name alone.
    pairs = sorted(set(stages.select("namespace", "name").iter_rows()), key=lambda p: (p[0] is not None, p[0] or "", p[1]))
    repeated = {name for name, count in Counter(name for _ns, name in pairs).items() if count > 1}
    for namespace, name in pairs:
        # A name several projects use is shown and checked with its project.
        shown = f"{namespace}/{name}" if name in repeated else name
        try:
            pc = promote_check(analysis, name if namespace is None else f"{namespace}/{name}")
        except PromoteError as exc:
            verdicts.append(PromoteVerdict(shown, "ERROR", "", str(exc), None))
            continue
        blocker = next((f"{r.label}: {r.detail}" for r in pc.rules if r.status != "ok"), "")
        verdicts.append(PromoteVerdict(shown, pc.verdict, pc.freight_label, blocker, pc))
    return ModeSections(verify(analysis), tuple(verdicts), lint(analysis))


MARKDOWN_BUDGET = 60_000  # characters: what GitHub, GitLab and Jira comments take comfortably


def render(context: ReportContext, fmt: str) -> str:
    if fmt == "json":
        return to_json(context)
    template = _environment(fmt).get_template(TEMPLATE_FILES[fmt])
    extra = {"cases": junit_cases(context)} if fmt == "junit" else {}
    text = template.render(ctx=context, compact=False, **extra)
    if fmt != "md" or len(text) <= MARKDOWN_BUDGET:
        return text
    # Over budget: findings in summary form (headline, cause, first fix step), then a hard cut.
    text = template.render(ctx=context, compact=True)
    note = (f"\n\n_Shortened to fit {MARKDOWN_BUDGET:,} characters: evidence and further fix steps are left out. "
            "The full report: `--format html` or `--format json`._\n")
    if len(text) + len(note) > MARKDOWN_BUDGET:
        text = text[: MARKDOWN_BUDGET - len(note) - 200].rsplit("\n", 1)[0] + "\n\n_(cut here)_"
    return text + note


def to_json(context: ReportContext) -> str:
    payload = {
        "tool": {"name": "gitops-master", "version": context.tool_version, "command": context.command},
        "bundle": {
            "source": context.source,
            "layout": context.layout,
            "reference_time": context.reference_time,
            "reference_time_source": context.reference_time_source,
            "assumptions": list(context.assumptions),
            "collector": context.collector,
            "complete": context.complete,
            "commands": context.commands,
            "commands_failed": context.commands_failed,
            "redaction": context.redaction,
            "versions": [asdict(v) for v in context.versions],
        },
        "summary": {
            "stage_filter": context.stage_filter,
            "stages_checked": context.stages_checked,
            "stuck_stages": [f"{b.namespace}/{b.name}" for b in context.stage_blocks],
            "counts": context.counts,
            "exit_code": context.exit_code,
        },
        "findings": [f.to_dict() for f in context.findings],
    }
    if context.modes is not None:
        payload["verification"] = context.modes.verification
        payload["promote_checks"] = [
            {"stage": v.stage, "verdict": v.verdict, "freight": v.freight, "first_blocker": v.first_blocker}
            for v in context.modes.promote_checks
        ]
        payload["lint"] = context.modes.lint
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2, default=_json_default).decode() + "\n"


def _json_default(value: object) -> object:
    """Frames inside mode contexts serialise as their rows; anything else as text."""
    if isinstance(value, pl.DataFrame):
        return value.to_dicts()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def format_for_path(path: str | os.PathLike) -> str | None:
    return EXTENSIONS.get(Path(path).suffix.lower())
