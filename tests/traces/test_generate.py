"""Trace generation and the trace file format: determinism, scenario knobs, round trips, validation errors."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reference_data import AZURE_TRACES, require_shared

from ailfm.errors import ConfigError, FormatError
from ailfm.traces import TRACE_COLUMNS, Scenario, generate_trace, read_trace, write_trace
from ailfm.traces.configs import load_model_config
from ailfm.traces.lengths import read_length_trace
from ailfm.traces.scenario import request_lengths

SMALL = "gpt2-xl"


@pytest.fixture(scope="module")
def gpt2():
    return load_model_config(SMALL)


@pytest.fixture(scope="module")
def azure_trace(gpt2):
    return generate_trace(gpt2, Scenario(requests=3, lengths="azure-code", max_context_tokens=64), seed=4)


def test_same_seed_same_trace_other_seed_other_requests(gpt2, azure_trace):
    scenario = Scenario(requests=3, lengths="azure-code", max_context_tokens=64)
    pd.testing.assert_frame_equal(azure_trace, generate_trace(gpt2, scenario, seed=4))
    assert not request_lengths(scenario, 4).equals(request_lengths(scenario, 5))


def test_columns_and_request_bookkeeping(azure_trace):
    assert list(azure_trace.columns) == list(TRACE_COLUMNS)
    lengths = request_lengths(Scenario(requests=3, lengths="azure-code"), 4)
    per_request = azure_trace.groupby("request")
    # every output token is produced once: prefill yields the first, each decode step one more
    expected = np.minimum(lengths["output_tokens"].to_numpy(), 63)
    np.testing.assert_array_equal(per_request["tokens"].sum().to_numpy(), expected)
    np.testing.assert_array_equal(per_request["instance"].first().to_numpy(), [0, 1, 2])
    np.testing.assert_allclose(per_request["arrival_s"].first().to_numpy(), lengths["arrival_s"].to_numpy())
    assert (azure_trace["active_threads"] <= azure_trace["threads"]).all()
    # execution order within an instance: requests in turn, each its prefill then its decode steps in order
    for _, rows in azure_trace.groupby("instance"):
        assert rows["request"].is_monotonic_increasing
        assert all(r["step"].is_monotonic_increasing for _, r in rows.groupby("request"))
    first = azure_trace[(azure_trace["request"] == 0) & (azure_trace["step"] == 0)]
    assert first["op"].iloc[0] == "embedding" and first["op"].iloc[-1] == "lm_head"


def test_fixed_batch_shape_and_scaling(gpt2):
    one = generate_trace(gpt2, Scenario(instances=2, threads_per_instance=8, requests=4, lengths="fixed:32,5"))
    assert (one["arrival_s"] == 0).all() and one["request"].nunique() == 4
    assert one["tokens"].sum() == 20
    decode = one[one["phase"] == "decode"]
    assert sorted(decode["step"].unique()) == [1, 2, 3, 4]
    per_pass = len(one[(one["request"] == 0) & (one["step"] == 1)])
    assert len(one) == 4 * 5 * per_pass
    # 8 threads share each kernel: per-thread instructions of a big GEMV halve from 4 to 8 threads (to the
    # rounding of ceil(rows / T) rows on the busiest thread)
    four = generate_trace(gpt2, Scenario(instances=2, threads_per_instance=4, requests=4, lengths="fixed:32,5"))
    sel = one["op"] == "lm_head"
    np.testing.assert_allclose(four.loc[sel, "instructions_per_thread"].to_numpy(),
                               2 * one.loc[sel, "instructions_per_thread"].to_numpy(), rtol=1e-3)


def test_decode_attention_grows_with_the_kv_cache(gpt2):
    trace = generate_trace(gpt2, Scenario(requests=1, lengths="fixed:16,6"))
    scores = trace[(trace["op"] == "attn_scores") & (trace["layer"] == 0)]
    assert np.all(np.diff(scores["flops"].to_numpy()[1:]) > 0)
    gemv = trace[(trace["op"] == "q_proj") & (trace["phase"] == "decode")]
    assert gemv["flops"].nunique() == 1


def test_encoder_requests_have_one_pass_and_no_tokens():
    trace = generate_trace("bert-large", Scenario(requests=2, lengths="fixed:128,50"))
    assert set(trace["phase"]) == {"prefill"} and trace["tokens"].sum() == 0


def test_memory_bound_decode_and_compute_bound_prefill_in_the_trace(gpt2):
    trace = generate_trace(gpt2, Scenario(requests=1, lengths="fixed:256,4"))
    dram_bytes = trace["dram_misses_per_thread"] * trace["active_threads"] * 64
    intensity = trace["flops"] / dram_bytes
    prefill_gemm = intensity[(trace["kernel"] == "gemm")].min()
    decode_gemv = intensity[(trace["kernel"] == "gemv") & (trace["phase"] == "decode")].max()
    assert prefill_gemm > 20 * decode_gemv


def test_time_window_and_request_cap():
    base = Scenario(requests=50, lengths="azure-conv")
    arrivals = request_lengths(base, 1)["arrival_s"]
    window = float(arrivals.iloc[10])
    kept = request_lengths(Scenario(requests=50, lengths="azure-conv", time_window_s=window), 1)
    assert len(kept) == 10 and (kept["arrival_s"] < window).all()


def test_scenario_rejects_bad_values():
    with pytest.raises(ConfigError, match="threads_per_instance"):
        Scenario(threads_per_instance=0)
    with pytest.raises(ConfigError, match="fixed:P,O"):
        Scenario(lengths="fixed:12")
    with pytest.raises(ConfigError, match="lengths"):
        request_lengths(Scenario(lengths="/no/such.csv"), 0)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip(tmp_path, azure_trace, suffix):
    path = write_trace(tmp_path / f"trace{suffix}", azure_trace)
    back = read_trace(path)
    pd.testing.assert_frame_equal(back, azure_trace, check_exact=False, rtol=1e-12)


def test_malformed_csv_trace_names_line_and_column(tmp_path, azure_trace):
    path = tmp_path / "trace.csv"
    bad = azure_trace.head(5).copy()
    bad["kernel"] = bad["kernel"].astype(str)
    bad.loc[3, "kernel"] = "matmul"
    bad.to_csv(path, index=False)
    with pytest.raises(FormatError, match="column kernel: 'matmul'") as err:
        read_trace(path)
    assert err.value.line == 5
    azure_trace.head(5).assign(dram_misses_per_thread=[0, 1, -2, 3, 4]).to_csv(path, index=False)
    with pytest.raises(FormatError, match="column dram_misses_per_thread: must be >= 0") as err:
        read_trace(path)
    assert err.value.line == 4
    azure_trace.head(2).drop(columns=["tokens"]).to_csv(path, index=False)
    with pytest.raises(FormatError, match="missing column"):
        read_trace(path)


@pytest.mark.parametrize(("column", "value", "message"), [
    ("activity", 1.5, "must be <= 1"), ("active_threads", 99, "exceeds threads"), ("phase", "warmup", "prefill")])
def test_out_of_range_values_are_named(tmp_path, azure_trace, column, value, message):
    bad = azure_trace.head(3).copy()
    bad[column] = bad[column].astype(object)
    bad.loc[1, column] = value
    path = tmp_path / "trace.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(FormatError, match=f"column {column}: .*{message}") as err:
        read_trace(path)
    assert err.value.line == 3


def test_malformed_parquet_trace_names_row(tmp_path, azure_trace):
    path = tmp_path / "trace.parquet"
    bad = azure_trace.head(4).copy()
    bad["step"] = bad["step"].astype(float)
    bad.loc[2, "step"] = 1.5
    bad.to_parquet(path)
    with pytest.raises(FormatError, match="row 2, column step: expected an integer"):
        read_trace(path)
    with pytest.raises(FormatError, match="use .parquet or .csv"):
        read_trace(tmp_path / "trace.json")


def test_length_trace_errors_name_the_line(tmp_path):
    path = tmp_path / "lengths.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,10,3\n2023-11-16 18:17:04.0,x,3\n")
    with pytest.raises(FormatError, match="ContextTokens") as err:
        read_length_trace(path)
    assert err.value.line == 3
    path.write_text("when,ContextTokens,GeneratedTokens\n")
    with pytest.raises(FormatError, match="TIMESTAMP"):
        read_length_trace(path)


def test_shipped_sample_is_the_head_of_the_azure_trace():
    folder = require_shared(AZURE_TRACES)
    for name in ("code", "conv"):
        sample = read_length_trace(Path(str(resources.files("ailfm.traces.data") / f"azure_{name}_sample.csv")))
        full = read_length_trace(folder / f"AzureLLMInferenceTrace_{name}.csv").head(len(sample))
        pd.testing.assert_frame_equal(sample, full)


def test_shipped_samples_carry_their_citation():
    for name in ("code", "conv"):
        note = resources.files("ailfm.traces.data") / f"azure_{name}_sample.md"
        assert "Splitwise" in note.read_text() and "CC-BY 4.0" in note.read_text()


def test_one_length_reader_for_both_pipelines(tmp_path):
    """The kernel traces and Compass read a length file with the same reader: same lengths, same errors."""
    from ailfm.mapping.workload import load_lengths

    sample = Path(str(resources.files("ailfm.traces.data") / "azure_conv_sample.csv"))
    compass = load_lengths(sample)
    traces = request_lengths(Scenario(lengths=str(sample), requests=len(compass.prompt_tokens)), seed=0)
    np.testing.assert_array_equal(compass.prompt_tokens, traces["prompt_tokens"])
    np.testing.assert_array_equal(compass.output_tokens, traces["output_tokens"])
    bad = tmp_path / "lengths.csv"
    bad.write_text("# a comment\nTIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,10,3\n"
                   "2023-11-16 18:17:04.0,-4,3\n")
    errors = []
    for read in (load_lengths, lambda path: request_lengths(Scenario(lengths=str(path), requests=2), seed=0)):
        with pytest.raises(FormatError) as err:
            read(bad)
        errors.append(str(err.value))
    assert errors[0] == errors[1] == (f"{bad}:4: ContextTokens: expected an integer in 1..1073741824 (100x the "
                                      "longest published context), got '-4'")
