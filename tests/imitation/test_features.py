"""Per-core features: order and version, kernel one-hot, neighbours, heterogeneity columns."""

from __future__ import annotations

import numpy as np

from ailfm.plugins.imitation.features import FEATURE_NAMES, FEATURE_VERSION, KERNEL_VOCABULARY, N_FEATURES


def _extractor_and_obs(tiny_system_path):
    from ailfm.plugins.epoch.chip_thermal import ChipThermal, build_thermal
    from ailfm.plugins.governors.base import GovernorContext, Observation
    from ailfm.plugins.imitation.features import FeatureExtractor
    from ailfm.plugins.system.description import load_system
    from ailfm.plugins.system.nuca import NucaModel
    from ailfm.plugins.system.power import PowerModel

    system = load_system(tiny_system_path)
    thermal = build_thermal(system, "fast", cells=8)
    context = GovernorContext(system, NucaModel.build(system), PowerModel(system), 3, np.zeros(3, dtype=int),
                              ("gemv", "gemm", "mystery"), ChipThermal.of(system, thermal).thermal_resistance_K_per_W)
    n = system.n_cores
    rng = np.random.default_rng(1)
    obs = Observation(epoch=1, time_s=1e-3, temperature_K=318.15 + rng.uniform(0, 5, n), power_W=rng.uniform(0, 5, n),
                      f_GHz=np.full(n, 4.0), f_effective_GHz=np.full(n, 4.0), utilisation=rng.uniform(0, 1, n),
                      ips=np.zeros(n), activity=rng.uniform(0, 1, n), dtm_throttled=np.zeros(n, dtype=bool),
                      thread_core=np.array([5, 0, -1]), thread_kernel_type=np.array([1, 2, 0]),
                      thread_ips=np.array([2e9, 1e9, 0.0]), thread_llc_apki=np.array([10.0, 20.0, 0.0]),
                      thread_dram_mpki=np.array([1.0, 2.0, 0.0]), uncore_power_W=1.0)
    return FeatureExtractor(context), obs, system, context


def test_order_and_version_are_fixed():
    assert len(set(FEATURE_NAMES)) == N_FEATURES
    assert FEATURE_VERSION.endswith("/1")
    assert FEATURE_NAMES[: len(KERNEL_VOCABULARY)] == tuple(f"kernel_{k}" for k in KERNEL_VOCABULARY)


def test_rows_describe_threads_and_cores(tiny_system_path):
    extract, obs, system, context = _extractor_and_obs(tiny_system_path)
    features = extract(obs)
    assert features.shape == (system.n_cores, N_FEATURES) and features.dtype == np.float32
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    assert features[5, col["kernel_gemm"]] == 1 and features[5, :len(KERNEL_VOCABULARY)].sum() == 1
    assert features[0, col["kernel_other"]] == 1  # an unknown kernel name maps to "other"
    assert features[5, col["phase_prefill"]] > 0 and features[0, col["phase_prefill"]] == 0
    idle = [c for c in range(system.n_cores) if c not in (0, 5)]
    assert np.all(features[idle, : col["thread_dram_mpki"] + 1] == 0)
    assert np.isclose(features[5, col["thread_ips_G"]], 2.0)
    rise = (obs.temperature_K - system.thermal.ambient_K) / (system.thermal.t_max_K - system.thermal.ambient_K)
    xyz = system.geometry.tile_coordinates()
    planar = [c for c in range(system.n_cores) if xyz[c, 2] == xyz[3, 2] and np.abs(xyz[c, :2] - xyz[3, :2]).sum() == 1]
    vertical = [c for c in range(system.n_cores)
                if (xyz[c, :2] == xyz[3, :2]).all() and abs(xyz[c, 2] - xyz[3, 2]) == 1]
    assert np.isclose(features[3, col["layer_neighbour_temperature_mean"]], rise[planar].mean(), atol=1e-6)
    assert np.isclose(features[3, col["layer_neighbourhood_temperature_max"]], rise[planar + [3]].max(), atol=1e-6)
    assert np.isclose(features[3, col["vertical_neighbour_temperature_mean"]], rise[vertical].mean(), atol=1e-6)
    latency = context.nuca.mean_latency_ns
    assert np.allclose(features[:, col["nuca_latency"]], latency / latency.max())
    # layer 0 is the farthest from the sink
    assert np.all(features[xyz[:, 2] == 0, col["distance_to_sink"]] == 1)
    assert np.all(features[xyz[:, 2] == system.geometry.layers - 1, col["distance_to_sink"]] == 0)
    assert np.allclose(features[:, col["headroom"]], (system.thermal.t_max_K - obs.temperature_K) / 10.0, atol=1e-5)
