"""Real HotSpot behind the ``ThermalModel`` seam: one ``hotspot`` process per epoch, as HotSniper and CoMeT drive it.

Each ``step`` writes a one-row power trace, runs the binary with ``-o`` and reads the temperature
trace back; ``steady`` runs it without ``-o`` and reads ``-steady_file``. The state between epochs
is carried in one of two ways, chosen by what the binary prints:

``"init_file"``
    HotSniper's patched HotSpot (``hotspot/hotspot.c``) prints the node temperatures at the end of the transient
    on stdout (``name<TAB>K`` lines, the ``.init`` format); that dump becomes the ``-init_file`` of
    the next epoch. Cheap, and for the block model the whole state (rounded to 0.01 K). In the grid
    model the dump holds block averages only and every cell restarts from its block's value: on a
    2-die, 16 x 16 stack this drifted 4.7 K from HotSpot's own transient within six 1 ms epochs.
``"replay"``
    Stock HotSpot 7.0 prints no temperatures on stdout and has no flag that writes the transient's
    final node state (``-steady_file`` holds the steady state of the *average* power of the trace,
    not the end state; ``-grid_transient_file`` holds grid cells but not the package nodes, and
    cannot be read back). The backend then re-runs HotSpot on the whole power history since the
    last ``reset`` and keeps the last row: exact HotSpot results, at a cost that grows with the
    number of epochs.

``state_mode="auto"`` (the default) starts in replay mode and, for the block model only, switches to
init files as soon as a run prints a complete node dump.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ailfm.errors import ConfigError, FormatError, ToolError
from ailfm.thermal.base import ThermalModel
from ailfm.thermal.formats import read_flp, read_steady, read_ttrace, write_steady
from ailfm.thermal.hotspot_cli import read_model_inputs, resolve_config

HOTSPOT_ENV = "HOTSPOT"
STATE_MODES = ("auto", "init_file", "replay")
# Flags the backend sets itself on every run; a caller giving them would be silently overridden.
_RUN_FLAGS = frozenset(
    {"p", "o", "d", "init_file", "init_temp", "steady_file", "grid_steady_file", "grid_transient_file",
     "sampling_intvl"}
)
# Output and init files a config file may name: switched off on every run unless the run sets them, so that HotSpot
# never appends to or overwrites the user's files and an init file in the config cannot override -init_temp.
_NO_OUTPUT_FILES = {"init_file": "(null)", "steady_file": "(null)", "grid_steady_file": "(null)",
                    "grid_transient_file": "(null)"}
_NODE_LINE = re.compile(r"^(\S+)\t(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)$")


def find_hotspot(executable: str | os.PathLike | None = None) -> str:
    """The HotSpot binary's absolute path: ``executable``, else ``$HOTSPOT``, else ``hotspot`` on ``PATH``."""
    candidate = executable if executable is not None else os.environ.get(HOTSPOT_ENV) or "hotspot"
    found = shutil.which(str(candidate))
    if found is None:
        source = "the executable argument" if executable is not None else (
            f"${HOTSPOT_ENV}" if os.environ.get(HOTSPOT_ENV) else "PATH")
        raise ToolError(
            f"HotSpot binary {str(candidate)!r} (from {source}) not found or not executable: "
            f"set {HOTSPOT_ENV} to the path of a HotSpot 7.0 `hotspot` binary or put `hotspot` on PATH"
        )
    return os.path.abspath(found)  # runs happen in other working directories


def run_hotspot(executable: str, flags: Mapping[str, str], *, cwd: Path, timeout_s: float) -> str:
    """Run ``executable -name value ...`` in ``cwd``; return its stdout. Failure, a non-zero exit or a run longer
    than ``timeout_s`` is a one-line ``ToolError`` with the tail of HotSpot's output."""
    command = [executable]
    for name, value in flags.items():
        command += [f"-{name}", value]
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise ToolError(f"{executable} timed out after {timeout_s:g} s (raise timeout_s for large "
                        f"models): {' '.join(command)}") from None
    except OSError as err:
        raise ToolError(f"cannot run {executable}: {err}") from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr.strip() or done.stdout.strip()).splitlines()[-5:]) or "(no output)"
        raise ToolError(f"{executable} exited with status {done.returncode}: {tail}")
    return done.stdout


def parse_node_dump(stdout: str) -> dict[str, float]:
    """The ``name<TAB>K`` lines of a run's stdout (a HotSniper-style dump of the final node state)."""
    nodes: dict[str, float] = {}
    for line in stdout.splitlines():
        match = _NODE_LINE.match(line.strip("\r"))
        if match:
            nodes[match.group(1)] = float(match.group(2))
    return nodes


class HotSpotBackend(ThermalModel):
    """A real ``hotspot`` binary stepped epoch by epoch behind the same API as the built-in model.

    Parameters
    ----------
    flags : mapping of str to str
        HotSpot command-line flags without the leading dash, as given to ``hotspot``: ``c`` (config
        file), ``f`` (floorplan) or ``grid_layer_file``, ``model_type``, ``materials_file``, any
        config override. Relative paths are opened from ``cwd``, as HotSpot does. The flags the
        backend sets on every run (``p``, ``o``, ``init_file``, ``sampling_intvl``, ...) are refused.
    executable : path, optional
        The binary; default ``$HOTSPOT``, else ``hotspot`` on ``PATH``.
    timeout_s : float
        Wall-time limit of one HotSpot run.
    cwd : path, optional
        Directory HotSpot runs in (default: the current directory at construction).
    state_mode : {"auto", "init_file", "replay"}
        How the state is carried between epochs (see the module docstring).
    """

    def __init__(self, flags: Mapping[str, str], *, executable: str | os.PathLike | None = None,
                 timeout_s: float = 600.0, cwd: str | os.PathLike | None = None, state_mode: str = "auto"):
        if state_mode not in STATE_MODES:
            raise ConfigError("state_mode", f"{state_mode!r} is not one of {', '.join(STATE_MODES)}")
        if not timeout_s > 0:
            raise ConfigError("timeout_s", f"must be > 0, got {timeout_s}")
        given = {str(name).lstrip("-"): str(value) for name, value in flags.items()}
        run_flags = {name.lower() for name in _RUN_FLAGS}
        clash = sorted(name for name in given if name.lower() in run_flags)
        if clash:
            raise ConfigError(f"-{clash[0]}", "is set by the HotSpot backend on every run; leave it out")
        self.cwd = Path(cwd if cwd is not None else os.getcwd()).resolve()
        config, materials = resolve_config(given, cwd=self.cwd)
        floorplan, layers = read_model_inputs(config, materials, cwd=self.cwd)
        if layers is None:
            units = [(name, name) for name in floorplan.names]
        else:
            units = [(f"layer_{index}_{name}", name) for index, layer in enumerate(layers) if layer.has_power
                     for name in read_flp(layer.floorplan_path).names]
        self.power_names = tuple(name for _, name in units)
        self.output_names = self.power_names
        self._steady_names = tuple(steady for steady, _ in units)
        self.ambient_K = float(config.ambient)
        self._grid = config.model_type == "grid"
        self._configured_init: float | dict[str, float] = (
            float(config.init_temp) if config.init_file is None else read_steady(self.cwd / config.init_file))
        self.executable = find_hotspot(executable)
        self.timeout_s = float(timeout_s)
        self.state_mode = state_mode
        self._flags = given
        self._scratch = tempfile.TemporaryDirectory(prefix="ailfm-hotspot-backend-")
        self._dir = Path(self._scratch.name)
        self._node_names: tuple[str, ...] | None = None
        self.reset()

    # ---- running the binary ----------------------------------------------------------------------------
    def _run(self, rows: np.ndarray, extra: Mapping[str, str]) -> str:
        """Run HotSpot on ``rows`` of power (W, in ``power_names`` order); return its stdout."""
        ptrace = self._dir / "power.ptrace"
        lines = ["\t".join(self.power_names)] + ["\t".join(repr(float(p)) for p in row) for row in np.atleast_2d(rows)]
        ptrace.write_text("\n".join(lines) + "\n")
        return run_hotspot(self.executable, {**self._flags, "p": str(ptrace), **_NO_OUTPUT_FILES, **extra},
                           cwd=self.cwd, timeout_s=self.timeout_s)

    def _read(self, path: Path, reader):
        try:
            return reader(path)
        except FormatError as err:
            raise ToolError(f"{self.executable} did not write a readable output: {err}") from None

    # ---- the ThermalModel API --------------------------------------------------------------------------
    def steady(self, power_W: np.ndarray) -> np.ndarray:
        """HotSpot's steady state (``-steady_file`` of a one-row trace); the state is unchanged."""
        power = self.check_power(power_W)
        steady_file = self._dir / "out.steady"
        steady_file.unlink(missing_ok=True)
        self._run(power, {"steady_file": str(steady_file)})
        values = self._read(steady_file, read_steady)
        self._node_names = tuple(values)
        return np.array([values[name] for name in self._steady_names])

    def step(self, power_W: np.ndarray, dt_s: float) -> np.ndarray:
        power = self.check_power(power_W)
        if not (np.isfinite(dt_s) and dt_s > 0):
            raise ValueError(f"dt_s must be finite and > 0, got {dt_s}")
        if self._carrying:
            rows, start = power[None, :], self._state
        else:
            if self._history and dt_s != self._history_dt_s:
                raise ConfigError("dt_s", f"{dt_s} differs from the earlier steps' {self._history_dt_s}: without "
                                  "the end state from HotSpot the backend replays the history at one sampling "
                                  "interval; call reset() before changing dt_s")
            self._history.append(power)
            self._history_dt_s = dt_s
            rows, start = np.array(self._history), self._init
        ttrace = self._dir / "out.ttrace"
        ttrace.unlink(missing_ok=True)
        extra = {"o": str(ttrace), "sampling_intvl": repr(float(dt_s))}
        if isinstance(start, dict):
            write_steady(self._dir / "state.init", start)
            extra["init_file"] = str(self._dir / "state.init")
        else:
            extra["init_temp"] = repr(float(start))
        stdout = self._run(rows, extra)
        trace = self._read(ttrace, read_ttrace)
        if trace.temperatures_K.shape[0] != len(rows):
            raise ToolError(f"{self.executable} wrote {trace.temperatures_K.shape[0]} rows to {ttrace}, "
                            f"expected {len(rows)}")
        columns = [trace.names.index(name) for name in self.output_names]
        self._last = np.array(trace.temperatures_K[-1, columns], dtype=float)
        dump = parse_node_dump(stdout)
        if self._is_complete(dump):
            self._state = dump
            self._node_names = tuple(dump)
            if self.state_mode == "auto" and not self._carrying and not self._grid:
                self._carrying, self._init, self._history = True, dump, []
        elif self._carrying:
            raise ToolError(f"{self.executable} printed no final node state on stdout (stock HotSpot 7.0 does not), "
                            "so init files cannot be carried over; use state_mode='replay' or 'auto'")
        else:
            self._state = None
        return self._last.copy()

    def _is_complete(self, dump: Mapping[str, float]) -> bool:
        """Whether a stdout dump holds a whole node state: every power unit's silicon node and the package's."""
        return bool(dump) and "inode_0" in dump and all(name in dump for name in self._steady_names)

    def reset(self, init: float | Mapping[str, float] | None = None) -> None:
        init = self._configured_init if init is None else init
        if isinstance(init, Mapping):
            state: float | dict[str, float] = {str(name): float(value) for name, value in init.items()}
            self._node_names = tuple(state)
        else:
            state = float(init)
        self._init = self._state = state
        self._carrying = self.state_mode == "init_file"
        self._history: list[np.ndarray] = []
        self._history_dt_s = float("nan")
        self._last: np.ndarray | None = None

    def node_temperatures(self) -> dict[str, float]:
        """The node state by HotSpot name (known after a reset, a dump-printing run or a steady solve)."""
        if isinstance(self._state, dict):
            return dict(self._state)
        if self._state is None:
            raise ToolError("the node state after a transient is unknown: stock HotSpot 7.0 does not report it "
                            "(HotSniper's patched binary prints it on stdout); temperatures() has the blocks")
        if self._node_names is None:
            self.steady(np.zeros(len(self.power_names)))
        return dict.fromkeys(self._node_names, self._state)

    def temperatures(self) -> np.ndarray:
        if self._last is None:
            raise ToolError("no step has been run since the last reset")
        return self._last.copy()

    def close(self) -> None:
        """Delete the scratch directory of power traces and init files."""
        self._scratch.cleanup()

    def __enter__(self) -> HotSpotBackend:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
