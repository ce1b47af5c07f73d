"""The system description: one YAML file per system, loaded once into frozen, validated dataclasses.

The same files (``gem5_configs/systems/*.yaml``) drive the built-in engine and the gem5 configs. A file may name a
``base:`` system and override only some fields. Every bad value raises ``ConfigError`` naming the dotted field, the
file and the line (from PyYAML's node marks), so a user can fix it without reading this code.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from ailfm.errors import ConfigError, unknown_name
from ailfm.files import number_in_text, read_text, yaml_error

_POSITIVE = {"gt": 0.0}
_NON_NEGATIVE = {"ge": 0.0}
_CLOCK = "no CMOS core is clocked above ~6 GHz"
_SUPPLY = "CMOS core supplies are below ~1.5 V"
#: upper limits of physically sane systems, each with the reason a larger value is a mistake
_TILE_LIMIT = "the NUCA distance tables hold n_tiles^2 entries; 64 x 64 tiles per layer is the largest supported"
_RETICLE = "a die cannot exceed the 26 x 33 mm lithography reticle"
_JUNCTION = "silicon is rated to at most 150 C junction temperature (AEC-Q100 grade 0, the widest grade)"
_AMBIENT = "outside the -55..125 C range of any rated electronics (MIL-STD-883)"
_MAX_TILES = 4096  # layers x tiles_x x tiles_y: NUCA tables of n_tiles x n_banks floats stay ~100 MB


def _num(**bounds) -> typing.Any:
    """A numeric field with bounds checked at load time (``gt``/``ge``/``le``; ``why``: the reason of ``le``)."""
    return field(metadata=bounds)


def _optional_num(**bounds) -> typing.Any:
    """A numeric field that a system may leave out (``None``: the model term it sets is off); bounds as ``_num``."""
    return field(default=None, metadata={**bounds, "optional": True})


def _choice(*options: str) -> typing.Any:
    return field(metadata={"choices": options})


@dataclass(frozen=True)
class Geometry:
    """Tiles of the stack; layer 0 is farthest from the heat sink (HotSpot's LCF order)."""

    layers: int = _num(ge=1, le=64, why="the thermal grid and the NUCA tables grow with the layer count")
    tiles_x: int = _num(ge=1, le=64, why=_TILE_LIMIT)
    tiles_y: int = _num(ge=1, le=64, why=_TILE_LIMIT)
    tile_width_mm: float = _num(gt=0.0, le=33.0, why=_RETICLE)
    tile_height_mm: float = _num(gt=0.0, le=33.0, why=_RETICLE)
    core_height_fraction: float = _num(gt=0.0, le=1.0)

    @property
    def tiles_per_layer(self) -> int:
        return self.tiles_x * self.tiles_y

    @property
    def n_tiles(self) -> int:
        return self.layers * self.tiles_per_layer

    def tile_coordinates(self) -> np.ndarray:
        """(n_tiles, 3) integer (x, y, layer) of tile ``i = layer * tiles_per_layer + y * tiles_x + x``."""
        index = np.arange(self.n_tiles)
        layer, rest = np.divmod(index, self.tiles_per_layer)
        y, x = np.divmod(rest, self.tiles_x)
        return np.stack([x, y, layer], axis=1)


@dataclass(frozen=True)
class CoreSpec:
    model: str = _choice("out-of-order")
    dispatch_width: int = _num(ge=1)
    rob_entries: int = _num(ge=1)
    l1d_kib: float = _num(**_POSITIVE)
    l1i_kib: float = _num(**_POSITIVE)
    l2_kib: float = _num(**_POSITIVE)
    memory_level_parallelism: float = _num(ge=1.0)

    @property
    def private_working_set_bytes(self) -> float:
        """What a migrated thread must refill: its private data caches (L1D + L2)."""
        return (self.l1d_kib + self.l2_kib) * 1024.0


@dataclass(frozen=True)
class LlcSpec:
    banks_per_tile: int = _num(ge=1)
    bank_kib: float = _num(**_POSITIVE)
    bank_latency_cycles: float = _num(**_NON_NEGATIVE)
    line_bytes: int = _num(ge=1)
    interleaving: str = _choice("static")
    #: optional M/D/1 queueing per bank (NucaModel.bank_wait_ns): NoC cycles a bank is busy per access; None = off
    bank_service_cycles: float | None = _optional_num(gt=0.0)


@dataclass(frozen=True)
class NocSpec:
    topology: str = _choice("mesh3d")
    frequency_GHz: float = _num(**_POSITIVE)
    router_latency_cycles: float = _num(**_NON_NEGATIVE)
    link_latency_cycles: float = _num(**_NON_NEGATIVE)
    tsv_latency_cycles: float = _num(**_NON_NEGATIVE)
    link_width_bits: int = _num(ge=8)
    request_bytes: int = _num(ge=1)
    contention: bool = field(default=True)


@dataclass(frozen=True)
class MemorySpec:
    controllers: int = _num(ge=1)
    controller_placement: str = _choice("edge")
    latency_ns: float = _num(**_NON_NEGATIVE)
    bandwidth_GBps_per_controller: float = _num(**_POSITIVE)

    @property
    def bandwidth_Bps(self) -> float:
        return self.controllers * self.bandwidth_GBps_per_controller * 1e9


@dataclass(frozen=True)
class DvfsSpec:
    f_min_GHz: float = _num(gt=0.0, le=10.0, why=_CLOCK)
    f_max_GHz: float = _num(gt=0.0, le=10.0, why=_CLOCK)
    f_step_GHz: float = _num(gt=0.0, le=10.0, why=_CLOCK)
    v_at_zero_V: float = _num(ge=0.0, le=5.0, why=_SUPPLY)
    v_slope_V_per_GHz: float = _num(ge=0.0, le=5.0, why=_SUPPLY)
    transition_latency_s: float = _num(**_NON_NEGATIVE)

    @cached_property
    def levels_GHz(self) -> np.ndarray:
        """The V/f grid, ascending (rounded to 1 MHz so that 0.1 GHz steps compare exactly)."""
        n = int(round((self.f_max_GHz - self.f_min_GHz) / self.f_step_GHz)) + 1
        return np.round(self.f_min_GHz + self.f_step_GHz * np.arange(n), 3)

    def voltage_V(self, f_GHz):
        """Supply voltage of a level: V = v0 + slope * f (HotSniper's 22 nm table)."""
        return self.v_at_zero_V + self.v_slope_V_per_GHz * np.asarray(f_GHz, dtype=float)

    def snap_GHz(self, f_GHz) -> np.ndarray:
        """The highest level not above each requested frequency, clipped to the grid."""
        levels = self.levels_GHz
        steps = np.floor((np.asarray(f_GHz, dtype=float) - self.f_min_GHz) / self.f_step_GHz + 1e-6)
        return levels[np.clip(steps, 0, len(levels) - 1).astype(np.int64)]


@dataclass(frozen=True)
class MigrationSpec:
    reschedule_cost_s: float = _num(**_NON_NEGATIVE)
    refill_from: str = _choice("dram", "llc")


@dataclass(frozen=True)
class StackSpec:
    silicon_thickness_um: float = _num(**_POSITIVE)
    top_silicon_thickness_um: float = _num(**_POSITIVE)
    silicon_resistivity_mK_per_W: float = _num(**_POSITIVE)
    silicon_heat_capacity_J_per_m3K: float = _num(**_POSITIVE)
    tim_thickness_um: float = _num(**_POSITIVE)
    tim_resistivity_mK_per_W: float = _num(**_POSITIVE)
    tim_heat_capacity_J_per_m3K: float = _num(**_POSITIVE)
    grid_cells: int = _num(ge=1, le=128, why="the grid circuit grows as cells^2 per layer: 128 per side took "
                           "several GB (docs/reliability.md)")


@dataclass(frozen=True)
class ThermalSpec:
    ambient_C: float = _num(ge=-55.0, le=125.0, why=_AMBIENT)
    t_max_C: float = _num(ge=-55.0, le=150.0, why=_JUNCTION)
    dtm_trigger_C: float = _num(ge=-55.0, le=150.0, why=_JUNCTION)
    dtm_release_C: float = _num(ge=-55.0, le=150.0, why=_JUNCTION)
    dtm_scope: str = _choice("core", "chip")
    dtm_stop_margin_K: float = _num(**_NON_NEGATIVE)
    epoch_s: float = _num(**_POSITIVE)
    dtm_interval_s: float = _num(**_POSITIVE)
    tdp_W: float = _num(**_POSITIVE)
    stack: StackSpec = field(default=None)

    @property
    def substeps(self) -> int:
        """Thermal sub-steps (DTM sensing intervals) per governor epoch."""
        return int(round(self.epoch_s / self.dtm_interval_s))

    @property
    def ambient_K(self) -> float:
        return self.ambient_C + 273.15

    @property
    def t_max_K(self) -> float:
        return self.t_max_C + 273.15


@dataclass(frozen=True)
class PowerSpec:
    technology_nm: float = _num(**_POSITIVE)
    core_capacitance_nF: float = _num(**_POSITIVE)
    stall_activity: float = _num(ge=0.0, le=1.0)
    barrier_activity: float = _num(ge=0.0, le=1.0)
    leakage_ref_W: float = _num(**_NON_NEGATIVE)
    leakage_ref_V: float = _num(**_POSITIVE)
    leakage_voltage_exponent: float = _num(**_NON_NEGATIVE)
    leakage_ref_C: float = _num(ge=-55.0, le=150.0, why=_JUNCTION)
    leakage_beta_per_K: float = _num(ge=0.0, le=0.1, why="leakage doubling every 7 K or faster is outside measured "
                                     "CMOS (it doubles per ~40 K [Liao05]); the leakage-temperature loop would run "
                                     "away")
    idle_power_W: float = _num(**_NON_NEGATIVE)
    gated_power_W: float = _num(**_NON_NEGATIVE)
    llc_read_energy_nJ: float = _num(**_NON_NEGATIVE)
    llc_leakage_W_per_bank: float = _num(**_NON_NEGATIVE)
    router_energy_pJ_per_flit: float = _num(**_NON_NEGATIVE)
    router_static_W: float = _num(**_NON_NEGATIVE)


@dataclass(frozen=True)
class SystemDescription:
    """A whole system, as read from one YAML file (plus its ``base:`` chain)."""

    name: str
    description: str
    geometry: Geometry
    core: CoreSpec
    llc: LlcSpec
    noc: NocSpec
    memory: MemorySpec
    dvfs: DvfsSpec
    migration: MigrationSpec
    thermal: ThermalSpec
    power: PowerSpec
    path: str = field(default="", compare=False)

    @property
    def n_cores(self) -> int:
        return self.geometry.n_tiles

    @property
    def n_banks(self) -> int:
        return self.geometry.n_tiles * self.llc.banks_per_tile

    def core_name(self, core: int) -> str:
        """Block name of a core, ``L{layer}_core_{x}_{y}`` (the floorplan generator's naming)."""
        x, y, layer = self.geometry.tile_coordinates()[core]
        return f"L{layer}_core_{x}_{y}"


# ----------------------------------------------------------------------------------------------- loading


def shipped_systems_dir() -> Path:
    return Path(str(resources.files("ailfm.gem5_configs") / "systems"))


def shipped_system_names() -> list[str]:
    return sorted(p.stem for p in shipped_systems_dir().glob("*.yaml"))


def resolve_system_path(name_or_path: str | Path) -> Path:
    """A shipped system name (``snuca-64``) or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise ConfigError("system", f"no such file: {candidate}")
        return candidate
    shipped = shipped_systems_dir() / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise ConfigError("system", f"unknown system {str(name_or_path)!r}; known: {', '.join(shipped_system_names())}")
    return shipped


def load_system(name_or_path: str | Path = "snuca-64") -> SystemDescription:
    """Load and validate a system description (a shipped name or a YAML path)."""
    values, where = _read_with_base(resolve_system_path(name_or_path), seen=())
    path = str(resolve_system_path(name_or_path))
    system = _build(SystemDescription, values, where, prefix="", path=path, exclude={"path"})
    system = dataclasses.replace(system, path=path)
    _check_consistency(system, where)
    return system


Where = dict[str, tuple[str, int]]  # dotted field -> (file, 1-based line)


def _read_with_base(path: Path, seen: tuple[Path, ...]) -> tuple[dict, Where]:
    if path.resolve() in seen:
        raise ConfigError("base", "circular base chain", path=path)
    try:
        node = yaml.compose(read_text(path), Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        raise yaml_error(path, err) from None
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError("system", "the file must be a YAML mapping", path=path, line=1)
    values, where = _to_python(node, str(path), prefix="")
    base = values.pop("base", None)
    _, base_line = where.pop("base", (None, None))
    if base is None:
        return values, where
    if not isinstance(base, str):
        raise ConfigError("base", f"expected a system name or YAML path, got {base!r}", path=path, line=base_line)
    try:
        base_path = resolve_system_path(base)
    except ConfigError as err:
        raise ConfigError("base", err.reason, path=path, line=base_line) from None
    base_values, base_where = _read_with_base(base_path, seen + (path.resolve(),))
    return _overlay(base_values, values), {**base_where, **where}


def _to_python(node: yaml.Node, path: str, prefix: str) -> tuple[object, Where]:
    where: Where = {}
    if isinstance(node, yaml.MappingNode):
        result = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(prefix.rstrip(".") or "system", "keys must be plain names, not lists or mappings",
                                  path=path, line=key_node.start_mark.line + 1)
            key = key_node.value
            dotted = f"{prefix}{key}"
            if key in result:
                raise ConfigError(dotted, "duplicate key", path=path, line=key_node.start_mark.line + 1)
            result[key], sub = _to_python(value_node, path, prefix=f"{dotted}.")
            where.update(sub)
            where[dotted] = (path, key_node.start_mark.line + 1)
        return result, where
    if isinstance(node, yaml.SequenceNode):
        raise ConfigError(prefix.rstrip("."), "lists are not expected here", path=path, line=node.start_mark.line + 1)
    try:
        return yaml.SafeLoader("").construct_object(node), where
    except yaml.YAMLError as err:  # an unknown tag such as !!python/object
        raise ConfigError(prefix.rstrip(".") or "system", str(getattr(err, "problem", err)), path=path,
                          line=node.start_mark.line + 1) from None


def _overlay(base: dict, top: dict) -> dict:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _overlay(base[key], value)
        else:
            merged[key] = value
    return merged


def _located(where: Where, dotted: str) -> dict:
    file, line = where.get(dotted, (None, None))
    while file is None and "." in dotted:
        dotted = dotted.rsplit(".", 1)[0]
        file, line = where.get(dotted, (None, None))
    return {"path": file, "line": line}


def _build(cls, values: object, where: Where, prefix: str, path: str, exclude=frozenset()):
    section = prefix.rstrip(".") or "system"
    if not isinstance(values, dict):
        raise ConfigError(section, "expected a mapping", **_located(where, section))
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in exclude]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}", unknown_name(unknown[0], names),
                          **_located(where, f"{prefix}{unknown[0]}"))
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        dotted = f"{prefix}{f.name}"
        if f.name not in values and f.metadata.get("optional"):
            continue
        if f.name not in values:
            section_loc = _located(where, section) if prefix else {"path": None, "line": None}
            raise ConfigError(dotted, "missing", path=section_loc["path"] or path, line=section_loc["line"])
        kwargs[f.name] = _convert(hints[f.name], f, values[f.name], where, dotted, path)
    return cls(**kwargs)


def _convert(hint, f: dataclasses.Field, value: object, where: Where, dotted: str, path: str):
    loc = _located(where, dotted)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where, prefix=f"{dotted}.", path=path)
    if f.metadata.get("optional"):
        hint = float  # an optional field is a number when given (``_optional_num``)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(dotted, f"expected true or false, got {value!r}", **loc)
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(dotted, f"expected a string, got {value!r}", **loc)
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(dotted, f"{value!r} is not one of: {', '.join(choices)}", **loc)
        return value
    if hint is int and not (isinstance(value, int) and not isinstance(value, bool)):
        raise ConfigError(dotted, f"expected an integer, got {value!r}", **loc)
    if hint is float and isinstance(value, str) and (spelt := number_in_text(value)) is not None:
        value = spelt  # YAML 1.1 reads 1.75e6 (exponent without a sign) as a string
    if hint is float and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ConfigError(dotted, f"expected a number, got {value!r}", **loc)
    try:
        number = hint(value)
        finite = np.isfinite(float(number))
    except OverflowError:
        raise ConfigError(dotted, f"must be finite, got {value!r}", **loc) from None
    if not finite:
        raise ConfigError(dotted, f"must be finite, got {value!r}", **loc)
    bounds = f.metadata
    if "gt" in bounds and not number > bounds["gt"]:
        raise ConfigError(dotted, f"must be > {bounds['gt']}, got {value!r}", **loc)
    if "ge" in bounds and not number >= bounds["ge"]:
        raise ConfigError(dotted, f"must be >= {bounds['ge']}, got {value!r}", **loc)
    if "le" in bounds and not number <= bounds["le"]:
        why = f": {bounds['why']}" if "why" in bounds else ""
        raise ConfigError(dotted, f"must be <= {bounds['le']}, got {value!r}{why}", **loc)
    return number


def _check_consistency(system: SystemDescription, where: Where) -> None:
    """Rules that involve more than one field."""
    dvfs, thermal = system.dvfs, system.thermal
    if dvfs.f_max_GHz < dvfs.f_min_GHz:
        raise ConfigError("dvfs.f_max_GHz", f"{dvfs.f_max_GHz} is below f_min_GHz {dvfs.f_min_GHz}",
                          **_located(where, "dvfs.f_max_GHz"))
    span = (dvfs.f_max_GHz - dvfs.f_min_GHz) / dvfs.f_step_GHz
    if abs(span - round(span)) > 1e-6:
        raise ConfigError("dvfs.f_step_GHz", "the step must divide f_max_GHz - f_min_GHz",
                          **_located(where, "dvfs.f_step_GHz"))
    if thermal.dtm_release_C >= thermal.dtm_trigger_C:
        raise ConfigError("thermal.dtm_release_C", "must be below dtm_trigger_C (hysteresis)",
                          **_located(where, "thermal.dtm_release_C"))
    ratio = thermal.epoch_s / thermal.dtm_interval_s
    if ratio < 1.0 - 1e-9 or abs(ratio - round(ratio)) > 1e-6:
        raise ConfigError("thermal.dtm_interval_s", f"must divide epoch_s {thermal.epoch_s} into whole sub-steps",
                          **_located(where, "thermal.dtm_interval_s"))
    if thermal.ambient_C >= thermal.t_max_C:
        raise ConfigError("thermal.ambient_C", "must be below t_max_C", **_located(where, "thermal.ambient_C"))
    if system.n_cores > _MAX_TILES:
        raise ConfigError("geometry", f"{system.n_cores} tiles (layers x tiles_x x tiles_y); at most {_MAX_TILES}: "
                                      "the NUCA tables hold n_tiles x n_banks entries", **_located(where, "geometry"))
