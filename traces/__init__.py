"""LLM inference workloads as kernel traces (AILFM pipeline: workload trace).

The engine's entry points: :func:`load_model_config`, :class:`Scenario`, :func:`generate_trace`,
:func:`read_trace` / :func:`write_trace`, :func:`load_kernel_profiles`; see ``docs/traces.md``.
"""

from ailfm.traces.configs import ModelConfig, load_model_config, shipped_models
from ailfm.traces.decompose import KernelType, pass_kernels, per_thread_work, thread_rows
from ailfm.traces.generate import generate_trace
from ailfm.traces.io import read_trace, write_trace
from ailfm.traces.profiles import KernelProfile, load_kernel_profiles
from ailfm.traces.scenario import Scenario
from ailfm.traces.schema import TRACE_COLUMNS

__all__ = ["ModelConfig", "load_model_config", "shipped_models", "KernelType", "pass_kernels", "per_thread_work",
           "thread_rows", "generate_trace", "read_trace", "write_trace", "KernelProfile", "load_kernel_profiles",
           "Scenario", "TRACE_COLUMNS"]
