"""A run's folder (``--out`` of ``ailfm simulate``; one per run under ``compare``'s ``--out``): streamed, checkpointed,
resumable, written atomically.

While the run goes, every chunk of epochs (``--checkpoint-every``) is written to ``.partial/`` as two Arrow IPC files
(the timeline rows and the chip rows of its epochs), followed by ``checkpoint.npz``: the loop's state after the
chunk (``CoSimulation.checkpoint``), the accumulators of this folder, and the run's configuration (JSON, inside the
npz). Memory holds one chunk, whatever the duration. ``--resume`` after a crash or kill -9 loads the checkpoint
(refused if the configuration differs, naming the fields), drops the chunks written after it and continues; the
outputs come out byte-identical to an uninterrupted run's. At the end the chunks are merged, one Parquet row group
per chunk, into:

* ``timeline.parquet``: one row per (epoch, core), as ``SimulationResult.timeline``;
* ``epochs.parquet``: one row per epoch, the chip record (``model.CHIP_FIELDS``) and the mean effective frequency;
* ``cores.parquet``: per core, the mean temperature over the run (``compare``'s layer heat maps);
* ``summary.json``: the simulated results and the configuration, strict JSON (``null`` where a value is undefined);
* ``timing.json``: the wall-clock measurements (decision time, speed, compile time), which differ between machines
  and runs, so that two runs with the same seed give byte-identical result files.

Every file is written under a temporary name and renamed; ``checkpoint.npz`` and ``.partial/`` are removed last.
Checkpoints are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ailfm.errors import ConfigError, FormatError
from ailfm.files import file_digest, read_json, refuse_other_config, write_atomic, write_json_atomic
from ailfm.plugins.epoch.cosim import RESULT_KEYS, TIMING_KEYS, CoSimulation, SimulationResult, timeline_frame
from ailfm.plugins.run.config import RunConfig

CHECKPOINT_VERSION = 1
#: epochs per chunk (row group, checkpoint) by default: 2 s simulated at 1 ms epochs, 128,000 timeline rows on a
#: 64-core chip (~10 MB in memory)
CHUNK_EPOCHS = 2000
OUTPUTS = ("timeline.parquet", "epochs.parquet", "cores.parquet", "summary.json", "timing.json")
_IPC = pa.ipc.IpcWriteOptions(compression="zstd")


def run_description(config: RunConfig, chunk_epochs: int) -> dict:
    """What a checkpoint must match to be resumed: the run's configuration, the input files' contents (a changed
    system YAML or trace under the same name is another run) and the chunk size (the row groups)."""
    description = {**dataclasses.asdict(config), "checkpoint_every": chunk_epochs}
    for name in ("system", "workload"):
        path = Path(getattr(config, name))
        if path.is_file():
            description[f"{name}_sha256"] = file_digest(path)
    return description


class RunFolder:
    """The ``RecordSink`` of a streaming ``CoSimulation.run`` that writes one run's folder (see the module)."""

    def __init__(self, folder: str | Path, config: RunConfig, chunk_epochs: int = CHUNK_EPOCHS):
        self.folder, self.config, self.chunk_epochs = Path(folder), config, int(chunk_epochs)
        self.description = run_description(config, self.chunk_epochs)
        self.partial = self.folder / ".partial"
        self.checkpoint_path = self.folder / "checkpoint.npz"
        self._sim: CoSimulation | None = None
        self.chunks = 0
        self.core_temperature_sum_C: np.ndarray | None = None

    # -- the run ---------------------------------------------------------------------------------------------------
    def simulate(self, sim: CoSimulation, *, resume: bool = False, progress: bool = False) -> SimulationResult:
        """Run ``sim`` into this folder (from its checkpoint when ``resume`` and there is one) and write the
        outputs. Without ``resume`` a checkpoint in the folder is refused: it is somebody's unfinished run."""
        self._sim = sim
        self.core_temperature_sum_C = np.zeros(sim.system.n_cores)
        state = None
        if self.checkpoint_path.exists():
            if not resume:
                raise ConfigError("--out", f"{self.folder} holds an unfinished run (checkpoint.npz): add --resume to "
                                           "continue it with the same options, or use another --out")
            state = self._load_checkpoint()
        else:
            shutil.rmtree(self.partial, ignore_errors=True)
        try:
            self.partial.mkdir(parents=True, exist_ok=True)
            try:
                result = sim.run(self.config.duration_s, progress=progress, sink=self,
                                 chunk_epochs=self.chunk_epochs, resume=state)
            except (KeyError, TypeError, ValueError) as err:
                if state is None:
                    raise
                raise FormatError(self.checkpoint_path, None, f"does not fit this run ({err}); delete it to start "
                                                              "again") from None
            self._write_outputs(result)
        except OSError as err:  # a full disk, a folder made read-only during the run
            kept = ("the last checkpoint is kept: fix it and rerun with --resume" if self.checkpoint_path.exists()
                    else "no checkpoint was written yet")
            raise ConfigError("--out", f"cannot write {err.filename or self.folder}: {err.strerror or err}; "
                                       f"{kept}") from None
        return result

    def write(self, first_epoch: int, epochs: pd.DataFrame, per_core: dict[str, np.ndarray]) -> None:
        """One chunk: its timeline rows and chip rows as Arrow IPC files; the per-core temperature sum, row by row
        (the order ``numpy.mean(axis=0)`` adds in, so the mean equals an in-memory run's)."""
        timeline = timeline_frame(epochs["time_s"].to_numpy(), per_core, self._sim.kernel_type_names, first_epoch)
        chip = epochs.assign(f_effective_mean_GHz=per_core["f_effective_GHz"].mean(axis=1))
        self._write_ipc(f"timeline-{self.chunks:06d}.arrow", pa.Table.from_pandas(timeline, preserve_index=False))
        self._write_ipc(f"epochs-{self.chunks:06d}.arrow", pa.Table.from_pandas(chip, preserve_index=False))
        temperature_C = per_core["temperature_K"] - 273.15
        self.core_temperature_sum_C = np.add.reduce(np.vstack([self.core_temperature_sum_C[None], temperature_C]),
                                                    axis=0)
        self.chunks += 1

    def checkpoint(self, state: dict[str, np.ndarray]) -> None:
        """The loop's state, this folder's accumulators and the run's description, in one npz written atomically."""
        meta = {"version": CHECKPOINT_VERSION, "description": self.description, "chunks": self.chunks}
        buffer = io.BytesIO()
        np.savez(buffer, **state, **{"folder.core_temperature_sum_C": self.core_temperature_sum_C,
                                     "folder.meta": np.array(json.dumps(meta))})
        write_atomic(self.checkpoint_path, buffer.getvalue())

    def epochs(self) -> pd.DataFrame:
        """Every epoch's chip record so far (the chunks in order)."""
        tables = [self._read_ipc(f"epochs-{k:06d}.arrow") for k in range(self.chunks)]
        frame = pa.concat_tables(tables).to_pandas() if tables else pd.DataFrame()
        return frame.drop(columns="f_effective_mean_GHz", errors="ignore")

    # -- files -----------------------------------------------------------------------------------------------------
    def _load_checkpoint(self) -> dict[str, np.ndarray]:
        path = self.checkpoint_path
        try:
            with np.load(path, allow_pickle=False) as npz:
                state = {name: npz[name] for name in npz.files}
            meta = json.loads(str(state.pop("folder.meta")))
            version, saved, chunks = meta["version"], meta["description"], int(meta["chunks"])
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
            raise FormatError(path, None, f"not a readable checkpoint ({err}); the file is damaged or not ailfm's: "
                                          "delete it to start again") from None
        if version != CHECKPOINT_VERSION:
            raise FormatError(path, None, f"checkpoint version {version!r}, this ailfm reads {CHECKPOINT_VERSION}: "
                                          "delete it to start again")
        refuse_other_config(path, saved, self.description)
        missing = [k for k in range(chunks) if not (self.partial / f"timeline-{k:06d}.arrow").exists()
                   or not (self.partial / f"epochs-{k:06d}.arrow").exists()]
        if missing:
            raise FormatError(path, None, f"the checkpoint needs chunk {missing[0]} of .partial/, which is missing: "
                                          "delete checkpoint.npz to start again")
        for stale in self.partial.glob("*.arrow"):  # written after the checkpoint: the run redoes them
            if int(stale.stem.rpartition("-")[2]) >= chunks:
                stale.unlink()
        self.chunks = chunks
        self.core_temperature_sum_C = state.pop("folder.core_temperature_sum_C")
        return state

    def _write_ipc(self, name: str, table: pa.Table) -> None:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, table.schema, options=_IPC) as writer:
            writer.write_table(table)
        write_atomic(self.partial / name, sink.getvalue().to_pybytes())

    def _read_ipc(self, name: str) -> pa.Table:
        with pa.memory_map(str(self.partial / name)) as source:
            return pa.ipc.open_file(source).read_all()

    def _merge(self, prefix: str, target: Path) -> None:
        """The chunks ``prefix-*.arrow`` as one Parquet file, a row group per chunk, written atomically."""
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            writer = None
            for k in range(self.chunks):
                table = self._read_ipc(f"{prefix}-{k:06d}.arrow")
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table, row_group_size=max(len(table), 1))
            if writer is not None:
                writer.close()
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def _write_outputs(self, result: SimulationResult) -> None:
        self._merge("timeline", self.folder / "timeline.parquet")
        self._merge("epochs", self.folder / "epochs.parquet")
        n_epochs = len(result.epochs)
        cores = pd.DataFrame({"core": np.arange(len(self.core_temperature_sum_C), dtype=np.int32),
                              "temperature_mean_C": self.core_temperature_sum_C / max(n_epochs, 1)})
        buffer = io.BytesIO()
        cores.to_parquet(buffer, index=False)
        write_atomic(self.folder / "cores.parquet", buffer.getvalue())
        results, timing = split_summary(result.summary)
        write_json_atomic(self.folder / "summary.json", {**results, "config": dataclasses.asdict(self.config)},
                          indent=2)
        write_json_atomic(self.folder / "timing.json", timing, indent=2)
        self.checkpoint_path.unlink(missing_ok=True)
        shutil.rmtree(self.partial, ignore_errors=True)


def split_summary(summary: dict) -> tuple[dict, dict]:
    """(simulated results, wall-clock timing) of a summary."""
    return ({k: v for k, v in summary.items() if k not in TIMING_KEYS},
            {k: v for k, v in summary.items() if k in TIMING_KEYS})


def read_run(folder: str | Path) -> dict:
    """A finished run's folder as a ``run_record`` (summary with timing, the per-epoch series the plots use)."""
    folder = Path(folder)
    results = read_json(folder / "summary.json", "run summary")
    timing = read_json(folder / "timing.json", "run timing")
    config = results.pop("config")
    ordered = [*RESULT_KEYS, *TIMING_KEYS, *[k for k in results if k not in RESULT_KEYS]]  # as ``summarise``
    summary = {k: _number(results[k] if k in results else timing.get(k)) for k in ordered}
    epochs = pd.read_parquet(folder / "epochs.parquet",
                             columns=["time_s", "epoch_end_peak_C", "f_effective_mean_GHz", "chip_power_W"])
    cores = pd.read_parquet(folder / "cores.parquet")
    return {"config": config, "summary": summary, "time_s": epochs["time_s"].to_numpy(),
            "peak_temp_C": epochs["epoch_end_peak_C"].to_numpy(),
            "mean_f_GHz": epochs["f_effective_mean_GHz"].to_numpy(),
            "mean_core_temp_C": cores["temperature_mean_C"].to_numpy(),
            "chip_power_W": epochs["chip_power_W"].to_numpy()}


def _number(value):
    """JSON's null back to NaN (strict JSON has no NaN)."""
    return float("nan") if value is None else value


def finished(folder: str | Path, config: RunConfig) -> bool:
    """Whether ``folder`` holds a finished run of ``config`` (every output, no checkpoint, the same configuration)."""
    folder = Path(folder)
    if (folder / "checkpoint.npz").exists() or not all((folder / name).exists() for name in OUTPUTS):
        return False
    try:
        saved = json.loads((folder / "summary.json").read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return saved == json.loads(json.dumps(dataclasses.asdict(config)))
