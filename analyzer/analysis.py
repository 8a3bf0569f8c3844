"""The library entry point: bundle -> frames -> findings, in one call."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from analyzer.bundle import Limits, open_bundle
from analyzer.findings import Finding, at_least
from analyzer.frames import Frames, load_frames
from analyzer.frames.logs import LogReadAhead
from analyzer.rules import run_rules
from analyzer.settings import Settings


@dataclass(frozen=True)
class Analysis:
    frames: Frames
    findings: list[Finding]
    stage: str | None

    @property
    def exit_code(self) -> int:
        """0: nothing at error or worse; 1: something is."""
        return 1 if any(at_least(f.severity, "error") for f in self.findings) else 0


def analyze(
    path: str | os.PathLike,
    *,
    at: datetime | None = None,
    stage: str | None = None,
    settings: Settings | None = None,
    limits: Limits | None = None,
    modes: tuple[str, ...] = ("diagnose",),
    progress: Callable[[str], None] | None = None,
) -> Analysis:
    """Open ``path`` and run the rules of ``modes`` (``diagnose``, ``lint``) over it.

    ``progress`` is told each phase as it starts.
    """
    say = progress or (lambda _phase: None)
    ahead = LogReadAhead()
    try:
        say("reading the bundle")
        bundle = open_bundle(path, at=at, limits=limits or Limits(), watch=ahead)
        say("building frames")
        frames = load_frames(bundle, settings or Settings(), ahead=ahead)
    finally:
        ahead.close()
    _return_freed_memory()
    say("running the rules")
    return Analysis(frames, run_rules(frames, stage=stage, modes=modes), stage)


def _return_freed_memory() -> None:
    """glibc keeps the heap freed by parsing for reuse; what the rules and the report need
    next is a different shape, so it is handed back (about 60 MB on the enterprise bundle)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass
