#!/usr/bin/env python3
"""Write the attack corpus: hostile bundles the analyzer must survive.

    python3 scripts/make_attack_corpus.py OUTDIR        # writes every case, prints the list
    python3 scripts/make_attack_corpus.py OUTDIR --list # the cases and what must happen

Every case is generated (no binary is kept in git) in a few seconds: the
multi-gigabyte members are gzip streams built from one repeated deflate block,
so a 6 GiB member costs a few megabytes and no time to write.

Each case says what must happen: ``error`` (one line on stderr starting
``gitops-master: error:`` and containing ``message``, exit 2), ``gaps`` (a
report, exit 0 or 1, with a collection-gap finding whose cause contains
``message``) or ``report`` (a report, exit 0 or 1). ``args`` are the cap flags
the case runs with; tests/hostile/test_corpus.py asserts all of it under a
2 GiB address-space limit and a timeout, and checks that nothing was written
outside the run's temporary directory.

Importable: ``build(outdir) -> list[Case]``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import struct
import sys
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

TOP = "gitops-bundle-20261120T031245Z"
COLLECTED_AT = "2026-11-20T03:12:45Z"
MIB = 1024**2
GIB = 1024**3
# Names that would be written if an archive member escaped; tests check they never exist.
ESCAPE_SENTINELS = ("gm-pwned-rel.json", "gm-pwned-abs.json", "gm-pwned-link.json")
# Text that only the files outside a bundle hold; it must never reach a report.
OUTSIDE_MARKER = "OUTSIDE-THE-BUNDLE-5f1c"


# Every case build() writes, in order (tests parametrize over these names).
CASE_NAMES = (
    "tar-path-traversal", "tar-links", "tar-devices", "tar-duplicates", "bomb-many-members", "bomb-bundle-cap",
    "huge-json-member",
    "oversized-member", "many-members", "pax-header-bomb", "gzip-header-bomb", "truncated", "random-bytes",
    "gzip-of-junk", "nested-json-100k", "nested-json-in-bundle", "nested-json-600", "nested-yaml-100k",
    "nested-yaml-300", "billion-laughs", "recursive-alias", "billion-laughs-config", "non-utf8-and-nul", "timestamps",
    "timestamps-far-future-reference", "wrong-shapes", "markup-and-escapes", "dir-links",
)


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    expect: str  # "error" | "gaps" | "report"
    message: str = ""  # in the error line, or in a collection-gap cause
    args: tuple[str, ...] = ()
    what: str = ""
    markup: bool = False  # carries HTML, Markdown and terminal escapes that must not render
    forbidden: tuple[str, ...] = field(default=())  # text that must not appear in any output


# ------------------------------------------------------------------ objects


def k8s_list(items: list) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}).encode()


def stage(name: str, ns: str = "kargo-demo", message: str = "Freight has been verified", **status) -> dict:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2026-11-01T00:00:00Z", "generation": 1},
        "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "guestbook"}, "sources": {"direct": True}}]},
        "status": status or {"conditions": [{"type": "Ready", "status": "True", "reason": "Verified", "message": message,
                                             "lastTransitionTime": "2026-11-20T03:00:00Z"}]},
    }


MANIFEST = {
    "format": "gitops-bundle/v1", "collector": {"name": "collector.sh", "version": "0.1.0"},
    "collected_at": COLLECTED_AT, "finished_at": "2026-11-20T03:12:58Z", "complete": True, "commands": [],
}
STAGES = "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json"


def base_members() -> dict[str, bytes]:
    return {"manifest.json": json.dumps(MANIFEST).encode(), STAGES: k8s_list([stage("dev")])}


def info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.type = kind
    ti.mode = 0o644
    ti.mtime = 1795144365
    return ti


def write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], fmt: int = tarfile.GNU_FORMAT) -> Path:
    with tarfile.open(path, "w:gz", format=fmt) as tar:
        for ti, data in members:
            tar.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return info(name, len(data)), data


def bundle_dir(root: Path, members: dict[str, bytes]) -> Path:
    for rel, data in members.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


# ------------------------------------------------------------------ streamed gzip


def _gf2_times(mat: list[int], vec: int) -> int:
    out, i = 0, 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def _gf2_square(mat: list[int]) -> list[int]:
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """zlib's crc32_combine: the CRC of A+B from CRC(A), CRC(B) and len(B)."""
    if len2 <= 0:
        return crc1
    # The operator for one zero bit, squared to one zero byte; each step squares it again,
    # so bit k of len2 applies 2**k zero bytes.
    mat = _gf2_square(_gf2_square([0xEDB88320] + [1 << n for n in range(31)]))
    while len2:
        mat = _gf2_square(mat)
        if len2 & 1:
            crc1 = _gf2_times(mat, crc1)
        len2 >>= 1
    return crc1 ^ crc2


def _crc_repeated(chunk: int, chunk_len: int, times: int) -> int:
    """CRC of a chunk repeated ``times`` times, by doubling."""
    result = 0
    power, power_len = chunk, chunk_len
    while times:
        if times & 1:
            result = crc32_combine(result, power, power_len)
        times >>= 1
        if times:
            power = crc32_combine(power, power, power_len)
            power_len *= 2
    return result


def write_streamed_gzip(path: Path, parts: list[bytes | tuple[bytes, int]]) -> int:
    """A valid gzip file of ``parts`` (bytes, or (chunk, times) repeated) without compressing the repeats:
    one full-flush deflate block is written ``times`` times. Returns the uncompressed size."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    crc, total = 0, 0
    with open(path, "wb") as fh:
        fh.write(b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\xff")
        for part in parts:
            if isinstance(part, bytes):
                fh.write(comp.compress(part) + comp.flush(zlib.Z_FULL_FLUSH))
                crc = zlib.crc32(part, crc)
                total += len(part)
                continue
            chunk, times = part
            block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
            for _ in range(times):
                fh.write(block)
            crc = crc32_combine(crc, _crc_repeated(zlib.crc32(chunk), len(chunk), times), len(chunk) * times)
            total += len(chunk) * times
        fh.write(comp.flush(zlib.Z_FINISH))
        fh.write(struct.pack("<II", crc & 0xFFFFFFFF, total & 0xFFFFFFFF))
    return total


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 512)


def big_member_tar(path: Path, name: str, head: bytes, fill: bytes, fill_times: int, tail: bytes,
                   before: dict[str, bytes] | None = None) -> int:
    """A tar.gz whose member ``name`` is head + fill * fill_times + tail, written in no time."""
    parts: list[bytes | tuple[bytes, int]] = []
    for rel, data in (before or {}).items():
        parts.append(info(f"{TOP}/{rel}", len(data)).tobuf(tarfile.GNU_FORMAT) + data + _pad(len(data)))
    size = len(head) + len(fill) * fill_times + len(tail)
    parts.append(info(f"{TOP}/{name}", size).tobuf(tarfile.GNU_FORMAT) + head)
    parts.append((fill, fill_times))
    parts.append(tail + _pad(size) + b"\0" * 1024)
    return write_streamed_gzip(path, parts)


# ------------------------------------------------------------------ hostile text


MARKUP = (
    "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\">"
    "[click me](javascript:alert(1)) ![x](https://evil.example/x.png) <https://evil.example/autolink> "
    "**bold** `code` | table | ~~strike~~ "
    "\x1b[31mRED\x1b[0m \x1b]0;pwned-title\x07 \x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\ "
    "\rOVERWRITE \x08\x08 \u202eevil\u202c \x9b31m"
)


def _markup_bundle(root: Path) -> Path:
    name = "prod<script>alert(1)</script>\x1b[2J"
    failing = stage(name, conditions=[{"type": "Ready", "status": "False", "reason": "ReconcileError", "message": MARKUP,
                                       "lastTransitionTime": "2026-11-20T03:00:00Z"}])
    app = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "app-<b>bold</b>", "namespace": "argocd", "creationTimestamp": "2026-11-01T00:00:00Z"},
        "spec": {"destination": {"namespace": "x"}, "source": {"repoURL": "javascript:alert(1)"}},
        "status": {"health": {"status": "Degraded", "message": MARKUP},
                   "sync": {"status": "OutOfSync"},
                   "conditions": [{"type": "ComparisonError", "message": MARKUP, "lastTransitionTime": "2026-11-20T03:00:00Z"}],
                   "operationState": {"phase": "Failed", "message": MARKUP, "startedAt": "2026-11-20T02:00:00Z",
                                      "finishedAt": "2026-11-20T02:01:00Z"}},
    }
    log = (f"2026-11-20T03:00:00.000000000Z time=\"2026-11-20T03:00:00Z\" level=error msg=\"{MARKUP.replace(chr(34), chr(39))}\"\n"
           "2026-11-20T03:00:01.000000000Z " + json.dumps({"level": "error", "msg": MARKUP}) + "\n").encode()
    members = base_members()
    members[STAGES] = k8s_list([failing, stage("ok")])
    members["cluster-resources/custom-resources/applications.argoproj.io/argocd.json"] = k8s_list([app])
    members["cluster-resources/pods/logs/argocd/argocd-server-abc12-x9x9x/server.log"] = log
    members["cluster-resources/pods/logs/argocd/argocd-server-abc12-x9x9x/x\x1b[31m.log"] = log
    members["manifest.json"] = json.dumps({**MANIFEST, "collector": {"name": "<script>x</script>\x1b[1m", "version": MARKUP}}).encode()
    return bundle_dir(root, members)


# ------------------------------------------------------------------ the cases


def build(out: Path) -> list[Case]:
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; the corpus is written into an empty directory")
    cases: list[Case] = []

    def add(name: str, path: Path, expect: str, message: str = "", args: tuple[str, ...] = (), what: str = "", **kw) -> None:
        cases.append(Case(name, path, expect, message, args, what, **kw))

    outside = out / "outside.json"
    outside.write_text(json.dumps({"kind": "Stage", "metadata": {"name": OUTSIDE_MARKER}, "note": OUTSIDE_MARKER}))

    # Paths that escape the bundle.
    members = [regular(f"{TOP}/{rel}", data) for rel, data in base_members().items()]
    members += [
        regular(f"../../{ESCAPE_SENTINELS[0]}", b"{}"),
        regular(str(out.parent / ESCAPE_SENTINELS[1]), b"{}"),
        regular(f"{TOP}/../../{ESCAPE_SENTINELS[0]}", b"{}"),
        regular("C:\\Windows\\evil.json", b"{}"),
        regular(f"{TOP}/cluster-resources/pods/\x00nul.json", b"{}"),
    ]
    add("tar-path-traversal", write_tar(out / "tar-path-traversal.tar.gz", members), "gaps", "path escapes the bundle",
        what="members named ../, /absolute, C:\\ and with NUL: skipped, never written")

    # Links out of the bundle.
    members = [regular(f"{TOP}/{rel}", data) for rel, data in base_members().items()]
    sym = info(f"{TOP}/cluster-resources/pods/kargo.json", kind=tarfile.SYMTYPE)
    sym.linkname = "/etc/passwd"
    sym_rel = info(f"{TOP}/cluster-resources/pods/argocd.json", kind=tarfile.SYMTYPE)
    sym_rel.linkname = f"../../../{outside.name}"
    hard = info(f"{TOP}/cluster-resources/events/kargo.json", kind=tarfile.LNKTYPE)
    hard.linkname = "/etc/shadow"
    esc = info(f"{TOP}/cluster-resources/{ESCAPE_SENTINELS[2]}", kind=tarfile.SYMTYPE)
    esc.linkname = str(out.parent / ESCAPE_SENTINELS[2])
    members += [(sym, None), (sym_rel, None), (hard, None), (esc, None)]
    add("tar-links", write_tar(out / "tar-links.tar.gz", members), "gaps", "is a link to",
        what="symlinks and hardlinks to /etc/passwd, /etc/shadow and outside files: never followed",
        forbidden=("root:x:0:0", OUTSIDE_MARKER))

    # Device files and fifos.
    members = [regular(f"{TOP}/{rel}", data) for rel, data in base_members().items()]
    for rel, kind in (("cluster-resources/pods/zero.json", tarfile.CHRTYPE), ("cluster-resources/pods/disk.json", tarfile.BLKTYPE),
                      ("cluster-resources/pods/logs/a/b/c.log", tarfile.FIFOTYPE)):
        dev = info(f"{TOP}/{rel}", kind=kind)
        dev.devmajor, dev.devminor = (1, 5) if kind == tarfile.CHRTYPE else (8, 0)
        members.append((dev, None))
    add("tar-devices", write_tar(out / "tar-devices.tar.gz", members), "gaps", "not a regular file",
        what="character and block devices and a fifo: skipped")

    # The same name twice.
    first = k8s_list([stage("dev")])
    second = k8s_list([stage("dev-second-copy")])
    members = [regular(f"{TOP}/manifest.json", json.dumps(MANIFEST).encode()), regular(f"{TOP}/{STAGES}", first),
               regular(f"{TOP}/{STAGES}", second)]
    add("tar-duplicates", write_tar(out / "tar-duplicates.tar.gz", members), "gaps", "duplicate archive member",
        what="a member twice: the later copy is used and the duplicate reported")

    # A decompression bomb: many members, each under the file cap, 16 GiB in all, 16 MiB on disk.
    parts: list[bytes | tuple[bytes, int]] = []
    for i in range(64):
        name = f"{TOP}/cluster-resources/pods/ns{i}.json"
        parts.append(info(name, 256 * MIB).tobuf(tarfile.GNU_FORMAT))
        parts.append((b" " * MIB, 256))
    parts.append(b"\0" * 1024)
    write_streamed_gzip(out / "bomb-many-members.tar.gz", parts)
    add("bomb-many-members", out / "bomb-many-members.tar.gz", "error", "--max-ratio",
        what="64 members of 256 MiB of blanks (16 GiB from 16 MiB): refused after the first, expanding 1000 times")
    add("bomb-bundle-cap", out / "bomb-many-members.tar.gz", "error", "--max-bundle-size",
        ("--max-ratio", "100000", "--max-bundle-size", "512M"),
        what="the same bomb with the ratio check off: refused when its headers pass --max-bundle-size, memory bounded by it")

    # One member of 6 GiB of JSON (blanks inside a List): refused by its header, not read.
    big_member_tar(out / "huge-json-member.tar.gz", "cluster-resources/pods/huge.json", b'{"items":[', b" " * MIB, 6 * 1024,
                   b"]}", before=base_members())
    add("huge-json-member", out / "huge-json-member.tar.gz", "error", "--max-bundle-size",
        what="a single 6 GiB JSON member: refused by the size in its header before a byte is decompressed")

    # A member over the file cap but within the bundle cap: skipped (streamed past), a gap.
    big_member_tar(out / "oversized-member.tar.gz", "cluster-resources/events/kargo-demo.json", b'{"items":[', b" " * MIB,
                   600, b"]}", before=base_members())
    add("oversized-member", out / "oversized-member.tar.gz", "gaps", "--max-file-size",
        what="a 600 MiB member over the 512 MiB file cap: skipped as a gap, the rest analysed")

    # Too many members.
    members = [regular(f"{TOP}/{rel}", data) for rel, data in base_members().items()]
    members += [regular(f"{TOP}/views/v{i}.txt", b"") for i in range(3000)]
    add("many-members", write_tar(out / "many-members.tar.gz", members), "error", "--max-members", ("--max-members", "1000"),
        what="3,000 members against --max-members 1000")

    # A pax header record that tarfile would read whole into memory.
    parts = [info(f"{TOP}/././@PaxHeader", 2 * GIB, tarfile.XHDTYPE).tobuf(tarfile.GNU_FORMAT), (b"\0" * MIB, 4)]
    write_streamed_gzip(out / "pax-header-bomb.tar.gz", parts)
    add("pax-header-bomb", out / "pax-header-bomb.tar.gz", "error", "header record",
        what="a 2 GiB pax header record: refused before tarfile reads it into memory")

    # A gzip header whose file name field never ends.
    with open(out / "gzip-header-bomb.tar.gz", "wb") as fh:
        fh.write(b"\x1f\x8b\x08\x08" + b"\0" * 6 + b"A" * (2 * MIB))
    add("gzip-header-bomb", out / "gzip-header-bomb.tar.gz", "error", "gzip header field",
        what="a 2 MiB gzip FNAME field: refused instead of read byte by byte")

    # Truncated archive.
    whole = out / "whole.tar.gz"
    members = [regular(f"{TOP}/{rel}", data) for rel, data in base_members().items()]
    members.append(regular(f"{TOP}/cluster-resources/pods/kargo.json", k8s_list(
        [{"kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "kargo"}, "status": {"message": os.urandom(100).hex()}}
         for i in range(300)])))
    data = write_tar(whole, members).read_bytes()
    (out / "truncated.tar.gz").write_bytes(data[: len(data) * 2 // 3])
    whole.unlink()
    add("truncated", out / "truncated.tar.gz", "gaps", "truncated or damaged", what="a tar.gz cut at two thirds")

    # Not a bundle at all.
    (out / "random-bytes.tar.gz").write_bytes(os.urandom(4096))
    add("random-bytes", out / "random-bytes.tar.gz", "error", "not a bundle", what="4 KiB of random bytes named .tar.gz")
    (out / "gzip-of-junk.tar.gz").write_bytes(gzip.compress(os.urandom(2048)))
    add("gzip-of-junk", out / "gzip-of-junk.tar.gz", "error", "not a readable tar.gz bundle", what="gzip of random bytes")

    # Deep nesting.
    deep = 100_000
    (out / "nested-100k.json").write_bytes(b"[" * deep + b"]" * deep)
    add("nested-json-100k", out / "nested-100k.json", "error", "does not parse as JSON",
        what="100,000 nested JSON arrays as loose input: the parser's depth limit, one line")
    obj = stage("deep")
    members = base_members()
    members[STAGES] = (json.dumps({"apiVersion": "v1", "kind": "List", "items": [stage("dev"), {**obj, "status": "__DEEP__"}]})
                       .replace('"__DEEP__"', "[" * deep + "]" * deep)).encode()
    add("nested-json-in-bundle", bundle_dir(out / "nested-json-in-bundle", members), "gaps", "does not parse as JSON",
        what="a Stage file nested 100,000 deep inside a bundle: a gap for that file")
    members = base_members()
    wrong = stage("wrong", conditions="Ready")  # forces the slow path
    members[STAGES] = (json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        stage("dev"), wrong, {**stage("deep600"), "extra": "__DEEP__"}]}).replace('"__DEEP__"', "[" * 600 + "]" * 600)).encode()
    add("nested-json-600", bundle_dir(out / "nested-json-600", members), "gaps", "skipped",
        what="a Stage nested 600 deep next to a wrong-shaped one: parsed, but too deep to re-serialise")
    (out / "nested-100k.yaml").write_text("kind: Stage\nmetadata: {name: x}\nspec: " + "[" * deep + "]" * deep + "\n")
    add("nested-yaml-100k", out / "nested-100k.yaml", "error", "nested deeper than the parser can follow",
        what="100,000 nested YAML flow sequences: a clean refusal, not a RecursionError")
    nested = "x: " + "{a: " * 300 + "1" + "}" * 300
    (out / "nested-yaml-300.yaml").write_text(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: deep, namespace: kargo-demo}\n" + nested + "\n")
    add("nested-yaml-300", out / "nested-yaml-300.yaml", "error", "--max-depth",
        what="a loose object nested 300 deep: past --max-depth (200)")

    # YAML alias bombs.
    lol = ['lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lol.append(f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    laughs = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol, namespace: x}\ndata:\n"
              + "\n".join("  " + line for line in lol) + "\n")
    (out / "billion-laughs.yaml").write_text(laughs)
    add("billion-laughs", out / "billion-laughs.yaml", "error", "--max-yaml-nodes",
        what="the billion laughs (10^9 nodes from 1 KiB of YAML)")
    (out / "recursive-alias.yaml").write_text("apiVersion: v1\nkind: List\nitems: &a [*a]\n")
    add("recursive-alias", out / "recursive-alias.yaml", "error", "recursive",
        what="an alias inside its own anchor (a cycle)")
    members = base_members()
    members["config.yaml"] = ("kargo_namespace: kargo-demo\n" + "\n".join(lol) + "\n").encode()
    add("billion-laughs-config", bundle_dir(out / "billion-laughs-config", members), "gaps", "--max-yaml-nodes",
        what="the billion laughs in a bundle's config.yaml: a gap, the rest analysed")

    # Bytes that are not text.
    members = base_members()
    members["cluster-resources/pods/logs/kargo/kargo-controller-abc12-x9x9x/controller.log"] = (
        b"2026-11-20T03:00:00.000000000Z level=error msg=\"bad \xff\xfe bytes \x00 and NUL\x00\" stage=dev\n"
        b"2026-11-20T03:00:01.000000000Z \x00\x00\x00\xc3\x28\xa0\xa1 \x1f\x1f\n" + os.urandom(3000) + b"\n")
    members["cluster-resources/pods/kargo.json"] = k8s_list([{"kind": "Pod", "metadata": {"name": "p\u0000x", "namespace": "kargo"}}])
    members["cluster-resources/events/kargo-demo.json"] = b'{"items":[{"kind":"Event","metadata":{"name":"e\xff\xfe","namespace":"kargo-demo"}}]}'
    members["cluster-resources/jobs/kargo-demo.json"] = b'{"items":[{"kind":"Job","metadata":{"name":"j\x00raw","namespace":"kargo-demo"}}]}'
    add("non-utf8-and-nul", bundle_dir(out / "non-utf8-and-nul", members), "gaps", "does not parse as JSON",
        what="invalid UTF-8, raw and escaped NUL bytes in logs and JSON")

    # Timestamps from nowhere.
    members = base_members()
    odd = ["9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "+275760-09-13T00:00:00Z", "2026-13-45T25:61:61Z",
           "yesterday", "", "1970-01-01T00:00:00Z", "2026-11-20T03:12:45.123456789123456789Z"]
    stages = []
    for i, ts in enumerate(odd):
        s = stage(f"t{i}", conditions=[{"type": "Ready", "status": "False", "reason": "ReconcileError", "message": "x",
                                        "lastTransitionTime": ts}])
        s["metadata"]["creationTimestamp"] = ts
        stages.append(s)
    members[STAGES] = k8s_list(stages)
    members["cluster-resources/custom-resources/promotions.kargo.akuity.io/kargo-demo.json"] = k8s_list([
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Promotion",
         "metadata": {"name": f"t{i}.01j{i}", "namespace": "kargo-demo", "creationTimestamp": ts},
         "spec": {"stage": f"t{i}", "freight": "abc", "steps": [{"uses": "git-clone", "as": "clone"}]},
         "status": {"phase": "Running", "startedAt": ts, "finishedAt": ts, "currentStep": 0,
                    "stepExecutionMetadata": [{"alias": "clone", "startedAt": ts, "finishedAt": ts, "status": "Errored",
                                               "errorCount": 2**62, "message": "m"}]}}
        for i, ts in enumerate(odd)])
    members["cluster-resources/events/kargo-demo.json"] = k8s_list([
        {"kind": "Event", "metadata": {"name": f"e{i}", "namespace": "kargo-demo"}, "lastTimestamp": ts, "firstTimestamp": ts,
         "eventTime": ts, "message": "m", "involvedObject": {"kind": "Stage", "name": f"t{i}"}} for i, ts in enumerate(odd)])
    members["cluster-resources/pods/logs/kargo/kargo-controller-abc12-x9x9x/controller.log"] = "\n".join(
        [json.dumps({"ts": v, "level": "error", "msg": "epoch", "stage": "t1"}) for v in (9e12, -9e12, 1e300, 2**63, "nan")]
        + [f'time="{ts}" level=error msg="logfmt" stage=t2' for ts in odd]
        + [f"{ts} plain line" for ts in odd]).encode()
    members["manifest.json"] = json.dumps({**MANIFEST, "collected_at": "+275760-09-13T00:00:00Z"}).encode()
    add("timestamps", bundle_dir(out / "timestamps", members), "report",
        what="far-future, year-0, out-of-range, epoch-overflow and invalid timestamps everywhere")
    members = dict(members)
    members["manifest.json"] = json.dumps({**MANIFEST, "collected_at": "9999-12-31T23:59:59Z"}).encode()
    add("timestamps-far-future-reference", bundle_dir(out / "timestamps-far-future-reference", members), "report",
        what="a collection time at the end of year 9999")

    # Objects of the wrong shape.
    members = {
        "manifest.json": json.dumps({"format": ["x"] * 3, "collected_at": 12345, "commands": "not a list",
                                     "redaction": ["x"], "collector": [[[[]]]], "config": {"kargo_namespace": {"value": 5}},
                                     "complete": "yes"}).encode(),
        "config.yaml": b"- a\n- b\n",
        STAGES: json.dumps({"items": {"not": "a list"}}).encode(),
        "cluster-resources/custom-resources/promotions.kargo.akuity.io/kargo-demo.json": k8s_list(
            [5, "x", None, [], {"metadata": "string"}, {"kind": 5, "metadata": {"name": 7}},
             {"kind": "Promotion", "metadata": {"name": "p", "namespace": "kargo-demo"}, "spec": "x", "status": [1, 2]}]),
        "cluster-resources/custom-resources/freights.kargo.akuity.io/kargo-demo.json": k8s_list(
            [{"kind": "Freight", "metadata": {"name": "f", "namespace": "kargo-demo"}, "status": {"verifiedIn": [1], "approvedFor": "x"}}]),
        "cluster-resources/custom-resources/warehouses.kargo.akuity.io/kargo-demo.json": b"[1, 2, 3]",
        "cluster-resources/custom-resources/applications.argoproj.io/argocd.json": k8s_list(
            [{"kind": "Application", "metadata": {"name": "a", "namespace": "argocd", "annotations": [1]},
              "status": {"health": "Healthy", "sync": [], "operationState": {"syncResult": {"resources": {"x": 1}}}}}]),
        "cluster-resources/pods/kargo.json": k8s_list(
            [{"kind": "Pod", "metadata": {"name": "p", "namespace": "kargo", "labels": "x"},
              "spec": {"containers": {"name": "c"}}, "status": {"containerStatuses": [{"restartCount": "many"}]}}]),
        "cluster-resources/events/kargo-demo.json": b"null",
        "cluster-resources/namespaces.json": b'"just a string"',
        "cluster-resources/custom-resources/stages.kargo.akuity.io-errors.json": b'{"kargo-demo": [[[["deep"]]]]}',
        "cluster-resources/pods/logs/kargo/p/c.log": b'{"level": ["x"], "msg": {"a": 1}, "ts": {"x": 1}}\n{"msg": 5}\n',
    }
    add("wrong-shapes", bundle_dir(out / "wrong-shapes", members), "gaps", "",
        what="lists that are objects, strings where objects belong, numbers for names, a manifest of the wrong types")

    # Markup and terminal escapes in names and messages.
    add("markup-and-escapes", _markup_bundle(out / "markup-and-escapes"), "report",
        what="HTML, <script>, Markdown links and images, ANSI and OSC terminal escapes, CR, backspace, bidi overrides",
        markup=True)

    # A directory bundle with links out, a fifo and a tree deeper than Python recurses.
    root = bundle_dir(out / "dir-links", base_members())
    (root / "cluster-resources/pods").mkdir(parents=True, exist_ok=True)
    os.symlink("/etc/passwd", root / "cluster-resources/pods/kargo.json")
    os.symlink(str(outside), root / "cluster-resources/pods/argocd.json")
    os.symlink(str(out), root / "cluster-resources/custom-resources/linked-dir")
    os.mkfifo(root / "cluster-resources/pods/fifo.json")
    deep_dir = str(root / "views")
    os.mkdir(deep_dir)
    for _ in range(1200):  # one mkdir at a time: makedirs recurses
        deep_dir += "/d"
        os.mkdir(deep_dir)
    with open(deep_dir + "/deep.json", "w") as fh:
        fh.write("{}")
    add("dir-links", root, "gaps", "link", what="a directory bundle with symlinks out, a fifo and 1,200 nested directories",
        forbidden=("root:x:0:0", OUTSIDE_MARKER))
    assert tuple(c.name for c in cases) == CASE_NAMES, "CASE_NAMES is out of date"
    return cases


def remove_tree(root: Path) -> None:
    """Remove a corpus (shutil.rmtree recurses, and dir-links is deeper than Python's recursion limit)."""
    root = Path(root)
    if not root.exists() and not root.is_symlink():
        return
    if root.is_symlink() or not root.is_dir():
        root.unlink()
        return
    stack = [(str(root), False)]
    while stack:
        path, emptied = stack.pop()
        if emptied:
            os.rmdir(path)
            continue
        stack.append((path, True))
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, False))
                else:
                    os.unlink(entry.path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--list", action="store_true", help="print the cases as a table")
    args = parser.parse_args(argv)
    cases = build(args.outdir)
    for case in cases:
        flags = " ".join(case.args)
        print(f"{case.name:28} {case.expect:7} {case.message!r:45} {flags:24} {case.what if args.list else case.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
