"""The setup report: the S1 architecture tree and the lint findings of every Stage.

Exit code for CI: 1 when a lint finding is at ``fail_on`` or worse (default
``error``: a Promotion will be refused or fail), else 0. Collection gaps are
listed (what could not be checked) and never fail the gate on their own
unless ``fail_on`` is ``warning``.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.findings import SEVERITIES, Finding, at_least, sort_key
from analyzer.modes.architecture import Architecture, build_architecture
from analyzer.modes.output import Header, header
from analyzer.rules import run_rules


@dataclass(frozen=True)
class StageLint:
    namespace: str
    name: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class LintContext:
    header: Header
    stage_filter: str | None
    architecture: Architecture
    stages: tuple[StageLint, ...]  # Stages with at least one finding, in order
    other: tuple[Finding, ...]  # findings not about a Stage
    gaps: tuple[Finding, ...]  # what could not be collected, so could not be linted
    stages_checked: int
    counts: dict[str, int]
    fail_on: str
    exit_code: int


def lint(analysis, fail_on: str = "error") -> LintContext:
    """Lint the bundle of ``analysis`` (any mode's analysis: the lint rules run here on its frames)."""
    frames = analysis.frames
    findings = run_rules(frames, stage=analysis.stage, modes=("lint",))
    gaps = tuple(f for f in analysis.findings if f.id == "collection-gap")
    by_stage: dict[tuple[str, str], list[Finding]] = {}
    other: list[Finding] = []
    for f in findings:
        if f.subject.kind == "Stage":
            by_stage.setdefault((f.subject.namespace or "", f.subject.name), []).append(f)
        else:
            other.append(f)
    stages = tuple(StageLint(ns, name, tuple(sorted(fs, key=sort_key))) for (ns, name), fs in sorted(by_stage.items()))
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    failing = any(at_least(f.severity, fail_on) for f in findings) or (fail_on == "warning" and bool(gaps))
    checked = frames.stages if analysis.stage is None else frames.stages.filter(frames.stages["name"] == analysis.stage)
    return LintContext(
        header=header(frames, "lint"),
        stage_filter=analysis.stage,
        architecture=build_architecture(frames, analysis.stage),
        stages=stages,
        other=tuple(sorted(other, key=sort_key)),
        gaps=gaps,
        stages_checked=checked.height,
        counts=counts,
        fail_on=fail_on,
        exit_code=1 if failing else 0,
    )
