"""The one reader of request-length files: the Azure LLM inference trace 2023 and CSVs of the same kind.

Both pipelines take their requests from here: the AILFM kernel traces (``ailfm.traces.scenario``, which needs the
arrival times) and Compass's serving workloads (``ailfm.mapping.workload``, lengths only). A file has a header row
with ``ContextTokens,GeneratedTokens`` (the Azure trace's names, with ``TIMESTAMP`` for arrivals) or
``prompt_tokens,output_tokens``; lines starting with ``#`` are comments (a sample's citation). Source of the trace:
Patel et al., "Splitwise: Efficient generative LLM inference using phase splitting", ISCA 2024; CC-BY 4.0.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from ailfm.errors import FormatError
from ailfm.files import read_text

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
#: Accepted (prompt, output) column names, Azure's first.
LENGTH_COLUMNS = (("ContextTokens", "GeneratedTokens"), ("prompt_tokens", "output_tokens"))
#: Longest prompt or output a file may give: 100x the longest published context (Llama 4 Scout, 10485760 tokens);
#: larger values are typos, and overflow the int64 token arithmetic (1e30 did, with only a numpy warning).
MAX_TOKENS = 2**30


def read_length_trace(path: str | Path, *, arrivals: bool = True, min_output_tokens: int = 0) -> pd.DataFrame:
    """Read a length file into ``arrival_s`` (with ``arrivals``: seconds after the first request, from TIMESTAMP),
    ``prompt_tokens`` and ``output_tokens``, in file order.

    Prompts need at least one token, outputs at least ``min_output_tokens`` (Compass's decode steps need one).

    Raises
    ------
    FormatError
        Unreadable file, missing column, unparsable timestamp or a bad length (names the file and its line).
    """
    path = Path(path)
    text = read_text(path)
    line_of = [n for n, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.startswith("#")]
    if not line_of:
        raise FormatError(path, None, "no header and no requests")
    body = "\n".join(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    try:
        raw = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.ParserError as err:
        raise FormatError(path, None, f"cannot read a length file: {err}") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    columns = next((pair for pair in LENGTH_COLUMNS if set(pair) <= set(raw.columns)), None)
    if arrivals and (columns != LENGTH_COLUMNS[0] or AZURE_COLUMNS[0] not in raw.columns):
        missing = [c for c in AZURE_COLUMNS if c not in raw.columns]
        raise FormatError(path, line_of[0], f"missing column(s) {', '.join(missing)}; expected "
                                            f"{','.join(AZURE_COLUMNS)}")
    if columns is None:
        raise FormatError(path, line_of[0], f"header {list(raw.columns)} lacks ContextTokens,GeneratedTokens or "
                                            "prompt_tokens,output_tokens")
    if raw.empty:
        raise FormatError(path, None, "no requests")
    out = {}
    for column, name, least in ((columns[0], "prompt_tokens", 1), (columns[1], "output_tokens", min_output_tokens)):
        values = pd.to_numeric(raw[column].str.strip(), errors="coerce")
        bad = values.isna() | (values < least) | (values != values.round()) | (values > MAX_TOKENS)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise FormatError(path, line_of[row + 1], f"{column}: expected an integer in {least}..{MAX_TOKENS} "
                                                      f"(100x the longest published context), got "
                                                      f"{raw[column].iloc[row]!r}")
        out[name] = values.to_numpy(dtype=np.int64)
    if not arrivals:
        return pd.DataFrame(out)
    stamps = pd.to_datetime(raw["TIMESTAMP"], errors="coerce", format="mixed")
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise FormatError(path, line_of[row + 1], f"TIMESTAMP: not a date-time: {raw['TIMESTAMP'].iloc[row]!r}")
    seconds = (stamps - stamps.min()).dt.total_seconds().to_numpy()
    return pd.DataFrame({"arrival_s": seconds, **out})
