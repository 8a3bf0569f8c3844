"""The diagnosis catalog (``catalog_data/*.yaml``): one entry per stable id.

Rules send an id and parameters; :func:`make_finding` writes the words from the
catalog, so the text of a finding lives in exactly one place.
"""

from __future__ import annotations

import re
import shlex
import string
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from analyzer.findings import RISKS, SEVERITIES, Evidence, Finding, FixStep, Subject

# libyaml when present: the catalog is read on every run.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9@%+=:,./_-]+$")


class Raw(str):
    """A parameter that is already a shell fragment (``-n ns`` or ``-A``): placed as is."""


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    severity: str
    risk: str
    rank: int
    meaning: str
    root_cause: dict[str, str]  # variant -> template; "" is the only variant of a plain entry
    fix: dict[str, tuple[tuple[str, str], ...]]
    verify: dict[str, str]
    retired: bool = False


def _variants(value, what: str, ident: str) -> dict:
    if isinstance(value, dict):
        return value
    if value is None:
        raise ValueError(f"catalog entry {ident}: {what} is missing")
    return {"": value}


@cache
def load_catalog() -> dict[str, Entry]:
    raw: dict[str, dict] = {}
    folder = resources.files("analyzer").joinpath("catalog_data")
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if not item.name.endswith(".yaml"):
            continue
        for ident, data in (yaml.load(item.read_text(encoding="utf-8"), Loader=_LOADER) or {}).items():
            if ident in raw:
                raise ValueError(f"catalog id {ident} is defined twice (again in {item.name})")
            raw[ident] = data
    catalog: dict[str, Entry] = {}
    for ident, data in raw.items():
        if data.get("severity") not in SEVERITIES:
            raise ValueError(f"catalog entry {ident}: severity {data.get('severity')!r} is not one of {SEVERITIES}")
        if data.get("risk") not in RISKS:
            raise ValueError(f"catalog entry {ident}: risk {data.get('risk')!r} is not one of {RISKS}")
        fixes = _variants(data.get("fix"), "fix", ident)
        catalog[ident] = Entry(
            id=ident,
            title=data["title"],
            severity=data["severity"],
            risk=data["risk"],
            rank=int(data.get("rank", 100)),
            meaning=" ".join(data["meaning"].split()),
            root_cause={k: " ".join(v.split()) for k, v in _variants(data.get("root_cause"), "root_cause", ident).items()},
            fix={k: tuple((step["command"], step["why"]) for step in steps) for k, steps in fixes.items()},
            verify=_variants(data.get("verify"), "verify", ident),
            retired=bool(data.get("retired", False)),
        )
    return catalog


def template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _shell(value: object) -> str:
    text = str(value)
    if isinstance(value, Raw) or _SAFE_TOKEN.match(text):
        return text
    return shlex.quote(text)


def _fill(template: str, params: dict, for_shell: bool, ident: str) -> str:
    missing = template_fields(template) - params.keys()
    if missing:
        raise KeyError(f"catalog entry {ident}: parameters {sorted(missing)} not given by the rule")
    values = {k: (_shell(v) if for_shell else _clean(v)) for k, v in params.items()}
    return template.format_map(values)


def _clean(value: object) -> str:
    """Text from a bundle goes into one-line fields: no control characters."""
    return "".join(ch if ch.isprintable() else " " for ch in str(value))


def _pick(variants: dict, variant: str, ident: str, what: str):
    if variant in variants:
        return variants[variant]
    if "" in variants:
        return variants[""]
    raise KeyError(f"catalog entry {ident}: {what} has no variant {variant!r}")


def make_finding(
    ident: str,
    subject: Subject,
    params: dict,
    evidence: list[Evidence] | tuple[Evidence, ...],
    *,
    variant: str = "",
    related: tuple[Subject, ...] = (),
    assumptions: tuple[str, ...] = (),
    severity: str | None = None,
    risk: str | None = None,
) -> Finding:
    entry = load_catalog()[ident]
    steps = _pick(entry.fix, variant, ident, "fix")
    return Finding(
        id=ident,
        severity=severity or entry.severity,
        subject=subject,
        title=entry.title,
        root_cause=_fill(_pick(entry.root_cause, variant, ident, "root_cause"), params, False, ident),
        evidence=tuple(evidence),
        fix=tuple(FixStep(_fill(cmd, params, True, ident), _fill(why, params, False, ident)) for cmd, why in steps),
        verify=_fill(_pick(entry.verify, variant, ident, "verify"), params, True, ident),
        risk=risk or entry.risk,
        related=tuple(related),
        assumptions=tuple(assumptions),
        rank=entry.rank,
    )
