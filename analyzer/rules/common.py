"""Small helpers shared by rules: ages, evidence, message classification."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from analyzer.findings import Evidence, Subject

TERMINAL_PROMOTION = ("Succeeded", "Failed", "Errored", "Aborted")
FAILED_PROMOTION = ("Failed", "Errored")

@dataclass(frozen=True)
class Cause:
    """A message pattern that names a specific catalog id."""

    id: str
    pattern: re.Pattern


# Filled by the rule modules at import: each family registers the message
# patterns it owns. A promotion failure that matches none of them is reported
# as promotion-step-failed.
CAUSES: list[Cause] = []


def cause(ident: str, pattern: str, flags: int = re.IGNORECASE) -> re.Pattern:
    """Register ``pattern`` as naming ``ident``; returns the compiled pattern."""
    compiled = re.compile(pattern, flags)
    CAUSES.append(Cause(ident, compiled))
    return compiled


REPO_SERVER_UNREACHABLE = cause(
    "argocd-repo-server-unreachable",
    r"(?:code = Unavailable desc = connection error.*?(?::8081|argocd-repo-server)"
    r"|Error while dialing:? dial tcp [^\s]*:8081"
    r"|dial tcp [^\s]*:8081: connect: connection refused"
    r"|lookup argocd-repo-server"
    r"|code = Unavailable desc = error reading from server: EOF)",
)

APP_IN_MESSAGE = re.compile(r'Argo CD Application "([^"]+)" in namespace "([^"]+)"')


def specific_cause(message: str | None) -> str | None:
    """The catalog id a failure message points to, if a specific one does."""
    if not message:
        return None
    for c in CAUSES:
        if c.pattern.search(message):
            return c.id
    return None


def human_age(delta: timedelta | None) -> str:
    if delta is None:
        return "an unknown time"
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        text = f"{days}d {hours}h" if hours else f"{days}d"
    elif hours:
        text = f"{hours}h {minutes}m" if minutes else f"{hours}h"
    elif minutes:
        text = f"{minutes}m {secs}s" if secs and minutes < 10 else f"{minutes}m"
    else:
        text = f"{secs}s"
    return sign + text


def iso(t: datetime | None) -> str:
    """A time as evidence shows it; "unknown" when the bundle did not say (or said something unreadable)."""
    return f"{t:%Y-%m-%dT%H:%M:%SZ}" if t is not None else "unknown"


def since(now: datetime, then: datetime | None) -> timedelta | None:
    return None if then is None else now - then


def stage_subject(row: dict) -> Subject:
    return Subject("Stage", row["namespace"], row["name"])


def evidence(source: str, path: str, value: object, time: datetime | None = None) -> Evidence:
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    if len(text) > 400:
        text = text[:397] + "..."
    return Evidence(source, path, text, time)


def rows(frame: pl.DataFrame) -> list[dict]:
    """The few rows a rule has already narrowed down to, as dicts for building findings."""
    return frame.to_dicts()


def failed_step(promotion: dict | None) -> tuple[int | None, str, str, str | None]:
    """(index, alias, uses, message) of the step that failed, from stepExecutionMetadata."""
    if not promotion:
        return None, "unknown", "unknown", None
    meta = promotion.get("step_metadata") or []
    steps = promotion.get("spec_steps") or []
    chosen = None
    for i, m in enumerate(meta):
        if m and m.get("status") in ("Errored", "Failed"):
            chosen = i
    if chosen is None and promotion.get("current_step") is not None:
        chosen = int(promotion["current_step"])
    if chosen is None:
        return None, "unknown", "unknown", None
    alias = (meta[chosen] or {}).get("alias") if chosen < len(meta) else None
    spec = steps[chosen] if chosen < len(steps) else None
    uses = (spec or {}).get("uses") or "unknown"
    alias = alias or (spec or {}).get("as") or f"step-{chosen + 1}"
    message = (meta[chosen] or {}).get("message") if chosen < len(meta) else None
    return chosen, alias, uses, message


def version_note(detected, product: str) -> str:
    return detected.describe(product)
