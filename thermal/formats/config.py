"""HotSpot 7.0 configuration: every flag, its default, and the ``-name value`` config-file format.

``HotSpotConfig`` has one field per flag HotSpot 7.0 (uvahotspot/HotSpot @ f18831e) reads, named
as the flag without its dash, with the default of ``default_thermal_config`` (temperature.c),
``global_config_from_strs`` (hotspot.c), ``default_microchannel_config`` (microchannel.c) and
``default_flp_config`` (flp.c, HotFloorplan's flags, which HotSpot's shipped configs carry too).
``None`` stands for HotSpot's ``(null)`` (no file / not set).

How HotSpot reads flags (util.c, hotspot.c), which this module follows:

* A config file holds ``-name value`` lines; ``#`` starts a comment line. Names match
  case-insensitively.
* Command-line flags override the ``-c`` file. The flags in ``COMMAND_LINE_ONLY`` are read from
  the command line only; HotSpot ignores them in a ``-c`` file.
* ``-d`` dumps the global and thermal flags; a few names it writes (``DUMP_ONLY``) are derived
  values HotSpot ignores on input. ``use_microfluidic_cooling`` appears in HotSpot's
  ``template.config`` but no code reads it (``-use_microchannels`` is the real switch).

HotSpot silently ignores unknown names, takes the first of repeated ones and reads ``-dtm_used 2``
as true. We reject unknown or repeated flags and malformed values, naming the file and line.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ailfm.errors import ConfigError, FormatError
from ailfm.thermal.formats._text import format_float, significant_lines
from ailfm.thermal.formats.materials import Material

NULL = "(null)"


def _flag(default: Any, doc: str, group: str) -> Any:
    return field(default=default, metadata={"doc": doc, "group": group})


GLOBAL, CHIP, SINK, SPREADER, TIM, SECONDARY, OTHERS, MODEL, GRID, MATERIALS, MICRO, FLOORPLANNER = (
    "global (hotspot.c)", "chip", "heat sink", "heat spreader", "interface material (TIM)",
    "secondary heat path (grid model only)", "conditions and outputs", "model", "grid model",
    "materials (override k_/p_ values; need -materials_file)", "microfluidic cooling (microchannel.c)",
    "HotFloorplan (flp.c; not used by hotspot)")


@dataclass(frozen=True)
class HotSpotConfig:
    """All HotSpot 7.0 flags with HotSpot's defaults; units in each field's ``doc`` (SI throughout).

    Build variants with ``with_flags`` (strings, as on a command line or in a config file) or
    ``dataclasses.replace`` (typed values); check HotSpot's cross-field rules with ``validate``.
    """

    # --- global flags, command line only (hotspot.c::global_config_from_strs) ---
    f: str | None = _flag(None, "floorplan file (.flp); overridden by -grid_layer_file", GLOBAL)
    p: str | None = _flag(None, "power trace input file (.ptrace); required by hotspot", GLOBAL)
    o: str | None = _flag(None, "transient temperature trace output (.ttrace); unset = steady state only", GLOBAL)
    c: str | None = _flag(None, "configuration file read for the flags not on the command line", GLOBAL)
    d: str | None = _flag(None, "file to dump the resulting configuration to", GLOBAL)
    detailed_3D: bool = _flag(False, "on/off: per-block R and C from 7-field floorplans (grid model + LCF only)",
                              GLOBAL)
    use_microchannels: bool = _flag(False, "0/1: model microfluidic cooling layers (grid + detailed_3D + SuperLU)",
                                    GLOBAL)
    materials_file: str | None = _flag(None, "materials file naming solids/fluids for material_* flags and LCFs",
                                       GLOBAL)

    # --- chip (temperature.c::default_thermal_config) ---
    t_chip: float = _flag(0.15e-3, "chip thickness, m (unused with an LCF)", CHIP)
    k_chip: float = _flag(100.0, "chip thermal conductivity, W/(m K)", CHIP)
    p_chip: float = _flag(1.75e6, "chip volumetric heat capacity, J/(m^3 K)", CHIP)
    thermal_threshold: float = _flag(81.8 + 273.15, "DTM threshold, K; init temperatures are clipped to it "
                                                    "when dtm_used", CHIP)
    # --- heat sink ---
    c_convec: float = _flag(140.4, "convection capacitance, J/K", SINK)
    r_convec: float = _flag(0.1, "convection resistance, K/W", SINK)
    s_sink: float = _flag(60e-3, "heat sink side, m", SINK)
    t_sink: float = _flag(6.9e-3, "heat sink thickness, m", SINK)
    k_sink: float = _flag(400.0, "heat sink thermal conductivity, W/(m K)", SINK)
    p_sink: float = _flag(3.55e6, "heat sink volumetric heat capacity, J/(m^3 K)", SINK)
    # --- heat spreader ---
    s_spreader: float = _flag(30e-3, "heat spreader side, m", SPREADER)
    t_spreader: float = _flag(1e-3, "heat spreader thickness, m", SPREADER)
    k_spreader: float = _flag(400.0, "heat spreader thermal conductivity, W/(m K)", SPREADER)
    p_spreader: float = _flag(3.55e6, "heat spreader volumetric heat capacity, J/(m^3 K)", SPREADER)
    # --- thermal interface material ---
    t_interface: float = _flag(20e-6, "interface material thickness, m", TIM)
    k_interface: float = _flag(4.0, "interface material thermal conductivity, W/(m K)", TIM)
    p_interface: float = _flag(4.0e6, "interface material volumetric heat capacity, J/(m^3 K)", TIM)
    # --- secondary heat path: C4/underfill, substrate, solder balls, PCB ---
    model_secondary: bool = _flag(False, "0/1: model the secondary heat path through the package and PCB", SECONDARY)
    r_convec_sec: float = _flag(1.0, "convection resistance at the PCB, K/W", SECONDARY)
    c_convec_sec: float = _flag(140.4, "convection capacitance at the PCB, J/K", SECONDARY)
    n_metal: int = _flag(8, "number of on-chip metal layers", SECONDARY)
    t_metal: float = _flag(10e-6, "thickness of one metal layer, m", SECONDARY)
    t_c4: float = _flag(1e-4, "C4/underfill thickness, m", SECONDARY)
    s_c4: float = _flag(20e-6, "side of one C4 pad, m", SECONDARY)
    n_c4: int = _flag(400, "number of C4 pads", SECONDARY)
    s_sub: float = _flag(0.021, "package substrate side, m", SECONDARY)
    t_sub: float = _flag(0.001, "package substrate thickness, m", SECONDARY)
    s_solder: float = _flag(0.021, "solder ball layer side, m", SECONDARY)
    t_solder: float = _flag(0.00094, "solder ball layer thickness, m", SECONDARY)
    s_pcb: float = _flag(0.1, "PCB side, m", SECONDARY)
    t_pcb: float = _flag(0.002, "PCB thickness, m", SECONDARY)
    # --- conditions and outputs ---
    ambient: float = _flag(45 + 273.15, "ambient temperature, K", OTHERS)
    init_file: str | None = _flag(None, "initial temperatures (a .steady/.init file); unset = init_temp", OTHERS)
    init_temp: float = _flag(60 + 273.15, "uniform initial temperature when no init_file, K", OTHERS)
    steady_file: str | None = _flag(None, "file for the steady-state node temperatures", OTHERS)
    grid_transient_file: str | None = _flag(None, "file appended with every grid cell's transient temperature",
                                            OTHERS)
    sampling_intvl: float = _flag(3.333e-6, "duration of one power-trace row, s", OTHERS)
    base_proc_freq: float = _flag(3e9, "base processor frequency, Hz (scales nothing in the solver)", OTHERS)
    dtm_used: bool = _flag(False, "0/1: clip init temperatures to thermal_threshold", OTHERS)
    # --- model ---
    model_type: str = _flag("block", "block | grid", MODEL)
    leakage_used: bool = _flag(False, "0/1: temperature-leakage loop (steady state only in HotSpot 7.0)", MODEL)
    leakage_mode: int = _flag(0, "0 = HotSpot's built-in leakage model; 1 = HotLeakage (not implemented)", MODEL)
    package_model_used: bool = _flag(False, "0/1: derive r_convec from package_config_file (fan and fins)", MODEL)
    package_config_file: str | None = _flag(None, "detailed package (heat sink and fan) configuration", MODEL)
    block_omit_lateral: bool = _flag(False, "0/1: block model without lateral chip resistances", MODEL)
    detailed_3D_used: bool = _flag(False, "written by -d as the state of -detailed_3D; ignored on input", MODEL)
    # --- grid model ---
    grid_rows: int = _flag(64, "grid rows (powers of two in HotSpot builds without SuperLU)", GRID)
    grid_cols: int = _flag(64, "grid columns (powers of two in HotSpot builds without SuperLU)", GRID)
    grid_layer_file: str | None = _flag(None, "layer configuration file (.lcf) for 3D stacks", GRID)
    grid_steady_file: str | None = _flag(None, "file for every grid cell's steady temperature", GRID)
    grid_map_mode: str = _flag("center", "grid-to-block mapping: avg | min | max | center", GRID)
    # --- materials by name ---
    material_chip: str | None = _flag(None, "chip material; sets k_chip and p_chip", MATERIALS)
    material_sink: str | None = _flag(None, "heat sink material; sets k_sink and p_sink", MATERIALS)
    material_spreader: str | None = _flag(None, "spreader material; sets k_spreader and p_spreader", MATERIALS)
    material_interface: str | None = _flag(None, "TIM material; sets k_interface and p_interface", MATERIALS)
    # --- microfluidic cooling (read only with -use_microchannels 1) ---
    use_microfluidic_cooling: bool = _flag(False, "0/1 in HotSpot's template.config; read by no code", MICRO)
    pumping_pressure: float = _flag(5000.0, "pumping pressure, Pa", MICRO)
    pump_internal_res: float = _flag(0.0, "pump internal resistance, Pa s/m^3 (0 = ideal pump)", MICRO)
    inlet_temperature: float = _flag(300.0, "coolant temperature at the inlet, K", MICRO)
    coolant_capac: float = _flag(4172638.0, "coolant volumetric heat capacity, J/(m^3 K) (water)", MICRO)
    coolant_res: float = _flag(1.647717911, "coolant thermal resistivity, m K/W (water)", MICRO)
    coolant_visc: float = _flag(0.000889, "coolant dynamic viscosity, Pa s (water)", MICRO)
    wall_capac: float = _flag(1635660.0, "channel wall volumetric heat capacity, J/(m^3 K) (silicon)", MICRO)
    wall_res: float = _flag(0.0076923077, "channel wall thermal resistivity, m K/W (silicon)", MICRO)
    htc: float = _flag(27132.0, "wall-to-coolant heat transfer coefficient, W/(m^2 K)", MICRO)
    network_file: str | None = _flag(None, "microchannel network file (normally named in the LCF)", MICRO)
    wall_material: str | None = _flag(None, "channel wall material; sets wall_res and wall_capac", MICRO)
    coolant_material: str | None = _flag(None, "coolant material; sets coolant_res, _capac and _visc", MICRO)
    cell_width: float = _flag(100e-6, "microchannel cell width, m (derived; written by -d, ignored on input)", MICRO)
    cell_height: float = _flag(100e-6, "microchannel cell height, m (derived; written by -d)", MICRO)
    cell_thickness: float = _flag(100e-6, "microchannel cell thickness, m (derived; written by -d)", MICRO)
    floorplan_file: str | None = _flag(None, "floorplan generated from network_file (derived; written by -d)", MICRO)
    num_rows: int = _flag(-1, "microchannel grid rows (derived; written by -d)", MICRO)
    num_columns: int = _flag(-1, "microchannel grid columns (derived; written by -d)", MICRO)
    n_fluid_cells: int = _flag(-1, "number of fluid cells (derived; written by -d)", MICRO)
    # --- HotFloorplan ---
    wrap_l2: bool = _flag(True, "0/1: wrap the L2 around the floorplan", FLOORPLANNER)
    l2_label: str = _flag("L2", "name of the L2 unit", FLOORPLANNER)
    model_rim: bool = _flag(False, "0/1: model dead space around the chip rim", FLOORPLANNER)
    rim_thickness: float = _flag(50e-6, "rim thickness, m", FLOORPLANNER)
    compact_ratio: float = _flag(0.005, "area ratio below which dead space is ignored", FLOORPLANNER)
    n_orients: int = _flag(300, "discrete orientations of a shape curve (even, > 1)", FLOORPLANNER)
    P0: float = _flag(0.99, "annealing: initial acceptance probability", FLOORPLANNER)
    Davg: float = _flag(1.0, "annealing: average change in cost", FLOORPLANNER)
    Kmoves: float = _flag(7.0, "annealing: moves per step", FLOORPLANNER)
    Rcool: float = _flag(0.99, "annealing: cooling ratio", FLOORPLANNER)
    Rreject: float = _flag(0.99, "annealing: reject ratio at which to stop", FLOORPLANNER)
    Nmax: int = _flag(1000, "annealing: maximum steps", FLOORPLANNER)
    lambdaA: float = _flag(5.0e6, "cost weight of area", FLOORPLANNER)
    lambdaT: float = _flag(1.0, "cost weight of temperature", FLOORPLANNER)
    lambdaW: float = _flag(350.0, "cost weight of wire length", FLOORPLANNER)

    @classmethod
    def flag_names(cls) -> tuple[str, ...]:
        """Every flag, in HotSpot's dump order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def flag_doc(cls, name: str) -> str:
        """Unit and meaning of flag ``name``."""
        return _FIELDS[_canonical(name, "<flag_doc>")].metadata["doc"]

    def with_flags(self, flags: Mapping[str, str], source: str = "<command line>") -> HotSpotConfig:
        """A copy with ``flags`` (name -> value text, names with or without ``-``) applied.

        Raises ConfigError naming the flag and ``source`` for an unknown flag (listing close
        matches) or a value that does not parse as the flag's type.
        """
        changes = {}
        for raw_name, text in flags.items():
            name = _canonical(raw_name, source)
            changes[name] = parse_flag_value(name, text, source)
        return replace(self, **changes)

    def to_flags(self, *, changed_only: bool = False) -> dict[str, str]:
        """Flag name -> value text as HotSpot reads it (``None`` -> ``(null)``, bools -> 0/1, on/off)."""
        default = HotSpotConfig()
        return {f.name: format_flag_value(f.name, getattr(self, f.name)) for f in fields(self)
                if not changed_only or getattr(self, f.name) != getattr(default, f.name)}

    def with_materials(self, materials: Mapping[str, Material]) -> HotSpotConfig:
        """A copy whose k_/p_ values (and the microchannel wall/coolant values) come from the named
        materials, as HotSpot applies ``-material_chip`` and friends; ConfigError for an unknown name."""
        changes: dict[str, float] = {}
        for flag, (k_name, p_name) in _MATERIAL_TARGETS.items():
            material_name = getattr(self, flag)
            if material_name is None:
                continue
            if flag in ("wall_material", "coolant_material") and not self.use_microchannels:
                continue  # HotSpot reads the microchannel flags only with -use_microchannels 1
            if material_name not in materials:
                known = ", ".join(materials) or "none: no materials file"
                raise ConfigError(flag, f"material {material_name!r} not found (known: {known})")
            material = materials[material_name]
            if flag in ("wall_material", "coolant_material"):
                changes[k_name] = material.resistivity_mK_per_W
                if flag == "coolant_material":
                    changes["coolant_visc"] = material.dynamic_viscosity_Pa_s or 0.0
            else:
                changes[k_name] = material.conductivity_W_per_mK
            changes[p_name] = material.volumetric_heat_capacity_J_per_m3K
        return replace(self, **changes)

    def validate(self) -> HotSpotConfig:
        """Check the cross-field rules HotSpot enforces (and positivity it assumes); return self.

        Raises ConfigError naming the first offending flag.
        """
        for name in ("t_chip", "s_sink", "t_sink", "s_spreader", "t_spreader", "t_interface"):
            _require(self, name, getattr(self, name) > 0, "chip and package dimensions must be > 0")
            _require(self, name, getattr(self, name) <= MAX_DIMENSION_M, f"chip and package dimensions are in "
                     f"metres: more than {MAX_DIMENSION_M:g} m is a unit mistake (HotSpot's defaults are mm to cm)")
        for name in ("t_metal", "n_metal", "t_c4", "s_c4", "n_c4", "s_sub", "t_sub", "s_solder", "t_solder",
                     "s_pcb", "t_pcb", "r_convec_sec", "c_convec_sec"):
            _require(self, name, getattr(self, name) > 0, "secondary heat path dimensions must be > 0")
        for name in ("k_chip", "p_chip", "k_sink", "p_sink", "k_spreader", "p_spreader", "k_interface",
                     "p_interface"):
            _require(self, name, getattr(self, name) > 0, "material properties must be > 0")
        for name in ("thermal_threshold", "c_convec", "r_convec", "ambient"):
            _require(self, name, getattr(self, name) >= 0, "must be >= 0")
        for name in ("base_proc_freq", "sampling_intvl", "init_temp"):
            _require(self, name, getattr(self, name) > 0, "must be > 0")
        _require(self, "model_type", self.model_type in MODEL_TYPES, f"must be one of {', '.join(MODEL_TYPES)}")
        _require(self, "grid_map_mode", self.grid_map_mode in GRID_MAP_MODES,
                 f"must be one of {', '.join(GRID_MAP_MODES)}")
        for name in ("grid_rows", "grid_cols"):
            _require(self, name, getattr(self, name) > 0, "grid rows and columns must be > 0")
            _require(self, name, getattr(self, name) <= MAX_GRID, f"at most {MAX_GRID}: the grid model holds "
                     "rows x cols cells per layer (HotSpot's examples use 64 to 512)")
        _require(self, "model_secondary", not (self.model_secondary and self.model_type == "block"),
                 "the secondary heat path is supported only with -model_type grid")
        _require(self, "leakage_mode", self.leakage_mode in (0, 1), "must be 0 (built-in) or 1 (HotLeakage)")
        _require(self, "leakage_mode", not (self.leakage_used and self.leakage_mode == 1),
                 "HotLeakage (mode 1) is not implemented in HotSpot 7.0")
        _require(self, "detailed_3D", not self.detailed_3D or self.model_type == "grid",
                 "-detailed_3D on needs -model_type grid")
        _require(self, "detailed_3D", not self.detailed_3D or self.grid_layer_file is not None,
                 "-detailed_3D on needs a -grid_layer_file")
        _require(self, "use_microchannels", not self.use_microchannels or self.detailed_3D,
                 "-use_microchannels 1 needs -model_type grid and -detailed_3D on")
        for name in ("material_chip", "material_sink", "material_spreader", "material_interface"):
            _require(self, name, getattr(self, name) is None or self.materials_file is not None,
                     "naming a material needs -materials_file")
        return self


MODEL_TYPES = ("block", "grid")
MAX_DIMENSION_M = 1.0
MAX_GRID = 1024
GRID_MAP_MODES = ("avg", "min", "max", "center")
COMMAND_LINE_ONLY = frozenset({"f", "p", "o", "c", "d", "detailed_3D", "use_microchannels", "materials_file"})
DUMP_ONLY = frozenset({"detailed_3D_used", "cell_width", "cell_height", "cell_thickness", "floorplan_file",
                       "num_rows", "num_columns", "n_fluid_cells"})
# Unset material flags cannot be written as "(null)": HotSpot would look up a material of that name.
_OMIT_WHEN_UNSET = frozenset({"material_chip", "material_sink", "material_spreader", "material_interface",
                              "wall_material", "coolant_material"})
_MATERIAL_TARGETS = {"material_chip": ("k_chip", "p_chip"), "material_sink": ("k_sink", "p_sink"),
                     "material_spreader": ("k_spreader", "p_spreader"),
                     "material_interface": ("k_interface", "p_interface"),
                     "wall_material": ("wall_res", "wall_capac"), "coolant_material": ("coolant_res", "coolant_capac")}
_FIELDS = {f.name: f for f in fields(HotSpotConfig)}
_BY_LOWER = {name.lower(): name for name in _FIELDS}
_LOWERCASE_VALUES = frozenset({"model_type", "grid_map_mode"})


def _require(config: HotSpotConfig, name: str, ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(name, f"{message} (got {format_flag_value(name, getattr(config, name))})")


def _canonical(raw_name: str, source: str) -> str:
    """The field name of flag ``raw_name`` (HotSpot matches names case-insensitively)."""
    name = raw_name[1:] if raw_name.startswith("-") else raw_name
    try:
        return _BY_LOWER[name.lower()]
    except KeyError:
        close = difflib.get_close_matches(name, list(_FIELDS), n=4, cutoff=0.6)
        hint = f"; did you mean {', '.join('-' + c for c in close)}?" if close else ""
        raise ConfigError(f"-{name}", f"unknown HotSpot flag{hint}", path=source) from None


def parse_flag_value(name: str, text: str, source: str = "<command line>") -> Any:
    """Parse ``text`` as the value of flag ``name`` (a field name); ConfigError naming flag and source."""
    kind = _FIELDS[name].type
    text = str(text)

    def bad(expected: str) -> ConfigError:
        return ConfigError(f"-{name}", f"expected {expected}, got {text!r}", path=source)

    if not text or any(c.isspace() for c in text) or text.startswith("#"):
        raise bad("a single word not starting with '#' (HotSpot reads values with %s)")
    if kind == "str | None":
        return None if text == NULL else text
    if kind == "str":
        return text.lower() if name in _LOWERCASE_VALUES else text
    if kind == "bool":
        words = {"on": True, "off": False} if name == "detailed_3D" else {"1": True, "0": False}
        if text.lower() not in words:
            raise bad(" or ".join(words))
        return words[text.lower()]
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise bad("an integer") from None
    try:
        value = float(text)
    except ValueError:
        raise bad("a number") from None
    if not math.isfinite(value):
        raise bad("a finite number")
    return value


def format_flag_value(name: str, value: Any) -> str:
    """The text HotSpot reads back as ``value`` for flag ``name``."""
    kind = _FIELDS[name].type
    if value is None:
        return NULL
    if kind == "bool":
        return ("on" if value else "off") if name == "detailed_3D" else str(int(value))
    if kind == "float":
        return format_float(value)
    return str(value)


class ConfigFlags(dict):
    """Flag name -> value text of a config file, with ``lines`` (flag name -> 1-based line) so that a value found
    wrong later, by a rule over several flags, is still reported at its file and line."""

    def __init__(self, path: Path | str):
        super().__init__()
        self.path = str(path)
        self.lines: dict[str, int] = {}


def read_config(path: Path | str) -> ConfigFlags:
    """The ``-name value`` pairs of a HotSpot config file, keyed by field name, in file order.

    Each value is checked against its flag's type here, so errors carry the line; apply the result
    with ``HotSpotConfig().with_flags(read_config(path), source=str(path))``.
    """
    flags = ConfigFlags(path)
    lines = flags.lines
    for number, tokens in significant_lines(path):
        if len(tokens) != 2 or not tokens[0].startswith("-") or len(tokens[0]) < 2:
            raise FormatError(path, number, f"expected '-name value', got {' '.join(tokens)!r}")
        try:
            name = _canonical(tokens[0], str(path))
            parse_flag_value(name, tokens[1], str(path))
        except ConfigError as err:
            raise FormatError(path, number, f"{err.field}: {err.reason}") from None
        if name in flags:
            raise FormatError(path, number, f"-{name} is already set on line {lines[name]}")
        flags[name] = tokens[1]
        lines[name] = number
    return flags


def write_config(path: Path | str, config: HotSpotConfig) -> None:
    """Write every flag with a comment giving its unit and meaning, grouped as in HotSpot's dump.

    HotSpot reads the result with ``-c`` (it ignores the command-line-only and dump-only flags
    there); unset material names are written as comments, since ``(null)`` would name a material.
    """
    rows = ["# HotSpot 7.0 configuration written by ailfm (every flag; see docs/thermal-formats.md)"]
    group = None
    for f in fields(config):
        if f.metadata["group"] != group:
            group = f.metadata["group"]
            rows += ["", f"# === {group} ==="]
        value = getattr(config, f.name)
        notes = [f.metadata["doc"]]
        if f.name in COMMAND_LINE_ONLY:
            notes.append("command line only")
        rows.append(f"# {'; '.join(notes)}")
        line = f"-{f.name}\t{format_flag_value(f.name, value)}"
        rows.append(f"# {line}" if value is None and f.name in _OMIT_WHEN_UNSET else line)
    Path(path).write_text("\n".join(rows) + "\n")
