"""Property-based fuzzing over mutated sample bundles (see fuzzing.py for the property).

The short profile runs with the suite: a fixed set of examples (derandomized,
so CI is reproducible), about half a minute. The long one explores at random:

    python3 scripts/fuzz.py --examples 10000
    python3 -m pytest -m fuzz_long tests/hostile/test_fuzz.py   # FUZZ_EXAMPLES=10000 by default
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzing import property_body

SHORT_EXAMPLES = int(os.environ.get("FUZZ_SHORT_EXAMPLES", "200"))
COMMON = dict(deadline=None, database=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


@settings(max_examples=SHORT_EXAMPLES, derandomize=True, **COMMON)
@given(data=st.data())
def test_mutated_bundles_never_crash(data):
    property_body(data)


@pytest.mark.fuzz_long
@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "10000")), derandomize=False, **COMMON)
@given(data=st.data())
def test_mutated_bundles_never_crash_long(data):
    property_body(data)
