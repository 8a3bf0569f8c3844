"""Helpers for the hostile-input tests: the attack corpus, a resource-limited runner, a write check.

Not named conftest: tests elsewhere import the top-level tests/conftest.py by name.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))  # planted.py, fuzzing.py

# Every case runs in a child process with this much address space and time.
ADDRESS_SPACE = 2 * 1024**3
TIMEOUT = 120
SLOW = 60  # seconds: a case slower than this fails even if it ends


def load_corpus_module():
    """scripts/make_attack_corpus.py as a module."""
    if "make_attack_corpus" in sys.modules:
        return sys.modules["make_attack_corpus"]
    spec = importlib.util.spec_from_file_location("make_attack_corpus", REPO / "scripts" / "make_attack_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_attack_corpus"] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Run:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_limited(args: list[str], cwd: Path) -> Run:
    """``gitops-master ARGS`` as a child process: 2 GiB of address space, a timeout, its own TMPDIR and HOME."""
    tmp = cwd / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), "TMPDIR": str(tmp),
           "HOME": str(cwd), "LC_ALL": "C.UTF-8"}
    argv = [sys.executable, "-m", "analyzer", *args]
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=env, preexec_fn=_limit, capture_output=True, timeout=TIMEOUT)
    return Run(argv, proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"),
               time.monotonic() - start)


def snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` (not following links, not under ``skip``) with its size and mtime."""
    seen: dict[str, tuple[int, int]] = {}
    stack = [str(root)]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            if entry.path == str(skip) or entry.path.startswith(str(skip) + os.sep):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            seen[entry.path] = (st.st_size, int(st.st_mtime_ns))
            if entry.is_dir(follow_symlinks=False) and entry.path.count(os.sep) < 60:
                stack.append(entry.path)
    return seen
