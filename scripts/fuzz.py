#!/usr/bin/env python3
"""The long fuzz run: mutated sample bundles through every command, never a traceback.

    python3 scripts/fuzz.py --examples 10000            # about 35 minutes on 2 cores
    python3 scripts/fuzz.py --examples 500 --seed 7     # reproducible shorter run

Prints the number of examples run and, on a failure, the smallest failing
example hypothesis found (with a blob to replay it) and exits 1. The property
and the mutations are in tests/hostile/fuzzing.py; the short profile of the
same property runs in the test suite (tests/hostile/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "hostile"))

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

import fuzzing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000, help="how many examples to run (default 10000)")
    parser.add_argument("--seed", type=int, default=None, help="a fixed random seed (default: a new one)")
    parser.add_argument("--no-shrink", action="store_true", help="report the first failure as found, unshrunk")
    args = parser.parse_args(argv)

    count = 0
    phases = [Phase.generate] if args.no_shrink else [Phase.generate, Phase.shrink]

    @settings(max_examples=args.examples, deadline=None, database=None, print_blob=True, phases=phases,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        nonlocal count
        count += 1
        if count % 500 == 0:
            print(f"fuzz: {count} examples, {time.monotonic() - start:.0f}s", file=sys.stderr, flush=True)
        fuzzing.property_body(data)

    if args.seed is not None:
        run = seed(args.seed)(run)
    start = time.monotonic()
    try:
        run()
    except Exception as exc:  # noqa: BLE001 (hypothesis re-raises the property's failure)
        traceback.print_exc()
        print(f"fuzz: FAILED after {count} examples in {time.monotonic() - start:.0f}s: {type(exc).__name__}: {exc}")
        return 1
    print(f"fuzz: {count} examples in {time.monotonic() - start:.0f}s, no failure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
