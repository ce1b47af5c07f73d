"""HotSpot configuration: every flag, defaults equal to HotSpot's, round trips, errors with line numbers."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import fields, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_data import HOTSPOT_REFERENCE, require_shared

from ailfm.errors import ConfigError, FormatError
from ailfm.thermal.formats.config import (
    COMMAND_LINE_ONLY,
    DUMP_ONLY,
    HotSpotConfig,
    read_config,
    write_config,
)

token = st.from_regex(r"[A-Za-z0-9_./][A-Za-z0-9_./\-]{0,15}", fullmatch=True).filter(lambda s: s != "(null)")


def value_strategy(f):
    if f.name == "model_type":
        return st.sampled_from(["block", "grid"])
    if f.name == "grid_map_mode":
        return st.sampled_from(["avg", "min", "max", "center"])
    return {"float": st.floats(allow_nan=False, allow_infinity=False), "int": st.integers(-10**6, 10**6),
            "bool": st.booleans(), "str": token, "str | None": st.one_of(st.none(), token)}[f.type]


configs = st.fixed_dictionaries({}, optional={f.name: value_strategy(f) for f in fields(HotSpotConfig)}).map(
    lambda changes: replace(HotSpotConfig(), **changes))


@settings(max_examples=30, deadline=None)
@given(configs)
def test_write_then_read_gives_the_same_config(tmp_path_factory, config):
    path = tmp_path_factory.mktemp("cfg") / "x.config"
    write_config(path, config)
    assert HotSpotConfig().with_flags(read_config(path), source=str(path)) == config


def test_every_flag_hotspot_reads_is_a_field():
    names = set(HotSpotConfig.flag_names())
    thermal = {"t_chip", "k_chip", "p_chip", "thermal_threshold", "c_convec", "r_convec", "s_sink", "t_sink",
               "k_sink", "p_sink", "s_spreader", "t_spreader", "k_spreader", "p_spreader", "t_interface",
               "k_interface", "p_interface", "model_secondary", "r_convec_sec", "c_convec_sec", "n_metal",
               "t_metal", "t_c4", "s_c4", "n_c4", "s_sub", "t_sub", "s_solder", "t_solder", "s_pcb", "t_pcb",
               "ambient", "init_file", "init_temp", "steady_file", "grid_transient_file", "sampling_intvl",
               "base_proc_freq", "dtm_used", "model_type", "leakage_used", "leakage_mode", "package_model_used",
               "package_config_file", "block_omit_lateral", "grid_rows", "grid_cols", "grid_layer_file",
               "grid_steady_file", "grid_map_mode", "material_chip", "material_sink", "material_spreader",
               "material_interface"}
    micro = {"pumping_pressure", "pump_internal_res", "inlet_temperature", "coolant_capac", "coolant_res",
             "coolant_visc", "wall_capac", "wall_res", "htc", "network_file", "wall_material", "coolant_material"}
    assert thermal | micro | COMMAND_LINE_ONLY | DUMP_ONLY <= names
    assert all(HotSpotConfig.flag_doc(name) for name in names)
    assert len({name.lower() for name in names}) == len(names)  # HotSpot matches names case-insensitively


def test_defaults_are_hotspots():
    c = HotSpotConfig()
    assert (c.t_chip, c.k_chip, c.p_chip, c.thermal_threshold) == (0.15e-3, 100.0, 1.75e6, 81.8 + 273.15)
    assert (c.r_convec, c.c_convec, c.s_sink, c.t_sink, c.s_spreader, c.t_interface) == (
        0.1, 140.4, 0.06, 6.9e-3, 0.03, 20e-6)
    assert (c.ambient, c.init_temp, c.sampling_intvl, c.grid_rows, c.grid_map_mode) == (
        318.15, 333.15, 3.333e-6, 64, "center")
    assert c.init_file is None and c.model_type == "block" and not c.detailed_3D
    c.validate()


def test_defaults_match_the_dump_of_the_real_hotspot(tmp_path):
    if shutil.which("hotspot") is None:
        pytest.skip("no hotspot binary on PATH")
    root = require_shared(HOTSPOT_REFERENCE) / "ev6_block"
    dump = tmp_path / "dump.config"
    subprocess.run(["hotspot", "-f", str(root / "ev6.flp"), "-p", str(root / "gcc.ptrace"), "-d", str(dump)],
                   cwd=tmp_path, check=True, capture_output=True, timeout=120)
    got = HotSpotConfig().with_flags(read_config(dump), source=str(dump))
    assert replace(got, f=None, p=None, d=None) == HotSpotConfig()


def test_with_flags_parses_types_and_names_case_insensitively():
    c = HotSpotConfig().with_flags({"-model_type": "GRID", "grid_rows": "128", "DETAILED_3D": "on",
                                    "init_file": "(null)", "steady_file": "out.steady", "r_convec": "0.3",
                                    "dtm_used": "1"})
    assert (c.model_type, c.grid_rows, c.detailed_3D, c.init_file, c.steady_file, c.r_convec, c.dtm_used) == (
        "grid", 128, True, None, "out.steady", 0.3, True)
    assert c.to_flags(changed_only=True) == {"detailed_3D": "on", "r_convec": "0.3", "dtm_used": "1",
                                             "model_type": "grid", "grid_rows": "128",
                                             "steady_file": "out.steady"}


@pytest.mark.parametrize(("flags", "message"), [
    ({"-r_convek": "1"}, "-r_convek: unknown HotSpot flag; did you mean -r_convec"),
    ({"grid_rows": "6.5"}, "-grid_rows: expected an integer, got '6.5'"),
    ({"t_chip": "thin"}, "-t_chip: expected a number"),
    ({"t_chip": "inf"}, "-t_chip: expected a finite number"),
    ({"dtm_used": "2"}, "-dtm_used: expected 1 or 0"),
    ({"detailed_3D": "yes"}, "-detailed_3D: expected on or off"),
    ({"init_file": "a b"}, "expected a single word"),
    ({"init_file": "#a"}, "not starting with '#'"),
])
def test_bad_flags_name_flag_and_source(flags, message):
    with pytest.raises(ConfigError) as info:
        HotSpotConfig().with_flags(flags, source="cmd")
    assert message in str(info.value) and "cmd" in str(info.value)


@pytest.mark.parametrize(("changes", "flag"), [
    ({"t_chip": 0.0}, "t_chip"), ({"model_type": "cube"}, "model_type"), ({"grid_map_mode": "mean"}, "grid_map_mode"),
    ({"grid_rows": 0}, "grid_rows"), ({"model_secondary": True}, "model_secondary"),
    ({"detailed_3D": True, "model_type": "grid"}, "detailed_3D"), ({"detailed_3D": True}, "detailed_3D"),
    ({"use_microchannels": True}, "use_microchannels"), ({"material_chip": "silicon"}, "material_chip"),
    ({"sampling_intvl": -1.0}, "sampling_intvl"), ({"k_sink": 0.0}, "k_sink"),
    ({"leakage_used": True, "leakage_mode": 1}, "leakage_mode"),
])
def test_validate_rejects_what_hotspot_rejects(changes, flag):
    with pytest.raises(ConfigError) as info:
        replace(HotSpotConfig(), **changes).validate()
    assert info.value.field == flag
    replace(HotSpotConfig(), model_type="grid", detailed_3D=True, grid_layer_file="x.lcf",
            model_secondary=True).validate()


@pytest.mark.parametrize(("text", "line", "message"), [
    ("# c\n-t_chip\n", 2, "expected '-name value'"),
    ("-t_chip 1 2\n", 1, "expected '-name value'"),
    ("t_chip 1\n", 1, "expected '-name value'"),
    ("\n-t_chip 1 # thin\n-k_chp 3\n", 3, "-k_chp: unknown HotSpot flag; did you mean -k_chip"),
    ("-grid_rows 1e3\n", 1, "-grid_rows: expected an integer"),
    ("-ambient 300\n\n-AMBIENT 301\n", 3, "-ambient is already set on line 1"),
])
def test_malformed_config_files_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.config"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_config(path)
    assert info.value.line == line and f"bad.config:{line}:" in str(info.value) and message in str(info.value)


def test_every_reference_config_parses():
    files = sorted(require_shared(HOTSPOT_REFERENCE).glob("*/*.config"))
    assert files
    for path in files:
        config = HotSpotConfig().with_flags(read_config(path), source=str(path))
        assert config.ambient == 318.15
    snuca = HotSpotConfig().with_flags(read_config(HOTSPOT_REFERENCE / "snuca_2x4x4" / "hotspot.config"))
    assert (snuca.k_chip, snuca.p_chip, snuca.grid_map_mode, snuca.coolant_material) == (
        130.0, 1630300.0, "avg", "water")


def test_with_materials_applies_named_materials_like_hotspot():
    from ailfm.thermal.formats.materials import Material

    materials = {"silicon": Material("silicon", "solid", 130.0, 1630300.0),
                 "water": Material("water", "fluid", 0.6069, 4172638.0, 8.89e-4)}
    c = replace(HotSpotConfig(), material_chip="silicon", coolant_material="water").with_materials(materials)
    assert (c.k_chip, c.p_chip, c.coolant_capac, c.coolant_visc) == (130.0, 1630300.0, 4172638.0, 8.89e-4)
    assert c.coolant_res == pytest.approx(1 / 0.6069)
    with pytest.raises(ConfigError, match="material 'copper' not found"):
        replace(HotSpotConfig(), material_sink="copper").with_materials(materials)


def test_microchannel_materials_apply_only_with_microchannels():
    # HotSpot's shipped configs name -wall_material/-coolant_material but read them only with -use_microchannels 1.
    unused = replace(HotSpotConfig(), wall_material="unobtainium")
    assert unused.with_materials({}) == unused
    with pytest.raises(ConfigError, match="wall_material"):
        replace(unused, use_microchannels=True).with_materials({})


def test_every_flag_is_documented():
    from reference_data import REPO

    text = (REPO / "docs" / "thermal-formats.md").read_text()
    undocumented = [name for name in HotSpotConfig.flag_names() if f"`-{name}`" not in text]
    assert not undocumented
