"""Turn a resource's documents into one typed polars frame.

The fast path hands each file's bytes to polars with an explicit schema, so no
Python object is built per Kubernetes object. When a file does not fit the
schema (a field of the wrong type, a broken file), the slow path finds the
objects at fault, names the field, and loads the rest: one bad object costs a
collection gap, never the analysis.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson
import polars as pl

from analyzer.bundle import Document, Problem, unreadable

String = pl.String
Int = pl.Int64
Bool = pl.Boolean


def struct(**fields: pl.DataType) -> pl.Struct:
    return pl.Struct(fields)


def struct_of(fields: dict[str, pl.DataType]) -> pl.Struct:
    """For field names that are not identifiers (annotation keys)."""
    return pl.Struct(fields)


def listof(inner: pl.DataType) -> pl.List:
    return pl.List(inner)


# The bundle file each object came from; named apart from any object field
# (Events have a top-level "source").
FILE_COLUMN = "__file__"

CONDITION = struct(type=String, status=String, reason=String, message=String, lastTransitionTime=String)


def metadata(labels: Sequence[str] = (), annotations: Sequence[str] = ()) -> pl.Struct:
    fields: dict[str, pl.DataType] = {
        "name": String,
        "namespace": String,
        "uid": String,
        "generation": Int,
        "creationTimestamp": String,
        "deletionTimestamp": String,
        "ownerReferences": listof(struct(kind=String, name=String, uid=String)),
    }
    if labels:
        fields["labels"] = struct_of({k: String for k in labels})
    if annotations:
        fields["annotations"] = struct_of({k: String for k in annotations})
    return pl.Struct(fields)


# Python's datetime range: a time outside it (year 0, year 275760) parses in
# polars but cannot be shown or handed to Python, so it is read as unknown.
_EARLIEST = datetime(1, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def in_range(expr: pl.Expr) -> pl.Expr:
    """A UTC datetime, or null when Python could not represent it."""
    return pl.when(expr.is_between(_EARLIEST, _LATEST)).then(expr)


def utc(expr: pl.Expr) -> pl.Expr:
    """RFC 3339 string -> UTC datetime; unparseable or unrepresentable values become null."""
    return in_range(expr.str.to_datetime(time_zone="UTC", time_unit="us", strict=False))


def field(path: str) -> pl.Expr:
    """``"status.health.status"`` -> nested struct field expression."""
    head, *rest = path.split(".")
    expr = pl.col(head)
    for part in rest:
        expr = expr.struct.field(part)
    return expr


def condition(conditions: pl.Expr, ctype: str, attr: str) -> pl.Expr:
    """One attribute of the condition of type ``ctype`` (null when absent)."""
    return (
        conditions.list.eval(pl.element().filter(pl.element().struct.field("type") == ctype).struct.field(attr))
        .list.first()
    )


@dataclass(frozen=True)
class KindSpec:
    resource: str
    kind: str
    schema: dict[str, pl.DataType]  # top-level object fields
    columns: Callable[[], list[pl.Expr]]  # flattened columns, evaluated on the object frame


def load_kind(spec: KindSpec, documents: Sequence[Document], problems: list[Problem]) -> pl.DataFrame:
    item = pl.Struct(spec.schema)
    parts: list[pl.DataFrame] = []
    for group in _groups(documents, problems):
        if isinstance(group, _Large):
            parts.extend(_load_large(spec, item, group.path, group.data, problems))
            continue
        together = _load_together(spec, item, group)
        if together is None:  # some file does not fit: each on its own, so the rest still loads
            parts.extend(_load_document(spec, item, path, data, problems) for path, data in group)
        else:
            parts.append(together)
    objects = pl.concat(parts, how="vertical") if parts else _empty(spec)
    out = objects.select(pl.col(FILE_COLUMN).alias("source"), *spec.columns())
    # Kubernetes guarantees a name; an object without one cannot be reported on.
    return out.filter(pl.col("name").is_not_null())


# Files are parsed together up to about this many bytes: one polars call per
# file costs more than the parsing when there is a file per namespace, and one
# call for a whole large kind would hold its bytes twice.
GROUP_BYTES = 8 * 1024**2


@dataclass(frozen=True)
class _Large:
    """One kubectl List larger than a group, read in pieces (see _cut_list)."""

    path: str
    data: bytes


# kubectl -o json indents by four, so the items of a List meet at exactly this
# text; JSON strings hold no raw newline, so it occurs nowhere else at that depth.
_ITEM_BREAK = b"\n        },\n        {"
_ITEMS_END = b"\n    ]"


def _cuttable(data: bytes) -> bool:
    opening = data.find(b'"items": [')
    return opening >= 0 and data.rfind(_ITEMS_END) > opening and data.find(_ITEM_BREAK, opening) >= 0


def _cut_list(data: bytes) -> Iterator[bytes]:
    """A large kubectl List as several smaller ones, one at a time (polars needs several times a
    document's size to read it, so one large List read whole would set the peak memory)."""
    end = data.rfind(_ITEMS_END)
    pos = data.index(b"[", data.find(b'"items": [')) + 1
    while pos < end:
        found = data.find(_ITEM_BREAK, pos + GROUP_BYTES, end)
        cut = end if found < 0 else found + len(b"\n        }")
        yield b'{"items":[' + data[pos:cut] + b"]}"
        pos = end if found < 0 else cut + 1  # past the comma


def _load_large(spec: KindSpec, item: pl.Struct, path: str, data: bytes, problems: list[Problem]) -> list[pl.DataFrame]:
    parts = []
    for piece in _cut_list(data):
        frame = _load_together(spec, item, [(path, piece)])
        if frame is None:  # not cut where it looked cuttable, or an object does not fit: the file whole
            return [_load_document(spec, item, path, data, problems)]
        parts.append(frame)
    return parts


def _groups(documents: Sequence[Document], problems: list[Problem]) -> Iterator[list[tuple[str, bytes]] | _Large]:
    group: list[tuple[str, bytes]] = []
    size = 0
    for doc in documents:
        try:
            data = doc.data
        except OSError as exc:  # left in the bundle directory, and gone or changed since it was listed
            problems.append(unreadable(doc.path, exc))
            continue
        if len(data) > 2 * GROUP_BYTES and _cuttable(data):
            yield _Large(doc.path, data)
            continue
        if group and size + len(data) > GROUP_BYTES:
            yield group
            group, size = [], 0
        group.append((doc.path, data))
        size += len(data)
    if group:
        yield group


def _load_together(spec: KindSpec, item: pl.Struct, group: list[tuple[str, bytes]]) -> pl.DataFrame | None:
    """The files of ``group`` in one read; None when one of them is not a List fitting the schema."""
    try:
        frame = pl.read_json(io.BytesIO(b"[" + b",".join(data for _path, data in group) + b"]"),
                             schema={"items": pl.List(item)})
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None
    if frame.height != len(group) or frame.get_column("items").null_count():
        return None
    return (
        frame.with_columns(pl.Series(FILE_COLUMN, [path for path, _data in group], dtype=String))
        .explode("items").filter(pl.col("items").is_not_null()).unnest("items")
        .select(FILE_COLUMN, *spec.schema)
    )


def _empty(spec: KindSpec) -> pl.DataFrame:
    return pl.DataFrame(schema={FILE_COLUMN: String, **spec.schema})


def _load_document(spec: KindSpec, item: pl.Struct, path: str, data: bytes, problems: list[Problem]) -> pl.DataFrame:
    together = _load_together(spec, item, [(path, data)])
    if together is not None:
        return together
    objects = _load_slowly(spec, item, path, data, problems)
    return objects.with_columns(pl.lit(path, dtype=String).alias(FILE_COLUMN)).select(FILE_COLUMN, *spec.schema)


def _load_slowly(spec: KindSpec, item: pl.Struct, path: str, data: bytes, problems: list[Problem]) -> pl.DataFrame:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        problems.append(Problem(path, f"does not parse as JSON ({str(exc).splitlines()[0][:160]}); its {spec.kind} objects are unknown"))
        return _empty(spec).drop(FILE_COLUMN)
    if isinstance(parsed, dict) and isinstance(parsed.get("items"), list):
        raw_items = parsed["items"]
    elif isinstance(parsed, dict) and "metadata" in parsed:
        raw_items = [parsed]
    else:
        problems.append(Problem(path, f"is not a kubectl List or a Kubernetes object; its {spec.kind} objects are unknown"))
        return _empty(spec).drop(FILE_COLUMN)
    good: list[bytes] = []
    for obj in raw_items:
        where = shape_error(obj, item)
        if where is None:
            try:
                good.append(orjson.dumps(obj))
            except orjson.JSONEncodeError as exc:  # nested deeper than orjson writes
                problems.append(Problem(path, f"{spec.kind} {_object_name(obj)} skipped: {str(exc)[:160]}"))
        else:
            problems.append(Problem(path, f"{spec.kind} {_object_name(obj)} skipped: {where}"))
    if not good:
        return _empty(spec).drop(FILE_COLUMN)
    try:
        data = b'{"items":[' + b",".join(good) + b"]}"
        return pl.read_json(io.BytesIO(data), schema={"items": pl.List(item)}).explode("items").unnest("items")
    except pl.exceptions.PolarsError as exc:
        problems.append(Problem(path, f"{spec.kind} objects could not be read ({str(exc).splitlines()[0][:160]})"))
        return _empty(spec).drop(FILE_COLUMN)


def _object_name(obj: object) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict):
        return "(without metadata)"
    ns, name = meta.get("namespace"), meta.get("name")
    return f"{ns}/{name}" if ns else str(name)


_SCALARS: dict[type, tuple[type, ...]] = {
    pl.String: (str, int, float, bool),
    pl.Int64: (int,),
    pl.Boolean: (bool,),
    pl.Float64: (int, float),
}


def shape_error(value: object, dtype: pl.DataType, path: str = "") -> str | None:
    """Where ``value`` does not fit ``dtype``: ``"status.conditions: expected a list, got str"``."""
    if value is None:
        return None
    name = path or "object"
    if isinstance(dtype, pl.Struct):
        if not isinstance(value, dict):
            return f"{name}: expected an object, got {type(value).__name__}"
        for f in dtype.fields:
            err = shape_error(value.get(f.name), f.dtype, f"{path}.{f.name}" if path else f.name)
            if err:
                return err
        return None
    if isinstance(dtype, pl.List):
        if not isinstance(value, list):
            return f"{name}: expected a list, got {type(value).__name__}"
        for i, v in enumerate(value):
            err = shape_error(v, dtype.inner, f"{name}[{i}]")
            if err:
                return err
        return None
    allowed = _SCALARS.get(type(dtype), (object,))
    if isinstance(value, bool) and dtype == pl.Int64:
        return f"{name}: expected an integer, got bool"
    if not isinstance(value, allowed):
        return f"{name}: expected {dtype}, got {type(value).__name__}"
    if dtype == pl.Int64 and isinstance(value, int) and not -(2**63) <= value < 2**63:
        return f"{name}: integer out of range"
    return None


def parse_documents(documents: Sequence[Document], problems: list[Problem]) -> list[tuple[str, dict]]:
    """(path, object) for documents whose maps have keys only known at run time.

    Used for the few small kinds (Stage freight history, Freight status maps)
    where keys are stage or warehouse names, which a fixed schema cannot hold.
    """
    out: list[tuple[str, dict]] = []
    for doc in documents:
        try:
            parsed = orjson.loads(doc.data)
        except (orjson.JSONDecodeError, OSError):
            continue  # load_kind has already reported it
        items = parsed.get("items") if isinstance(parsed, dict) else None
        if items is None and isinstance(parsed, dict) and "metadata" in parsed:
            items = [parsed]
        for obj in items or []:
            if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
                out.append((doc.path, obj))
    return out
