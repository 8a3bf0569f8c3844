"""Container logs with kubectl's timestamps, since, tail and byte limits."""


from __future__ import annotations

import re
from datetime import datetime

from analyzer.bundle import parse_time

# ------------------------------------------------------------------- logs


_TS_RE = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ")


def render_log(data: bytes, now: datetime, *, timestamps: bool, since: datetime | None, tail: int | None, limit: int | None) -> bytes:
    """A stored ``kubectl logs --timestamps`` file, cut the way the kubelet cuts live logs."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if tail is not None:
        lines = lines[len(lines) - tail:] if tail < len(lines) else lines
    out: list[bytes] = []
    stamp: datetime | None = None
    for line in lines:
        m = _TS_RE.match(line)
        if m:
            stamp = parse_time(m.group(1).decode()) or stamp
        if since is not None and (stamp is None or stamp < since):
            continue
        out.append(line if timestamps or not m else line[m.end():])
    body = b"".join(line + b"\n" for line in out)
    return body[:limit] if limit is not None else body


