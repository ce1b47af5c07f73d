"""The C kernels that ``python -m ailfm.traces.characterise`` runs under cachegrind (package data)."""
