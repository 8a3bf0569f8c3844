"""Thresholds the rules judge by; each has a CLI flag."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, fields
from datetime import timedelta


@dataclass(frozen=True)
class Settings:
    # A Promotion Running or Pending longer than this is stuck.
    promotion_stuck_after: timedelta = timedelta(minutes=15)
    # A container restart this close to a failure is named as its cause.
    correlation_window: timedelta = timedelta(minutes=15)
    # A healthy, promoted Stage with verification configured but no AnalysisRun
    # this long after its Promotion finished has a verification that never started.
    verification_start_grace: timedelta = timedelta(minutes=5)
    # A controller container that restarted at least `controller_restart_threshold`
    # times, the last time within this window, is crash-looping.
    controller_restart_window: timedelta = timedelta(hours=1)
    # Restarts within controller_restart_window that make a controller crash-looping.
    controller_restart_threshold: int = 3
    # A controller container running but not ready for longer than this is down.
    controller_ready_grace: timedelta = timedelta(minutes=2)
    # Health not trusted yet counts as settling only this long after the Argo CD
    # operation finished; longer, and something else keeps it from settling.
    health_settle_window: timedelta = timedelta(minutes=2)
    # An Argo CD operation Running or Terminating longer than this (or a retry
    # wait that outlived its last retry by this much) blocks every new sync.
    operation_stuck_after: timedelta = timedelta(minutes=30)
    # A repo-server OOM kill this recent is reported even if nothing failed on it yet.
    oom_lookback: timedelta = timedelta(hours=24)
    # Argo CD's reconcile period (argocd-cm timeout.reconciliation); None: the
    # detected version's default (<= v2.14: 180s; v3.0+: 120s plus up to 60s jitter).
    reconcile_period: timedelta | None = None
    # A Warehouse refresh requested this recently means someone expected new Freight.
    warehouse_refresh_window: timedelta = timedelta(hours=1)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h30m``, ``2d`` -> timedelta; ValueError otherwise."""
    parts = re.findall(r"(\d+)\s*([smhd])", text.strip().lower())
    if not parts or "".join(f"{n}{u}" for n, u in parts) != re.sub(r"\s+", "", text.strip().lower()):
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 1h30m or 2d")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def parse_threshold(text: str) -> tuple[str, object]:
    """``operation_stuck_after=45m`` -> ("operation_stuck_after", timedelta(minutes=45))."""
    name, sep, value = text.partition("=")
    known = {f.name: f for f in fields(Settings)}
    if not sep or name.strip() not in known:
        raise ValueError(f"{text!r}: expected NAME=VALUE with NAME one of {', '.join(sorted(known))}")
    name = name.strip()
    if known[name].type in ("int", int):
        if not value.strip().isdigit():
            raise ValueError(f"{name} takes a whole number, not {value!r}")
        return name, int(value)
    return name, parse_duration(value)


def describe_thresholds() -> list[tuple[str, str, str]]:
    """(name, default, the comment above it in this file) for every threshold."""
    source = inspect.getsource(Settings)
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("# "))
        elif ":" in stripped and not stripped.startswith(("class", '"""')):
            comments[stripped.split(":", 1)[0]] = " ".join(pending)
            pending = []
    defaults = Settings()
    out = []
    for f in fields(Settings):
        value = getattr(defaults, f.name)
        shown = "per detected version" if value is None else (_duration_text(value) if isinstance(value, timedelta) else str(value))
        out.append((f.name, shown, comments.get(f.name, "")))
    return out


def _duration_text(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
