"""Label and field selectors, and the JSONPath subset printer columns use."""


from __future__ import annotations

import re
from dataclasses import dataclass

from analyzer.serve.resources import (
    FIELD_DEFAULTS,
    FIELD_LABELS,
    ResourceType,
    _bad_request,
)

# -------------------------------------------------------------- selectors


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()


_LABEL_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def parse_label_selector(text: str) -> list[Requirement]:
    """``a=b,c!=d,e in (x,y),!f,g`` as ``kubectl -l`` sends it."""
    reqs: list[Requirement] = []
    for part in _split_outside_parens(text):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^(\S+)\s+(in|notin)\s*\(([^()]*)\)$", part)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(Requirement(_label_key(m.group(1)), m.group(2), values))
            continue
        if part.startswith("!"):
            reqs.append(Requirement(_label_key(part[1:].strip()), "!"))
            continue
        m = re.match(r"^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*([^=!<>\s]*)$", part)
        if m:
            op = {"==": "=", "<": "lt", ">": "gt"}.get(m.group(2), m.group(2))
            if op in ("lt", "gt") and not re.match(r"^-?\d+$", m.group(3)):
                raise _bad_request(f"unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer: {part}")
            reqs.append(Requirement(_label_key(m.group(1)), op, (m.group(3),)))
            continue
        if re.match(r"^[^=!<>\s()]+$", part):
            reqs.append(Requirement(_label_key(part), "exists"))
            continue
        raise _bad_request(f"unable to parse requirement: {part!r}")
    return reqs


def _label_key(key: str) -> str:
    if len(key) > 317 or not _LABEL_KEY_RE.match(key):
        raise _bad_request(f"unable to parse requirement: invalid label key {key!r}")
    return key


def _split_outside_parens(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def labels_match(labels: dict, reqs: list[Requirement]) -> bool:
    for r in reqs:
        has = r.key in labels
        value = str(labels.get(r.key, ""))
        if r.op == "=" and not (has and value == r.values[0]):
            return False
        if r.op == "!=" and has and value == r.values[0]:
            return False
        if r.op == "in" and not (has and value in r.values):
            return False
        if r.op == "notin" and has and value in r.values:
            return False
        if r.op == "exists" and not has:
            return False
        if r.op == "!" and has:
            return False
        if r.op in ("gt", "lt"):
            if not has or not re.match(r"^-?\d+$", value):
                return False
            if (int(value) > int(r.values[0])) != (r.op == "gt") or int(value) == int(r.values[0]):
                return False
    return True


def parse_field_selector(text: str) -> list[tuple[str, str, str]]:
    """``status.phase!=Running,metadata.name=x`` -> [(field, op, value)]; ``\\,`` escapes a comma."""
    terms: list[tuple[str, str, str]] = []
    for part in re.split(r"(?<!\\),", text):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise _bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        value = re.sub(r"\\(.)", r"\1", m.group(3))
        terms.append((m.group(1).strip(), "!=" if m.group(2) == "!=" else "=", value))
    return terms


def _field_value(obj: dict, path: str) -> str:
    cur: object = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return FIELD_DEFAULTS.get(path, "")
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(t: ResourceType, obj: dict, terms: list[tuple[str, str, str]]) -> bool:
    supported = FIELD_LABELS.get((t.group, t.plural), {})
    for name, op, value in terms:
        if name in ("metadata.name", "metadata.namespace"):
            path = name
        elif name in supported:
            path = supported[name]
        else:
            raise _bad_request(f"field label not supported: {name}")
        actual = _field_value(obj, path)
        if (actual == value) != (op == "="):
            return False
    return True


def check_field_selector(t: ResourceType, terms: list[tuple[str, str, str]]) -> None:
    supported = FIELD_LABELS.get((t.group, t.plural), {})
    for name, _op, _value in terms:
        if name not in ("metadata.name", "metadata.namespace") and name not in supported:
            raise _bad_request(f"field label not supported: {name}")


# --------------------------------------------------------------- jsonpath


def parse_jsonpath(expr: str) -> list[tuple[str, object]]:
    """The JSONPath subset of printer columns: ``.a.b``, ``\\.`` in names, ``[0]``, ``[*]``, ``[?(@.k=="v")]``."""
    expr = expr.strip()
    if len(expr) > 512:
        raise ValueError("JSONPath too long")
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    if expr.startswith("$"):
        expr = expr[1:]
    steps: list[tuple[str, object]] = []
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch == ".":
            i += 1
            name = []
            while i < len(expr) and expr[i] not in ".[":
                if expr[i] == "\\" and i + 1 < len(expr):
                    name.append(expr[i + 1])
                    i += 2
                    continue
                name.append(expr[i])
                i += 1
            if name:
                steps.append(("*", None) if name == ["*"] else ("field", "".join(name)))
        elif ch == "[":
            end = _bracket_end(expr, i)
            inner = expr[i + 1 : end].strip()
            i = end + 1
            if inner == "*":
                steps.append(("*", None))
            elif re.match(r"^-?\d+$", inner):
                steps.append(("index", int(inner)))
            elif inner[:1] in "'\"" and inner[-1:] == inner[:1]:
                steps.append(("field", inner[1:-1]))
            elif inner.startswith("?(") and inner.endswith(")"):
                steps.append(("filter", _parse_filter(inner[2:-1].strip())))
            else:
                raise ValueError(f"unsupported JSONPath step [{inner}]")
        else:
            raise ValueError(f"unsupported JSONPath at {expr[i:]!r}")
    return steps


def _bracket_end(expr: str, start: int) -> int:
    quote = None
    for j in range(start + 1, len(expr)):
        c = expr[j]
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "]":
            return j
    raise ValueError("unterminated [ in JSONPath")


def _parse_filter(text: str) -> tuple[list[str], str, object]:
    m = re.match(r"^@(\.[A-Za-z0-9_\-/\\.]+)\s*(==|!=|<=|>=|<|>)?\s*(.*)$", text)
    if not m:
        raise ValueError(f"unsupported JSONPath filter {text!r}")
    path = [p for p in re.split(r"(?<!\\)\.", m.group(1)) if p]
    path = [p.replace("\\.", ".") for p in path]
    op = m.group(2) or "exists"
    raw = m.group(3).strip()
    value: object = None
    if op != "exists":
        if raw[:1] in "'\"" and raw[-1:] == raw[:1] and len(raw) >= 2:
            value = raw[1:-1]
        elif raw in ("true", "false"):
            value = raw == "true"
        else:
            try:
                value = float(raw) if "." in raw else int(raw)
            except ValueError:
                value = raw
    return path, op, value


def jsonpath_find(obj: object, steps: list[tuple[str, object]]) -> list:
    results = [obj]
    for kind, arg in steps:
        nxt: list = []
        for cur in results:
            if kind == "field" and isinstance(cur, dict) and arg in cur:
                nxt.append(cur[arg])
            elif kind == "index" and isinstance(cur, list) and -len(cur) <= arg < len(cur):
                nxt.append(cur[arg])
            elif kind == "*":
                nxt.extend(cur if isinstance(cur, list) else cur.values() if isinstance(cur, dict) else [])
            elif kind == "filter" and isinstance(cur, list):
                nxt.extend(el for el in cur if _filter_match(el, arg))
        results = nxt
    return results


def _filter_match(el: object, flt: tuple[list[str], str, object]) -> bool:
    path, op, value = flt
    cur = el
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return False
        cur = cur[p]
    if op == "exists":
        return cur is not None
    if op == "==":
        return cur == value
    if op == "!=":
        return cur != value
    try:
        return {"<": cur < value, ">": cur > value, "<=": cur <= value, ">=": cur >= value}[op]  # type: ignore[operator]
    except TypeError:
        return False


