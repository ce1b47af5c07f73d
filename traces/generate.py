"""Kernel traces of a serving scenario: one row per (instance, request, phase, step, kernel).

The engine consumes kernels, not instructions: a decode step of a 7B model on 16 threads is hundreds of
millions of instructions per thread, so each row carries the counts of one kernel, already split across
the instance's threads (see :mod:`ailfm.traces.decompose`) and turned into instructions, LLC accesses
and DRAM misses with the characterisation table (:mod:`ailfm.traces.profiles`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ailfm.errors import ConfigError
from ailfm.traces.configs import ModelConfig, load_model_config
from ailfm.traces.decompose import (
    KernelType,
    Precision,
    active_threads,
    busiest_thread_fraction,
    check_traceable,
    pass_kernels,
)
from ailfm.traces.profiles import KernelProfile, cold_fraction, load_kernel_profiles
from ailfm.traces.scenario import Scenario, request_lengths
from ailfm.traces.schema import TRACE_COLUMNS, trace_dtypes

LINE_BYTES = 64


def request_kernels(model: ModelConfig, prompt_tokens: int, output_tokens: int, scenario: Scenario,
                    profiles: dict[KernelType, KernelProfile]) -> dict[str, np.ndarray]:
    """Columns (except instance/request/arrival) of one request: its prefill pass, then ``output_tokens - 1``
    decode steps (the prefill already yields the first token). Encoders run the prefill only."""
    precision = Precision(weight_bytes=scenario.weight_bytes)
    steps = [(pass_kernels(model, prompt_tokens, 0, precision), np.array([0]))]
    if not model.is_encoder and output_tokens > 1:
        decode = np.arange(1, output_tokens)
        steps.append((pass_kernels(model, 1, prompt_tokens + decode - 1, precision), decode))
    threads = scenario.threads_per_instance
    llc_instance_bytes = scenario.llc_bytes_per_thread * threads
    parts = []
    for table, step_ids in steps:
        kinds = table.kinds
        n_k, n_s = table.work_units.shape
        prof = [profiles[k] for k in kinds]
        ipu = np.array([p.instructions_per_unit for p in prof])[:, None]
        apki = np.array([p.llc_apki for p in prof])[:, None]
        warm_mpki = np.array([p.dram_mpki_warm for p in prof])[:, None]
        per_line = np.array([p.dram_misses_per_line for p in prof])[:, None]
        touched = table.bytes_touched
        # Weights and KV cache were last touched one pass ago: they survive only if the whole pass fits.
        pass_footprint = table.stream_bytes.sum(axis=0, keepdims=True)
        local = touched - table.stream_bytes
        cold = (table.stream_bytes * cold_fraction(pass_footprint, llc_instance_bytes)
                + local * cold_fraction(touched, llc_instance_bytes)) / np.maximum(touched, 1.0)
        share = busiest_thread_fraction(table.rows.astype(np.int64), threads)
        instr = table.work_units * ipu * share
        dram = share * per_line * cold * touched / LINE_BYTES + instr * warm_mpki / 1000.0 * (1.0 - cold)
        tokens = np.zeros((n_k, n_s), dtype=np.int32)
        if not model.is_encoder and output_tokens > 0:
            tokens[-1, :] = 1
        parts.append({
            "phase": np.repeat(np.array(["prefill" if step_ids[0] == 0 else "decode"]), n_k * n_s),
            "step": np.repeat(step_ids, n_k),
            "layer": np.tile(table.layers, n_s),
            "op": np.tile(np.array(table.names), n_s),
            "kernel": np.tile(np.array([k.value for k in kinds]), n_s),
            "work_units": table.work_units.T.ravel(),
            "flops": table.flops.T.ravel(),
            "bytes": touched.T.ravel(),
            "active_threads": active_threads(table.rows.astype(np.int64), threads).T.ravel(),
            "instructions_per_thread": instr.T.ravel(),
            "llc_accesses_per_thread": np.maximum(instr * apki / 1000.0, dram).T.ravel(),  # a DRAM miss is one too
            "dram_misses_per_thread": dram.T.ravel(),
            "working_set_bytes_per_thread": (touched * share).T.ravel(),
            "base_cpi": np.tile([p.base_cpi for p in prof], n_s),
            "activity": np.tile([p.activity for p in prof], n_s),
            "tokens": tokens.T.ravel(),
        })
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def check_context(model: ModelConfig, scenario: Scenario, lengths: pd.DataFrame) -> int:
    """The context requests are clipped to: the scenario's ``max_context_tokens`` (clipping asked for), else the
    model's ``max_positions``, which every request must then fit (a longer one is refused, naming the model's field
    and the request, not silently cut: ``max_position_embeddings: 1`` would serve 1-token requests)."""
    check_traceable(model)  # a missing max_position_embeddings is named as missing
    key, path, line = model.context_field
    if model.is_vision:  # a request is one image
        return model.max_positions
    if scenario.max_context_tokens is not None:
        if scenario.max_context_tokens > model.max_positions:
            raise ConfigError(key, f"{model.name}: {model.max_positions} positions is shorter than the context "
                                   f"to clip requests to ({scenario.max_context_tokens} tokens)", path=path, line=line)
        return scenario.max_context_tokens
    tokens = lengths["prompt_tokens"].to_numpy() + (0 if model.is_encoder else lengths["output_tokens"].to_numpy())
    if len(tokens) and tokens.max() > model.max_positions:
        k = int(np.argmax(tokens))
        prompt, output = int(lengths["prompt_tokens"].iloc[k]), int(lengths["output_tokens"].iloc[k])
        served = f"{prompt} prompt tokens" if model.is_encoder else f"{prompt} prompt + {output} output tokens"
        raise ConfigError(key, f"{model.name}: {model.max_positions} positions is shorter than the longest request "
                               f"served (request {k} of lengths {scenario.lengths!r}: {served}); serve shorter "
                               "requests, or clip them (ailfm trace generate --max-context)", path=path, line=line)
    return model.max_positions


def generate_trace(model: ModelConfig | str, scenario: Scenario | None = None, seed: int = 0,
                   profiles: dict[KernelType, KernelProfile] | None = None) -> pd.DataFrame:
    """The kernel trace of ``scenario`` served by ``model``; the same seed gives the same frame.

    Parameters
    ----------
    model : ModelConfig or str
        A configuration, a shipped model name or a path to a ``config.json``.
    scenario : Scenario, optional
        Instances, threads, requests and their lengths (default ``Scenario()``: 3 x 16 threads, 6 Azure
        conversation requests); ``requests`` and ``time_window_s`` keep traces short.
    seed : int
        Picks the window of the length trace (see :func:`ailfm.traces.scenario.request_lengths`).
    profiles : dict, optional
        Characterisation table (default: the shipped one).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRACE_COLUMNS`, rows in execution order within each instance; ``attrs`` holds the
        model name, seed and scenario.
    """
    model = load_model_config(model) if not isinstance(model, ModelConfig) else model
    scenario = scenario if scenario is not None else Scenario()
    profiles = profiles if profiles is not None else load_kernel_profiles()
    lengths = request_lengths(scenario, seed)
    context = check_context(model, scenario, lengths)
    frames = []
    for request, (arrival_s, prompt, output) in enumerate(lengths.itertuples(index=False)):
        if model.is_encoder:
            prompt, output = min(int(prompt), context), 0
        else:
            output = min(int(output), context - 1)
            prompt = max(1, min(int(prompt), context - max(output, 1)))
        columns = request_kernels(model, prompt, output, scenario, profiles)
        n = len(columns["op"])
        frames.append(pd.DataFrame({
            "instance": np.full(n, request % scenario.instances), "request": np.full(n, request),
            "arrival_s": np.full(n, arrival_s), "threads": np.full(n, scenario.threads_per_instance), **columns}))
    if frames:
        trace = pd.concat(frames, ignore_index=True)
    else:
        trace = pd.DataFrame({c: pd.Series(dtype=t) for c, t in trace_dtypes().items()})
    trace = trace[list(TRACE_COLUMNS)].astype(trace_dtypes())
    trace = trace.sort_values(["instance", "request"], kind="stable").reset_index(drop=True)
    trace.attrs.update(model=model.name, seed=int(seed), scenario=repr(scenario))
    return trace
