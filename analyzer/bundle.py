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

import io
import os
import re
import shutil
import stat
import tarfile
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Protocol

import orjson

try:  # ISA-L inflates about three times as fast as zlib; the standard library's gzip when it is absent
    from isal.igzip import IGzipFile as GzipReader
    from isal.isal_zlib import error as InflateError
except ImportError:  # pragma: no cover - isal is a dependency; this keeps a platform without its wheel working
    from gzip import GzipFile as GzipReader
    from zlib import error as InflateError
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
    """Caps that keep a hostile bundle from exhausting memory or time.

    Every cap has a command-line flag (in parentheses); a bundle past a cap is
    refused with a one-line error, or the part past it becomes a collection gap.
    """

    # One file: larger ones are skipped as a gap, by their size in the archive
    # header, before a byte of them is decompressed (--max-file-size).
    max_file_bytes: int = 512 * 1024**2
    # Everything the archive expands to, counted from member headers before
    # reading them: a decompression bomb is refused at its first header (--max-bundle-size).
    max_total_bytes: int = 4 * 1024**3
    # Archive members or directory entries (--max-members).
    max_members: int = 200_000
    # How many times its compressed size an archive may expand to, measured
    # as members are read (a decompression bomb expands about 1000 times;
    # bundles of JSON and logs 10 to 30 times) (--max-ratio).
    max_ratio: int = 200
    # Nesting depth of one loose object (JSON and YAML are parsed with hard
    # limits of their own; this keeps what is kept re-serialisable) (--max-depth).
    max_depth: int = 200
    # Nodes a YAML document may expand to through anchors and aliases
    # (billion laughs); a recursive alias is always refused (--max-yaml-nodes).
    max_yaml_nodes: int = 1_000_000


# One tar header record (a long name, a pax record): read whole by tarfile
# before we see the member, so refused above this size.
MAX_HEADER_BYTES = 1024**2
# gzip's optional header fields (name, comment, extra) before the data.
MAX_GZIP_HEADER_BYTES = 64 * 1024
# Below this much decompressed data the expansion ratio is not judged.
RATIO_FLOOR_BYTES = 16 * 1024**2
# What may follow the tar's end-of-archive blocks (record padding is 10 KiB with GNU tar's defaults).
MAX_TRAILING_BYTES = 16 * 1024**2


@dataclass(frozen=True)
class Document:
    """One file's worth of objects of one resource."""

    path: str  # inside the bundle, quoted in evidence
    resource: str  # "pods", "stages.kargo.akuity.io", ...
    namespace: str | None
    raw: bytes = b""  # JSON: a kubectl List, or a single object
    file: str | None = None  # or it stays in this file (see Spool) until it is read
    offset: int = 0
    size: int = 0
    keep: object = field(default=None, repr=False, compare=False)  # the Spool, alive while this is

    @property
    def data(self) -> bytes:
        return self.raw if self.file is None else _read_window(self.file, self.offset, self.size)


@dataclass(frozen=True)
class LogFile:
    """One container log. Small ones are held as ``data``; a large one stays in
    ``file`` (the tool's spool, or the bundle directory) and is read in slices."""

    path: str
    namespace: str
    pod: str
    container: str
    previous: bool
    data: bytes = b""
    file: str | None = None
    offset: int = 0
    size: int = 0
    keep: object = field(default=None, repr=False, compare=False)  # the Spool, alive while this is

    def open(self) -> io.RawIOBase | io.BytesIO:
        if self.file is None:
            return io.BytesIO(self.data)
        return _open_window(self.file, self.offset, self.size)

    def read(self) -> bytes:
        return self.data if self.file is None else _read_window(self.file, self.offset, self.size)


class Spool:
    """One file in the tool's own temporary directory that the members of a
    tarball are appended to, so the bundle is never all in memory; removed when
    the last Document or LogFile reading from it (each keeps it) is dropped, or
    the process ends."""

    def __init__(self) -> None:
        self.file: str | None = None
        self._out: io.BufferedWriter | None = None

    def write(self, chunks: Iterable[bytes]) -> tuple[str, int, int]:
        """Append ``chunks``; where they went: (file, offset, size)."""
        if self._out is None:
            directory = tempfile.mkdtemp(prefix="gitops-master-")
            # A fixed name in a directory of our own: nothing from the bundle picks a path.
            self.file = os.path.join(directory, "members")
            fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            self._out = os.fdopen(fd, "wb", buffering=1024**2)
            weakref.finalize(self, _remove_spool, self._out, directory)  # stays registered on its own
        offset = self._out.tell()
        for chunk in chunks:
            self._out.write(chunk)
        return self.file, offset, self._out.tell() - offset

    def done(self) -> None:
        """Everything written is readable from here on."""
        if self._out is not None:
            self._out.flush()


class SpoolWatch(Protocol):
    """What :func:`open_bundle` tells of the members it spools."""

    def wants(self, path: str) -> bool:
        """Whether to be told of the member at ``path`` (its path in the archive)."""

    def spooled(self, path: str, member: OnDisk) -> None:
        """The member at ``path`` is readable in the spool from now on."""


def _remove_spool(out: io.BufferedWriter, directory: str) -> None:
    try:
        out.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@dataclass(frozen=True)
class OnDisk:
    """A member's bytes left in a file (see :class:`Spool`)."""

    file: str
    offset: int
    size: int
    keep: object = None


class _Window(io.RawIOBase):
    """``size`` bytes of an open file from ``offset``: one member in the spool."""

    def __init__(self, fh: io.BufferedReader, offset: int, size: int):
        super().__init__()
        fh.seek(offset)
        self._fh, self._left = fh, size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._fh.read(n)
        self._left -= len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def close(self) -> None:
        self._fh.close()
        super().close()


def _open_window(file: str, offset: int, size: int) -> _Window:
    return _Window(_open_no_follow(file), offset, size)


def _read_window(file: str, offset: int, size: int) -> bytes:
    with _open_window(file, offset, size) as fh:
        return fh.read()


# Members larger than this (logs and lists of objects) go to the spool rather than memory.
SPOOL_BYTES = 0


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


def open_bundle(path: str | os.PathLike, at: datetime | None = None, limits: Limits = Limits(),
                watch: SpoolWatch | None = None) -> Bundle:
    """Read ``path`` into a :class:`Bundle`; raise :class:`BundleError` if it is not one.

    ``watch`` is told of each tarball member it wants as soon as the member is
    in the spool, so it can start on it while the rest of the archive is read.
    """
    shown = str(path)
    spool = Spool()
    layout, members = open_input(path, limits, wanted=_wanted, spool=spool, spooled=_spooled, watch=watch)
    files: dict[str, bytes | OnDisk] = {}
    problems: list[Problem] = []
    for item in members:
        if isinstance(item, Problem):
            problems.append(item)
        else:
            files[item.path] = item.data if item.file is None else OnDisk(item.file, item.offset, item.size, spool)
    spool.done()

    files = _strip_top_directory(files)
    if "manifest.json" in files or any(k.startswith("cluster-resources/") for k in files):
        bundle = _structured(shown, layout, files, problems, limits)
    else:
        bundle = _loose(shown, files, problems, limits)
    _set_reference_time(bundle, at)
    return bundle


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Member:
    """One regular file of the input and its bytes."""

    path: str  # normalised relative path inside the input (a tarball's top directory included)
    data: bytes
    mode: int = 0o644
    mtime: float = 0.0
    file: str | None = None  # when ``spooled`` chose it: the bytes are in this file, ``data`` is empty
    size: int = 0
    offset: int = 0


def open_input(path: str | os.PathLike, limits: Limits = Limits(),
               wanted: Callable[[str], bool] | None = None, spool: Spool | None = None,
               spooled: Callable[[str, int], bool] | None = None,
               watch: SpoolWatch | None = None) -> tuple[str, Iterator[Member | Problem]]:
    """The layout of ``path`` and its regular files, one at a time, each checked first.

    Only files whose relative path ``wanted`` accepts are read (all when it is
    None). A file ``spooled(path, size)`` accepts is not read into memory: a
    tarball's member is copied to ``spool``, a directory's file is left where it
    is, and the Member names the file. Links, devices, fifos and names that escape the input are never
    followed or read: they come out as :class:`Problem`. Caps past which the
    whole input is refused raise :class:`BundleError` while iterating.
    """
    p = Path(path)
    shown = str(path)
    if not p.exists() and not p.is_symlink():
        raise BundleError(shown, "no such file or directory")
    if p.is_dir():
        return "directory", _walk_directory(p, shown, limits, wanted, spooled)
    if _is_gzip(p, shown):
        return "tar.gz", _walk_tar(p, shown, limits, wanted, spool if spooled else None, spooled, watch)
    if p.is_file():
        st = p.stat()
        member = Member(p.name, _read_regular(p, shown, limits), stat.S_IMODE(st.st_mode), st.st_mtime)
        return "loose", iter([member])
    raise BundleError(shown, "not a regular file or directory")


def _is_gzip(p: Path, shown: str) -> bool:
    """A gzip file; its optional header fields are checked before tarfile reads them byte by byte."""
    if not p.is_file():
        return False
    with p.open("rb") as fh:
        head = fh.read(10)
        if head[:2] != b"\x1f\x8b":
            return False
        flags = head[3] if len(head) > 3 else 0
        if flags & 4:  # FEXTRA: a 2-byte length, then that many bytes
            size = int.from_bytes(fh.read(2), "little")
            fh.seek(size, os.SEEK_CUR)
        for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
            if flags & bit:
                field_ = fh.read(MAX_GZIP_HEADER_BYTES)
                if b"\x00" not in field_:
                    raise BundleError(shown, f"gzip header field is longer than {MAX_GZIP_HEADER_BYTES} bytes; not a bundle")
                fh.seek(fh.tell() - len(field_) + field_.index(b"\x00") + 1)
    return True


def _read_regular(p: Path, shown: str, limits: Limits) -> bytes:
    size = p.stat().st_size
    if size > limits.max_file_bytes:
        raise BundleError(shown, f"file is {size} bytes, over the {limits.max_file_bytes}-byte cap (--max-file-size)")
    with p.open("rb") as fh:
        return fh.read(limits.max_file_bytes + 1)[: limits.max_file_bytes]


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


def _spooled(rel: str, size: int) -> bool:
    return (size > SPOOL_BYTES and "cluster-resources/" in rel and rel.endswith((".log", ".json"))
            and not rel.endswith("-errors.json"))


def _in_memory(data: bytes | OnDisk) -> bytes:
    return _read_window(data.file, data.offset, data.size) if isinstance(data, OnDisk) else data


def _open_no_follow(file: str) -> io.BufferedIOBase:
    """A file the bundle reader chose earlier, opened without following a link swapped in since."""
    fd = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{file}: not a regular file")
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _copy_chunks(fh, size: int) -> Iterator[bytes]:
    left = size
    while left > 0:
        chunk = fh.read(min(left, 1024**2))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


class _HeaderTooLarge(Exception):
    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


class _CheckedTarInfo(tarfile.TarInfo):
    """Refuses a long-name or pax header record that tarfile would read whole into memory."""

    def _proc_member(self, tar):
        if self.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                         tarfile.SOLARIS_XHDTYPE) and self.size > MAX_HEADER_BYTES:
            raise _HeaderTooLarge(self.size)
        return super()._proc_member(tar)


def _walk_tar(p: Path, shown: str, limits: Limits, wanted: Callable[[str], bool] | None,
              spool: Spool | None = None, spooled: Callable[[str, int], bool] | None = None,
              watch: SpoolWatch | None = None) -> Iterator[Member | Problem]:
    total = 0
    count = 0
    read = 0
    seen: set[str] = set()
    try:
        # Random access over the gzip stream: a member that is not read is
        # skipped by decompressing in large blocks, not tarfile's small stream reads.
        with open(p, "rb") as raw, GzipReader(fileobj=raw, mode="rb") as gz, \
                tarfile.open(fileobj=gz, mode="r:", tarinfo=_CheckedTarInfo) as tar:
            for member in tar:
                count += 1
                if count > limits.max_members:
                    raise BundleError(shown, f"more than {limits.max_members} archive members (--max-members)")
                # What the members before this one expanded to, against the compressed bytes they took.
                if total > RATIO_FLOOR_BYTES and total > limits.max_ratio * max(raw.tell(), 1):
                    raise BundleError(shown, f"expands more than {limits.max_ratio} times its compressed size, "
                                             "as a decompression bomb does (--max-ratio); refusing to read further")
                # Everything a member's header announces is decompressed, kept or skipped:
                # count it before reading a byte of it.
                total += max(member.size, 0)
                if total > limits.max_total_bytes:
                    raise BundleError(shown, f"expands past the {limits.max_total_bytes}-byte cap (--max-bundle-size); refusing to read further")
                rel = _safe_member_name(member.name)
                if rel is None:
                    yield Problem(_printable(member.name)[:200], "archive member skipped: its path escapes the bundle")
                    continue
                if member.isdir():
                    continue
                if member.issym() or member.islnk():
                    if wanted is None or wanted(rel):
                        yield Problem(_printable(rel), f"archive member skipped: it is a link to {_printable(member.linkname)[:200]!r}")
                    continue
                if not member.isfile():
                    yield Problem(_printable(rel), "archive member skipped: not a regular file (device, fifo or other)")
                    continue
                if wanted is not None and not wanted(rel):
                    continue
                if member.size > limits.max_file_bytes:
                    yield Problem(_printable(rel), f"skipped: {member.size} bytes, over the {limits.max_file_bytes}-byte cap (--max-file-size)")
                    continue
                fh = tar.extractfile(member)
                file, offset, size = None, 0, member.size
                if spool is not None and spooled is not None and fh and spooled(rel, member.size):
                    # What was written, not what the header announced: a window never runs into the next member.
                    file, offset, size = spool.write(_copy_chunks(fh, member.size))
                    data = b""
                    if watch is not None and watch.wants(rel):
                        spool.done()
                        watch.spooled(rel, OnDisk(file, offset, size, spool))
                else:
                    data = fh.read(member.size) if fh else b""
                if rel in seen:
                    yield Problem(_printable(rel), "duplicate archive member: the later copy was used")
                seen.add(rel)
                read += 1
                yield Member(rel, data, member.mode & 0o777, float(member.mtime), file, size, offset)
                # tarfile keeps every header it has read; a single pass needs none of them again.
                tar.members.clear()
            # The gzip trailer's checksum is checked only at the end of the stream, past the
            # end-of-archive blocks tarfile stops at: read on to it so damage is not silent.
            trailing = 0
            while chunk := gz.read(1024**2):
                trailing += len(chunk)
                if trailing > MAX_TRAILING_BYTES:
                    yield Problem(shown, f"more than {MAX_TRAILING_BYTES} bytes after the end of the archive; not read")
                    break
    except BundleError:
        raise
    except _HeaderTooLarge as exc:
        raise BundleError(shown, f"an archive header record is {exc.size} bytes, over the {MAX_HEADER_BYTES}-byte cap; "
                                 "not a bundle") from None
    except (tarfile.TarError, EOFError, InflateError, OSError) as exc:
        if not read:
            raise BundleError(shown, f"not a readable tar.gz bundle ({_first_line(exc)})") from None
        yield Problem(shown, f"archive is truncated or damaged after {read} files ({_first_line(exc)}); the rest was analysed")


def _walk_directory(root: Path, shown: str, limits: Limits, wanted: Callable[[str], bool] | None,
                    spooled: Callable[[str, int], bool] | None = None) -> Iterator[Member | Problem]:
    """Iterative walk (a hostile tree may be deeper than Python's recursion limit), links never followed."""
    total = 0
    count = 0
    pending = [root]
    while pending:
        base = pending.pop()
        try:
            entries = sorted(os.scandir(base), key=lambda e: e.name)
        except OSError as exc:
            yield Problem(_printable(_rel(root, base)) or ".", f"unreadable directory: {_first_line(exc)}")
            continue
        subdirs = []
        for entry in entries:
            count += 1
            if count > limits.max_members:
                raise BundleError(shown, f"holds more than {limits.max_members} files and directories (--max-members)")
            fp = Path(entry.path)
            rel = _rel(root, fp)
            try:
                st = os.lstat(fp)
            except OSError as exc:
                yield Problem(_printable(rel), f"unreadable: {_first_line(exc)}")
                continue
            if stat.S_ISDIR(st.st_mode):
                subdirs.append(fp)
                continue
            if stat.S_ISLNK(st.st_mode):
                if wanted is None or wanted(rel) or fp.is_dir():
                    yield Problem(_printable(rel), "directory link skipped" if fp.is_dir() else "skipped: it is a link")
                continue
            if wanted is not None and not wanted(rel):
                continue
            if not stat.S_ISREG(st.st_mode):
                yield Problem(_printable(rel), "skipped: not a regular file")
                continue
            if st.st_size > limits.max_file_bytes:
                yield Problem(_printable(rel), f"skipped: {st.st_size} bytes, over the {limits.max_file_bytes}-byte cap (--max-file-size)")
                continue
            total += st.st_size
            if total > limits.max_total_bytes:
                raise BundleError(shown, f"holds more than the {limits.max_total_bytes}-byte cap (--max-bundle-size)")
            if spooled is not None and spooled(rel, st.st_size):
                yield Member(rel, b"", stat.S_IMODE(st.st_mode), st.st_mtime, str(fp), st.st_size)
                continue
            data = _read_no_follow(fp, limits)
            if isinstance(data, str):
                yield Problem(_printable(rel), data)
            else:
                yield Member(rel, data, stat.S_IMODE(st.st_mode), st.st_mtime)
        pending.extend(reversed(subdirs))


def _read_no_follow(fp: Path, limits: Limits) -> bytes | str:
    """The file's bytes, or why not: opened without following a link or blocking on a fifo
    (the entry may have been swapped since it was listed), and never read past the cap."""
    try:
        fd = os.open(fp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return f"unreadable: {_first_line(exc)}"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "skipped: not a regular file"
        if st.st_size > limits.max_file_bytes:
            return f"skipped: {st.st_size} bytes, over the {limits.max_file_bytes}-byte cap (--max-file-size)"
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limits.max_file_bytes + 1)
        if len(data) > limits.max_file_bytes:
            return f"skipped: grew past the {limits.max_file_bytes}-byte cap (--max-file-size) while being read"
        return data
    except OSError as exc:
        return f"unreadable: {_first_line(exc)}"
    finally:
        os.close(fd)


def _rel(root: Path, p: Path) -> str:
    rel = p.relative_to(root).as_posix()
    return "" if rel == "." else rel


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


def _structured(shown: str, layout: str, files: dict[str, bytes], problems: list[Problem], limits: Limits) -> Bundle:
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
            problems.append(Problem("manifest.json", f"format {_short(manifest.get('format'))[:60]!r} is not {MANIFEST_FORMAT}; read as best effort"))
    config = {}
    if "config.yaml" in files:
        try:
            loaded = load_yaml(files["config.yaml"], limits)
            config = loaded if isinstance(loaded, dict) else {}
        except YamlRefused as exc:
            problems.append(Problem("config.yaml", f"refused: {exc}"))
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
            if isinstance(data, OnDisk):
                logs.append(LogFile(rel, ns, pod, container, previous, file=data.file, offset=data.offset, size=data.size, keep=data.keep))
            else:
                logs.append(LogFile(rel, ns, pod, container, previous, data))
        elif m := ERRORS_RE.match(rel):
            problems.extend(_troubleshoot_errors(rel, m.group(1), _in_memory(data)))
        elif m := CUSTOM_RE.match(rel):
            resource, ns = m.groups()
            documents.setdefault(resource, []).append(_document(rel, resource, ns, data))
        elif m := BUILTIN_RE.match(rel):
            resource, ns = m.groups()
            if resource in NOT_OBJECTS or resource == "custom-resources":
                continue
            documents.setdefault(resource, []).append(_document(rel, resource, ns, data))
    return Bundle(shown, layout, manifest, config, documents, logs, problems,
                  reference_time=datetime.min.replace(tzinfo=timezone.utc), reference_time_source="")


def _document(rel: str, resource: str, namespace: str | None, data: bytes | OnDisk) -> Document:
    if isinstance(data, OnDisk):
        return Document(rel, resource, namespace, file=data.file, offset=data.offset, size=data.size, keep=data.keep)
    return Document(rel, resource, namespace, data)


def _troubleshoot_errors(rel: str, resource: str, data: bytes) -> list[Problem]:
    """troubleshoot writes ``<kind>-errors.json`` when a list failed: a gap, not an empty list."""
    try:
        errs = orjson.loads(data)
    except orjson.JSONDecodeError:
        return [Problem(rel, "collection error file does not parse")]
    if isinstance(errs, dict):
        return [Problem(rel, f"{resource} in {ns or 'the cluster'} not collected: {_first_line(_short(msg))}", resource, ns or None)
                for ns, msg in errs.items()]
    if isinstance(errs, list):
        return [Problem(rel, f"{resource} not collected: {_first_line(_short(msg))}", resource) for msg in errs]
    return []


# ----------------------------------------------------------------- loose


class YamlRefused(yaml.YAMLError):
    """A YAML document that would exhaust memory or the stack if loaded."""


class _StringLoader(yaml.SafeLoader):
    """Safe YAML that keeps timestamps as the strings Kubernetes wrote, and
    refuses anchors and aliases that expand past a cap or refer to themselves."""

    max_nodes = Limits.max_yaml_nodes
    _aliases = 0

    def compose_document(self):
        self._aliases = 0
        node = super().compose_document()
        if self._aliases:
            _check_alias_expansion(node, self.max_nodes)
        return node

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
        return super().compose_node(parent, index)


_StringLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _node_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_alias_expansion(root: yaml.Node, cap: int) -> None:
    """Count the nodes the document has once every alias is expanded (memoised, so
    linear in the composed graph); refuse past ``cap`` or on a cycle."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _node_children(node)
        if done:
            on_path.discard(key)
            total = 1 + sum(size[id(c)] for c in children)
            if total > cap:
                raise YamlRefused(f"anchors and aliases expand it past {cap} nodes (--max-yaml-nodes)")
            size[key] = total
            continue
        if key in size:
            continue
        on_path.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise YamlRefused("an alias refers to a node that contains it (a recursive document)")
            if id(child) not in size:
                stack.append((child, False))


def _yaml_loader(data: bytes | str, limits: Limits) -> _StringLoader:
    loader = _StringLoader(data)
    loader.max_nodes = limits.max_yaml_nodes
    return loader


def load_yaml_all(data: bytes | str, limits: Limits = Limits()) -> list:
    """Every document of a YAML stream, safely: no tags beyond the YAML core,
    no alias bomb, no recursion crash. Raises :class:`yaml.YAMLError`."""
    loader = _yaml_loader(data, limits)
    try:
        docs = []
        while loader.check_data():
            docs.append(loader.get_data())
        return docs
    except RecursionError:
        raise YamlRefused("nested deeper than the parser can follow") from None
    finally:
        loader.dispose()


def load_yaml(data: bytes | str, limits: Limits = Limits()):
    """The single document of a YAML stream (see :func:`load_yaml_all`)."""
    docs = load_yaml_all(data, limits)
    return docs[0] if docs else None


def nesting_depth_over(value: object, limit: int) -> bool:
    """True when ``value`` nests lists and maps deeper than ``limit`` (iterative)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list, tuple)))
    return False


def _loose(shown: str, files: dict[str, bytes], problems: list[Problem], limits: Limits) -> Bundle:
    grouped: dict[tuple[str, str], list[bytes]] = {}
    for rel in sorted(files):
        if rel.rsplit("/", 1)[-1] in EXPECTATION_NAMES or not rel.endswith(LOOSE_SUFFIXES):
            continue
        objects, notes = _parse_loose(rel, _in_memory(files[rel]), limits)
        problems.extend(Problem(rel, note) for note in notes)
        for obj in objects:
            try:
                encoded = orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS, default=_plain_json)
            except (TypeError, orjson.JSONEncodeError) as exc:
                problems.append(Problem(rel, f"{_kind_name(obj)} skipped: it cannot be read as JSON ({_first_line(exc)})"))
                continue
            resource = resource_for_kind(_text(obj.get("kind")), _text(obj.get("apiVersion")))
            grouped.setdefault((resource, rel), []).append(encoded)
    if not grouped:
        detail = problems[0].message if problems else "no Kubernetes objects found"
        raise BundleError(shown, f"not a bundle: {detail}")
    documents: dict[str, list[Document]] = {}
    for (resource, rel), objs in grouped.items():
        data = b'{"apiVersion":"v1","kind":"List","items":[' + b",".join(objs) + b"]}"
        documents.setdefault(resource, []).append(Document(rel, resource, None, data))
    return Bundle(shown, "loose", None, {}, documents, [], problems,
                  reference_time=datetime.min.replace(tzinfo=timezone.utc), reference_time_source="")


def _plain_json(value: object) -> object:
    """YAML's !!binary and !!set have no JSON form: text and lists."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (set, frozenset)):
        return sorted(map(str, value))
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _kind_name(obj: dict) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    ns, name = _text(meta.get("namespace")), _text(meta.get("name"))
    return _printable(f"{_text(obj.get('kind'))} {ns + '/' if ns else ''}{name}")[:200]


_YAML_UNPRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _parse_loose(rel: str, data: bytes, limits: Limits = Limits()) -> tuple[list[dict], list[str]]:
    text = data.lstrip()
    docs: list = []
    notes: list[str] = []
    if text[:1] in (b"{", b"["):
        try:
            docs = [orjson.loads(data)]
        except orjson.JSONDecodeError as exc:
            return [], [f"does not parse as JSON ({_first_line(exc)})"]
    else:
        # YAML refuses control characters anywhere (a ticket pasted from a
        # coloured terminal has them): make them visible and read the rest.
        text, unprintable = _YAML_UNPRINTABLE.subn("\ufffd", data.decode("utf-8", errors="replace"))
        try:
            docs = load_yaml_all(text, limits)
        except YamlRefused as exc:
            return [], [f"refused: {exc}"]
        except yaml.YAMLError as exc:
            return [], [f"does not parse as YAML ({_first_line(exc)})"]
        if unprintable:
            notes.append(f"{unprintable} control character(s) YAML does not allow were replaced")
    objects: list[dict] = []
    skipped = 0
    too_deep = 0
    stack = list(reversed(docs))
    while stack:
        doc = stack.pop()
        if isinstance(doc, list):
            stack.extend(reversed(doc))
        elif isinstance(doc, dict) and isinstance(doc.get("items"), list) and _text(doc.get("kind", "List")).endswith("List"):
            stack.extend(reversed(doc["items"]))
        elif isinstance(doc, dict) and isinstance(doc.get("kind"), str) and isinstance(doc.get("metadata"), dict):
            if nesting_depth_over(doc, limits.max_depth):
                too_deep += 1
            else:
                objects.append(doc)
        elif doc is not None:
            skipped += 1
    if too_deep:
        notes.insert(0, f"{too_deep} object(s) nested deeper than {limits.max_depth} levels were skipped (--max-depth)")
    if not objects:
        return [], notes if too_deep else ["holds no Kubernetes objects (nothing with kind and metadata)", *notes]
    if skipped:
        notes.append(f"{skipped} document(s) without kind and metadata were ignored")
    return objects, notes


# -------------------------------------------------------- reference time


# A reference instant the analysis can compute windows around (a collection
# time in the year 9999 is a broken or hostile manifest, not a snapshot).
REFERENCE_YEARS = (1970, 8999)


def usable_reference(t: datetime) -> bool:
    return REFERENCE_YEARS[0] <= t.year <= REFERENCE_YEARS[1]


def _set_reference_time(bundle: Bundle, at: datetime | None) -> None:
    if at is not None:
        bundle.reference_time = at.astimezone(timezone.utc)
        bundle.reference_time_source = "--at"
        return
    collected = (bundle.manifest or {}).get("collected_at")
    if collected is not None:
        parsed = parse_time(collected) if isinstance(collected, str) else None
        if parsed is not None and usable_reference(parsed):
            bundle.reference_time = parsed
            bundle.reference_time_source = "manifest.json collected_at"
            return
        why = "is not an RFC 3339 time" if parsed is None else f"is outside the years {REFERENCE_YEARS[0]}-{REFERENCE_YEARS[1]}"
        bundle.problems.append(Problem("manifest.json", f"collected_at {_short(collected)[:40]!r} {why}"))
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
                if t is not None and t <= ceiling and usable_reference(t):
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


def _short(value: object) -> str:
    """A value from the input as text, without repr() (which recursion can crash)."""
    if isinstance(value, str):
        return value[:1000]
    try:
        return orjson.dumps(value).decode()[:1000]
    except (TypeError, orjson.JSONEncodeError):
        return type(value).__name__


def unreadable(path: str, exc: OSError) -> Problem:
    """A file left in place (in the bundle directory or the spool) that can no longer be read when
    the frames want it: a gap, worded as when a file is unreadable while the input is listed."""
    return Problem(path, f"unreadable: {_first_line(exc)}")


def _first_line(exc: object) -> str:
    text = str(exc).strip().splitlines()
    return _printable(text[0] if text else type(exc).__name__)[:200]


def _printable(text: str) -> str:
    """Names from a hostile archive may carry control characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)
