"""Thresholds the rules judge by; each has a CLI flag."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Settings:
    # A Promotion Running or Pending longer than this is stuck.
    promotion_stuck_after: timedelta = timedelta(minutes=15)
    # A container restart this close to a failure is named as its cause.
    correlation_window: timedelta = timedelta(minutes=15)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h30m``, ``2d`` -> timedelta; ValueError otherwise."""
    parts = re.findall(r"(\d+)\s*([smhd])", text.strip().lower())
    if not parts or "".join(f"{n}{u}" for n, u in parts) != re.sub(r"\s+", "", text.strip().lower()):
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 1h30m or 2d")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))
