"""Findings: what a rule concludes, with the evidence that shows it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

SEVERITIES = ("critical", "error", "warning", "info")
SEVERITY_ORDER = {name: i for i, name in enumerate(SEVERITIES)}
RISKS = ("LOW", "MEDIUM", "HIGH")


@dataclass(frozen=True)
class Subject:
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Evidence:
    source: str  # file inside the bundle
    path: str  # field path in the object, or a line reference
    value: str  # what was observed, quoted
    time: datetime | None = None

    def describe(self) -> str:
        return f"{self.source} {self.path} = {self.value}"


@dataclass(frozen=True)
class FixStep:
    command: str  # printed, never executed
    why: str


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    subject: Subject
    title: str
    root_cause: str
    evidence: tuple[Evidence, ...]
    fix: tuple[FixStep, ...]
    verify: str
    risk: str
    related: tuple[Subject, ...] = ()
    assumptions: tuple[str, ...] = ()
    rank: int = 100  # lower blocks more: the root cause of a stage comes first

    def to_dict(self) -> dict:
        data = asdict(self)
        data["evidence"] = [
            {**asdict(e), "time": e.time.strftime("%Y-%m-%dT%H:%M:%SZ") if e.time else None} for e in self.evidence
        ]
        return data


def at_least(severity: str, threshold: str) -> bool:
    return SEVERITY_ORDER[severity] <= SEVERITY_ORDER[threshold]


def sort_key(f: Finding) -> tuple:
    return (SEVERITY_ORDER[f.severity], f.rank, f.subject.kind, f.subject.namespace or "", f.subject.name, f.id)


@dataclass
class Diagnosis:
    """All findings of a run, in report order."""

    findings: list[Finding] = field(default_factory=list)

    def worst(self) -> str | None:
        return min((f.severity for f in self.findings), key=SEVERITY_ORDER.__getitem__, default=None)
