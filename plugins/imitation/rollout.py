"""Roll-outs: run a scenario under a driver (the Oracle or the current policy), query the Oracle at visited states.

A roll-out warms the chip up under ``performance`` (with DTM) for ``warmup_epochs`` so that states near T_max are
visited, then hands control to the driver for ``epochs`` epochs. At every state after the warm-up the roll-out may
ask the Oracle for its action (a label): always (``mode="oracle"``: behavioural cloning, the Oracle drives;
``mode="all"``: DAgger, the policy drives), only where the policy's ensemble disagrees by more than ``threshold``
(``mode="active"``), or never (``mode="none"``: evaluation). A roll-out is a pure function of its task, so it runs on
any ``concurrent.futures.Executor`` and gives the same samples wherever it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ailfm.errors import ConfigError
from ailfm.plugins.governors.base import Decision, Governor, Observation
from ailfm.plugins.governors.cpufreq import Performance
from ailfm.plugins.governors.onnx_governor import initial_features
from ailfm.plugins.governors.placement import coolest_placement, scored_placement
from ailfm.plugins.governors.shielded import ShieldedGovernor
from ailfm.plugins.imitation.actions import level_fractions, requested_from_outputs
from ailfm.plugins.imitation.contract import VF_RULES
from ailfm.plugins.imitation.features import FeatureExtractor
from ailfm.plugins.imitation.oracle import OracleConfig, OracleGovernor, OracleLabel
from ailfm.plugins.imitation.policy import Ensemble
from ailfm.plugins.run.config import RunConfig
from ailfm.plugins.run.runner import load_workload, thermal_model

MODES = ("oracle", "all", "active", "none")


@dataclass(frozen=True)
class RolloutScenario(RunConfig):
    """A run (the one run description, ``RunConfig``: system, workload, serving scenario, thermal model, validated
    there) of ``warmup_epochs`` under ``performance``, then ``epochs`` under the roll-out's driver. The driver is the
    task's and the length is counted in epochs, so ``governor`` and ``duration_s`` are not read."""

    duration_s: float | None = None
    requests: int = 24
    warmup_epochs: int = 60
    epochs: int = 60

    def __post_init__(self):
        super().__post_init__()
        if self.warmup_epochs < 0 or self.epochs < 1:
            raise ConfigError("epochs", f"need warmup_epochs >= 0 and epochs >= 1, got {self.warmup_epochs}, "
                                        f"{self.epochs}")


@dataclass(frozen=True)
class RolloutTask:
    scenario: RolloutScenario
    mode: str
    ensemble: Ensemble | None = None
    threshold: float = 0.05
    oracle: OracleConfig = field(default_factory=OracleConfig)
    vf_rule: str = VF_RULES[0]  # how the policy's V/f column becomes requests (``contract.VF_RULES``)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.vf_rule not in VF_RULES:
            raise ValueError(f"vf_rule must be one of {VF_RULES}, got {self.vf_rule!r}")
        if self.mode in ("all", "active", "none") and self.ensemble is None:
            raise ValueError(f"mode {self.mode!r} needs a policy ensemble")


@dataclass(frozen=True, eq=False)
class RolloutResult:
    features: np.ndarray  # (queries, n_cores, N_FEATURES) float32
    targets: np.ndarray  # (queries, n_cores, 2) float32: Oracle V/f fraction, Oracle occupancy
    epochs: np.ndarray  # (queries,) epoch of each labelled state
    instructions: float  # progress under the driver after the warm-up
    energy_J: float  # chip energy under the driver after the warm-up
    tokens: int
    peak_temp_C: float
    time_above_tmax_s: float
    states: int  # states visited after the warm-up
    queries: int


class RolloutGovernor(ShieldedGovernor):
    """Warm-up under ``performance``, then the task's driver; records Oracle labels where the task says. A policy
    drives through the same shield and placement as the ``ail`` governor (``ShieldedGovernor``)."""

    name = "ail-rollout"
    source = "ailfm.plugins.imitation.rollout"

    def __init__(self, task: RolloutTask):
        self.task = task
        self.oracle_governor = OracleGovernor(task.oracle)
        self.warmup = Performance()
        self.features, self.targets, self.label_epochs = [], [], []

    def setup(self, context) -> None:
        super().setup(context)
        self.oracle_governor.setup(context)
        self.warmup.setup(context)
        self.extractor = FeatureExtractor(context)

    def initial_placement(self, temperature_K: np.ndarray) -> np.ndarray:
        """Coolest, unless the Oracle learns placement (``OracleConfig.learn_placement``): then the driver's own (the
        policy's ``scored_placement``, the Oracle's pick when it drives), labelled like any other state."""
        if not self.task.oracle.learn_placement:
            return super().initial_placement(temperature_K)
        features = initial_features(self.extractor, temperature_K)
        task, current = self.task, coolest_placement(self.context)
        uncertainty = np.inf
        if task.mode != "oracle":
            outputs, uncertainty = task.ensemble.predict(features)
            current = scored_placement(self.context, outputs[:, 1])
        if task.mode in ("oracle", "all") or (task.mode == "active" and uncertainty > task.threshold):
            label = self.oracle_governor.initial_query(current)
            self._record(features, label, 0)
            if task.mode == "oracle":
                return label.placement
        return current

    def decide(self, obs: Observation) -> Decision:
        self._features = self.extractor(obs)  # every epoch: keeps the phase average current
        warming = obs.epoch < self.task.scenario.warmup_epochs
        if not warming and self.task.mode != "oracle":
            return super().decide(obs)  # the policy, through the shield
        self.shield.observe(obs)  # every epoch: keeps the thermal twin in step
        return self.warmup.decide(obs) if warming else self._label(obs, self._features)

    def request(self, obs: Observation) -> tuple[np.ndarray, np.ndarray | None]:
        task = self.task
        outputs, uncertainty = task.ensemble.predict(self._features)
        if task.mode == "all" or (task.mode == "active" and uncertainty > task.threshold):
            self._label(obs, self._features)
        return requested_from_outputs(self.context, outputs, obs, task.vf_rule)

    def _label(self, obs: Observation, features: np.ndarray) -> Decision:
        label = self.oracle_governor.query(obs)
        self._record(features, label, obs.epoch)
        return Decision(label.f_GHz, label.placement)

    def _record(self, features: np.ndarray, label: OracleLabel, epoch: int) -> None:
        """One labelled state: the Oracle's V/f as a fraction, and 1 on the cores it puts a thread on."""
        occupancy = np.zeros(self.context.n_cores, dtype=np.float32)
        occupancy[label.placement[label.placement >= 0]] = 1.0
        self.features.append(features.copy())
        self.targets.append(np.stack([level_fractions(self.context, label.f_GHz), occupancy], axis=1))
        self.label_epochs.append(epoch)


_workload = lru_cache(maxsize=16)(load_workload)


def simulation(scenario: RolloutScenario, governor: Governor):
    """The co-simulation of a scenario under a governor."""
    from ailfm.plugins.epoch.cosim import CoSimulation
    from ailfm.plugins.system.description import load_system

    return CoSimulation.for_workload(load_system(scenario.system), _workload(scenario),
                                     thermal_model(scenario.system, scenario.thermal, scenario.grid_cells), governor,
                                     placement=scenario.placement)


def rollout(task: RolloutTask) -> RolloutResult:
    """Run one roll-out task (a unit of work for an Executor)."""
    scenario = task.scenario
    governor = RolloutGovernor(task)
    result = simulation(scenario, governor).run((scenario.warmup_epochs + scenario.epochs)
                                                * _epoch_s(scenario.system))
    start = scenario.warmup_epochs
    temperature_C = result.per_core["temperature_K"][start:] - 273.15
    from ailfm.plugins.system.description import load_system

    t_max_C = load_system(scenario.system).thermal.t_max_C
    n_cores = result.per_core["temperature_K"].shape[1]
    features = np.array(governor.features, dtype=np.float32).reshape(-1, n_cores, len(governor.extractor.buffer[0]))
    return RolloutResult(
        features=features, targets=np.array(governor.targets, dtype=np.float32).reshape(-1, n_cores, 2),
        epochs=np.array(governor.label_epochs, dtype=np.int64),
        instructions=float(result.per_core["instructions"][start:].sum()),
        energy_J=float(result.epochs["chip_power_W"].iloc[start:].sum() * result.epoch_s),
        tokens=int(result.epochs["tokens"].iloc[start:].sum()),
        peak_temp_C=float(temperature_C.max()) if temperature_C.size else float("nan"),
        time_above_tmax_s=float((temperature_C.max(axis=1) > t_max_C).sum() * result.epoch_s),
        states=int(len(temperature_C)), queries=len(governor.targets))


def _epoch_s(system_name: str) -> float:
    from ailfm.plugins.system.description import load_system

    return load_system(system_name).thermal.epoch_s
