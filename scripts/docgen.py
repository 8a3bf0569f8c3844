"""What the doc generators share: write a generated file, or check that it is current."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_or_check(target: Path, text: str, check: bool, command: str) -> int:
    """Write ``text`` to ``target``; with ``check``, only say (exit code 1) when the file differs."""
    if check:
        if not target.exists() or target.read_text() != text:
            print(f"{target.relative_to(ROOT)} is stale: run {command}", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    print(f"wrote {target.relative_to(ROOT)}")
    return 0
