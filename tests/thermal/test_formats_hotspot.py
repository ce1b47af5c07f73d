"""HotSpot itself reads what our writers write: the real binary gives the same results from rewritten inputs."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest
from reference_data import HOTSPOT_REFERENCE, require_shared

from ailfm.thermal.formats import (
    HotSpotConfig,
    PowerTrace,
    append_grid_transient,
    read_config,
    read_flp,
    read_grid_transient,
    read_materials,
    read_ptrace,
    read_steady,
    read_ttrace,
    write_config,
    write_flp,
    write_materials,
    write_ptrace,
    write_steady,
)


def _hotspot(cwd, *args):
    if shutil.which("hotspot") is None:
        pytest.skip("no hotspot binary on PATH")
    subprocess.run(["hotspot", *args], cwd=cwd, check=True, capture_output=True, timeout=120)


def test_rewritten_inputs_give_hotspot_the_same_results(tmp_path):
    """ev6 block model, 5 power rows from the reference init file: originals vs our rewrites of every input."""
    root = require_shared(HOTSPOT_REFERENCE) / "ev6_block"
    original, rewritten = tmp_path / "original", tmp_path / "rewritten"
    original.mkdir()
    rewritten.mkdir()
    trace = read_ptrace(root / "gcc.ptrace")
    short = PowerTrace(trace.names, trace.power_W[:5])
    write_ptrace(original / "p.ptrace", short)
    write_ptrace(rewritten / "p.ptrace", short)
    for name in ("ev6.flp", "example.config", "example.materials", "steady.init"):
        shutil.copy(root / name, original / name)
    write_flp(rewritten / "ev6.flp", read_flp(root / "ev6.flp"))
    config = HotSpotConfig().with_flags(read_config(root / "example.config"))
    write_config(rewritten / "example.config", config)
    write_materials(rewritten / "example.materials", read_materials(root / "example.materials"))
    write_steady(rewritten / "steady.init", read_steady(root / "steady.init"))
    args = ["-c", "example.config", "-f", "ev6.flp", "-p", "p.ptrace", "-materials_file", "example.materials",
            "-init_file", "steady.init", "-o", "out.ttrace", "-d", "dump.config"]
    for folder in (original, rewritten):
        _hotspot(folder, *args)
    ours, theirs = read_ttrace(rewritten / "out.ttrace"), read_ttrace(original / "out.ttrace")
    assert ours.names == theirs.names
    np.testing.assert_array_equal(ours.temperatures_K, theirs.temperatures_K)
    assert (rewritten / "out.ttrace").read_bytes() == (original / "out.ttrace").read_bytes()
    dumps = [HotSpotConfig().with_flags(read_config(folder / "dump.config")) for folder in (original, rewritten)]
    assert dumps[0] == dumps[1]


def test_hotspot_reads_a_written_config_as_we_do(tmp_path):
    """Every thermal flag changed from its default survives write_config -> hotspot -c -> hotspot -d."""
    root = require_shared(HOTSPOT_REFERENCE) / "ev6_block"
    config = replace(HotSpotConfig(), t_chip=2e-4, k_chip=120.5, r_convec=0.25, s_sink=0.05, ambient=310.0,
                     init_temp=320.0, sampling_intvl=1e-3, grid_rows=32, grid_cols=16, grid_map_mode="max",
                     model_type="grid", block_omit_lateral=True, dtm_used=True, thermal_threshold=360.0,
                     n_c4=300, t_pcb=3e-3)
    write_config(tmp_path / "ours.config", config)
    shutil.copy(root / "ev6.flp", tmp_path / "ev6.flp")
    write_ptrace(tmp_path / "p.ptrace", PowerTrace(read_flp(root / "ev6.flp").names, np.ones((1, 30))))
    _hotspot(tmp_path, "-c", "ours.config", "-f", "ev6.flp", "-p", "p.ptrace", "-d", "dump.config")
    dumped = HotSpotConfig().with_flags(read_config(tmp_path / "dump.config"))
    assert replace(dumped, f=None, p=None, c=None, d=None) == config


def test_grid_transient_dump_of_hotspot_reads_and_rewrites_byte_for_byte(tmp_path):
    root = require_shared(HOTSPOT_REFERENCE) / "ev6_grid"
    trace = read_ptrace(root / "gcc.ptrace")
    write_ptrace(tmp_path / "p.ptrace", PowerTrace(trace.names, trace.power_W[:2]))
    _hotspot(tmp_path, "-c", str(root / "example.config"), "-f", str(root / "ev6.flp"), "-p", "p.ptrace",
             "-materials_file", str(root / "example.materials"), "-model_type", "grid", "-grid_rows", "16",
             "-grid_cols", "16", "-o", "out.ttrace", "-grid_transient_file", "grid.transient")
    steps = read_grid_transient(tmp_path / "grid.transient")
    assert [(len(layers), layers[0].size) for _, layers in steps] == [(4, 256), (4, 256)]
    assert [t for t, _ in steps] == [0.0, 0.01]
    for time_s, layers in steps:
        append_grid_transient(tmp_path / "ours.transient", time_s, layers)
    assert (tmp_path / "ours.transient").read_bytes() == (tmp_path / "grid.transient").read_bytes()
