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
from numba import njit

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


def _index_table(mask: np.ndarray, pad: int | None) -> np.ndarray:
    """Row i lists the columns set in ``mask[i]``, padded to equal length with ``pad`` (None: with i itself)."""
    width = int(mask.sum(axis=1).max())
    return np.array([np.r_[np.flatnonzero(row), [i if pad is None else pad] * (width - row.sum())]
                     for i, row in enumerate(mask)], dtype=np.int64)


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
        planar, vertical, neighbourhood = _adjacency(context)
        self.planar_index, self.vertical_index = _index_table(planar > 0, -1), _index_table(vertical > 0, -1)
        self.neighbourhood = _index_table(neighbourhood, None)
        vocabulary = {name: i for i, name in enumerate(KERNEL_VOCABULARY)}
        # workload kernel index -> vocabulary index; the extra last entry maps -1 (finished) to "no kernel"
        self.kernel_to_vocabulary = np.array([vocabulary.get(n, vocabulary["other"]) for n in context.kernel_type_names]
                                             + [_K], dtype=np.int64)
        self.kernel_is_prefill = np.array([n in PREFILL_KERNELS for n in context.kernel_type_names] + [False])
        self.phase = np.zeros(self.n_threads)
        self.buffer = np.zeros((self.n_cores, N_FEATURES), dtype=np.float32)
        layers = system.geometry.layers
        layer = system.geometry.tile_coordinates()[:, 2]
        self.buffer[:, _COLUMN["distance_to_sink"]] = (layers - 1 - layer) / max(layers - 1, 1)
        latency = context.nuca.mean_latency_ns
        self.buffer[:, _COLUMN["nuca_latency"]] = latency / latency.max()
        self._static_resistance = None
        self.buffer[:, _COLUMN["thread_density"]] = self.n_threads / self.n_cores

    def reset(self) -> None:
        self.phase[:] = 0.0

    def _fill_resistance(self) -> None:
        r_cc, _ = self.context.thermal_resistance_K_per_W
        self.buffer[:, _COLUMN["self_resistance"]] = np.diag(r_cc) / RESISTANCE_SCALE_K_PER_W
        self._static_resistance = True

    def __call__(self, obs: Observation) -> np.ndarray:
        if self._static_resistance is None:
            self._fill_resistance()
        _fill_dynamic(self.buffer, obs.thread_kernel_type, obs.thread_core, self.phase, self.kernel_is_prefill,
                      self.kernel_to_vocabulary, obs.thread_ips, obs.thread_llc_apki, obs.thread_dram_mpki,
                      obs.temperature_K, obs.f_GHz, obs.f_effective_GHz, obs.power_W, obs.utilisation, obs.activity,
                      obs.dtm_throttled, self.planar_index, self.vertical_index, self.neighbourhood, self.ambient_K,
                      self.inv_range_K, self.t_max_K, self.f_max_GHz)
        return self.buffer


_C = _COLUMN
_PHASE, _HAS, _IPS, _LLC, _DRAM = (_C[n] for n in ("phase_prefill", "has_thread", "thread_ips_G", "thread_llc_apki",
                                                   "thread_dram_mpki"))
_TEMP, _HEAD, _LMEAN, _LMAX, _VMEAN = (_C[n] for n in (
    "temperature", "headroom", "layer_neighbour_temperature_mean", "layer_neighbourhood_temperature_max",
    "vertical_neighbour_temperature_mean"))
_FREQ, _FEFF, _POW, _UTIL, _ACT, _DTM = (_C[n] for n in ("f_request", "f_effective", "power", "utilisation",
                                                         "activity", "dtm_throttled"))
_CTMEAN, _CTMAX, _CPMEAN = _C["chip_temperature_mean"], _C["chip_temperature_max"], _C["chip_power_mean"]


@njit(cache=True)
def _fill_dynamic(out, kernel, placement, phase, kernel_is_prefill, kernel_to_vocabulary, thread_ips, llc_apki,
                  dram_mpki, temperature_K, f_GHz, f_effective_GHz, power_W, utilisation, activity, throttled,
                  planar_index, vertical_index, neighbourhood, ambient_K, inv_range_K, t_max_K, f_max_GHz):
    """Every per-epoch column, in one compiled pass (numpy would take ~40 small-array operations, whose call
    overhead alone exceeds the 50 us decision budget on 64 cores)."""
    n_cores = out.shape[0]
    n_threads = kernel.shape[0]
    n_tables = kernel_to_vocabulary.shape[0]
    for c in range(n_cores):
        for j in range(_DRAM + 1):
            out[c, j] = 0.0
    for t in range(n_threads):
        k = kernel[t] if kernel[t] >= 0 else n_tables - 1  # -1 (finished) -> the tables' last entry
        phase[t] = (1.0 - PHASE_SMOOTHING) * phase[t] + (PHASE_SMOOTHING if kernel_is_prefill[k] else 0.0)
        c = placement[t]
        if c < 0:
            continue
        v = kernel_to_vocabulary[k]
        if v < _K:
            out[c, v] = 1.0
        out[c, _PHASE] = phase[t]
        out[c, _HAS] = 1.0 if kernel[t] >= 0 else 0.0
        out[c, _IPS] = thread_ips[t] / IPS_SCALE
        out[c, _LLC] = llc_apki[t] / MPKI_SCALE
        out[c, _DRAM] = dram_mpki[t] / MPKI_SCALE
    rise_sum, rise_max, power_sum = 0.0, -1e300, 0.0
    for c in range(n_cores):
        rise = (temperature_K[c] - ambient_K) * inv_range_K
        out[c, _TEMP] = rise
        out[c, _HEAD] = (t_max_K - temperature_K[c]) / HEADROOM_SCALE_K
        rise_sum += rise
        rise_max = max(rise_max, rise)
        p = power_W[c] / POWER_SCALE_W
        power_sum += p
        out[c, _FREQ] = f_GHz[c] / f_max_GHz
        out[c, _FEFF] = f_effective_GHz[c] / f_max_GHz
        out[c, _POW] = p
        out[c, _UTIL] = utilisation[c]
        out[c, _ACT] = activity[c]
        out[c, _DTM] = 1.0 if throttled[c] else 0.0
        out[c, _LMEAN] = _mean_rise(planar_index[c], temperature_K, ambient_K, inv_range_K)
        out[c, _VMEAN] = _mean_rise(vertical_index[c], temperature_K, ambient_K, inv_range_K)
        hottest = -1e300
        for n in neighbourhood[c]:
            hottest = max(hottest, temperature_K[n])
        out[c, _LMAX] = (hottest - ambient_K) * inv_range_K
    for c in range(n_cores):
        out[c, _CTMEAN] = rise_sum / n_cores
        out[c, _CTMAX] = rise_max
        out[c, _CPMEAN] = power_sum / n_cores


@njit(cache=True)
def _mean_rise(index, temperature_K, ambient_K, inv_range_K):
    total, count = 0.0, 0
    for n in index:
        if n >= 0:
            total += temperature_K[n]
            count += 1
    return (total / count - ambient_K) * inv_range_K
