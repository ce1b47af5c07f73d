"""Time sampling of the gem5 backend, validated: record a closed-loop run's traffic, replay it open loop at several
window sizes, and measure the error of what the loop would be fed back (plain Python; gem5 sits behind a backend).

1. ``run_ailfm.py --record-traffic FILE`` keeps, for every engine step, each thread's traffic at the step's full
   scale (``epoch.StepTraffic``: tile, LLC accesses, DRAM misses, busy time, read share, the step's share of a
   migration refill) and the frequency of its tile, and, at every control epoch's start, the interval model's
   ``EngineState``. ``write_recording`` stores them as one Parquet table (a row per step and thread) whose
   metadata holds the run's description and the states.
2. ``replay_traffic.py`` (gem5) builds the same board, warms it as ``run_ailfm.py`` does and sends the recorded
   steps open loop (``replay``), each sub-step simulating ``dt x window / epoch``, exactly as ``Gem5Engine`` does;
   ``write_replay`` stores every step's counters.
3. ``sampling_errors`` compares a replay with the full-length one (window = epoch), quantity by quantity, as the
   loop uses them: per-tile LLC latency and the chip-wide DRAM latency of each epoch (request-weighted over its
   windows, the analytic value where a tile sent nothing: ``Gem5Engine.set_measured_latencies``' rule), the
   instructions the interval model would retire in the next epoch with those latencies (``next_epoch_instructions``:
   the engine's own interval model, re-run from the recorded state with the recorded actuations), and bank
   accesses and router flits scaled back to the whole step (per step and per epoch).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ailfm import options
from ailfm.errors import ConfigError, FormatError
from ailfm.files import file_digest, prepare_output_folder, write_atomic
from ailfm.gem5_configs.epoch import (
    AddressMap,
    EpochCounters,
    StepTraffic,
    ThreadCursor,
    add_lead_in_argument,
    measure_step,
)
from ailfm.plugins.engine.base import EngineState
from ailfm.plugins.engine.builtin import BuiltinEngine
from ailfm.plugins.system.description import SystemDescription, load_system

RECORDING_KEY = "ailfm_traffic_recording"
REPLAY_KEY = "ailfm_traffic_replay"
#: Per-thread columns of a recording besides the step's and thread's indices.
STEP_COLUMNS = ("tile", "f_GHz", "llc_accesses", "dram_misses", "busy_s", "read_fraction", "refill_bytes")
#: ``EpochCounters`` fields stored per step (and the index they run over) by a replay.
COUNTER_FIELDS = ("hit_requests", "hit_latency_ticks", "miss_requests", "miss_latency_ticks", "bank_accesses",
                  "bank_misses", "router_flits")


class TrafficRecorder:
    """Collects a closed-loop run's steps (``Gem5Engine(recorder=...)``); ``info`` describes the run (system,
    workload, warm-up, DVFS mode, jitter, window: what a replay rebuilds the board and the interval model from)."""

    def __init__(self, info: dict):
        self.info = dict(info)
        self.steps: list[StepTraffic] = []
        self.core_f_GHz: list[list[float]] = []  # per step: every core's frequency after DTM (0: clock-gated)
        self.step_epoch: list[int] = []
        self.epoch_states: list[dict] = []

    def start_epoch(self, state: EngineState) -> None:
        """The interval model's state before a control epoch's first actuation."""
        self.epoch_states.append({f.name: getattr(state, f.name)[0].tolist() for f in dataclasses.fields(state)})

    def add(self, step: StepTraffic, f_core_GHz: np.ndarray) -> None:
        self.steps.append(step)
        self.core_f_GHz.append(np.asarray(f_core_GHz, dtype=float).tolist())
        self.step_epoch.append(len(self.epoch_states) - 1)

    def frame(self) -> pd.DataFrame:
        """One row per step and thread, the run's description and the epochs' states in ``attrs``."""
        rows = []
        for index, (step, core_f, epoch) in enumerate(zip(self.steps, self.core_f_GHz, self.step_epoch,
                                                          strict=True)):
            f = np.where(step.tile >= 0, np.asarray(core_f)[np.maximum(step.tile, 0)], 0.0)  # its tile's
            values = dict(tile=step.tile, f_GHz=f, llc_accesses=step.llc_accesses, dram_misses=step.dram_misses,
                          busy_s=step.busy_s, read_fraction=step.read_fraction, refill_bytes=step.refill_bytes)
            rows.append(pd.DataFrame({"step": index, "epoch": epoch, "dt_s": step.dt_s,
                                      "thread": np.arange(len(step.tile)), **values}))
        frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
            columns=["step", "epoch", "dt_s", "thread", *STEP_COLUMNS])
        frame.attrs[RECORDING_KEY] = {**self.info, "epoch_states": self.epoch_states, "core_f_GHz": self.core_f_GHz}
        return frame


def write_parquet_atomic(path: str | Path, frame: pd.DataFrame) -> Path:
    """``frame`` (with its ``attrs``) as Parquet, whole under its name or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    write_atomic(path, buffer.getvalue())
    return path


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise FormatError(path, None, "file not found") from None
    except Exception as err:  # pyarrow raises several types for a file that is not Parquet
        raise FormatError(path, None, f"not a Parquet file ({type(err).__name__})") from None


def write_recording(path: str | Path, recorder: TrafficRecorder) -> Path:
    return write_parquet_atomic(path, recorder.frame())


@dataclass(frozen=True, eq=False)
class Recording:
    """A recorded run: ``steps`` in order, every core's frequency per step (after DTM), each step's control epoch,
    the interval model's state at each epoch's start, and the run's description (``info``)."""

    info: dict
    steps: list[StepTraffic]
    core_f_GHz: np.ndarray  # (steps, n_cores)
    step_epoch: np.ndarray
    epoch_states: list[dict]

    @property
    def n_threads(self) -> int:
        return len(self.steps[0].tile)

    @property
    def n_epochs(self) -> int:
        return len(self.epoch_states)

    def epoch_steps(self, epoch: int) -> np.ndarray:
        return np.flatnonzero(self.step_epoch == epoch)


def read_recording(path: str | Path) -> Recording:
    """A file of ``run_ailfm.py --record-traffic``; anything else is a FormatError naming the file."""
    path = Path(path)
    frame = _read_parquet(path)
    info = frame.attrs.get(RECORDING_KEY)
    if not isinstance(info, dict) or "epoch_states" not in info:
        raise FormatError(path, None, "is not a traffic recording (written by run_ailfm.py --record-traffic)")
    missing = [c for c in ("step", "epoch", "dt_s", "thread", *STEP_COLUMNS) if c not in frame.columns]
    if missing or frame.empty or "core_f_GHz" not in info:
        raise FormatError(path, None, f"recording without {missing[0] if missing else 'any step'}")
    frame = frame.sort_values(["step", "thread"], kind="stable")
    steps, step_epoch = [], []
    for _, rows in frame.groupby("step", sort=True):
        steps.append(StepTraffic(float(rows["dt_s"].iloc[0]), rows["tile"].to_numpy(dtype=np.int64),
                                 *(rows[c].to_numpy(dtype=float) for c in STEP_COLUMNS[2:])))
        step_epoch.append(int(rows["epoch"].iloc[0]))
    info = dict(info)
    states, core_f = info.pop("epoch_states"), np.array(info.pop("core_f_GHz"), dtype=float)
    if core_f.shape[0] != len(steps):
        raise FormatError(path, None, f"recording with {len(steps)} steps but core frequencies for {core_f.shape[0]}")
    return Recording(info, steps, core_f, np.array(step_epoch), list(states))


# ------------------------------------------------------------------------------------------------- replay


def replay(recording: Recording, backend, amap: AddressMap, n_tiles: int, window_s: float,
           epochs: int | None = None, on_epoch=None, lead_in_s: float = 0.0) -> list[EpochCounters]:
    """Send the recorded steps of the first ``epochs`` control epochs (all by default) to ``backend`` (a
    ``Gem5Backend``), each step in a window of ``dt x window_s / epoch_s`` as ``Gem5Engine`` would, each epoch's first
    step after a lead-in of ``lead_in_s`` (``epoch.measure_step``); returns every step's counters (the lead-ins'
    discarded). ``on_epoch(counters, epochs_done)`` is called after each whole epoch (to stream the results)."""
    share = min(window_s / float(recording.info["epoch_s"]), 1.0)
    cursors = [ThreadCursor() for _ in range(recording.n_threads)]
    last = recording.n_epochs if epochs is None else min(epochs, recording.n_epochs)
    counters = []
    for index, (step, epoch) in enumerate(zip(recording.steps, recording.step_epoch, strict=True)):
        if epoch >= last:
            break
        starts_epoch = index == 0 or recording.step_epoch[index - 1] != epoch
        counters.append(measure_step(backend, step, amap, cursors, n_tiles, step.dt_s * share,
                                     lead_in_s if starts_epoch else 0.0))
        ends_epoch = index + 1 == len(recording.steps) or recording.step_epoch[index + 1] != epoch
        if on_epoch is not None and ends_epoch:
            on_epoch(counters, int(epoch) + 1)
    return counters


def replay_frame(counters: Sequence[EpochCounters], recording: Recording, window_s: float) -> pd.DataFrame:
    """Every step's counters in long form (step, epoch, simulated_s, quantity, index, value)."""
    share = min(window_s / float(recording.info["epoch_s"]), 1.0)
    rows = []
    for step, c in enumerate(counters):
        base = {"step": step, "epoch": int(recording.step_epoch[step]),
                "simulated_s": recording.steps[step].dt_s * share}
        for name in COUNTER_FIELDS:
            values = getattr(c, name)
            rows.append(pd.DataFrame({**base, "quantity": name, "index": np.arange(len(values)), "value": values}))
        rows.append(pd.DataFrame({**base, "quantity": "network_latency_ticks", "index": [0],
                                  "value": [c.network_latency_ticks]}))
    return pd.concat(rows, ignore_index=True)


def cpu_path(replay_path: str | Path) -> Path:
    """Where a replay's CPU seconds go: beside its counters, kept apart so the counters' file is the same every run."""
    path = Path(replay_path)
    return path.with_name(path.stem + ".cpu.json")


def write_replay(path: str | Path, counters: Sequence[EpochCounters], recording: Recording, window_s: float,
                 source: dict) -> Path:
    """A replay's counters; ``source`` (the recording's digest, the window, the epochs) goes into ``attrs``."""
    frame = replay_frame(counters, recording, window_s)
    frame.attrs[REPLAY_KEY] = dict(source)
    return write_parquet_atomic(path, frame)


@dataclass(frozen=True, eq=False)
class Replay:
    """What a replay measured: every step's counters, the simulated seconds of each step's window, each step's epoch,
    and the ``source`` it was made from."""

    counters: list[EpochCounters]
    simulated_s: np.ndarray
    step_epoch: np.ndarray
    source: dict


def read_replay(path: str | Path) -> Replay:
    path = Path(path)
    frame = _read_parquet(path)
    source = frame.attrs.get(REPLAY_KEY)
    if not isinstance(source, dict):
        raise FormatError(path, None, "is not a replay (written by replay_traffic.py)")
    counters, simulated, epochs = [], [], []
    for _, rows in frame.groupby("step", sort=True):
        by = {q: r.sort_values("index")["value"].to_numpy(dtype=float) for q, r in rows.groupby("quantity")}
        missing = [q for q in (*COUNTER_FIELDS, "network_latency_ticks") if q not in by]
        if missing:
            raise FormatError(path, None, f"step {int(rows['step'].iloc[0])} has no {missing[0]}")
        counters.append(EpochCounters(*(by[q] for q in COUNTER_FIELDS), float(by["network_latency_ticks"][0])))
        simulated.append(float(rows["simulated_s"].iloc[0]))
        epochs.append(int(rows["epoch"].iloc[0]))
    return Replay(counters, np.array(simulated), np.array(epochs), source)


# ------------------------------------------------------------------------------------------------- errors


def fed_back_latencies(replay: Replay, epoch: int, llc_fallback_ns: np.ndarray, dram_fallback_ns: float
                       ) -> tuple[np.ndarray, float, EpochCounters]:
    """What the loop would set after ``epoch``: per-tile LLC latency and the DRAM latency, request-weighted over the
    epoch's windows with the same fallbacks as ``Gem5Engine.set_measured_latencies``; and the epoch's total."""
    total = EpochCounters.total([c for c, e in zip(replay.counters, replay.step_epoch, strict=True) if e == epoch])
    return total.llc_latency_ns(llc_fallback_ns), total.dram_extra_ns(dram_fallback_ns), total


def next_epoch_instructions(interval: BuiltinEngine, recording: Recording, epoch: int, llc_ns: np.ndarray,
                            dram_ns: float) -> np.ndarray:
    """Per thread, the instructions the interval model retires in control epoch ``epoch`` if the latencies fed back
    at its start were ``llc_ns`` / ``dram_ns``: the recorded state at the epoch's start restored into ``interval``
    (``gem5.interval_model``), then the epoch's steps with the recorded frequencies and placements."""
    state = interval.state
    for name, value in recording.epoch_states[epoch].items():
        getattr(state, name)[0] = value
    interval.set_memory_latencies(llc_ns, dram_ns)
    retired = np.zeros(recording.n_threads)
    for index in recording.epoch_steps(epoch):
        interval.actuate(recording.core_f_GHz[index], recording.steps[index].tile)
        retired += interval.advance(recording.steps[index].dt_s).thread_instructions
    return retired


@dataclass
class _Errors:
    """Relative errors of one quantity, collected over tiles (banks, routers, threads) and epochs (or steps)."""

    name: str
    unit: str
    over: str
    sampled: list = dataclasses.field(default_factory=list)
    reference: list = dataclasses.field(default_factory=list)

    def add(self, sampled, reference, keep=None) -> None:
        sampled, reference = np.atleast_1d(sampled).astype(float), np.atleast_1d(reference).astype(float)
        keep = reference > 0 if keep is None else np.asarray(keep) & (reference > 0)
        self.sampled.append(sampled[keep])
        self.reference.append(reference[keep])

    def row(self) -> dict:
        sampled, reference = np.concatenate(self.sampled), np.concatenate(self.reference)
        relative = np.abs(sampled - reference) / reference
        return {"quantity": self.name, "unit": self.unit, "over": self.over, "n": len(relative),
                "reference_mean": float(reference.mean()) if len(reference) else np.nan,
                "mean_rel_error": float(relative.mean()) if len(relative) else np.nan,
                "worst_rel_error": float(relative.max()) if len(relative) else np.nan,
                "total_bias": float(sampled.sum() / reference.sum() - 1) if reference.sum() > 0 else np.nan}


def sampling_errors(sampled: Replay, reference: Replay, recording: Recording, interval: BuiltinEngine
                    ) -> pd.DataFrame:
    """The error of every quantity fed back to the loop, ``sampled`` against ``reference`` (the full-length replay),
    over the epochs both cover: relative errors per tile (bank, router, thread) and epoch (or step), their mean and
    worst, and the bias of the chip-wide total. ``interval``: the engine's interval model (``gem5.interval_model``
    for the recording's system and workload)."""
    epochs = min(int(sampled.step_epoch.max()), int(reference.step_epoch.max())) + 1
    analytic_llc = interval.nuca.mean_latency_ns
    errors = {key: _Errors(*spec) for key, spec in {
        "llc": ("LLC latency fed back", "ns", "tiles that sent LLC requests x epochs"),
        "llc_threads": ("LLC latency fed back, tiles running a thread", "ns",
                        "tiles that ran a thread and sent LLC requests x epochs"),
        "dram": ("DRAM latency fed back (chip-wide, added to an LLC access)", "ns", "epochs"),
        "dram_tile": ("DRAM-miss latency per tile (not fed back; the chip-wide value is)", "ns",
                      "tiles that sent DRAM requests x epochs"),
        "instructions": ("instructions retired in the next epoch (interval model)", "instructions",
                         "threads x epochs"),
        "banks_epoch": ("bank accesses, scaled back", "accesses", "banks x epochs"),
        "routers_epoch": ("router flits, scaled back", "flits", "routers x epochs"),
        "banks_step": ("bank accesses, scaled back", "accesses", "banks x sub-steps"),
        "routers_step": ("router flits, scaled back", "flits", "routers x sub-steps")}.items()}
    latencies = {}
    for epoch in range(epochs):
        dram_fallback = float(recording.epoch_states[epoch]["dram_latency_ns"])  # the value in force, as the engine
        (llc_s, dram_s, total_s), (llc_r, dram_r, total_r) = (
            fed_back_latencies(replay, epoch, analytic_llc, dram_fallback) for replay in (sampled, reference))
        latencies[epoch] = (llc_s, dram_s), (llc_r, dram_r)
        errors["llc"].add(llc_s, llc_r, keep=total_r.hit_requests > 0)
        running = np.zeros(len(llc_r), dtype=bool)  # a tile without a thread may see a few stray requests only
        for index in recording.epoch_steps(epoch):
            running[recording.steps[index].tile[recording.steps[index].tile >= 0]] = True
        errors["llc_threads"].add(llc_s, llc_r, keep=(total_r.hit_requests > 0) & running)
        errors["dram"].add(dram_s, dram_r)
        errors["dram_tile"].add(total_s.miss_latency_ns(np.zeros(len(llc_r))),
                                total_r.miss_latency_ns(np.zeros(len(llc_r))),
                                keep=(total_r.miss_requests > 0) & (total_s.miss_requests > 0))
        for kind, field in (("banks", "bank_accesses"), ("routers", "router_flits")):
            per_step = []
            for replay in (sampled, reference):
                steps = np.flatnonzero(replay.step_epoch == epoch)
                per_step.append([getattr(replay.counters[i], field) * recording.steps[i].dt_s / replay.simulated_s[i]
                                 for i in steps])
            for s, r in zip(*per_step, strict=True):
                errors[f"{kind}_step"].add(s, r)
            errors[f"{kind}_epoch"].add(np.sum(per_step[0], axis=0), np.sum(per_step[1], axis=0))
    for epoch in range(min(epochs, recording.n_epochs - 1)):  # the recording holds the next epoch's state
        (llc_s, dram_s), (llc_r, dram_r) = latencies[epoch]
        errors["instructions"].add(next_epoch_instructions(interval, recording, epoch + 1, llc_s, dram_s),
                                   next_epoch_instructions(interval, recording, epoch + 1, llc_r, dram_r))
    return pd.DataFrame([e.row() for e in errors.values() if e.sampled])


# ------------------------------------------------------------------------------------------------- replay script


def replay_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gem5.opt gem5_configs/replay_traffic.py",
        description="replay a recorded run's traffic open loop on gem5, at a given window per control epoch")
    parser.add_argument("--recording", required=True, help="a file of run_ailfm.py --record-traffic")
    parser.add_argument("--window-us", type=options.number(above=0), required=True,
                        help="gem5 time simulated per control epoch (the epoch's length: the whole run)")
    add_lead_in_argument(parser)
    parser.add_argument("--epochs", type=options.POSITIVE, default=None,
                        help="replay only the first EPOCHS control epochs (default: all)")
    parser.add_argument("--out", required=True, help="Parquet file of every step's counters")
    parser.add_argument("--system", default=None,
                        help="the recorded run's system (a name or YAML file; default: the one it names, which may "
                             "have moved since)")
    return parser


@dataclass(frozen=True)
class PreparedReplay:
    args: argparse.Namespace
    recording: Recording
    system: SystemDescription
    window_s: float
    source: dict  # what the replay is made from (stored with its counters)


def prepare_replay(argv: list[str]) -> PreparedReplay:
    """Options, recording and system, each checked before gem5 builds anything."""
    args = replay_parser().parse_args(argv)
    prepare_output_folder(Path(args.out).parent)
    recording = read_recording(args.recording)
    info = recording.info
    if info.get("dvfs", "rate") != "rate":
        raise ConfigError("recording", f"{args.recording} was recorded with --dvfs {info['dvfs']}; replays send "
                          "the recorded rates and support --dvfs rate recordings only")
    system = load_system(args.system or info["config"]["system"])
    source = replay_source(args.recording, recording, args.window_us, args.epochs, args.lead_in_us)
    return PreparedReplay(args, recording, system, source["window_s"], source)


def replay_source(path: str | Path, recording: Recording, window_us: float, epochs: int | None,
                  lead_in_us: float = 0.0) -> dict:
    """What a replay of ``path`` at ``window_us`` over its first ``epochs`` is made from (stored with the replay, so a
    finished one is recognised): the recording's digest, the window per control epoch (at most the epoch), the
    epochs, and the lead-in where there is one."""
    source = {"recording_sha256": file_digest(path),
              "window_s": min(window_us * 1e-6, float(recording.info["epoch_s"])),
              "epochs": recording.n_epochs if epochs is None else min(epochs, recording.n_epochs)}
    return {**source, "lead_in_s": lead_in_us * 1e-6} if lead_in_us > 0 else source
