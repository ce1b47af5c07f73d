"""``ailfm-hotspot``: HotSpot 7.0's command line over the built-in solver, a drop-in for ``hotspot``.

The command reads the same files and writes the same files in the same formats as HotSpot 7.0
(``hotspot.c``), so tools that call ``hotspot`` through a subprocess (HotSniper, CoMeT, scripts
of HotSpot's ``examples/``) can call ``ailfm-hotspot`` instead:

* the command line is ``-name value`` pairs (an even number of arguments, at least two pairs);
  ``-p`` is required; a repeated name keeps its first value; names match case-insensitively;
* ``-c`` reads a config file; command-line values override it. ``-f``, ``-p``, ``-o``, ``-c``,
  ``-d``, ``-detailed_3D``, ``-use_microchannels`` and ``-materials_file`` are read from the
  command line only (HotSpot ignores them in a config file), every other config flag from both;
* the steady state of the trace's *average* power is always computed; ``-steady_file`` and
  ``-grid_steady_file`` write it. The transient is computed only with ``-o``: one ttrace row per
  ptrace row, starting from ``-init_file`` (a ``.steady``/``.init`` file of the same model) or
  else the uniform ``-init_temp``; ``-grid_transient_file`` appends every row's grid;
* ``-d`` writes the resolved configuration (``-name<TAB>value``, HotSpot's order and ``%g``);
* relative paths are opened from the current directory, as HotSpot's ``fopen`` does.

Where HotSpot silently ignores something (an unknown flag, a flag in the wrong place) this command
stops with a one-line error naming the flag, file and line instead; see ``docs/ailfm-hotspot.md``.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import numpy as np

from ailfm.errors import AilfmError, ConfigError, FormatError
from ailfm.thermal.block import package_config_of
from ailfm.thermal.formats import (
    Floorplan,
    HotSpotConfig,
    LcfLayer,
    Material,
    TemperatureTrace,
    append_grid_transient,
    read_config,
    read_flp,
    read_lcf,
    read_materials,
    read_ptrace,
    write_grid_steady,
    write_steady,
    write_ttrace,
)
from ailfm.thermal.formats.config import COMMAND_LINE_ONLY, NULL
from ailfm.thermal.model import build_thermal_model
from ailfm.thermal.package import convection_resistance_K_per_W

PROG = "ailfm-hotspot"
# Set (to anything non-empty) to make stdout the final node state of the transient and nothing else, ``name<TAB>K`` per
# node, as HotSniper's patched HotSpot prints it: HotSniper-style drivers save stdout as the next epoch's
# init file (e.g. HotSniper's ``Temperature.init``), so the progress lines are left out.
PRINT_STATE_ENV = "AILFM_HOTSPOT_PRINT_STATE"

USAGE = f"""\
Usage: {PROG} -f <file> -p <file> [-o <file>] [-c <file>] [-d <file>] [options]
HotSpot 7.0's command line over ailfm's built-in thermal solver (same input and output files).
Options (any order; "-name value" pairs; command-line values override the -c file):
   -f <file>    floorplan (e.g. ev6.flp); overridden by -grid_layer_file (an .lcf) in the grid model
   -p <file>    power trace (e.g. gcc.ptrace)
  [-o <file>]   transient temperature trace; without it only the steady state is computed
  [-c <file>]   configuration file (e.g. hotspot.config)
  [-d <file>]   write the resolved configuration to <file>
  [-materials_file <file>]  materials for -material_chip, -material_sink, ...
  [-detailed_3D on|off]     per-block R and C from the floorplans of an .lcf (grid model)
  [-<name> <value>]         any configuration flag, e.g. -model_type grid -grid_rows 64
"""


class UsageError(AilfmError):
    """The command line does not have HotSpot's shape; HotSpot prints its usage and exits with 1."""


def parse_command_line(argv: Sequence[str]) -> dict[str, str]:
    """HotSpot's ``-name value`` pairs, in order; a repeated name keeps its first value.

    Names are kept as typed (without the dash); lookups elsewhere ignore case, as HotSpot's
    ``strcasecmp`` does.
    """
    if len(argv) < 4 or len(argv) % 2:
        raise UsageError(f"expected -name value pairs (an even number of arguments, at least 4), got {len(argv)}")
    pairs: dict[str, str] = {}
    seen: set[str] = set()
    for k in range(0, len(argv), 2):
        name, value = argv[k], argv[k + 1]
        if not name.startswith("-") or len(name) < 2:
            raise UsageError(f"argument {k + 1} ({name!r}) should be an option name like -f")
        if name[1:].lower() not in seen:
            seen.add(name[1:].lower())
            pairs[name[1:]] = value
    return pairs


def resolve_config(flags: Mapping[str, str], *, cwd: str | os.PathLike | None = None,
                   warn: Callable[[str], None] | None = None) -> tuple[HotSpotConfig, dict[str, Material] | None]:
    """HotSpot's option resolution: defaults, then the ``-c`` file, then ``flags`` (which win), then the
    ``-materials_file`` materials; validated. Relative paths are opened from ``cwd``.

    Returns the configuration and the materials (``None`` without ``-materials_file``). ``warn(message)``
    is told of command-line-only flags found in the config file, which HotSpot ignores there.
    """
    base = Path(cwd if cwd is not None else os.getcwd())
    command_line = HotSpotConfig().with_flags(flags)
    config = HotSpotConfig()
    from_file = None
    if command_line.c is not None:
        path = base / command_line.c
        from_file = read_config(path)
        ignored = [name for name in from_file if name in COMMAND_LINE_ONLY]
        if ignored and warn is not None:
            warn(f"{path}: {', '.join('-' + n for n in ignored)} ignored: HotSpot reads it from the command line only")
        config = config.with_flags({n: v for n, v in from_file.items() if n not in COMMAND_LINE_ONLY}, source=str(path))
    config = config.with_flags(flags)
    materials = None
    if config.materials_file is not None:
        materials = read_materials(base / config.materials_file)
        config = config.with_materials(materials)
    try:
        return config.validate(), materials
    except ConfigError as err:  # name where the value came from: the config file's line, or the command line
        given = {name.lstrip("-").lower() for name in flags}
        if from_file is not None and err.field in from_file.lines and err.field.lower() not in given:
            raise FormatError(from_file.path, from_file.lines[err.field], f"-{err.field}: {err.reason}") from None
        raise ConfigError(f"-{err.field}", f"{err.reason} (on the command line)" if err.field.lower() in given
                          else err.reason) from None


def read_model_inputs(config: HotSpotConfig, materials: Mapping[str, Material] | None = None, *,
                      cwd: str | os.PathLike | None = None, warn: Callable[[str], None] | None = None
                      ) -> tuple[Floorplan | None, list[LcfLayer] | None]:
    """The floorplan (block model, 2D grid) or the LCF layers (grid model with ``-grid_layer_file``),
    which HotSpot prefers to ``-f`` when both are given."""
    base = Path(cwd if cwd is not None else os.getcwd())
    if config.model_type == "grid" and config.grid_layer_file is not None:
        if config.f is not None and warn is not None:
            warn(f"Layer Configuration File {config.grid_layer_file} specified. Overriding floorplan file {config.f}")
        return None, read_lcf(base / config.grid_layer_file, materials)
    if config.f is None:
        raise ConfigError("-f", "give a floorplan (-f) or, with -model_type grid, an LCF (-grid_layer_file)")
    return read_flp(base / config.f), None


# The names and order of HotSpot's -d dump: global_config_to_strs, then thermal_config_to_strs (HotSpot 7.0).
DUMP_ORDER = (
    "f", "p", "o", "c", "d", "detailed_3D", "use_microchannels", "materials_file",
    "t_chip", "k_chip", "p_chip", "thermal_threshold", "c_convec", "r_convec", "s_sink", "t_sink", "k_sink", "p_sink",
    "s_spreader", "t_spreader", "k_spreader", "p_spreader", "t_interface", "k_interface", "p_interface",
    "model_secondary", "r_convec_sec", "c_convec_sec", "n_metal", "t_metal", "t_c4", "s_c4", "n_c4", "s_sub",
    "t_sub", "s_solder", "t_solder", "s_pcb", "t_pcb", "ambient", "init_file", "init_temp", "steady_file",
    "sampling_intvl", "base_proc_freq", "dtm_used", "model_type", "leakage_used", "leakage_mode",
    "package_model_used", "package_config_file", "block_omit_lateral", "grid_rows", "grid_cols", "grid_layer_file",
    "grid_steady_file", "grid_map_mode", "grid_transient_file", "detailed_3D_used",
)


def dump_config_text(config: HotSpotConfig, r_convec_K_per_W: float | None = None) -> str:
    """HotSpot's ``-d`` dump: ``-name<TAB>value`` lines in its order, numbers as C's ``%lg``.

    ``r_convec_K_per_W`` is the convection resistance the package model computed, which HotSpot dumps
    in place of the configured one when ``-package_model_used 1``.
    """
    lines = []
    for name in DUMP_ORDER:
        value = getattr(config, name)
        if name == "r_convec" and r_convec_K_per_W is not None:
            value = r_convec_K_per_W
        if value is None:
            text = NULL
        elif name == "detailed_3D":
            text = "on" if value else "off"
        elif isinstance(value, bool):
            text = str(int(value))
        elif isinstance(value, float):
            text = f"{value:g}"
        else:
            text = str(value)
        lines.append(f"-{name}\t{text}\n")
    return "".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run HotSpot's command line; 0 on success, 1 (HotSpot's status) with a one-line error otherwise."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["-h"], ["--help"]):
        print(USAGE, end="")
        return 0
    try:
        run(argv)
    except UsageError as err:
        print(USAGE, end="")
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    except AilfmError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print(f"{PROG}: error: {where}{err.strerror or err}", file=sys.stderr)
        return 1
    return 0


def run(argv: Sequence[str], *, out: TextIO | None = None, err: TextIO | None = None) -> None:
    """What ``hotspot.c::main`` does, on the built-in model; progress lines as HotSpot prints them."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    state_out = None
    if os.environ.get(PRINT_STATE_ENV):
        state_out, out = out, io.StringIO()

    def warn(message: str) -> None:
        print(f"warning: {message}", file=err)

    flags = parse_command_line(argv)
    print("Parsing input files...", file=out)
    config, materials = resolve_config(flags, warn=warn)
    if config.p is None:
        raise ConfigError("-p", "required: the power trace file (-p <file>)")
    if config.use_microchannels:
        raise ConfigError("-use_microchannels", "microfluidic cooling is not supported by ailfm-hotspot")
    if config.d is not None:
        Path(config.d).write_text(dump_config_text(config, _package_r_convec(config)))
    if config.model_type != "grid":
        for name in ("grid_steady_file", "grid_transient_file"):
            if getattr(config, name) is not None:
                warn(f"Ignoring -{name} because grid model is not being used")
                config = replace(config, **{name: None})
    if config.o is None:
        # Without a transient HotSpot never opens the init file (hotspot.c reads it only when do_transient).
        config = replace(config, init_file=None)
    floorplan, layers = read_model_inputs(config, materials, warn=warn)
    model = build_thermal_model(config, floorplan=floorplan, layers=layers, materials=materials)

    print("Creating thermal circuit...", file=out)
    trace = read_ptrace(config.p)
    try:
        power = trace.reordered(model.power_names).power_W
    except ValueError as mismatch:
        raise FormatError(config.p, 1, str(mismatch)) from None
    if trace.n_rows == 0:
        raise FormatError(config.p, None, "no power numbers in trace file")
    dt_s = float(config.sampling_intvl)
    if config.o is not None:
        temperatures = _transient(model, power, dt_s, config.grid_transient_file, out)
        back = [model.output_names.index(name) for name in trace.names]
        write_ttrace(config.o, TemperatureTrace(trace.names, temperatures[:, back]))
        if state_out is not None:
            state_out.write("".join(f"{name}\t{value:.2f}\n" for name, value in model.node_temperatures().items()))
    if config.steady_file is not None or config.grid_steady_file is not None:
        print("Computing steady-state temperatures...", file=err)
        average = power.mean(axis=0)
        if config.steady_file is not None:
            write_steady(config.steady_file, model.steady_node_temperatures(average))
        if config.grid_steady_file is not None:
            write_grid_steady(config.grid_steady_file, list(steady_grid_maps(model, average).values()))
    print("Simulation complete.", file=out)


def _package_r_convec(config: HotSpotConfig) -> float | None:
    """The convection resistance HotSpot's package model sets before its ``-d`` dump (natural convection: at its
    starting sink temperature), or ``None`` without ``-package_model_used 1``."""
    package = package_config_of(config)
    if package is None:
        return None
    return convection_resistance_K_per_W(package, s_sink_m=config.s_sink, k_sink_W_per_mK=config.k_sink,
                                         ambient_K=config.ambient)


def _transient(model, power: np.ndarray, dt_s: float, grid_transient_file: str | None, out: TextIO) -> np.ndarray:
    """Temperatures after each power row, stepped row by row as HotSpot does; with a grid transient file, every
    row's grid is appended to it."""
    rows = []
    for k, row in enumerate(power):
        print(f"Computing temperatures for t = {k * dt_s:e}...", file=out)
        rows.append(model.step(row, dt_s))
        if grid_transient_file is not None:
            append_grid_transient(grid_transient_file, k * dt_s, list(model.grid_maps().values()))
    return np.array(rows).reshape(len(power), len(model.output_names))


def steady_grid_maps(model, power_W: np.ndarray) -> dict[str, np.ndarray]:
    """Per-layer steady maps (K) of a built-in grid model, spreader and sink included, as HotSpot dumps them.

    The leakage loop and natural convection make the steady state nonlinear; the model does not expose
    their converged node vector, so those combinations are refused rather than dumped inconsistently.
    """
    circuit = model.circuit
    theta = model.solver.steady(circuit.network.power_to_node @ power_W)
    if not np.allclose(circuit.outputs(theta) + model.ambient_K, model.steady(power_W), rtol=0, atol=1e-9):
        raise ConfigError("grid_steady_file", "not supported with -leakage_used 1 or natural convection "
                          "(-package_model_used 1): use -steady_file for the block temperatures")
    return {name: rise + model.ambient_K for name, rise in circuit.grid_maps(theta).items()}
