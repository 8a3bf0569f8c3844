"""The timeline picture: where marks go, and how many are drawn."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from analyzer.frames.timeline import TIMELINE_SCHEMA
from analyzer.graphics import LANES, timeline_views

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)


def _timeline(rows: list[dict]) -> pl.DataFrame:
    full = [{name: row.get(name) for name in TIMELINE_SCHEMA} for row in rows]
    return pl.DataFrame(full, schema=TIMELINE_SCHEMA)


def _view(views, key: str):
    return next(v for v in views if v.key == key)


def test_marks_covering_each_other_are_drawn_once_and_counted():
    # 500 events within one second: in the 24-hour view they fall in one pixel column of one lane.
    burst = [{"time": NOW - timedelta(hours=2, milliseconds=i), "category": "event", "severity": "info",
              "object_kind": "Pod", "object_name": f"p{i}", "summary": f"pulled image {i}"} for i in range(500)]
    other_lane = [{"time": NOW - timedelta(hours=2), "category": "promotion", "severity": "info",
                   "object_kind": "Promotion", "object_name": "dev.1", "summary": "started"}]
    warning = [{"time": NOW - timedelta(hours=2), "category": "event", "severity": "warning",
                "object_kind": "Pod", "object_name": "p-bad", "summary": "BackOff"}]
    day = _view(timeline_views(_timeline(burst + other_lane + warning), NOW), "24h")
    assert len(day.marks) == 3  # one per lane and colour
    event_info = [m for m in day.marks if m.y == day.lanes[LANES.index("event")][1] and "BackOff" not in m.title]
    assert len(event_info) == 1 and event_info[0].title.endswith("(and 499 more here)")
    assert day.marks[-1].title.endswith("BackOff"), "the warning is still drawn on top of the info marks"


def test_marks_apart_on_screen_stay_apart():
    spread = [{"time": NOW - timedelta(minutes=9, seconds=-i * 20), "category": "event", "severity": "info",
               "object_kind": "Pod", "object_name": f"p{i}", "summary": f"event {i}"} for i in range(20)]
    ten = _view(timeline_views(_timeline(spread), NOW), "10m")
    # 20 s apart on a 10-minute axis: PLOT_W * 20 / 600, about 28 px apart, so every one is drawn.
    xs = sorted(m.x for m in ten.marks)
    assert min(b - a for a, b in zip(xs, xs[1:])) >= 1
    assert len(ten.marks) == 20 and not any("more here" in m.title for m in ten.marks)
