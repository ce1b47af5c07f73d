"""Compass: mapping-space and hardware exploration for multi-chiplet LLM accelerators."""
