"""Where the reference data of ../shared lives, and a skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
HOTSPOT_REFERENCE = SHARED / "reference" / "hotspot"
AZURE_TRACES = SHARED / "data" / "azure-llm-inference-2023"


def require_shared(path: Path) -> Path:
    """Return ``path`` or skip the test, saying why (a user's clone has no ../shared)."""
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (it sits beside the repository only in the project's workspace)")
    return path
