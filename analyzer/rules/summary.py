"""Findings about findings: several independent faults on one Stage."""

from __future__ import annotations

from analyzer.catalog import make_finding
from analyzer.findings import Finding, Subject, at_least
from analyzer.rules import rule
from analyzer.rules.common import evidence


@rule("stage-multiple-faults", needs=("findings",), summary=True)
def multiple_faults(frames, findings: tuple[Finding, ...]) -> list[Finding]:
    """Several independent faults at error or worse block one Stage.

    **Symptom** A Stage has more than one thing wrong at once; fixing one does
    not unstick it.
    **Evidence** The other findings on the Stage, ranked by which blocks the
    others (the catalog's rank), each with its own evidence.
    **Fix** Fix them in the ranked order; only if they persist, the playbook's
    last resort: delete the Stage and all its Promotions (HIGH risk).
    """
    by_stage: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.subject.kind == "Stage" and at_least(f.severity, "error"):
            by_stage.setdefault((f.subject.namespace or "", f.subject.name), []).append(f)
    out = []
    for (namespace, stage), found in sorted(by_stage.items()):
        ranked = sorted(found, key=lambda f: (f.rank, f.id))
        if len({f.id for f in ranked}) < 2:
            continue
        out.append(make_finding(
            "stage-multiple-faults", Subject("Stage", namespace, stage),
            {"count": len(ranked), "ranked": "; ".join(f"{i}. {f.id} ({f.title.lower()})" for i, f in enumerate(ranked, 1)),
             "namespace": namespace, "stage": stage,
             # jsonpath filter literal: the name is a DNS label, safe inside the quotes.
             "stage_literal": stage},
            [evidence(f.evidence[0].source if f.evidence else "(finding)", f"finding {f.id}", f.root_cause) for f in ranked],
            related=tuple(Subject(s.kind, s.namespace, s.name) for f in ranked for s in f.related[:1]),
        ))
    return out
