"""Per-core feature rows of a governor observation: kernel- and heterogeneity-aware, vectorised, fixed order.

One row per core (so one model scales to any core count): what the core's thread is doing (kernel type one-hot, an
estimate of its phase, IPS, LLC and DRAM misses per kilo-instruction), the core's thermal situation (temperature,
headroom to T_max, neighbours within the layer and across layers, distance to the heat sink, self-heating), its
S-NUCA latency, its V/f, power and load, and a few chip-wide values (mean and max temperature, mean power). Every
value is scaled to roughly [0, 1] by constants of the system, so the same policy runs on other systems.
``FEATURE_VERSION`` names this order; an ONNX policy carries it and is refused by a different extractor.
See docs/ail.md for the table of features.
"""

from __future__ import annotations

import numpy as np

from ailfm.plugins.governors.base import GovernorContext, Observation

FEATURE_VERSION = "ailfm-core-features/1"
#: Fixed kernel vocabulary (``ailfm.traces.decompose.KernelType`` values, then ``other`` for any unknown name).
KERNEL_VOCABULARY = ("gemm", "gemv", "attn_scores", "softmax", "attn_context", "rmsnorm", "layernorm", "silu",
                     "gelu", "relu", "rope", "kv_append", "embedding", "add", "other")
#: Kernels that only run in the prefill phase (matrix-matrix products over the prompt); the phase feature is an
#: exponential average of "the thread ran one of these" (decode runs GEMV instead).
PREFILL_KERNELS = ("gemm",)
PHASE_SMOOTHING = 0.5  # weight of the newest epoch in the phase average [inferred: a prefill lasts many epochs]
POWER_SCALE_W = 5.0  # a fully active core at 4 GHz draws ~4.5 W dynamic + ~1 W leakage (snuca-64.yaml)
IPS_SCALE = 1e9
MPKI_SCALE = 100.0
HEADROOM_SCALE_K = 10.0
RESISTANCE_SCALE_K_PER_W = 10.0

FEATURE_NAMES = tuple(
    [f"kernel_{name}" for name in KERNEL_VOCABULARY]
    + ["phase_prefill", "has_thread", "thread_ips_G", "thread_llc_apki", "thread_dram_mpki",
       "temperature", "headroom", "layer_neighbour_temperature_mean", "layer_neighbourhood_temperature_max",
       "vertical_neighbour_temperature_mean", "distance_to_sink", "nuca_latency", "self_resistance",
       "f_request", "f_effective", "power", "utilisation", "activity", "dtm_throttled",
       "chip_temperature_mean", "chip_temperature_max", "chip_power_mean", "thread_density"])
N_FEATURES = len(FEATURE_NAMES)
_K = len(KERNEL_VOCABULARY)
_COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}


def _adjacency(context: GovernorContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-normalised neighbour matrices, planar (same layer, one hop) and vertical (same x, y, adjacent layers), and
    the mask of a core's planar neighbourhood including itself (for the max)."""
    xyz = context.system.geometry.tile_coordinates()
    distance = np.abs(xyz[:, None, :] - xyz[None, :, :])
    same_layer = distance[..., 2] == 0
    planar = same_layer & (distance[..., :2].sum(axis=2) == 1)
    vertical = (distance[..., :2].sum(axis=2) == 0) & (distance[..., 2] == 1)

    def normalised(mask):
        counts = mask.sum(axis=1, keepdims=True)
        # a core without such neighbours sees itself (keeps the feature defined on 1-layer systems)
        mask = np.where(counts > 0, mask, np.eye(len(mask), dtype=bool))
        return mask / mask.sum(axis=1, keepdims=True)

    return normalised(planar), normalised(vertical), planar | np.eye(len(planar), dtype=bool)


class FeatureExtractor:
    """Builds the (n_cores, N_FEATURES) float32 matrix of an observation; keeps the per-thread phase average.

    Static columns (layer, NUCA latency, self-resistance, thread density) are filled once; each call writes the
    dynamic columns into the same buffer (returned as a copy-free view: copy it if you keep it).
    """

    def __init__(self, context: GovernorContext):
        system = context.system
        self.context = context
        self.n_cores, self.n_threads = context.n_cores, context.n_threads
        self.ambient_K = system.thermal.ambient_K
        self.t_max_K = system.thermal.t_max_K
        self.inv_range_K = 1.0 / (self.t_max_K - self.ambient_K)
        self.f_max_GHz = system.dvfs.f_max_GHz
        self.planar, self.vertical, neighbourhood = _adjacency(context)
        # each core's planar neighbourhood (itself included) as an index table padded with itself, for the max
        width = int(neighbourhood.sum(axis=1).max())
        self.neighbourhood = np.array([np.r_[np.flatnonzero(row), [c] * (width - row.sum())]
                                       for c, row in enumerate(neighbourhood)], dtype=np.int64)
        vocabulary = {name: i for i, name in enumerate(KERNEL_VOCABULARY)}
        # workload kernel index -> vocabulary index; the extra last entry maps -1 (finished) to "no kernel"
        self.kernel_to_vocabulary = np.array([vocabulary.get(n, vocabulary["other"]) for n in context.kernel_type_names]
                                             + [_K], dtype=np.int64)
        self.kernel_is_prefill = np.array([n in PREFILL_KERNELS for n in context.kernel_type_names] + [False])
        self.one_hot = np.vstack([np.eye(_K, dtype=np.float32), np.zeros((1, _K), dtype=np.float32)])
        self.phase = np.zeros(self.n_threads)
        self.buffer = np.zeros((self.n_cores, N_FEATURES), dtype=np.float32)
        layers = system.geometry.layers
        layer = system.geometry.tile_coordinates()[:, 2]
        self.buffer[:, _COLUMN["distance_to_sink"]] = (layers - 1 - layer) / max(layers - 1, 1)
        latency = context.nuca.mean_latency_ns
        self.buffer[:, _COLUMN["nuca_latency"]] = latency / latency.max()
        self._static_resistance = None
        self.buffer[:, _COLUMN["thread_density"]] = self.n_threads / self.n_cores
        self._thread_block = slice(_COLUMN["phase_prefill"], _COLUMN["thread_dram_mpki"] + 1)

    def reset(self) -> None:
        self.phase[:] = 0.0

    def _fill_resistance(self) -> None:
        r_cc, _ = self.context.thermal_resistance_K_per_W
        self.buffer[:, _COLUMN["self_resistance"]] = np.diag(r_cc) / RESISTANCE_SCALE_K_PER_W
        self._static_resistance = True

    def __call__(self, obs: Observation) -> np.ndarray:
        if self._static_resistance is None:
            self._fill_resistance()
        out = self.buffer
        kernel = obs.thread_kernel_type  # -1 = finished -> last entry of the tables
        placement = obs.thread_core
        placed = placement >= 0
        cores = placement[placed]
        self.phase = (1.0 - PHASE_SMOOTHING) * self.phase + PHASE_SMOOTHING * self.kernel_is_prefill[kernel]
        running = kernel >= 0
        # per-thread block, scattered to the threads' cores (idle cores stay zero)
        thread_rows = np.zeros((self.n_cores, _K + 5), dtype=np.float32)
        thread_rows[cores, :_K] = self.one_hot[self.kernel_to_vocabulary[kernel[placed]]]
        thread_rows[cores, _K:] = np.stack([self.phase, running, obs.thread_ips / IPS_SCALE,
                                            obs.thread_llc_apki / MPKI_SCALE, obs.thread_dram_mpki / MPKI_SCALE],
                                           axis=1)[placed]
        out[:, : _K + 5] = thread_rows
        rise = (obs.temperature_K - self.ambient_K) * self.inv_range_K
        out[:, _COLUMN["temperature"]] = rise
        out[:, _COLUMN["headroom"]] = (self.t_max_K - obs.temperature_K) / HEADROOM_SCALE_K
        out[:, _COLUMN["layer_neighbour_temperature_mean"]] = self.planar @ rise
        out[:, _COLUMN["layer_neighbourhood_temperature_max"]] = rise[self.neighbourhood].max(axis=1)
        out[:, _COLUMN["vertical_neighbour_temperature_mean"]] = self.vertical @ rise
        out[:, _COLUMN["f_request"]] = obs.f_GHz / self.f_max_GHz
        out[:, _COLUMN["f_effective"]] = obs.f_effective_GHz / self.f_max_GHz
        power = obs.power_W / POWER_SCALE_W
        out[:, _COLUMN["power"]] = power
        out[:, _COLUMN["utilisation"]] = obs.utilisation
        out[:, _COLUMN["activity"]] = obs.activity
        out[:, _COLUMN["dtm_throttled"]] = obs.dtm_throttled
        out[:, _COLUMN["chip_temperature_mean"]] = rise.mean()
        out[:, _COLUMN["chip_temperature_max"]] = rise.max()
        out[:, _COLUMN["chip_power_mean"]] = power.mean()
        return out
