"""What the engine runs: per inference instance, a sequence of kernels that all its threads execute together.

An instance's ``threads`` threads split every kernel evenly (llama.cpp's work division) and meet at a barrier after
it, so a kernel ends when its slowest thread does. The arrays are flat over all kernels of all instances, grouped by
instance and in execution order; ``instance_start[i]:instance_start[i + 1]`` is instance ``i``'s slice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ailfm.errors import ConfigError


@dataclass(frozen=True, eq=False)
class Workload:
    """Kernel sequences of ``n_instances`` instances of ``threads_per_instance`` threads each.

    Per kernel (flat arrays of length ``n_kernels``): ``kernel_type`` (index into ``kernel_type_names``),
    ``instructions``, ``llc_accesses`` and ``dram_misses`` per thread, ``base_cpi`` (cycles per instruction with
    every access hitting the private caches), ``activity`` (switching activity while issuing, for power),
    ``ready_s`` (the kernel cannot start earlier: its request's arrival), ``request`` (global request id),
    ``tokens`` (tokens produced when it finishes), ``active_threads`` (threads ``0 .. active - 1`` have work, the
    others wait at the barrier), ``working_set_bytes`` (what a thread touches: the cold-cache refill of a migration).
    Per request: ``request_arrival_s``.
    """

    name: str
    threads_per_instance: int
    instance_start: np.ndarray
    kernel_type: np.ndarray
    kernel_type_names: tuple[str, ...]
    instructions: np.ndarray
    llc_accesses: np.ndarray
    dram_misses: np.ndarray
    base_cpi: np.ndarray
    activity: np.ndarray
    ready_s: np.ndarray
    request: np.ndarray
    tokens: np.ndarray
    active_threads: np.ndarray
    working_set_bytes: np.ndarray
    request_arrival_s: np.ndarray

    def __post_init__(self):
        n = len(self.kernel_type)
        for name in ("instructions", "llc_accesses", "dram_misses", "base_cpi", "activity", "ready_s", "request",
                     "tokens", "active_threads", "working_set_bytes"):
            values = getattr(self, name)
            if values.shape != (n,):
                raise ConfigError(f"workload.{name}", f"has shape {values.shape}, expected ({n},)")
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                raise ConfigError(f"workload.{name}", "must be finite and non-negative")
        if np.any(self.base_cpi <= 0):
            raise ConfigError("workload.base_cpi", "must be positive")
        if np.any(self.active_threads > self.threads_per_instance):
            raise ConfigError("workload.active_threads", f"exceeds threads_per_instance {self.threads_per_instance}")
        if self.threads_per_instance < 1:
            raise ConfigError("workload.threads_per_instance", "must be at least 1")
        if self.instance_start[0] != 0 or self.instance_start[-1] != n or np.any(np.diff(self.instance_start) < 0):
            raise ConfigError("workload.instance_start", "must rise from 0 to the kernel count")

    @property
    def n_instances(self) -> int:
        return len(self.instance_start) - 1

    @property
    def n_threads(self) -> int:
        return self.n_instances * self.threads_per_instance

    @property
    def n_kernels(self) -> int:
        return len(self.kernel_type)

    @property
    def n_requests(self) -> int:
        return len(self.request_arrival_s)

    @property
    def thread_instance(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_instances), self.threads_per_instance)

    @property
    def total_tokens(self) -> int:
        return int(self.tokens.sum())


def workload_from_arrays(name: str, threads_per_instance: int, instance: np.ndarray, kernel_type: np.ndarray,
                         kernel_type_names: tuple[str, ...], request_arrival_s: np.ndarray,
                         **columns: np.ndarray) -> Workload:
    """Build a ``Workload`` from per-kernel columns and an ``instance`` column (stable-sorted by instance)."""
    instance = np.asarray(instance, dtype=int)
    order = np.argsort(instance, kind="stable")
    counts = np.bincount(instance, minlength=int(instance.max()) + 1 if len(instance) else 0)
    columns = {key: np.asarray(value)[order] for key, value in columns.items()}
    request = columns.pop("request").astype(int)
    return Workload(name=name, threads_per_instance=threads_per_instance,
                    instance_start=np.concatenate([[0], np.cumsum(counts)]),
                    kernel_type=np.asarray(kernel_type, dtype=int)[order], kernel_type_names=tuple(kernel_type_names),
                    request=request, request_arrival_s=np.asarray(request_arrival_s, dtype=float),
                    **{key: np.asarray(value, dtype=float) for key, value in columns.items()})


def workload_from_trace(trace: pd.DataFrame, name: str | None = None) -> Workload:
    """The engine's view of a kernel trace (``ailfm.traces`` format: one row per kernel, per-thread columns)."""
    threads = trace["threads"].unique()
    if len(threads) != 1:
        raise ConfigError("threads", f"every instance must have the same thread count, got {sorted(threads)}")
    kernel = trace["kernel"]
    names = tuple(str(c) for c in kernel.cat.categories) if hasattr(kernel, "cat") else tuple(sorted(kernel.unique()))
    codes = kernel.cat.codes.to_numpy() if hasattr(kernel, "cat") else np.searchsorted(names, kernel.to_numpy())
    requests = trace.groupby("request", sort=True)["arrival_s"].first()
    if not np.array_equal(requests.index.to_numpy(), np.arange(len(requests))):
        raise ConfigError("request", "request ids must run 0..N-1")
    return workload_from_arrays(
        name or str(trace.attrs.get("model", "trace")), int(threads[0]), trace["instance"].to_numpy(), codes, names,
        requests.to_numpy(dtype=float),
        instructions=trace["instructions_per_thread"].to_numpy(),
        llc_accesses=trace["llc_accesses_per_thread"].to_numpy(),
        dram_misses=trace["dram_misses_per_thread"].to_numpy(), base_cpi=trace["base_cpi"].to_numpy(),
        activity=trace["activity"].to_numpy(), ready_s=trace["arrival_s"].to_numpy(),
        request=trace["request"].to_numpy(), tokens=trace["tokens"].to_numpy(),
        active_threads=trace["active_threads"].to_numpy(),
        working_set_bytes=trace["working_set_bytes_per_thread"].to_numpy())


def synthetic_workload(kernels: list[dict], *, instances: int = 3, threads: int = 16, repeat: int = 1,
                       arrival_s: float = 0.0, name: str = "synthetic") -> Workload:
    """A hand-made workload: every instance runs ``kernels`` ``repeat`` times as one request ending in one token.

    Each kernel is a mapping with ``instructions``, ``llc_accesses``, ``dram_misses`` (per thread), ``base_cpi``,
    ``activity`` and ``kernel_type`` (a name); for tests, examples and calibration without a trace.
    """
    rows = [k for _ in range(repeat) for k in kernels]
    names = tuple(dict.fromkeys(str(k["kernel_type"]) for k in rows))
    n = len(rows)
    instance = np.repeat(np.arange(instances), n)

    def column(key):
        return np.tile(np.array([r[key] for r in rows], dtype=float), instances)

    return workload_from_arrays(
        name, threads, instance, np.tile([names.index(str(r["kernel_type"])) for r in rows], instances), names,
        np.full(instances, arrival_s), instructions=column("instructions"), llc_accesses=column("llc_accesses"),
        dram_misses=column("dram_misses"), base_cpi=column("base_cpi"), activity=column("activity"),
        ready_s=np.full(n * instances, arrival_s), request=instance,
        tokens=np.tile(np.r_[np.zeros(n - 1), 1.0], instances), active_threads=np.full(n * instances, threads),
        working_set_bytes=np.full(n * instances, 32 * 1024.0))
