"""Property: whatever the bundle, the CLI ends in a report or one clean error line.

Each example starts from a sample bundle (a directory, a tarball or pasted
YAML), applies 1-4 mutations (flip, insert or delete bytes in a file; put a
value of another type at a random field; replace a file with random YAML,
aliases included; drop a file), lays it out as a directory or a tar.gz (which
may then be truncated or have compressed bytes flipped), and runs one command
on it in-process: diagnose in every format, report, verify, lint, scan or
redact. The property: no traceback and no internal error; exit 0, 1 or 3 with
output (valid JSON when JSON was asked for), or exit 2 with exactly one line
``gitops-master: error: ...``.

Used by tests/hostile/test_fuzz.py (a short, fixed profile) and by
scripts/fuzz.py (the long run).
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from functools import cache
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import strategies as st

from analyzer.bundle import Member, open_input
from analyzer.cli import main

REPO = Path(__file__).resolve().parents[2]
SEED_BUNDLES = ("pasted-ticket", "poisoned-promotion", "repo-server-refused.tar.gz", "verification-failed")
TEXT_SUFFIXES = (".json", ".yaml", ".yml", ".log")
FORMATS = ("text", "md", "json", "html", "junit")


@cache
def seed_files(name: str) -> dict[str, bytes]:
    """A sample bundle's files, by their path inside it (a tarball's top directory included)."""
    layout, members = open_input(REPO / "sample_bundles" / name)
    files = {m.path: m.data for m in members if isinstance(m, Member)}
    if layout == "directory":
        files = {f"{name}/{k}": v for k, v in files.items()}
    return {k: v for k, v in files.items() if not k.endswith("expected.json")}


# ------------------------------------------------------------------ values

ODD_TIMES = ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "+275760-09-13T00:00:00Z", "2026-02-30T25:00:00Z", "",
             "1970-01-01T00:00:00.999999999999Z", "now", "2026-11-20T03:12:45+99:99"]
ODD_TEXT = ["<script>alert(1)</script>", "\x1b[31mred\x1b[0m", "\x00", "\u202e", "[x](javascript:1)", "``` |", "\r\n" * 3,
            "a" * 5000, "ü\udcff", "{{ x }}", "%s%n", "../../etc/passwd", "-----BEGIN RSA PRIVATE KEY-----"]
KEYS = ["kind", "apiVersion", "metadata", "name", "namespace", "items", "status", "spec", "conditions", "type", "reason",
        "message", "phase", "lastTransitionTime", "creationTimestamp", "health", "sync", "operationState", "freight",
        "stage", "containers", "image", "env", "value", "password"]


def scalars() -> st.SearchStrategy:
    return st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), st.sampled_from(ODD_TIMES),
        st.sampled_from(ODD_TEXT), st.sampled_from(["Stage", "Promotion", "Application", "Pod", "List", "Freight"]),
    )


def values() -> st.SearchStrategy:
    return st.recursive(
        scalars(),
        lambda children: st.one_of(st.lists(children, max_size=4),
                                   st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=5)),
        max_leaves=12,
    )


def deep(depth: int, leaf: object = 1) -> object:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


# ------------------------------------------------------------------ mutations


def _pick_file(data: st.DataObject, files: dict[str, bytes]) -> str | None:
    names = sorted(k for k in files if k.endswith(TEXT_SUFFIXES))
    return data.draw(st.sampled_from(names), label="file") if names else None


def flip_bytes(data: st.DataObject, files: dict[str, bytes]) -> None:
    name = _pick_file(data, files)
    if name is None or not files[name]:
        return
    buf = bytearray(files[name])
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        buf[data.draw(st.integers(0, len(buf) - 1), label="at")] = data.draw(st.integers(0, 255), label="byte")
    files[name] = bytes(buf)


def insert_bytes(data: st.DataObject, files: dict[str, bytes]) -> None:
    name = _pick_file(data, files)
    if name is None:
        return
    buf = files[name]
    at = data.draw(st.integers(0, len(buf)), label="at")
    piece = data.draw(st.one_of(st.binary(min_size=1, max_size=40),
                                st.sampled_from([b"{", b"[", b"]", b"}", b'"', b"\\", b"\x00", b"\xff\xfe", b"1e999",
                                                 b"-", b"null", b'":', b"\n", b"&a ", b"*a", b"!!binary ", b"\t",
                                                 b"[" * 2000, b"\x1b[2J"])), label="piece")
    files[name] = buf[:at] + piece + buf[at:]


def delete_bytes(data: st.DataObject, files: dict[str, bytes]) -> None:
    name = _pick_file(data, files)
    if name is None or not files[name]:
        return
    buf = files[name]
    start = data.draw(st.integers(0, len(buf) - 1), label="start")
    length = data.draw(st.integers(1, max(1, len(buf) - start)), label="length")
    files[name] = buf[:start] + buf[start + length:]


def _paths(doc: object, limit: int = 3000) -> list[tuple]:
    out: list[tuple] = []
    stack: list[tuple[object, tuple]] = [(doc, ())]
    while stack and len(out) < limit:
        value, path = stack.pop()
        out.append(path)
        if isinstance(value, dict):
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))
    return out


def swap_type(data: st.DataObject, files: dict[str, bytes]) -> None:
    names = sorted(k for k in files if k.endswith(".json"))
    if not names:
        return
    name = data.draw(st.sampled_from(names), label="json file")
    try:
        doc = json.loads(files[name])
    except (ValueError, RecursionError):
        return
    paths = _paths(doc)
    path = data.draw(st.sampled_from(sorted(paths, key=repr)), label="path")
    new = data.draw(st.one_of(values(), st.sampled_from(["__deep300__", "__deep5000__", "__long__"])), label="value")
    if new == "__deep300__":
        new = deep(300)
    elif new == "__deep5000__":
        new = deep(5000)
    elif new == "__long__":
        new = "x" * 200_000
    if not path:
        doc = new
    else:
        target = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = new
    try:
        files[name] = json.dumps(doc).encode()
    except (ValueError, RecursionError):
        files[name] = b"[" * 5000 + b"]" * 5000


def random_yaml(data: st.DataObject, files: dict[str, bytes]) -> None:
    doc = data.draw(values(), label="yaml doc")
    if data.draw(st.booleans(), label="k8s shaped"):
        doc = {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": data.draw(st.sampled_from(["Stage", "Promotion", "List"])),
               "metadata": {"name": data.draw(st.text(max_size=10)), "namespace": "kargo-demo"}, "status": doc,
               "items": [doc, doc]}  # shared twice: dumped with an anchor and an alias
    try:
        text = yaml.safe_dump(doc, allow_unicode=True).encode("utf-8", "surrogateescape")
    except (yaml.YAMLError, UnicodeEncodeError, RecursionError):
        text = b"{"
    names = sorted(files)
    if data.draw(st.booleans(), label="replace") and names:
        files[data.draw(st.sampled_from(names), label="target")] = text
    else:
        top = names[0].split("/", 1)[0] + "/" if names and "/" in names[0] else ""
        files[f"{top}fuzz-{len(files)}.yaml"] = text


def drop_file(data: st.DataObject, files: dict[str, bytes]) -> None:
    if len(files) > 1:
        del files[data.draw(st.sampled_from(sorted(files)), label="drop")]


MUTATIONS = (flip_bytes, insert_bytes, delete_bytes, swap_type, swap_type, random_yaml, drop_file)


# ------------------------------------------------------------------ layout and run


def _tar_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


def lay_out(data: st.DataObject, files: dict[str, bytes], where: Path) -> Path:
    layout = data.draw(st.sampled_from(["directory", "tar.gz", "tar.gz", "cut", "flipped"]), label="layout")
    if len(files) == 1 and not data.draw(st.booleans(), label="pack single"):
        name, blob = next(iter(files.items()))
        path = where / Path(name).name
        path.write_bytes(blob)
        return path
    if layout == "directory":
        root = where / "bundle"
        for name, blob in files.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
        tops = {n.split("/", 1)[0] for n in files}
        return root / next(iter(tops)) if len(tops) == 1 and all("/" in n for n in files) else root
    blob = _tar_bytes(files)
    if layout == "cut":
        blob = blob[: data.draw(st.integers(0, len(blob)), label="cut at")]
    elif layout == "flipped" and blob:
        buf = bytearray(blob)
        for _ in range(data.draw(st.integers(1, 4), label="gz flips")):
            buf[data.draw(st.integers(0, len(buf) - 1), label="gz at")] ^= data.draw(st.integers(1, 255), label="xor")
        blob = bytes(buf)
    path = where / "bundle.tar.gz"
    path.write_bytes(blob)
    return path


def command(data: st.DataObject, path: Path, where: Path) -> list[str]:
    kind = data.draw(st.sampled_from(["diagnose", "diagnose", "diagnose", "report", "verify", "lint", "scan", "redact"]),
                     label="command")
    if kind == "diagnose":
        return ["diagnose", str(path), "--format", data.draw(st.sampled_from(FORMATS), label="format")]
    if kind == "report":
        return ["report", str(path), "-o", str(where / data.draw(st.sampled_from(["r.html", "r.md", "r.json", "r.xml"])))]
    if kind == "redact":
        return ["redact", str(path), "-o", str(where / "redacted.tar.gz")]
    return [kind, str(path)]


def check(argv: list[str]) -> None:
    """Run ``argv`` in-process and assert the property."""
    result = CliRunner().invoke(main, argv, catch_exceptions=True)
    out, err = result.stdout, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{argv}: {type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in out + err, argv
    assert "internal error" not in err, f"{argv}: {err}"
    assert result.exit_code in (0, 1, 2, 3), (argv, result.exit_code, err)
    if result.exit_code == 2:
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith("gitops-master: left out:")
                 and not line.startswith("gitops-master: not scanned:")]
        assert len(lines) == 1 and lines[0].startswith("gitops-master: error: "), f"{argv}: {err!r}"
    elif "--format" in argv and argv[argv.index("--format") + 1] == "json":
        json.loads(out)


def property_body(data: st.DataObject) -> None:
    """One example: pick a seed, mutate, lay out, run one command, check."""
    seed = data.draw(st.sampled_from(SEED_BUNDLES), label="seed")
    files = dict(seed_files(seed))
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        data.draw(st.sampled_from(MUTATIONS), label="mutation")(data, files)
    with tempfile.TemporaryDirectory(prefix="gm-fuzz-") as tmp:
        where = Path(tmp)
        path = lay_out(data, files, where)
        check(command(data, path, where))
