"""Rule registry: the third arrow of the data flow (frames -> findings).

A rule is a pure function over :class:`~analyzer.frames.Frames` that returns
findings. It declares the catalog ids it may emit and the frames it reads;
registration rejects an id that is not in the catalog or already owned. Built-in
rules register the way an outside rule would: by importing their module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from analyzer.catalog import load_catalog
from analyzer.findings import Finding, sort_key

RuleFn = Callable[["Frames"], Iterable[Finding]]  # noqa: F821


@dataclass(frozen=True)
class Rule:
    name: str
    ids: tuple[str, ...]
    needs: tuple[str, ...]
    fn: RuleFn
    doc: str
    mode: str = "diagnose"  # "diagnose" (why is it stuck) or "lint" (is it configured right)


REGISTRY: dict[str, Rule] = {}
# Summary rules read the findings of the other rules (and frames); they run last.
SUMMARIES: dict[str, Rule] = {}
_OWNER: dict[str, str] = {}

BUILTIN_MODULES = (
    "analyzer.rules.kargo_stage",
    "analyzer.rules.kargo_steps",
    "analyzer.rules.kargo_promotion",
    "analyzer.rules.kargo_warehouse",
    "analyzer.rules.kargo_verification",
    "analyzer.rules.kargo_health",
    "analyzer.rules.kargo_controllers",
    "analyzer.rules.argocd_sync",
    "analyzer.rules.argocd_repo",
    "analyzer.rules.argocd_app",
    "analyzer.rules.collection",
    "analyzer.rules.setup_lint",
    "analyzer.rules.summary",
)


def rule(*ids: str, needs: tuple[str, ...] = (), summary: bool = False, mode: str = "diagnose") -> Callable[[RuleFn], RuleFn]:
    """Register ``fn`` as the rule that emits ``ids``.

    A ``summary`` rule is called as ``fn(frames, findings)`` after all others.
    ``mode="lint"`` rules judge configuration; they run in ``lint`` and
    ``report``, not in ``diagnose``.
    """
    if mode not in ("diagnose", "lint"):
        raise ValueError(f"rule mode {mode!r} is not diagnose or lint")

    def register(fn: RuleFn) -> RuleFn:
        catalog = load_catalog()
        name = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"
        for ident in ids:
            if ident not in catalog:
                raise ValueError(f"rule {name}: id {ident!r} is not in the catalog")
            if catalog[ident].retired:
                raise ValueError(f"rule {name}: id {ident!r} is retired")
            if _OWNER.get(ident, name) != name:
                raise ValueError(f"rule {name}: id {ident!r} is already emitted by {_OWNER[ident]}")
            _OWNER[ident] = name
        (SUMMARIES if summary else REGISTRY)[name] = Rule(name, tuple(ids), tuple(needs), fn, (fn.__doc__ or "").strip(), mode)
        return fn

    return register


def load_builtin_rules() -> dict[str, Rule]:
    """Every registered rule, summary rules included."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    return {**REGISTRY, **SUMMARIES}


def run_rules(frames, stage: str | None = None, modes: tuple[str, ...] = ("diagnose",)) -> list[Finding]:
    """All findings of the rules of ``modes``, root causes first.

    ``stage`` keeps those about that Stage and what it relates to.
    """
    load_builtin_rules()
    findings: list[Finding] = []
    with frames.scratch():
        for r in REGISTRY.values():
            if r.mode in modes:
                findings.extend(_checked(r, r.fn(frames)))
        for r in SUMMARIES.values():
            if r.mode in modes:
                findings.extend(_checked(r, r.fn(frames, tuple(findings))))
    if stage is not None:
        findings = [f for f in findings if _touches_stage(f, stage)]
    return sorted(findings, key=sort_key)


def _checked(r: Rule, produced: Iterable[Finding]) -> list[Finding]:
    out = list(produced)
    for finding in out:
        if finding.id not in r.ids:
            raise ValueError(f"rule {r.name} emitted {finding.id!r}, which it does not declare")
    return out


def _touches_stage(finding: Finding, stage: str) -> bool:
    subjects = (finding.subject, *finding.related)
    if any(s.kind == "Stage" and s.name == stage for s in subjects):
        return True
    # Bundle-wide gaps matter to every stage's answer.
    return finding.id == "collection-gap"
