"""Cut the small Azure length samples shipped in ``ailfm/traces/data`` from the full Azure trace.

The source is the Azure LLM inference trace 2023 (``AzureLLMInferenceTrace_{code,conv}.csv``), CC-BY 4.0:
Patel et al., "Splitwise: Efficient generative LLM inference using phase splitting", ISCA 2024.
The sample is the first ``--rows`` requests of each file, unchanged (same columns), so arrivals keep
their recorded spacing. Run: ``python -m ailfm.traces.azure_sample --source DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ailfm.traces.lengths import AZURE_COLUMNS, read_length_trace
from ailfm.traces.scenario import AZURE_SAMPLES

CITATION = ("Azure LLM inference trace 2023 (CC-BY 4.0), first {rows} requests of {name}. Cite: Pratyush Patel, "
            "Esha Choukse, Chaojie Zhang, Aashaka Shah, Inigo Goiri, Saeed Maleki, Ricardo Bianchini, \"Splitwise: "
            "Efficient generative LLM inference using phase splitting\", ISCA 2024.")


def write_sample(source: Path, name: str, target: Path, rows: int) -> None:
    """Copy the header and the first ``rows`` requests of ``source`` to ``target`` after validating them."""
    lines = source.read_text().splitlines()[: rows + 1]
    if lines[0].split(",") != list(AZURE_COLUMNS):
        raise SystemExit(f"{source}: expected columns {','.join(AZURE_COLUMNS)}, got {lines[0]}")
    target.write_text("\n".join(lines) + "\n")
    read_length_trace(target)
    target.with_suffix(".md").write_text(CITATION.format(rows=rows, name=name) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("../shared/data/azure-llm-inference-2023"),
                        help="folder holding AzureLLMInferenceTrace_code.csv and _conv.csv")
    parser.add_argument("--rows", type=int, default=1000, help="requests per sample")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    args = parser.parse_args(argv)
    for key, filename in AZURE_SAMPLES.items():
        name = f"AzureLLMInferenceTrace_{key.split('-')[1]}.csv"
        write_sample(args.source / name, name, args.out / filename, args.rows)
        print(f"wrote {args.out / filename} ({args.rows} requests of {name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
