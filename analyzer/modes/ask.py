"""``gitops-master ask``: route a plain-language request to a mode, by the playbook's MODE DETECTION table.

The table's patterns (plus close variants) score each mode; the highest score
wins. A tie is ambiguous: the candidates are listed and nothing is chosen.
Nothing matching is not DIAGNOSE ("Don't default to DIAGNOSE mode"): the
modes are listed with what triggers them. The command is printed; it runs only
when asked to (``--run``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from analyzer.modes.common import say

# mode -> ((regex, weight), ...); the playbook's phrases first, then variants.
ROUTES: dict[str, tuple[tuple[str, int], ...]] = {
    "diagnose": (
        (r"stage (?:is )?stuck|stuck", 3), (r"sync(?:ing)? failed|failed to sync", 3), (r"pods? (?:are |is )?crash\w*|crashloop\w*", 3),
        (r"\berrors?\b|\berrored\b", 2), (r"\bdebug\w*", 2), (r"\bbroken\b", 2), (r"not working|doesn'?t work|won'?t \w+", 2),
        (r"\bfail(?:ed|ing|s|ure)?\b", 2), (r"\bwhy\b", 1), (r"\bdiagnos\w*", 3), (r"\bhang(?:s|ing)?\b", 2),
        (r"promotions? (?:has |have |is |are |keeps? )?(?:failed|failing|errored|stuck|hanging)", 4),
        # A failure while promoting is a diagnosis, not a promotion request.
        (r"\b(?:errors?|fail\w*|stuck|broken|crash\w*)\b.{0,30}\bpromot\w*|\bpromot\w*.{0,30}\b(?:errors?|errored|fail\w*|stuck|broken)\b", 5),
    ),
    "verify": (
        (r"check (?:the )?stage|\bcheck\b", 1), (r"\bverify\b|\bverified\b", 3), (r"\bhealth\w*", 2), (r"\bis (?:it|\S+) up\b|\bup\?", 3),
        (r"\bsmoke\b", 1), (r"\brunning\?", 1), (r"\bworks?\?", 2),
    ),
    "promote": (
        (r"\bpromot\w*", 3), (r"pipeline status", 3), (r"\bfreight\b", 2), (r"advance (?:the )?stage|\badvance\b", 3),
        (r"push(?:ed)? (?:it )?through", 3), (r"\bship\b|\broll (?:it )?out\b|\brelease to\b", 2), (r"\bgo/no-?go\b|\bsafe to\b", 2),
    ),
    "setup": (
        (r"add (?:a |the )?verification", 4), (r"\bconfigur\w*", 2), (r"retry (?:config\w*|settings?)|\bretr(?:y|ies)\b", 3),
        (r"\brbac\b", 3), (r"new stage|add (?:a )?stage", 4), (r"analysis ?template", 3), (r"\bscaffold\w*", 3),
        (r"\blint\b", 3), (r"\bset ?up\b", 2), (r"authori[sz]ed-stage|\bauto-?sync\b", 2), (r"\barchitecture\b", 2),
    ),
    "report": (
        (r"\breport\b", 3), (r"post-?mortem|incident review|\brca\b", 3), (r"\beverything\b", 1),
    ),
}
MODE_LABELS = {"diagnose": "DIAGNOSE (D1-D8)", "verify": "VERIFY (V1-V4)", "promote": "PROMOTE (P1-P4)",
               "setup": "SETUP (S1-S4)", "report": "REPORT"}
COMMON_STAGES = ("dev", "development", "test", "qa", "uat", "staging", "preprod", "prod", "production",
                 "foundation", "operators", "monitoring", "platform", "services")
NOT_STAGES = {"the", "a", "my", "this", "that", "new", "upstream", "target", "next", "each", "every", "which", "one", "is",
              "to", "another", "our", "your", "kargo", "its"}


@dataclass(frozen=True)
class Candidate:
    mode: str
    label: str
    score: int
    matched: tuple[str, ...]
    command: str


@dataclass(frozen=True)
class AskContext:
    text: str
    outcome: str  # routed | ambiguous | none
    mode: str | None
    label: str
    command: str | None
    argv: tuple[str, ...]  # the command as arguments (for --run); empty when it has placeholders
    placeholders: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    stage: str | None
    freight: str | None
    exit_code: int


def _score(text: str) -> dict[str, tuple[int, list[str]]]:
    out = {}
    for mode, patterns in ROUTES.items():
        score, matched = 0, []
        seen: set[tuple[int, int]] = set()
        for pattern, weight in sorted(patterns, key=lambda pw: -pw[1]):  # longer phrases claim their text first
            for m in re.finditer(pattern, text):
                if any(m.start() < e and s < m.end() for s, e in seen):
                    continue  # one stretch of text counts once per mode
                seen.add(m.span())
                score += weight
                matched.append(m.group(0))
        if score:
            out[mode] = (score, matched)
    return out


def _stage(text: str, stages: list[str] | None) -> str | None:
    words = re.findall(r"[a-z0-9][a-z0-9-]*", text)
    if stages:
        for w in words:
            if w in stages:
                return w
        return None
    after = re.search(r"\bstage\s+([a-z0-9][a-z0-9-]*)", text)
    if after and (after.group(1) in COMMON_STAGES or re.search(r"[-0-9]", after.group(1))):
        return after.group(1)
    before = re.search(r"\b([a-z0-9][a-z0-9-]*)\s+stage\b", text)
    if before and before.group(1) not in NOT_STAGES:
        return before.group(1)
    for w in words:
        if w in COMMON_STAGES:
            return w
    return None


def _freight(text: str) -> str | None:
    m = re.search(r"\b([0-9a-f]{40}|[0-9a-f]{7,39})\b", text)
    if m and re.search(r"\d", m.group(1)):
        return m.group(1)
    m = re.search(r"\bfreight\s+([a-z]+-[a-z]+)\b", text)
    return m.group(1) if m else None


def _command(mode: str, text: str, bundle: str | None, stage: str | None, freight: str | None, project: str | None) -> list[str]:
    b = bundle or "BUNDLE"
    if mode == "diagnose":
        return ["gitops-master", "diagnose", b] + (["--stage", stage] if stage else [])
    if mode == "verify":
        return ["gitops-master", "verify", b] + (["--stage", stage] if stage else []) + (["--quick"] if re.search(r"\bquick\b", text) else [])
    if mode == "promote":
        return ["gitops-master", "promote-check", b, "--stage", stage or "STAGE"] + (["--freight", freight] if freight else [])
    if mode == "setup":
        if re.search(r"\bscaffold|\b(?:create|add|generate|make|write|set ?up|need) (?:a |the |another )?(?:new )?stage\b", text):
            return ["gitops-master", "scaffold", "stage", "--project", project or "PROJECT", "--name", stage or "NAME",
                    "--upstream", "UPSTREAM", "--app", "APP"]
        return ["gitops-master", "lint", b] + (["--stage", stage] if stage else [])
    return ["gitops-master", "report", b, "-o", "report.html"]


def route(text: str, bundle: str | None = None, stages: list[str] | None = None, project: str | None = None) -> AskContext:
    """Route ``text``; ``stages`` (from the bundle, when given) are the Stage names to look for."""
    lowered = " ".join(text.lower().split())
    scores = _score(lowered)
    stage = _stage(lowered, stages)
    freight = _freight(lowered)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1][0], list(ROUTES).index(kv[0])))
    candidates = []
    for mode, (score, matched) in ranked:
        argv = _command(mode, lowered, bundle, stage, freight, project)
        candidates.append(Candidate(mode, MODE_LABELS[mode], score, tuple(matched), shlex.join(argv)))
    if not ranked:
        return AskContext(text, "none", None, say("ask.none"), None, (), (), tuple(
            Candidate(m, MODE_LABELS[m], 0, (), shlex.join(_command(m, lowered, bundle, stage, freight, project))) for m in ROUTES),
            stage, freight, 1)
    top = ranked[0][1][0]
    tied = [c for c in candidates if c.score == top]
    if len(tied) > 1:
        return AskContext(text, "ambiguous", None, say("ask.ambiguous", modes=", ".join(c.label for c in tied)), None, (), (),
                          tuple(tied), stage, freight, 1)
    best = candidates[0]
    argv = _command(best.mode, lowered, bundle, stage, freight, project)
    placeholders = tuple(a for a in argv if a in ("BUNDLE", "STAGE", "PROJECT", "NAME", "UPSTREAM", "APP"))
    return AskContext(text, "routed", best.mode, best.label, best.command, tuple(argv[1:]) if not placeholders else (),
                      placeholders, tuple(candidates), stage, freight, 0)
