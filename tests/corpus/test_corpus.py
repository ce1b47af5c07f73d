"""The malformed-input corpus (tests/corpus/cases.py): every case exits non-zero, without a traceback, naming the
file, field or option and, where the format has lines, the line."""

from __future__ import annotations

import pytest
from corpus import gem5_scripts, models
from corpus.cases import Case, _sub, cases, run_case

CASES = cases()


def test_the_corpus_covers_every_reader_with_at_least_200_cases():
    readers = {case.id.split("-")[0] for case in CASES}
    assert len(CASES) >= 200
    assert {"system", "hardware", "mapping", "pin", "trace", "hotspot", "demo", "policy", "option", "checkpoint",
            "output", "manifest", "model", "lengths", "gem5"} <= readers
    assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_malformed_input_is_one_clean_error(case, tmp_path):
    outcome = run_case(case, tmp_path)
    assert outcome.code not in (None, 0), outcome.stderr
    assert "Traceback" not in outcome.stderr
    for expected in case.expect:
        assert _sub(expected, tmp_path) in outcome.stderr, outcome.stderr


@pytest.mark.parametrize(("entry", "argv", "files"), [
    ("ailfm", models.COMMANDS["trace"], {"config.json": models.config_text(models.LLAMA)}),
    ("ailfm", models.COMMANDS["trace"], {"config.json": models.config_text(models.VIT)}),
    ("ailfm", models.COMMANDS["trace"], {"config.json": models.config_text(models.BERT)}),
    ("ailfm", models.COMMANDS["simulate"], {"config.json": models.config_text(models.LLAMA)}),
    ("ailfm", models.COMMANDS["map"], {"config.json": models.config_text(models.MOE)}),
    ("ailfm", models.LENGTH_COMMANDS["trace"], {"l.csv": models.AZURE_HEADER + models.AZURE_ROW}),
    ("ailfm", models.LENGTH_COMMANDS["map"], {"l.csv": models.AZURE_HEADER + models.AZURE_ROW}),
    ("run_ailfm.py", gem5_scripts.RUN, {}),
    ("calibrate_nuca.py", gem5_scripts.CALIBRATE, {}),
    ("replay_traffic.py", gem5_scripts.REPLAY, {"rec.parquet": gem5_scripts.recording_bytes()}),
    ("collect", ("{d}/run",), {"run/summary.json": '{"energy_j": 1.0, "config": {"governor": "ail"}}\n'}),
], ids=["llama", "vit", "bert", "simulate", "map-moe", "lengths-trace", "lengths-map", "run-ailfm", "calibrate",
        "replay", "collect"])
def test_the_files_the_cases_spoil_are_accepted(entry, argv, files, tmp_path):
    """Each case differs from one of these by one bad value: the base itself runs (so a case's error is its value's;
    the unknown Hugging Face keys of the base, torch_dtype, architectures, quantization_config..., are accepted)."""
    outcome = run_case(Case("base", files, argv, (), entry=entry), tmp_path)
    assert outcome.code == 0, outcome.stderr
