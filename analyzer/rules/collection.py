"""Collection gaps: what the bundle does not hold, said out loud."""

from __future__ import annotations

import shlex

from analyzer.catalog import Raw, make_finding
from analyzer.findings import Finding, Subject
from analyzer.rules import rule
from analyzer.rules.common import evidence, rows


@rule("collection-gap", needs=("gaps",))
def collection_gap(frames) -> list[Finding]:
    """Something could not be collected or read.

    **Symptom** A collector command failed (forbidden, timeout, resource type not
    served, skipped at the deadline) or a bundle file could not be used.
    **Evidence** The command's exit code and stderr from ``manifest.json``, or
    the file and what is wrong with it.
    **Fix** Grant the collecting identity read access, or collect again.
    """
    out = []
    for g in rows(frames.gaps.sort("source", "resource", "namespace", "name", nulls_last=True)):
        from_command = g["command_id"] is not None
        resource = g["resource"] or "resource"
        if from_command:
            where = f"in namespace {g['namespace']}" if g["namespace"] else "cluster-wide"
            what = f"{resource} {where}" if g["name"] == "*" else f"{resource} of {g['namespace']}/{g['name']}"
            subject = Subject(g["kind"] or "Resource", g["namespace"], g["name"] or "*")
            ev = [evidence("manifest.json", f"commands[id={g['command_id']}]", f"{g['reason']}: {g['detail']}")]
        else:
            what = g["source"]
            subject = Subject(g["kind"] or "File", g["namespace"], g["name"] or g["source"])
            ev = [evidence(g["source"], "(file)", g["detail"])]
        scope = Raw(f"-n {shlex.quote(g['namespace'])}" if g["namespace"] else "-A")
        out.append(make_finding(
            "collection-gap", subject,
            {"what": what, "reason": g["reason"], "detail": g["detail"] or "", "resource": resource, "scope": scope},
            ev,
            variant="command" if from_command else "file",
        ))
    return out
