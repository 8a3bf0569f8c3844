"""Open a bundle: the first arrow of the data flow.

Accepts a bundle ``.tar.gz`` (streamed member by member, never extracted to
disk), an unpacked bundle directory, a troubleshoot-style ``cluster-resources/``
tree, or loose input: any file or directory of Kubernetes objects (JSON object,
kubectl ``List``, multi-document YAML as pasted into a ticket).

Nothing here interprets objects beyond sorting them by resource; frames do that.
Bundles come from strangers, so every path, link and size is checked before it
is read, and a damaged part becomes a :class:`Problem` instead of an abort.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

import orjson
import yaml

from analyzer.errors import BundleError
from analyzer.resources import resource_for_kind

MANIFEST_FORMAT = "gitops-bundle/v1"
EXPECTATION_NAMES = ("expected.json",)
LOOSE_SUFFIXES = (".json", ".yaml", ".yml")
# Timestamps in RFC 3339 as Kubernetes writes them; used only to guess the
# reference instant of loose input.
TIMESTAMP_RE = re.compile(rb'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))"')


@dataclass(frozen=True)
class Limits:
    """Caps that keep a hostile bundle from exhausting memory or time."""

    max_file_bytes: int = 512 * 1024**2
    max_total_bytes: int = 4 * 1024**3
    max_members: int = 200_000


@dataclass(frozen=True)
class Document:
    """One file's worth of objects of one resource."""

    path: str  # inside the bundle, quoted in evidence
    resource: str  # "pods", "stages.kargo.akuity.io", ...
    namespace: str | None
    data: bytes  # JSON: a kubectl List, or a single object


@dataclass(frozen=True)
class LogFile:
    path: str
    namespace: str
    pod: str
    container: str
    previous: bool
    data: bytes


@dataclass(frozen=True)
class Problem:
    """Something in the input that could not be used; reported, never fatal."""

    path: str
    message: str
    resource: str | None = None  # when known better than the path says
    namespace: str | None = None


@dataclass
class Bundle:
    source: str
    layout: str  # "tar.gz" | "directory" | "loose"
    manifest: dict | None
    config: dict
    documents: dict[str, list[Document]]
    logs: list[LogFile]
    problems: list[Problem]
    reference_time: datetime
    reference_time_source: str
    assumptions: list[str] = field(default_factory=list)

    def resource_documents(self, resource: str) -> list[Document]:
        return self.documents.get(resource, [])


def open_bundle(path: str | os.PathLike, at: datetime | None = None, limits: Limits = Limits()) -> Bundle:
    """Read ``path`` into a :class:`Bundle`; raise :class:`BundleError` if it is not one."""
    p = Path(path)
    shown = str(path)
    if not p.exists() and not p.is_symlink():
        raise BundleError(shown, "no such file or directory")
    if p.is_dir():
        files, problems = _read_directory(p, limits)
        layout = "directory"
    elif _is_gzip(p):
        files, problems = _read_tar(p, shown, limits)
        layout = "tar.gz"
    elif p.is_file():
        files, problems = {p.name: _read_regular(p, shown, limits)}, []
        layout = "loose"
    else:
        raise BundleError(shown, "not a regular file or directory")

    files = _strip_top_directory(files)
    if "manifest.json" in files or any(k.startswith("cluster-resources/") for k in files):
        bundle = _structured(shown, layout, files, problems)
    else:
        bundle = _loose(shown, files, problems)
    _set_reference_time(bundle, at)
    return bundle


# ---------------------------------------------------------------- reading


def _is_gzip(p: Path) -> bool:
    if not p.is_file():
        return False
    with p.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _read_regular(p: Path, shown: str, limits: Limits) -> bytes:
    size = p.stat().st_size
    if size > limits.max_file_bytes:
        raise BundleError(shown, f"file is {size} bytes, over the {limits.max_file_bytes}-byte cap (--max-file-size)")
    return p.read_bytes()


def _safe_member_name(name: str) -> str | None:
    """Normalised relative path, or None when the name escapes the bundle."""
    if "\\" in name or "\x00" in name:
        return None
    pp = PurePosixPath(name)
    if pp.is_absolute() or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [part for part in pp.parts if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts):
        return None
    return "/".join(parts)


def _wanted(rel: str) -> bool:
    """Only files the analyzer reads are kept in memory."""
    name = rel.rsplit("/", 1)[-1]
    return name.endswith(LOOSE_SUFFIXES) or name.endswith(".log")


def _read_tar(p: Path, shown: str, limits: Limits) -> tuple[dict[str, bytes], list[Problem]]:
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    total = 0
    count = 0
    try:
        with tarfile.open(p, mode="r|gz") as tar:
            for member in tar:
                count += 1
                if count > limits.max_members:
                    raise BundleError(shown, f"more than {limits.max_members} archive members (--max-members)")
                rel = _safe_member_name(member.name)
                if rel is None:
                    problems.append(Problem(_printable(member.name), "archive member skipped: its path escapes the bundle"))
                    continue
                if member.isdir():
                    continue
                if member.issym() or member.islnk():
                    if _wanted(rel):
                        problems.append(Problem(rel, f"archive member skipped: it is a link to {_printable(member.linkname)!r}"))
                    continue
                if not member.isfile():
                    problems.append(Problem(rel, "archive member skipped: not a regular file (device, fifo or other)"))
                    continue
                if not _wanted(rel):
                    continue
                if member.size > limits.max_file_bytes:
                    problems.append(Problem(rel, f"skipped: {member.size} bytes, over the {limits.max_file_bytes}-byte cap (--max-file-size)"))
                    continue
                total += member.size
                if total > limits.max_total_bytes:
                    raise BundleError(shown, f"expands past the {limits.max_total_bytes}-byte cap (--max-bundle-size); refusing to read further")
                fh = tar.extractfile(member)
                data = fh.read() if fh else b""
                if rel in files:
                    problems.append(Problem(rel, "duplicate archive member: the later copy was used"))
                files[rel] = data
    except BundleError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if not files:
            raise BundleError(shown, f"not a readable tar.gz bundle ({_first_line(exc)})") from None
        problems.append(Problem(shown, f"archive is truncated or damaged after {len(files)} files ({_first_line(exc)}); the rest was analysed"))
    return files, problems


def _read_directory(root: Path, limits: Limits) -> tuple[dict[str, bytes], list[Problem]]:
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for d in list(dirnames):
            if (base / d).is_symlink():
                dirnames.remove(d)
                problems.append(Problem(_rel(root, base / d), "directory link skipped"))
        for name in filenames:
            fp = base / name
            rel = _rel(root, fp)
            if not _wanted(rel):
                continue
            st = os.lstat(fp)
            if stat.S_ISLNK(st.st_mode):
                problems.append(Problem(rel, "skipped: it is a link"))
                continue
            if not stat.S_ISREG(st.st_mode):
                problems.append(Problem(rel, "skipped: not a regular file"))
                continue
            if st.st_size > limits.max_file_bytes:
                problems.append(Problem(rel, f"skipped: {st.st_size} bytes, over the {limits.max_file_bytes}-byte cap (--max-file-size)"))
                continue
            total += st.st_size
            if total > limits.max_total_bytes:
                raise BundleError(str(root), f"holds more than the {limits.max_total_bytes}-byte cap (--max-bundle-size)")
            try:
                files[rel] = fp.read_bytes()
            except OSError as exc:
                problems.append(Problem(rel, f"unreadable: {_first_line(exc)}"))
    return files, problems


def _rel(root: Path, p: Path) -> str:
    return p.relative_to(root).as_posix()


def _strip_top_directory(files: dict[str, bytes]) -> dict[str, bytes]:
    """A bundle tarball holds one top-level directory; analyse from inside it."""
    tops = {k.split("/", 1)[0] for k in files}
    if len(tops) == 1 and all("/" in k for k in files):
        top = next(iter(tops))
        inner = {k.split("/", 1)[1]: v for k, v in files.items()}
        if "manifest.json" in inner or any(k.startswith("cluster-resources/") for k in inner):
            return inner
        if top.startswith(("gitops-bundle-", "support-bundle-")):
            return inner
    return files


# ------------------------------------------------------------ structured


CUSTOM_RE = re.compile(r"^cluster-resources/custom-resources/([a-z0-9.-]+)(?:/([a-z0-9.-]+))?\.json$")
LOG_RE = re.compile(r"^cluster-resources/pods/logs/([^/]+)/([^/]+)/([^/]+)\.log$")
BUILTIN_RE = re.compile(r"^cluster-resources/([a-z0-9-]+)(?:/([a-z0-9.-]+))?\.json$")
ERRORS_RE = re.compile(r"^cluster-resources/(?:custom-resources/)?([a-z0-9.-]+)-errors\.json$")
NOT_OBJECTS = {"resources", "groups", "version", "auth-cani-list"}


def _structured(shown: str, layout: str, files: dict[str, bytes], problems: list[Problem]) -> Bundle:
    manifest = None
    if "manifest.json" in files:
        try:
            manifest = orjson.loads(files["manifest.json"])
            if not isinstance(manifest, dict):
                raise ValueError("top level is not an object")
        except (orjson.JSONDecodeError, ValueError) as exc:
            problems.append(Problem("manifest.json", f"does not parse as a JSON object ({_first_line(exc)}); collection metadata unavailable"))
            manifest = None
        if manifest is not None and manifest.get("format") not in (MANIFEST_FORMAT, None):
            problems.append(Problem("manifest.json", f"format {manifest.get('format')!r} is not {MANIFEST_FORMAT}; read as best effort"))
    config = {}
    if "config.yaml" in files:
        try:
            loaded = yaml.load(files["config.yaml"], Loader=_StringLoader)
            config = loaded if isinstance(loaded, dict) else {}
        except yaml.YAMLError as exc:
            problems.append(Problem("config.yaml", f"does not parse as YAML ({_first_line(exc)})"))
    documents: dict[str, list[Document]] = {}
    logs: list[LogFile] = []
    for rel in sorted(files):
        data = files[rel]
        if m := LOG_RE.match(rel):
            ns, pod, container = m.groups()
            previous = container.endswith("-previous")
            if previous:
                container = container[: -len("-previous")]
            if container.endswith("-logs-errors"):
                continue
            logs.append(LogFile(rel, ns, pod, container, previous, data))
        elif m := ERRORS_RE.match(rel):
            problems.extend(_troubleshoot_errors(rel, m.group(1), data))
        elif m := CUSTOM_RE.match(rel):
            resource, ns = m.groups()
            documents.setdefault(resource, []).append(Document(rel, resource, ns, data))
        elif m := BUILTIN_RE.match(rel):
            resource, ns = m.groups()
            if resource in NOT_OBJECTS or resource == "custom-resources":
                continue
            documents.setdefault(resource, []).append(Document(rel, resource, ns, data))
    return Bundle(shown, layout, manifest, config, documents, logs, problems,
                  reference_time=datetime.min.replace(tzinfo=timezone.utc), reference_time_source="")


def _troubleshoot_errors(rel: str, resource: str, data: bytes) -> list[Problem]:
    """troubleshoot writes ``<kind>-errors.json`` when a list failed: a gap, not an empty list."""
    try:
        errs = orjson.loads(data)
    except orjson.JSONDecodeError:
        return [Problem(rel, "collection error file does not parse")]
    if isinstance(errs, dict):
        return [Problem(rel, f"{resource} in {ns or 'the cluster'} not collected: {_first_line(str(msg))}", resource, ns or None)
                for ns, msg in errs.items()]
    if isinstance(errs, list):
        return [Problem(rel, f"{resource} not collected: {_first_line(str(msg))}", resource) for msg in errs]
    return []


# ----------------------------------------------------------------- loose


class _StringLoader(yaml.SafeLoader):
    """Safe YAML that keeps timestamps as the strings Kubernetes wrote."""


_StringLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _loose(shown: str, files: dict[str, bytes], problems: list[Problem]) -> Bundle:
    grouped: dict[tuple[str, str], list[dict]] = {}
    for rel in sorted(files):
        if rel.rsplit("/", 1)[-1] in EXPECTATION_NAMES or not rel.endswith(LOOSE_SUFFIXES):
            continue
        objects, problem = _parse_loose(rel, files[rel])
        if problem:
            problems.append(Problem(rel, problem))
        for obj in objects:
            resource = resource_for_kind(str(obj.get("kind", "")), str(obj.get("apiVersion", "")))
            grouped.setdefault((resource, rel), []).append(obj)
    if not grouped:
        detail = problems[0].message if problems else "no Kubernetes objects found"
        raise BundleError(shown, f"not a bundle: {detail}")
    documents: dict[str, list[Document]] = {}
    for (resource, rel), objs in grouped.items():
        data = orjson.dumps({"apiVersion": "v1", "kind": "List", "items": objs})
        documents.setdefault(resource, []).append(Document(rel, resource, None, data))
    return Bundle(shown, "loose", None, {}, documents, [], problems,
                  reference_time=datetime.min.replace(tzinfo=timezone.utc), reference_time_source="")


def _parse_loose(rel: str, data: bytes) -> tuple[list[dict], str | None]:
    text = data.lstrip()
    docs: list = []
    if text[:1] in (b"{", b"["):
        try:
            docs = [orjson.loads(data)]
        except orjson.JSONDecodeError as exc:
            return [], f"does not parse as JSON ({_first_line(exc)})"
    else:
        try:
            docs = list(yaml.load_all(data.decode("utf-8", errors="replace"), Loader=_StringLoader))
        except yaml.YAMLError as exc:
            return [], f"does not parse as YAML ({_first_line(exc)})"
    objects: list[dict] = []
    skipped = 0
    stack = list(reversed(docs))
    while stack:
        doc = stack.pop()
        if isinstance(doc, list):
            stack.extend(reversed(doc))
        elif isinstance(doc, dict) and isinstance(doc.get("items"), list) and str(doc.get("kind", "List")).endswith("List"):
            stack.extend(reversed(doc["items"]))
        elif isinstance(doc, dict) and isinstance(doc.get("kind"), str) and isinstance(doc.get("metadata"), dict):
            objects.append(doc)
        elif doc is not None:
            skipped += 1
    if not objects:
        return [], "holds no Kubernetes objects (nothing with kind and metadata)"
    if skipped:
        return objects, f"{skipped} document(s) without kind and metadata were ignored"
    return objects, None


# -------------------------------------------------------- reference time


def _set_reference_time(bundle: Bundle, at: datetime | None) -> None:
    if at is not None:
        bundle.reference_time = at.astimezone(timezone.utc)
        bundle.reference_time_source = "--at"
        return
    collected = (bundle.manifest or {}).get("collected_at")
    if collected is not None:
        parsed = parse_time(str(collected))
        if parsed is not None:
            bundle.reference_time = parsed
            bundle.reference_time_source = "manifest.json collected_at"
            return
        bundle.problems.append(Problem("manifest.json", f"collected_at {str(collected)[:40]!r} is not an RFC 3339 time"))
    newest = _newest_timestamp(bundle)
    if newest is None:
        bundle.reference_time = datetime.now(timezone.utc).replace(microsecond=0)
        bundle.reference_time_source = "the time of analysis (no timestamp found in the data)"
        bundle.assumptions.append("No collection time and no timestamp in the data: ages are measured from the time of analysis; pass --at to fix the instant.")
    else:
        bundle.reference_time = newest
        bundle.reference_time_source = "newest timestamp in the data"
        bundle.assumptions.append(
            f"No collection time recorded: ages are measured from the newest timestamp in the data, {format_time(newest)}; pass --at to set the instant.")


def _newest_timestamp(bundle: Bundle) -> datetime | None:
    # A far-future timestamp in a hostile or broken object must not move the
    # reference instant: ignore anything later than a day from now.
    ceiling = datetime.now(timezone.utc) + timedelta(days=1)
    newest: datetime | None = None
    for docs in bundle.documents.values():
        for doc in docs:
            found = TIMESTAMP_RE.findall(doc.data)
            if not found:
                continue
            for raw in sorted(set(found), reverse=True):
                t = parse_time(raw.decode())
                if t is not None and t <= ceiling:
                    if newest is None or t > newest:
                        newest = t
                    break
    return newest


def parse_time(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


def format_time(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _first_line(exc: object) -> str:
    text = str(exc).strip().splitlines()
    return _printable(text[0] if text else type(exc).__name__)[:200]


def _printable(text: str) -> str:
    """Names from a hostile archive may carry control characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)
