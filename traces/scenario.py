"""A serving scenario: W inference instances of T threads, and the requests they serve.

Prompt and output lengths, and arrival times, come from the Azure LLM inference trace 2023
(Patel et al., "Splitwise: Efficient generative LLM inference using phase splitting", ISCA 2024;
CC-BY 4.0), from a fixed batch, or from any CSV with the Azure trace's columns
(``TIMESTAMP,ContextTokens,GeneratedTokens``, read by ``ailfm.traces.lengths``, the reader Compass uses too). The
package ships a 1000-request window of each Azure trace (``ailfm/traces/data/azure_{code,conv}_sample.csv``, made by
``python -m ailfm.traces.azure_sample``), so no download is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ailfm.errors import ConfigError
from ailfm.traces.lengths import read_length_trace

#: Shipped length samples by name.
AZURE_SAMPLES = {"azure-code": "azure_code_sample.csv", "azure-conv": "azure_conv_sample.csv"}
#: Default LLC capacity per thread: 128 banks x 128 KiB (the per-slice size of HotSniper's
#: ``config/kingscross-nuca.cfg``) shared by 64 cores.
DEFAULT_LLC_BYTES_PER_THREAD = 128 * 128 * 1024 // 64


@dataclass(frozen=True)
class Scenario:
    """What runs on the chip.

    Attributes
    ----------
    instances : int
        Inference instances (W); requests go to them round-robin in arrival order.
    threads_per_instance : int
        Threads per instance (T); every kernel is split across them.
    requests : int
        Serve the first N requests of the length source (after the seeded window start).
    lengths : str
        ``azure-code``, ``azure-conv``, ``fixed:P,O`` (a batch of N requests of P prompt and O output
        tokens, all arriving at 0) or a path to a CSV with the Azure trace's columns.
    time_window_s : float or None
        Keep only requests arriving before this time (after N is applied); ``None`` keeps all.
    arrival_speedup : float
        Divide trace inter-arrival times by this (1: as recorded).
    max_context_tokens : int or None
        Clip prompt + output to this many tokens (at most the model's ``max_positions``); None: every request must
        fit the model's context (a longer one is refused).
    weight_bytes : float
        Bytes per weight (2: llama.cpp F16 model).
    llc_bytes_per_thread : int
        LLC capacity each thread can count on; an instance has T times this.
    """

    instances: int = 3
    threads_per_instance: int = 16
    requests: int = 6
    lengths: str = "azure-conv"
    time_window_s: float | None = None
    arrival_speedup: float = 1.0
    max_context_tokens: int | None = None
    weight_bytes: float = 2.0
    llc_bytes_per_thread: int = DEFAULT_LLC_BYTES_PER_THREAD

    def __post_init__(self):
        for name in ("instances", "threads_per_instance", "requests", "llc_bytes_per_thread"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(name, f"must be a positive integer, got {value!r}")
        for name in ("arrival_speedup", "weight_bytes"):
            if not getattr(self, name) > 0:
                raise ConfigError(name, f"must be > 0, got {getattr(self, name)!r}")
        if self.time_window_s is not None and not self.time_window_s > 0:
            raise ConfigError("time_window_s", f"must be > 0, got {self.time_window_s!r}")
        if self.max_context_tokens is not None and self.max_context_tokens < 2:
            raise ConfigError("max_context_tokens", f"must be >= 2, got {self.max_context_tokens!r}")
        parse_fixed_lengths(self.lengths)  # validates a fixed:P,O spelling early


def parse_fixed_lengths(spec: str) -> tuple[int, int] | None:
    """``fixed:P,O`` -> (P, O); any other spelling -> None."""
    if not spec.startswith("fixed:"):
        return None
    try:
        prompt, output = (int(v) for v in spec[len("fixed:"):].split(","))
    except ValueError:
        raise ConfigError("lengths", f"expected fixed:P,O with two integers, got {spec!r}") from None
    if prompt < 1 or output < 0:
        raise ConfigError("lengths", f"fixed:P,O needs P >= 1 and O >= 0, got {spec!r}")
    return prompt, output


def request_lengths(scenario: Scenario, seed: int) -> pd.DataFrame:
    """The scenario's requests in arrival order: ``arrival_s, prompt_tokens, output_tokens``.

    From a trace, the seed picks where a window of ``scenario.requests`` consecutive requests starts
    (so the recorded arrival process is kept); arrivals are shifted to start at 0 and divided by
    ``arrival_speedup``. A fixed batch ignores the seed.
    """
    fixed = parse_fixed_lengths(scenario.lengths)
    n = scenario.requests
    if fixed is not None:
        frame = pd.DataFrame({"arrival_s": np.zeros(n), "prompt_tokens": np.full(n, fixed[0]),
                              "output_tokens": np.full(n, fixed[1])})
    else:
        if scenario.lengths in AZURE_SAMPLES:
            path = Path(str(resources.files("ailfm.traces.data") / AZURE_SAMPLES[scenario.lengths]))
        else:
            path = Path(scenario.lengths)
            if not path.is_file():
                raise ConfigError("lengths", f"{scenario.lengths!r} is not azure-code, azure-conv, fixed:P,O "
                                             "or an existing CSV file")
        trace = read_length_trace(path).sort_values("arrival_s", kind="stable").reset_index(drop=True)
        start = int(np.random.default_rng(seed).integers(0, max(len(trace) - n, 0) + 1))
        frame = trace.iloc[start:start + n].reset_index(drop=True)
        frame["arrival_s"] = (frame["arrival_s"] - frame["arrival_s"].iloc[0]) / scenario.arrival_speedup
    if scenario.time_window_s is not None:
        frame = frame[frame["arrival_s"] < scenario.time_window_s].reset_index(drop=True)
    return frame
