"""The malformed-input corpus (tests/corpus/cases.py): every case exits non-zero, without a traceback, naming the
file, field or option and, where the format has lines, the line."""

from __future__ import annotations

import pytest
from corpus.cases import _sub, cases, run_case

CASES = cases()


def test_the_corpus_covers_every_reader_with_at_least_200_cases():
    readers = {case.id.split("-")[0] for case in CASES}
    assert len(CASES) >= 200
    assert {"system", "hardware", "mapping", "pin", "trace", "hotspot", "demo", "policy", "option", "checkpoint",
            "output", "manifest"} <= readers
    assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_malformed_input_is_one_clean_error(case, tmp_path):
    outcome = run_case(case, tmp_path)
    assert outcome.code not in (None, 0), outcome.stderr
    assert "Traceback" not in outcome.stderr
    for expected in case.expect:
        assert _sub(expected, tmp_path) in outcome.stderr, outcome.stderr
