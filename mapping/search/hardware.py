"""Hardware co-exploration: optuna outside, the mapping GA inside.

Phase 1 (homogeneous, optuna TPE): chiplet count, dataflow, buffer, NoP and DRAM bandwidth and the micro-batch
count, with the total MAC count fixed (the compute budget split evenly over the chiplets). Each trial builds
the hardware, runs a small GA mapping search (seeded with the fixed baselines) and scores
latency x energy x monetary cost (money.py). The study lives in ``OUT/explore.db`` (sqlite) and resumes.

Phase 2 (heterogeneous, large-neighbourhood search with simulated-annealing acceptance) starts from the best
homogeneous design and changes one chiplet's dataflow, halves or doubles one chiplet's buffer, or moves
``MAC_GRANULE`` MACs between two chiplets (keeping the total); every neighbour gets its own GA mapping search,
warm-started from the incumbent's mapping. Acceptance is Metropolis on log cost with a geometric temperature;
operator weights adapt to their success rate. The state is saved after every step (``OUT/lns_state.json``)
and a restarted run continues from it.

With ``thermal`` the inner searches score EDP after DTM throttling on each design's package thermal model
(mapping/thermal.py), phase 1 also chooses the chiplet spacing and the cooling's sink-to-air resistance
(money.SPACING_CHOICES_MM, R_CONVEC_CHOICES_K_PER_W; their cost is in the monetary cost: a wider carrier, a dearer
sink), and phase 2 adds a ``package_adjust`` move (one step of spacing or cooling up or down).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import yaml
from tqdm.auto import tqdm

from ailfm.files import read_json, refuse_other_config, write_atomic, write_json_atomic
from ailfm.mapping.cost import GemmCostModel, gemm_cost
from ailfm.mapping.evaluator import Evaluator
from ailfm.mapping.hardware import DATAFLOWS, ChipletType, Hardware
from ailfm.mapping.models import LlmConfig
from ailfm.mapping.money import R_CONVEC_CHOICES_K_PER_W, SPACING_CHOICES_MM, CostModel
from ailfm.mapping.package_spec import package_to_dict
from ailfm.mapping.search.baselines import baseline_mappings
from ailfm.mapping.search.ga import SearchSettings, run_search
from ailfm.mapping.thermal import thermal_evaluator
from ailfm.mapping.workload import LengthSource, make_workload

CHIPLET_COUNTS = (4, 9, 16, 36, 64)
BUFFER_KiB = (512, 1024, 2048, 4096, 8192)
NOP_GBps = (32, 64, 128, 256)
DRAM_CHANNEL_GBps = (32, 64, 128)
MICRO_BATCHES = (2, 4, 8)
MAC_GRANULE = 256
LNS_OPERATORS = ("type_change", "buffer_adjust", "compute_adjust")
THERMAL_LNS_OPERATORS = (*LNS_OPERATORS, "package_adjust")


@dataclass(frozen=True)
class ExploreSettings:
    trials: int = 40
    lns_steps: int = 40
    total_macs: int = 36 * 1024
    inner_pop: int = 24
    inner_gen: int = 15
    seed: int = 0
    dataflows: tuple[str, ...] = DATAFLOWS  # the chiplet designs both phases may use
    t_start: float = 0.05
    cooling: float = 0.95
    thermal: bool = False      # inner searches on EDP after DTM throttling; package spacing and cooling explored
    t_max_C: float | None = None  # DTM trigger (default: the base hardware's package section)

    @property
    def operators(self) -> tuple[str, ...]:
        return THERMAL_LNS_OPERATORS if self.thermal else LNS_OPERATORS

    def recorded(self) -> dict:
        """The settings a resumed exploration must match (the thermal fields only when thermal)."""
        kept = {k: v for k, v in asdict(self).items() if k not in ("trials", "lns_steps")}
        if not self.thermal:
            kept.pop("thermal"), kept.pop("t_max_C")
        return kept


def mesh_shape(n: int) -> tuple[int, int]:
    """(cols, rows) of the most square mesh holding n chiplets."""
    rows = int(math.isqrt(n))
    while n % rows:
        rows -= 1
    return n // rows, rows


def homogeneous_design(params: dict, total_macs: int, base: Hardware) -> Hardware:
    """A design from trial parameters; energies per bit and the DRAM channel count come from ``base``."""
    n = params["chiplets"]
    cols, rows = mesh_shape(n)
    chiplet = ChipletType(params["dataflow"], params["dataflow"], total_macs // n, float(params["buffer_KiB"]))
    package = replace(base.package, spacing_mm=float(params.get("spacing_mm", base.package.spacing_mm)),
                      r_convec_K_per_W=float(params.get("r_convec_K_per_W", base.package.r_convec_K_per_W)))
    return Hardware(f"{n}x{params['dataflow']}", cols, rows, (chiplet,), (0,) * n,
                    nop_link_GBps=float(params["nop_GBps"]), nop_pJ_per_bit_hop=base.nop_pJ_per_bit_hop,
                    dram_channels=base.dram_channels, dram_channel_GBps=float(params["dram_GBps"]),
                    dram_pJ_per_bit=base.dram_pJ_per_bit, package=package)


@dataclass
class Scored:
    cost: float
    latency_s: float
    energy_J: float
    money_usd: float
    genome: np.ndarray


def score_design(model: LlmConfig, serving: str, lengths: LengthSource, hw: Hardware, micro_batches: int,
                 settings: ExploreSettings, workload_args: dict, warm_start: np.ndarray | None = None,
                 cost_model: CostModel | None = None, gemm_costs: GemmCostModel = gemm_cost) -> Scored:
    """Inner loop: a small GA mapping search on ``hw``; cost = latency x energy x monetary cost (with ``thermal``:
    latency and energy after DTM throttling on ``hw``'s package)."""
    wl = make_workload(model, serving, lengths, n_micro_batches=micro_batches, **workload_args)
    ev = Evaluator(wl, hw, cost_model=gemm_costs)
    seeds = np.stack([ev.encoding.encode(m) for m in baseline_mappings(ev).values()])
    if warm_start is not None:
        seeds = np.vstack([warm_start[None, :], seeds])
    scorer = thermal_evaluator(ev, settings.t_max_C) if settings.thermal else ev
    result = run_search(scorer, SearchSettings(pop_size=settings.inner_pop, n_gen=settings.inner_gen,
                                               seed=settings.seed), seeds=seeds)
    money = (cost_model or CostModel()).cost_usd(hw)
    return Scored(result.best_edp * money, result.best_latency_s, result.best_energy_J, money, result.best_genome)


def hardware_objective(trial, model: LlmConfig, serving: str, lengths: LengthSource, settings: ExploreSettings,
                       workload_args: dict, base: Hardware, gemm_costs: GemmCostModel = gemm_cost) -> float:
    """log(latency x energy x USD) of one homogeneous design proposed by ``trial`` (works with FixedTrial)."""
    counts = [n for n in CHIPLET_COUNTS if settings.total_macs % n == 0]
    params = {"chiplets": trial.suggest_categorical("chiplets", counts),
              "dataflow": trial.suggest_categorical("dataflow", list(settings.dataflows)),
              "buffer_KiB": trial.suggest_categorical("buffer_KiB", list(BUFFER_KiB)),
              "nop_GBps": trial.suggest_categorical("nop_GBps", list(NOP_GBps)),
              "dram_GBps": trial.suggest_categorical("dram_GBps", list(DRAM_CHANNEL_GBps)),
              "micro_batches": trial.suggest_categorical("micro_batches", list(MICRO_BATCHES))}
    if settings.thermal:
        params["spacing_mm"] = trial.suggest_categorical("spacing_mm", list(SPACING_CHOICES_MM))
        params["r_convec_K_per_W"] = trial.suggest_categorical("r_convec_K_per_W", list(R_CONVEC_CHOICES_K_PER_W))
    hw = homogeneous_design(params, settings.total_macs, base)
    scored = score_design(model, serving, lengths, hw, params["micro_batches"], settings, workload_args,
                          gemm_costs=gemm_costs)
    trial.set_user_attr("latency_s", scored.latency_s)
    trial.set_user_attr("energy_J", scored.energy_J)
    trial.set_user_attr("money_usd", scored.money_usd)
    return math.log(scored.cost)


# ---------------------------------------------------------------------------------------------- LNS
def _per_chiplet(hw: Hardware) -> list[ChipletType]:
    return [hw.types[k] for k in hw.chiplet_type]


def with_chiplets(hw: Hardware, chiplets: list[ChipletType]) -> Hardware:
    """``hw`` with one design per chiplet (identical designs share a type)."""
    keys, types, index = {}, [], []
    for c in chiplets:
        key = (c.dataflow, c.macs, c.buffer_KiB, c.frequency_GHz)
        if key not in keys:
            keys[key] = len(types)
            types.append(ChipletType(f"{c.dataflow}-{c.macs}-{int(c.buffer_KiB)}", *key))
        index.append(keys[key])
    name = hw.name if hw.name.endswith("-hetero") else f"{hw.name}-hetero"
    return hw.with_types(tuple(types), tuple(index), name=name)


def package_neighbour(hw: Hardware, rng: np.random.Generator) -> Hardware:
    """One step of the chiplet spacing or of the cooling's resistance, up or down, within the choices."""
    spec = hw.package
    field, choices = (("spacing_mm", SPACING_CHOICES_MM) if rng.random() < 0.5
                      else ("r_convec_K_per_W", R_CONVEC_CHOICES_K_PER_W))
    values = sorted(choices)
    here = int(np.argmin([abs(v - getattr(spec, field)) for v in values]))
    step = here + (1 if rng.random() < 0.5 else -1)
    if not 0 <= step < len(values):  # reflect at either end
        step = 2 * here - step
    return replace(hw, package=replace(spec, **{field: float(values[step])}))


def neighbour(hw: Hardware, operator: str, rng: np.random.Generator,
              dataflows: tuple[str, ...] = DATAFLOWS) -> Hardware:
    if operator == "package_adjust":
        return package_neighbour(hw, rng)
    chips = _per_chiplet(hw)
    i = int(rng.integers(len(chips)))
    c = chips[i]
    if operator == "type_change":
        others = [d for d in dataflows if d != c.dataflow]
        chips[i] = ChipletType(c.name, others[int(rng.integers(len(others)))], c.macs, c.buffer_KiB, c.frequency_GHz)
    elif operator == "buffer_adjust":
        factor = 2.0 if rng.random() < 0.5 else 0.5
        size = float(min(max(c.buffer_KiB * factor, BUFFER_KiB[0]), BUFFER_KiB[-1]))
        chips[i] = ChipletType(c.name, c.dataflow, c.macs, size, c.frequency_GHz)
    else:
        j = int(rng.integers(len(chips)))
        if j != i and c.macs > MAC_GRANULE:
            d = chips[j]
            chips[i] = ChipletType(c.name, c.dataflow, c.macs - MAC_GRANULE, c.buffer_KiB, c.frequency_GHz)
            chips[j] = ChipletType(d.name, d.dataflow, d.macs + MAC_GRANULE, d.buffer_KiB, d.frequency_GHz)
    return with_chiplets(hw, chips)


def hardware_to_dict(hw: Hardware) -> dict:
    """A YAML-ready description that load_hardware reads back."""
    names = [t.name for t in hw.types]
    layout = [[names[hw.chiplet_type[y * hw.mesh_cols + x]] for x in range(hw.mesh_cols)]
              for y in range(hw.mesh_rows)]
    return {"name": hw.name, "mesh": {"cols": hw.mesh_cols, "rows": hw.mesh_rows},
            "chiplet_types": {t.name: {"dataflow": t.dataflow, "macs": t.macs, "buffer_KiB": t.buffer_KiB,
                                       "frequency_GHz": t.frequency_GHz} for t in hw.types},
            "layout": layout,
            "nop": {"link_bandwidth_GBps": hw.nop_link_GBps, "energy_pJ_per_bit_hop": hw.nop_pJ_per_bit_hop},
            "dram": {"channels": hw.dram_channels, "channel_bandwidth_GBps": hw.dram_channel_GBps,
                     "energy_pJ_per_bit": hw.dram_pJ_per_bit},
            "package": package_to_dict(hw.package)}


def hardware_from_saved(doc: dict) -> Hardware:
    from ailfm.files import Lines
    from ailfm.mapping.hardware import hardware_from_dict
    return hardware_from_dict(doc, Lines("<saved state>"))


def explore(model: LlmConfig, serving: str, lengths: LengthSource, base: Hardware, settings: ExploreSettings,
            out: Path, workload_args: dict, progress: bool = False, gemm_costs: GemmCostModel = gemm_cost) -> dict:
    """Run (or resume) both phases; writes trials.csv, lns.csv, best_hardware.yaml and explore.json to ``out``.

    ``out/explore_config.json`` records the run's configuration; resuming under another one is refused, naming the
    differing fields. The budgets (``trials``, ``lns_steps``) may grow: both phases are sequential, so a resumed run
    with a larger budget continues where the smaller one stopped."""
    out.mkdir(parents=True, exist_ok=True)
    config = json.loads(json.dumps({"model": model.name, "serving": serving, "base_hardware": base.name,
                                    **workload_args, **settings.recorded()}))
    config_path = out / "explore_config.json"
    if config_path.exists():
        refuse_other_config(config_path, read_json(config_path, "explore configuration"), config)
    else:
        write_json_atomic(config_path, config)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="homogeneous", storage=f"sqlite:///{out / 'explore.db'}",
                                load_if_exists=True, direction="minimize",
                                sampler=optuna.samplers.TPESampler(seed=settings.seed, n_startup_trials=10))
    done = len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE])
    remaining = max(0, settings.trials - done)
    if remaining:
        study.optimize(lambda t: hardware_objective(t, model, serving, lengths, settings, workload_args, base,
                                                    gemm_costs),
                       n_trials=remaining, show_progress_bar=progress)
    study.trials_dataframe().to_csv(out / "trials.csv", index=False)
    best = study.best_trial
    micro_batches = best.params["micro_batches"]
    start_hw = homogeneous_design(best.params, settings.total_macs, base)

    state_path = out / "lns_state.json"
    if state_path.exists():
        state = read_json(state_path, "LNS state")
    else:
        first = score_design(model, serving, lengths, start_hw, micro_batches, settings, workload_args,
                             gemm_costs=gemm_costs)
        state = {"step": 0, "current": hardware_to_dict(start_hw), "current_cost": first.cost,
                 "current_genome": first.genome.tolist(), "best": hardware_to_dict(start_hw),
                 "best_cost": first.cost, "best_latency_s": first.latency_s, "best_energy_J": first.energy_J,
                 "best_money_usd": first.money_usd, "homogeneous_cost": first.cost,
                 "weights": [1.0] * len(settings.operators), "tries": [0] * len(settings.operators),
                 "wins": [0] * len(settings.operators),
                 "rng": np.random.default_rng(settings.seed).bit_generator.state, "rows": []}
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]
    bar = tqdm(total=settings.lns_steps, initial=state["step"], disable=not progress, desc="LNS", unit="design")
    while state["step"] < settings.lns_steps:
        current = hardware_from_saved(state["current"])
        weights = np.asarray(state["weights"])
        k = int(rng.choice(len(settings.operators), p=weights / weights.sum()))
        candidate = neighbour(current, settings.operators[k], rng, settings.dataflows)
        scored = score_design(model, serving, lengths, candidate, micro_batches, settings, workload_args,
                              warm_start=np.asarray(state["current_genome"]), gemm_costs=gemm_costs)
        temperature = settings.t_start * settings.cooling ** state["step"]
        delta = math.log(scored.cost) - math.log(state["current_cost"])
        accepted = delta <= 0 or rng.random() < math.exp(-delta / temperature)
        state["tries"][k] += 1
        if accepted:
            state["current"], state["current_cost"] = hardware_to_dict(candidate), scored.cost
            state["current_genome"] = scored.genome.tolist()
        if scored.cost < state["best_cost"]:
            state["wins"][k] += 1
            state.update(best=hardware_to_dict(candidate), best_cost=scored.cost, best_latency_s=scored.latency_s,
                         best_energy_J=scored.energy_J, best_money_usd=scored.money_usd)
        if state["tries"][k] % 5 == 0:  # adapt: weight grows with the operator's success rate, clipped
            rate = state["wins"][k] / state["tries"][k]
            state["weights"][k] = float(np.clip(state["weights"][k] * (1 + rate) / 1.1, 0.2, 5.0))
        state["step"] += 1
        state["rows"].append({"step": state["step"], "operator": settings.operators[k], "cost": scored.cost,
                              "latency_s": scored.latency_s, "energy_J": scored.energy_J,
                              "money_usd": scored.money_usd, "accepted": bool(accepted),
                              "best_cost": state["best_cost"], "temperature": temperature})
        state["rng"] = rng.bit_generator.state
        write_atomic(state_path, json.dumps(state).encode())
        bar.update(1)
    bar.close()
    write_atomic(out / "lns.csv", pd.DataFrame(state["rows"]).to_csv(index=False).encode())
    write_atomic(out / "best_hardware.yaml", yaml.safe_dump(state["best"], sort_keys=False).encode())
    summary = {"homogeneous_best": {**best.params, "cost": state["homogeneous_cost"],
                                    "latency_s": best.user_attrs.get("latency_s"),
                                    "energy_J": best.user_attrs.get("energy_J"),
                                    "money_usd": best.user_attrs.get("money_usd")},
               "heterogeneous_best": {"cost": state["best_cost"], "latency_s": state["best_latency_s"],
                                      "energy_J": state["best_energy_J"], "money_usd": state["best_money_usd"],
                                      "chiplet_types": sorted(state["best"]["chiplet_types"])},
               "improvement": 1 - state["best_cost"] / state["homogeneous_cost"],
               "settings": asdict(settings), "base_hardware": base.name}
    write_json_atomic(out / "explore.json", summary)
    return summary
