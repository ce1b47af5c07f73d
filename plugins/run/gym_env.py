"""A Gymnasium environment over the co-simulation loop, so reinforcement-learning libraries can train against it.

One step is one control epoch. The action picks a V/f level per core (``MultiDiscrete``); threads stay where the
initial placement put them (a migration action space is left to subclasses). The observation is, per core, the
temperature headroom to T_max, the effective frequency, the load, the switching activity and the DTM flag. The
reward is the chip's throughput in giga-instructions per epoch-second minus ``penalty_per_K`` times the summed
excess of core temperatures over T_max (DTM still acts, as on the real chip).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from ailfm.plugins.epoch.cosim import CoSimulation
from ailfm.plugins.governors.base import Decision, Governor, Observation
from ailfm.plugins.run.config import RunConfig
from ailfm.plugins.run.runner import load_workload, thermal_model
from ailfm.plugins.system.description import load_system

FEATURES_PER_CORE = 5


class _Placement(Governor):
    """The placement half of a governor: the environment decides frequencies, this decides where threads start."""

    name = "gym"
    source = "ailfm.plugins.run.gym_env"

    def decide(self, obs: Observation) -> Decision:  # never called: the agent decides
        raise RuntimeError("the environment's agent decides, not this placeholder")


class CoSimEnv(gym.Env):
    """The co-simulator as a Gymnasium environment (see the module docstring).

    Parameters
    ----------
    config : RunConfig
        System, workload, thermal model and initial placement (``governor`` is ignored); ``duration_s`` bounds an
        episode.
    penalty_per_K : float
        Reward lost per kelvin of core temperature above T_max, summed over cores.
    """

    metadata = {"render_modes": []}

    def __init__(self, config: RunConfig | None = None, penalty_per_K: float = 1.0):
        self.config = config or RunConfig(duration_s=0.5)
        self.penalty_per_K = penalty_per_K
        self.system = load_system(self.config.system)
        self._workload = load_workload(self.config)
        thermal = thermal_model(self.config.system, self.config.thermal, self.config.grid_cells)
        self._sim = CoSimulation.for_workload(self.system, self._workload, thermal, _Placement(),
                                              placement=self.config.placement)
        n_cores = self.system.n_cores
        self.levels_GHz = self.system.dvfs.levels_GHz
        self.action_space = gym.spaces.MultiDiscrete(np.full(n_cores, len(self.levels_GHz)))
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(n_cores * FEATURES_PER_CORE,),
                                                dtype=np.float64)

    def _features(self, obs: Observation) -> np.ndarray:
        th = self.system.thermal
        return np.concatenate([(th.t_max_K - obs.temperature_K) / 10.0,
                               obs.f_effective_GHz / self.system.dvfs.f_max_GHz, obs.utilisation, obs.activity,
                               obs.dtm_throttled.astype(float)])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs = self._sim.start(self.config.duration_s)
        return self._features(obs), {"time_s": obs.time_s}

    def step(self, action):
        f_GHz = self.levels_GHz[np.asarray(action, dtype=int)]
        obs = self._sim.step(Decision(f_GHz))
        excess = np.maximum(obs.temperature_K - self.system.thermal.t_max_K, 0.0).sum()
        reward = obs.ips.sum() / 1e9 - self.penalty_per_K * excess
        terminated = self._sim.engine.done
        truncated = self._sim.finished and not terminated
        return self._features(obs), float(reward), bool(terminated), bool(truncated), {
            "time_s": obs.time_s, "peak_temp_K": float(obs.temperature_K.max())}
