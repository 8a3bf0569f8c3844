"""Geometry for the pictures in the HTML report: the pipeline graph and the timeline.

Everything is computed here (positions, colours, labels); the template only
writes the SVG elements out. Text from the bundle is passed through as data
and escaped by the template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from analyzer.findings import SEVERITY_ORDER, Finding

STATE_COLOURS = {
    "critical": "#82071e",
    "error": "#cf222e",
    "warning": "#bf8700",
    "ok": "#1a7f37",
    "info": "#0969da",
    "unknown": "#6e7781",
}


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # Warehouse, Stage
    label: str
    x: int
    y: int
    width: int
    height: int
    colour: str
    state: str  # what the colour means, said in words for the title and for print
    lines: tuple[str, ...]  # the Argo CD apps a Stage promotes, or the Warehouse's subscriptions


@dataclass(frozen=True)
class Edge:
    path: str  # SVG path data
    label: str


@dataclass(frozen=True)
class PipelineGraph:
    width: int
    height: int
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


COLUMN = 250
BOX_W = 200
LINE_H = 15
GAP = 24


def pipeline_graph(stages: pl.DataFrame, warehouses: pl.DataFrame, findings: tuple[Finding, ...]) -> PipelineGraph:
    """Warehouses -> Stages -> the Argo CD apps each promotes, coloured by state."""
    if stages.is_empty() and warehouses.is_empty():
        return PipelineGraph(0, 0, (), ())
    worst: dict[tuple[str, str], str] = {}
    for f in findings:
        if f.subject.kind in ("Stage", "Warehouse"):
            key = (f.subject.kind, f.subject.name)
            if key not in worst or SEVERITY_ORDER[f.severity] < SEVERITY_ORDER[worst[key]]:
                worst[key] = f.severity
    stage_rows = stages.select(
        "name", "upstream_stages", "warehouses", "direct", "ready_status", "ready_reason", "argocd_apps"
    ).to_dicts()
    depth: dict[str, int] = {}

    def stage_depth(name: str, seen: frozenset = frozenset()) -> int:
        if name in depth:
            return depth[name]
        row = next((r for r in stage_rows if r["name"] == name), None)
        ups = [u for u in (row or {}).get("upstream_stages") or [] if u not in seen]
        d = 1 + max((stage_depth(u, seen | {name}) for u in ups), default=0)
        depth[name] = d
        return d

    for r in stage_rows:
        stage_depth(r["name"])
    wh_names = sorted(set(warehouses.get_column("name").to_list()) |
                      {w for r in stage_rows for w in (r["warehouses"] or []) if w})
    columns: dict[int, list[tuple[str, str, tuple[str, ...], str, str]]] = {0: []}
    for w in wh_names:
        sev = worst.get(("Warehouse", w))
        state = sev or "ok"
        columns[0].append(("Warehouse", w, (), STATE_COLOURS[state if state in STATE_COLOURS else "unknown"], _state_word(state)))
    for r in sorted(stage_rows, key=lambda r: (depth[r["name"]], r["name"])):
        sev = worst.get(("Stage", r["name"]))
        if sev in ("critical", "error", "warning"):
            state = sev
        elif r["ready_status"] == "True":
            state = "ok"
        elif sev == "info":
            state = "info"
        else:
            state = "unknown"
        apps = tuple(a["name"] for a in (r["argocd_apps"] or []) if a and a.get("name"))
        columns.setdefault(depth[r["name"]], []).append(("Stage", r["name"], apps, STATE_COLOURS[state], _state_word(state, r)))
    nodes: list[Node] = []
    positions: dict[tuple[str, str], Node] = {}
    height = 0
    for col in sorted(columns):
        y = GAP
        for kind, name, apps, colour, state in columns[col]:
            h = 44 + LINE_H * len(apps)
            node = Node(f"{kind}/{name}", kind, name, GAP + col * COLUMN, y, BOX_W, h, colour, state,
                        tuple(f"app {a}" for a in apps))
            nodes.append(node)
            positions[(kind, name)] = node
            y += h + GAP
        height = max(height, y)
    edges: list[Edge] = []
    for r in stage_rows:
        target = positions[("Stage", r["name"])]
        sources = [("Stage", u) for u in (r["upstream_stages"] or []) if ("Stage", u) in positions]
        if r["direct"] or not sources:
            sources += [("Warehouse", w) for w in (r["warehouses"] or []) if ("Warehouse", w) in positions]
        for src in sources:
            s = positions[src]
            x1, y1 = s.x + s.width, s.y + 22
            x2, y2 = target.x, target.y + 22
            mid = (x1 + x2) // 2
            edges.append(Edge(f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}", f"{src[1]} -> {r['name']}"))
    width = GAP + (max(columns) + 1) * COLUMN
    return PipelineGraph(width, height, tuple(nodes), tuple(edges))


def _state_word(state: str, row: dict | None = None) -> str:
    words = {"critical": "critical finding", "error": "failing", "warning": "warning", "ok": "ready",
             "info": "note only", "unknown": "not ready"}
    text = words.get(state, state)
    if row and state == "unknown" and row.get("ready_reason"):
        text += f" ({row['ready_reason']})"
    return text


@dataclass(frozen=True)
class Mark:
    x: float
    y: int
    colour: str
    title: str  # full text, shown on hover and in the table


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class TimelineView:
    key: str
    label: str
    start: str
    end: str
    width: int
    height: int
    lanes: tuple[tuple[str, int], ...]  # (lane label, y)
    ticks: tuple[Tick, ...]
    marks: tuple[Mark, ...]
    hidden: int  # rows of the timeline outside this window


LANES = ("promotion", "step", "operation", "verification", "condition", "container", "event", "log")
LANE_LABELS = {
    "promotion": "Promotions", "step": "Promotion steps", "operation": "Argo CD operations",
    "verification": "Verification", "condition": "Stage conditions", "container": "Restarts",
    "event": "Events", "log": "Log warnings/errors",
}
SEVERITY_COLOURS = {"error": STATE_COLOURS["error"], "warning": STATE_COLOURS["warning"], "info": "#57606a"}
PLOT_X = 150
PLOT_W = 850
LANE_H = 26


def timeline_views(timeline: pl.DataFrame, now: datetime) -> tuple[TimelineView, ...]:
    """The same axis at several zoom levels, each ending at the collection time.

    An "incident" view centres on the first error in the last 24 hours.
    """
    windows = [("24h", "24 hours", now - timedelta(hours=24), now),
               ("1h", "1 hour", now - timedelta(hours=1), now),
               ("10m", "10 minutes", now - timedelta(minutes=10), now)]
    recent_errors = timeline.filter((pl.col("severity") == "error") & (pl.col("time") >= now - timedelta(hours=24)) & (pl.col("time") <= now))
    if recent_errors.height:
        first = recent_errors.get_column("time").min()
        windows.insert(0, ("incident", "around the first error", first - timedelta(minutes=15), min(now, first + timedelta(minutes=15))))
    return tuple(_view(timeline, key, label, start, end) for key, label, start, end in windows)


def _view(timeline: pl.DataFrame, key: str, label: str, start: datetime, end: datetime) -> TimelineView:
    span = max((end - start).total_seconds(), 1.0)
    inside = timeline.filter((pl.col("time") >= start) & (pl.col("time") <= end))
    lane_y = {lane: 20 + i * LANE_H for i, lane in enumerate(LANES)}
    placed = inside.select(
        (PLOT_X + (pl.col("time") - pl.lit(start)).dt.total_seconds() / span * PLOT_W).round(1).alias("x"),
        pl.col("category").replace_strict(lane_y, default=lane_y["event"], return_dtype=pl.Int64).alias("y"),
        pl.col("severity").replace_strict(SEVERITY_COLOURS, default=SEVERITY_COLOURS["info"]).alias("colour"),
        pl.format("{} {}{}: {}", pl.col("time").dt.strftime("%Y-%m-%dT%H:%M:%SZ"), pl.col("object_kind").fill_null(""),
                  pl.when(pl.col("object_name").is_not_null()).then(pl.format(" {}", pl.col("object_name"))).otherwise(pl.lit("")),
                  pl.col("summary")).alias("title"),
        pl.col("severity"),
    ).sort(pl.col("severity").replace_strict({"info": 0, "warning": 1, "error": 2}, default=0), maintain_order=True)  # errors drawn on top
    # Marks of one colour in one lane and one pixel column cover each other exactly: one is drawn,
    # the one on top, and its title counts the others (a day of a large cluster is 10^5 marks).
    drawn = (
        placed.group_by("y", pl.col("x").floor().alias("px"), "colour", maintain_order=True)
        .agg(pl.col("x").last(), pl.col("title").last(), pl.len().alias("covered"))
        .with_columns(pl.when(pl.col("covered") > 1)
                      .then(pl.format("{} (and {} more here)", pl.col("title"), pl.col("covered") - 1))
                      .otherwise(pl.col("title")).alias("title"))
    )
    marks = tuple(Mark(x, y, colour, title) for x, y, colour, title in drawn.select("x", "y", "colour", "title").iter_rows())
    ticks = tuple(
        Tick(round(PLOT_X + i / 6 * PLOT_W, 1), (start + (end - start) * i / 6).strftime("%H:%M" if span > 600 else "%H:%M:%S"))
        for i in range(7)
    )
    return TimelineView(key, label, start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        PLOT_X + PLOT_W + 30, 20 + len(LANES) * LANE_H + 24,
                        tuple((LANE_LABELS[lane], lane_y[lane]) for lane in LANES), ticks, marks,
                        timeline.height - inside.height)
