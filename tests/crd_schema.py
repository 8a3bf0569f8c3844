"""Validate Kargo, Argo CD and Argo Rollouts objects against the real CRD schemas.

The schemas come from the CustomResourceDefinitions in ``shared/crds/<set>/``
(``GITOPS_SHARED`` if set, else ``<repo root>/../shared``). Each served
version's ``openAPIV3Schema`` is turned into a plain JSON Schema the way the
Kubernetes API server reads a structural schema:

* an object schema that lists ``properties`` and neither sets
  ``additionalProperties`` nor ``x-kubernetes-preserve-unknown-fields: true``
  rejects unknown fields (the API server would prune them, so a fixture that
  carries one does not look like anything a cluster returns);
* ``x-kubernetes-int-or-string`` accepts an integer or a string;
* ``nullable: true`` accepts ``null``;
* every other ``x-kubernetes-*`` key is dropped.

Used by the tests to prove that every sample bundle has the shape a real
cluster of that version would return.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tarfile
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import yaml

KARGO_GROUP = "kargo.akuity.io"
ARGO_GROUP = "argoproj.io"

CRD_SETS = ("kargo-v1.11.2", "kargo-v1.4.4", "argo-cd-v3.5.1", "argo-rollouts-v1.9.1")
DEFAULT_KARGO_SCHEMA = "kargo-v1.11.2"
OLD_KARGO_SCHEMA = "kargo-v1.4.4"
ARGO_SETS = ("argo-cd-v3.5.1", "argo-rollouts-v1.9.1")

# Files inside a bundle that are not Kubernetes objects.
_NOT_OBJECT_FILES = {"manifest.json", "expected.json", "config.yaml"}
_OBJECT_SUFFIXES = (".json", ".yaml", ".yml")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KARGO_IMAGE = re.compile(r"(?:^|/)kargo:v?(\d+)\.(\d+)\.(\d+)")


def shared_dir() -> Path:
    """The read-only shared folder (CRDs, knowledge)."""
    env = os.environ.get("GITOPS_SHARED")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared"


# ---------------------------------------------------------------- schemas


def _structural(schema: Any) -> Any:
    """Turn one openAPIV3Schema node into a strict JSON Schema node."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key == "properties":
            out[key] = {name: _structural(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _structural(value) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            # Value validations only: they never declare fields of their own.
            out[key] = [_value_validation(sub) for sub in value]
        elif key == "not":
            out[key] = _value_validation(value)
        else:
            out[key] = value
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = out.get("anyOf", []) + [{"type": "integer"}, {"type": "string"}]
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in schema and "additionalProperties" not in schema and not preserve:
        out["additionalProperties"] = False
    if schema.get("nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def _value_validation(schema: Any) -> Any:
    """Sub-schemas of anyOf/oneOf/allOf/not: copied, minus x-kubernetes keys."""
    if isinstance(schema, dict):
        return {
            k: (_value_validation(v) if isinstance(v, (dict, list)) else v)
            for k, v in schema.items()
            if not k.startswith("x-kubernetes-")
        }
    if isinstance(schema, list):
        return [_value_validation(v) for v in schema]
    return schema


@functools.lru_cache(maxsize=None)
def load_crd_set(crd_set: str) -> dict[tuple[str, str, str], dict]:
    """Schemas of one CRD set, keyed by (group, kind, version)."""
    folder = shared_dir() / "crds" / crd_set
    if not folder.is_dir():
        raise FileNotFoundError(f"CRD set {crd_set!r} not found at {folder}")
    schemas: dict[tuple[str, str, str], dict] = {}
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=_YAML_LOADER):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec.get("versions", []):
                if not version.get("served", True):
                    continue
                raw = (version.get("schema") or {}).get("openAPIV3Schema")
                if raw is None:
                    continue
                key = (spec["group"], spec["names"]["kind"], version["name"])
                schemas[key] = _structural(raw)
    return schemas


@functools.lru_cache(maxsize=None)
def _validator(crd_set: str, key: tuple[str, str, str]) -> jsonschema.protocols.Validator:
    schema = load_crd_set(crd_set)[key]
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)  # no format_checker: formats are not checked


def _split_api_version(obj: dict) -> tuple[str, str]:
    api_version = obj.get("apiVersion") or ""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def _argo_kinds() -> set[str]:
    kinds: set[str] = set()
    for crd_set in ARGO_SETS:
        kinds.update(kind for (_g, kind, _v) in load_crd_set(crd_set))
    return kinds


def is_validated_kind(obj: Any) -> bool:
    """True for the Kargo, Argo CD and Argo Rollouts kinds this module checks."""
    if not isinstance(obj, dict):
        return False
    group, _version = _split_api_version(obj)
    if group == KARGO_GROUP:
        return True
    if group == ARGO_GROUP:
        return obj.get("kind") in _argo_kinds()
    return False


def _describe(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    name = meta.get("name", "?")
    namespace = meta.get("namespace")
    where = f"{namespace}/{name}" if namespace else name
    return f"{obj.get('kind', '?')} {where}"


def _error_path(error: jsonschema.ValidationError) -> str:
    parts = []
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts).lstrip(".") or "<root>"


def _error_text(error: jsonschema.ValidationError) -> str:
    message = error.message
    if len(message) > 300:
        message = message[:297] + "..."
    return message


def validate_object(obj: Any, kargo_schema: str = DEFAULT_KARGO_SCHEMA) -> list[str]:
    """Human-readable schema errors of one object; [] when valid or not a checked kind."""
    if not is_validated_kind(obj):
        return []
    group, version = _split_api_version(obj)
    kind = obj.get("kind")
    key = (group, kind, version)
    candidates = (kargo_schema,) if group == KARGO_GROUP else ARGO_SETS
    for crd_set in candidates:
        if key in load_crd_set(crd_set):
            validator = _validator(crd_set, key)
            errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
            return [
                f"{_describe(obj)}: {_error_path(e)}: {_error_text(e)} [{crd_set}]" for e in errors
            ]
    return [f"{_describe(obj)}: no schema for {group}/{version} {kind} in {', '.join(candidates)}"]


# ---------------------------------------------------------------- bundles


def _parse(name: str, data: bytes) -> list[Any]:
    text = data.decode("utf-8")
    if name.endswith(".json"):
        try:
            return [json.loads(text)]
        except json.JSONDecodeError:
            pass  # some "json" pastes are YAML
    return [doc for doc in yaml.load_all(text, Loader=_YAML_LOADER) if doc is not None]


def _expand(doc: Any) -> Iterator[dict]:
    if isinstance(doc, list):
        for item in doc:
            yield from _expand(item)
        return
    if not isinstance(doc, dict):
        return
    if isinstance(doc.get("items"), list) and str(doc.get("kind", "")).endswith("List"):
        for item in doc["items"]:
            yield from _expand(item)
        return
    if "kind" in doc and "apiVersion" in doc:
        yield doc


def _is_object_file(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name.endswith(_OBJECT_SUFFIXES) and name not in _NOT_OBJECT_FILES and not name.endswith(
        ".expected.json"
    )


def _iter_files(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            yield file.relative_to(path).as_posix(), file.read_bytes()
    elif path.name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(path) as tar:
            members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
            for member in members:
                parts = member.name.split("/")
                rel = "/".join(parts[1:]) if len(parts) > 1 else parts[0]
                handle = tar.extractfile(member)
                assert handle is not None
                with handle:
                    yield rel, handle.read()
    else:
        yield path.name, path.read_bytes()


def iter_bundle_objects(path: str | os.PathLike) -> Iterator[tuple[str, dict]]:
    """Every Kubernetes object in a bundle dir, a .tar.gz bundle, or loose YAML/JSON."""
    for rel, data in _iter_files(Path(path)):
        if not _is_object_file(rel):
            continue
        for doc in _parse(rel, data):
            for obj in _expand(doc):
                yield rel, obj


def kargo_schema_for(objects: list[dict]) -> str:
    """The Kargo CRD set matching the Kargo version the objects came from."""
    for obj in objects:
        if obj.get("kind") == "Stage" and "phase" in (obj.get("status") or {}):
            return OLD_KARGO_SCHEMA
        spec = obj.get("spec") or {}
        template_spec = (spec.get("template") or {}).get("spec") or {}
        for pod_spec in (spec, template_spec):
            for container in pod_spec.get("containers") or []:
                match = _KARGO_IMAGE.search(str(container.get("image", "")))
                if match and (int(match.group(1)), int(match.group(2))) < (1, 5):
                    return OLD_KARGO_SCHEMA
    return DEFAULT_KARGO_SCHEMA


def validate_bundle(path: str | os.PathLike) -> list[str]:
    """All schema errors in a bundle, each prefixed with the file it came from."""
    objects = list(iter_bundle_objects(path))
    kargo_schema = kargo_schema_for([obj for _rel, obj in objects])
    errors = []
    for rel, obj in objects:
        errors.extend(f"{rel}: {err}" for err in validate_object(obj, kargo_schema))
    return errors

