"""Derive the packaged request-length samples from the Azure LLM inference trace 2023.

Source: ../shared/data/azure-llm-inference-2023/AzureLLMInferenceTrace_{conv,code}.csv (CC-BY 4.0), described in
P. Patel et al., "Splitwise: Efficient generative LLM inference using phase splitting", ISCA 2024. The samples
(2,000 requests each, drawn without replacement with seed 0, kept in arrival order) are written to
mapping/presets/azure_{conv,code}_lengths.csv with the attribution in their header. Skips (exit 0) when the
trace is absent, since only the project's workspace has ../shared.

    python bench/compass_lengths.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ailfm.traces.lengths import read_length_trace

REPO = Path(__file__).resolve().parents[1]
TRACE = REPO.parent / "shared" / "data" / "azure-llm-inference-2023"
OUT = REPO / "mapping" / "presets"
N_SAMPLES = 2000


def main() -> int:
    if not TRACE.exists():
        print(f"skip: {TRACE} is absent")
        return 0
    for kind in ("conv", "code"):
        frame = read_length_trace(TRACE / f"AzureLLMInferenceTrace_{kind}.csv", arrivals=False)
        rows = np.sort(np.random.default_rng(0).choice(len(frame), size=N_SAMPLES, replace=False))
        sample = frame.iloc[rows][["prompt_tokens", "output_tokens"]]
        path = OUT / f"azure_{kind}_lengths.csv"
        with path.open("w") as handle:
            handle.write(f"# {N_SAMPLES} requests sampled (seed 0, arrival order) from "
                         f"AzureLLMInferenceTrace_{kind}.csv,\n"
                         "# Azure LLM inference trace 2023, CC-BY 4.0. Cite: P. Patel, E. Choukse, C. Zhang, A. Shah,\n"
                         "# I. Goiri, S. Maleki, R. Bianchini, 'Splitwise: Efficient generative LLM inference using\n"
                         "# phase splitting', ISCA 2024. Regenerate with: python bench/compass_lengths.py\n")
            sample.to_csv(handle, index=False)
        print(f"{path.relative_to(REPO)}: {len(sample)} requests, median prompt {sample.prompt_tokens.median():.0f}, "
              f"median output {sample.output_tokens.median():.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
