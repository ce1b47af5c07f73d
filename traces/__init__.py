"""LLM inference workloads as kernel traces (AILFM pipeline: workload trace)."""
