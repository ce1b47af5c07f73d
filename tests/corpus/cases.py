"""The malformed-input corpus: every reader and option fed bad input, run through the real command line.

Each case is a few tiny files and a command (``ailfm ...``, ``ailfm-hotspot ...`` or a gem5 script's options,
``corpus.gem5_scripts``); ``{d}`` in the command and in
the expectations is the folder holding the case's files. A case passes when the command exits non-zero with no
traceback, and its error names the file, field or option (``expect``) and, where the format has lines, the line
(``file:line``). ``python tests/corpus/cases.py`` runs every case and prints how many ended in each outcome;
``--write DIR`` writes the files for inspection. New readers add their cases here.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str | bytes]
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    entry: str = "ailfm"
    notes: dict = field(default_factory=dict, compare=False)


def _sub(text: str, folder: Path) -> str:
    return text.replace("{d}", str(folder))


# ------------------------------------------------------------------------------------------------ system YAML

SIMULATE = ("simulate", "--duration", "0.002", "--lengths", "fixed:4,2", "--requests", "1", "--instances", "1",
            "--threads", "2", "--quiet", "--out", "{d}/out")


def _system(name: str, body: str | bytes, *expect: str) -> Case:
    return Case(f"system-{name}", {"sys.yaml": body}, (*SIMULATE, "--system", "{d}/sys.yaml"), expect)


def _override(name: str, section: str, key: str, value: str, *expect: str) -> Case:
    """``base: snuca-64`` with one field changed: the field sits on line 3."""
    return _system(name, f"base: snuca-64\n{section}:\n  {key}: {value}\n", "{d}/sys.yaml:3", *expect)


#: (case, section, key, the value on line 3 under ``base: snuca-64``, what the error must say...)
SYSTEM_OVERRIDES = [
    ('unknown-key-nearest', 'thermal', 't_max', '80', 'thermal.t_max', "did you mean 't_max_C'"),
    ("unknown-key-dvfs", "dvfs", "fmax_GHz", "3.0", "dvfs.fmax_GHz", "f_max_GHz"),
    ("string-for-number", "power", "leakage_ref_W", "lots", "power.leakage_ref_W", "expected a number"),
    ("bool-for-number", "geometry", "layers", "true", "geometry.layers", "expected an integer"),
    ("float-for-int", "geometry", "layers", "2.5", "geometry.layers", "expected an integer"),
    ("negative-epoch", "thermal", "epoch_s", "-0.001", "thermal.epoch_s", "must be > 0"),
    ("zero-step", "dvfs", "f_step_GHz", "0", "dvfs.f_step_GHz", "must be > 0"),
    ("nan", "thermal", "tdp_W", ".nan", "thermal.tdp_W", "finite"),
    ("inf", "power", "leakage_ref_W", ".inf", "power.leakage_ref_W", "finite"),
    ("minus-inf", "thermal", "ambient_C", "-.inf", "thermal.ambient_C", "finite"),
    ("huge-int", "geometry", "tiles_x", "10000000000000000000000000", "geometry.tiles_x", "<= 64"),
    ("huge-float", "geometry", "tile_width_mm", "1e300", "geometry.tile_width_mm", "reticle"),
    ("overflow-float", "geometry", "tile_width_mm", "1" + "0" * 400, "geometry.tile_width_mm", "finite"),
    ("t-max-5000", "thermal", "t_max_C", "5000", "thermal.t_max_C", "junction"),
    ("leakage-beta-0.5", "power", "leakage_beta_per_K", "0.5", "power.leakage_beta_per_K", "run away"),
    ("negative-leakage-beta", "power", "leakage_beta_per_K", "-0.01", "power.leakage_beta_per_K", ">= 0"),
    ("core-height-fraction", "geometry", "core_height_fraction", "2", "geometry.core_height_fraction", "<= 1.0"),
    ("stall-activity", "power", "stall_activity", "1.5", "power.stall_activity", "<= 1.0"),
    ("f-max-100", "dvfs", "f_max_GHz", "100", "dvfs.f_max_GHz", "GHz"),
    ("supply-volts", "dvfs", "v_at_zero_V", "50", "dvfs.v_at_zero_V", "1.5 V"),
    ("ambient-200", "thermal", "ambient_C", "200", "thermal.ambient_C", "-55..125"),
    ("dtm-scope-choice", "thermal", "dtm_scope", "socket", "thermal.dtm_scope", "not one of"),
    ("dtm-scope-type", "thermal", "dtm_scope", "5", "thermal.dtm_scope", "expected a string"),
    ("contention-string", "noc", "contention", "maybe", "noc.contention", "true or false"),
    ("interleaving", "llc", "interleaving", "dynamic", "llc.interleaving", "not one of"),
    ("memory-controllers-zero", "memory", "controllers", "0", "memory.controllers", ">= 1"),
    ("section-as-scalar", "thermal", "stack", "5", "thermal.stack", "expected a mapping"),
    ("dispatch-list", "core", "dispatch_width", "[4, 4]", "core.dispatch_width", "lists"),
    ("python-tag", "core", "rob_entries", "!!python/object:os.system 1", "core.rob_entries"),
]


def system_cases() -> list[Case]:
    cases = [
        *(_override(*row) for row in SYSTEM_OVERRIDES),
        _system("unknown-section", "base: snuca-64\nthermals:\n  t_max_C: 80\n", "{d}/sys.yaml:2", "thermals",
                "did you mean 'thermal'"),
        _system("grid-cells-5000", "base: snuca-64\nthermal:\n  stack:\n    grid_cells: 5000\n", "{d}/sys.yaml:4",
                "thermal.stack.grid_cells", "<= 128"),
        _system("release-above-trigger", "base: snuca-64\nthermal:\n  dtm_release_C: 90\n", "{d}/sys.yaml:3",
                "thermal.dtm_release_C", "hysteresis"),
        _system("f-max-below-f-min", "base: snuca-64\ndvfs:\n  f_max_GHz: 0.5\n", "{d}/sys.yaml:3",
                "dvfs.f_max_GHz", "below f_min_GHz"),
        _system("step-not-dividing", "base: snuca-64\ndvfs:\n  f_step_GHz: 0.7\n", "{d}/sys.yaml:3",
                "dvfs.f_step_GHz", "divide"),
        _system("ambient-above-tmax", "base: snuca-64\nthermal:\n  ambient_C: 85\n", "{d}/sys.yaml:3",
                "thermal.ambient_C", "below t_max_C"),
        _system("too-many-tiles", "base: snuca-64\ngeometry:\n  layers: 64\n  tiles_x: 64\n  tiles_y: 64\n",
                "{d}/sys.yaml:2", "geometry", "at most 4096"),
        _system("base-int", "base: 5\n", "{d}/sys.yaml:1", "base", "expected a system name"),
        _system("base-nosuch", "base: nosuch\n", "{d}/sys.yaml:1", "base", "unknown system 'nosuch'"),
        _system("base-list", "base: [a, b]\n", "{d}/sys.yaml:1", "base", "lists"),
        _system("base-missing-file", "base: missing.yaml\n", "{d}/sys.yaml:1", "base", "no such file"),
        _system("list-key", "base: snuca-64\n? [a, b]\n: 1\n", "{d}/sys.yaml:2", "keys must be plain names"),
        _system("duplicate-key", "base: snuca-64\nthermal:\n  t_max_C: 80\n  t_max_C: 81\n", "{d}/sys.yaml:4",
                "thermal.t_max_C", "duplicate"),
        _system("yaml-syntax", "base: snuca-64\nthermal: {t_max_C: 80\n", "{d}/sys.yaml:3", "yaml"),
        _system("tab-indent", "base: snuca-64\nthermal:\n\tt_max_C: 80\n", "{d}/sys.yaml:3"),
        _system("latin-1", "base: snuca-64\n# 80 \xb0C\nthermal:\n  t_max_C: 80\n".encode("latin-1"),
                "{d}/sys.yaml:2", "not UTF-8", "0xb0"),
        _system("utf-16", "base: snuca-64\n".encode("utf-16"), "{d}/sys.yaml:1", "not UTF-8"),
        _system("bom-then-error", b"\xef\xbb\xbfbase: snuca-64\nthermal:\n  t_max_C: hot\n", "{d}/sys.yaml:3",
                "thermal.t_max_C"),
        _system("crlf-then-error", b"base: snuca-64\r\nthermal:\r\n  t_max_C: hot\r\n", "{d}/sys.yaml:3",
                "thermal.t_max_C"),
        _system("empty", "", "{d}/sys.yaml", "mapping"),
        _system("top-level-list", "- a\n- b\n", "{d}/sys.yaml:1", "mapping"),
        _system("top-level-scalar", "snuca-64\n", "{d}/sys.yaml:1", "mapping"),
        _system("missing-field", "name: x\n", "{d}/sys.yaml", "description", "missing"),
        _system("binary", bytes(range(256)), "{d}/sys.yaml"),
        Case("system-circular-base", {"a.yaml": "base: {d}/b.yaml\n", "b.yaml": "base: {d}/a.yaml\n"},
             (*SIMULATE, "--system", "{d}/a.yaml"), ("a.yaml", "circular")),
        Case("system-folder", {"sys.yaml/x": ""}, (*SIMULATE, "--system", "{d}/sys.yaml"), ("{d}/sys.yaml",)),
        Case("system-unknown-name", {}, (*SIMULATE, "--system", "snuca-65"), ("system", "snuca-64")),
        # loaded in the pool's worker processes: the error crosses the process boundary as the same line
        Case("system-in-compare-workers", {"sys.yaml": "base: snuca-64\nthermal:\n  t_max_C: 5000\n"},
             ("compare", "--governors", "performance,powersave", "--jobs", "2", "--duration", "0.002", "--quiet",
              "--system", "{d}/sys.yaml", "--out", "{d}/out"), ("{d}/sys.yaml:3", "thermal.t_max_C", "junction")),
    ]
    return cases


# -------------------------------------------------------------------------------------------- Compass hardware

EVALUATE = ("map", "evaluate", "--model", "llama-3-8b", "--slots", "2", "--micro-batches", "1", "--steps", "1",
            "--tensor-parallel", "1")
HW_LINES = ["mesh: {cols: 2, rows: 2}", "chiplet_types:", "  a: {dataflow: os, macs: 256, buffer_KiB: 64}",
            "layout: [[a, a], [a, a]]", "nop:", "  link_bandwidth_GBps: 64", "dram:", "  channels: 2"]


def _hardware(name: str, body: str | bytes, *expect: str) -> Case:
    return Case(f"hardware-{name}", {"hw.yaml": body, "m.json": "{}"},
                (*EVALUATE, "--hardware", "{d}/hw.yaml", "--mapping", "{d}/m.json"), expect)


def _hw_line(name: str, line: int, text: str, *expect: str) -> Case:
    """The valid description with line ``line`` replaced by ``text``."""
    lines = list(HW_LINES)
    lines[line - 1] = text
    return _hardware(name, "\n".join(lines) + "\n", f"{{d}}/hw.yaml:{line}", *expect)


#: (case, the chiplet type's fields on line 3, the field named, the reason)
CHIPLET_CASES = [
    ("buffer-inf", "dataflow: os, macs: 256, buffer_KiB: .inf", "buffer_KiB", "finite"),
    ("buffer-huge", "dataflow: os, macs: 256, buffer_KiB: 1e12", "buffer_KiB", "1 GiB"),
    ("buffer-zero", "dataflow: os, macs: 256, buffer_KiB: 0", "buffer_KiB", "> 0"),
    ("macs-string", "dataflow: os, macs: many, buffer_KiB: 64", "macs", "expected a number"),
    ("macs-huge", "dataflow: os, macs: 10000000000000000000000000, buffer_KiB: 64", "macs", "magnitude"),
    ("macs-big", "dataflow: os, macs: 1073741824, buffer_KiB: 64", "macs", "TPU v1"),
    ("macs-negative", "dataflow: os, macs: -256, buffer_KiB: 64", "macs", "> 0"),
    ("macs-float", "dataflow: os, macs: 256.5, buffer_KiB: 64", "macs", "integer"),
    ("dataflow-unknown", "dataflow: systolic, macs: 256, buffer_KiB: 64", "dataflow", "unknown dataflow"),
    ("dataflow-int", "dataflow: 5, macs: 256, buffer_KiB: 64", "dataflow", "expected str"),
    ("chiplet-misspelt", "dataflow: os, macs: 256, buffer_KiB: 64, frequency_ghz: 1.0", "frequency_ghz",
     "did you mean 'frequency_GHz'"),
    ("frequency-nan", "dataflow: os, macs: 256, buffer_KiB: 64, frequency_GHz: .nan", "frequency_GHz", "finite"),
    ("frequency-huge", "dataflow: os, macs: 256, buffer_KiB: 64, frequency_GHz: 1000", "frequency_GHz", "6 GHz"),
    ("frequency-string", "dataflow: os, macs: 256, buffer_KiB: 64, frequency_GHz: fast", "frequency_GHz",
     "expected a number"),
]


#: (case, line of HW_LINES replaced, its new text, what the error must say...)
HW_LINE_CASES = [
    ('misspelt-nop-key', 6, '  link_bandwidth_gbps: 64',
     'nop.link_bandwidth_gbps', "did you mean 'link_bandwidth_GBps'"),
    ('unknown-top-key', 5, 'noc:', 'noc', "did you mean 'nop'"),
    ('dram-channels-zero', 8, '  channels: 0', 'dram.channels', '> 0'),
    ('dram-channels-float', 8, '  channels: 2.5', 'dram.channels', 'integer'),
    ('dram-channels-huge', 8, '  channels: 1e30', 'dram.channels', 'magnitude'),
    ('nop-bandwidth-inf', 6, '  link_bandwidth_GBps: .inf', 'nop.link_bandwidth_GBps', 'finite'),
    ('nop-bandwidth-nan', 6, '  link_bandwidth_GBps: .nan', 'nop.link_bandwidth_GBps', 'finite'),
    ('nop-bandwidth-string', 6, '  link_bandwidth_GBps: fast', 'nop.link_bandwidth_GBps', 'expected a number'),
    ('nop-bandwidth-negative', 6, '  link_bandwidth_GBps: -64', 'nop.link_bandwidth_GBps', '> 0'),
    ('mesh-cols-zero', 1, 'mesh: {cols: 0, rows: 2}', 'mesh.cols', '> 0'),
    ('mesh-cols-huge', 1, 'mesh: {cols: 100000, rows: 2}', 'mesh.cols', '<= 16'),
    ('mesh-list', 1, 'mesh: [2, 2]', 'mesh', 'expected dict'),
    ('mesh-unknown-key', 1, 'mesh: {cols: 2, rows: 2, layers: 2}', 'mesh.layers', 'known: cols, rows'),
    ('mesh-missing-rows', 1, 'mesh: {cols: 2}', 'mesh.rows', 'missing'),
    ('chiplet-scalar', 3, '  a: 5', 'chiplet_types.a', 'mapping'),
    ('layout-unknown-type', 4, 'layout: [[a, b], [a, a]]', 'layout[0][1]', "unknown chiplet type 'b'"),
    ('layout-misspelt-type', 4, 'layout: [[a, a], [a, A]]', 'layout[1][1]', "did you mean 'a'"),
    ('layout-rows', 4, 'layout: [[a, a]]', 'layout', 'expected 2 rows'),
    ('layout-row-length', 4, 'layout: [[a, a, a], [a, a]]', 'layout[0]', '2 chiplet type names'),
    ('layout-number', 4, 'layout: 5', 'layout', 'expected'),
    ('layout-nested-number', 4, 'layout: [[a, 1], [a, a]]', 'layout[0][1]', 'unknown chiplet type'),
    ('name-list', 1, 'name: [x]\nmesh: {cols: 2, rows: 2}', 'name', 'expected str'),
    ('list-key', 5, '? [a, b]\n: 1\nnop:', 'keys must be plain names'),
    ('python-tag', 6, '  link_bandwidth_GBps: !!python/object/apply:os.system [echo]', 'nop.link_bandwidth_GBps'),
]


#: (case, lines appended to HW_LINES (the package section), the line named, what the error must say...)
PACKAGE_CASES = [
    ("scalar", ["package: 5"], 9, ("package", "mapping of package fields")),
    ("misspelt", ["package:", "  spacing: 1"], 10, ("package.spacing", "did you mean 'spacing_mm'")),
    ("spacing-negative", ["package:", "  spacing_mm: -1"], 10, ("package.spacing_mm", "must be in [0, 50]")),
    ("r-convec-zero", ["package:", "  r_convec_K_per_W: 0"], 10, ("package.r_convec_K_per_W", "must be in (0")),
    ("r-convec-string", ["package:", "  r_convec_K_per_W: cold"], 10, ("package.r_convec_K_per_W",
                                                                       "expected a number")),
    ("memory-unknown", ["package:", "  memory: gddr6"], 10, ("package.memory", "ddr, hbm")),
    ("grid-float", ["package:", "  grid_cells: 32.5"], 10, ("package.grid_cells", "integer")),
    ("t-max-below-ambient", ["package:", "  ambient_C: 45", "  t_max_C: 40"], 11, ("package.t_max_C",
                                                                                   "above the ambient")),
]


def hardware_cases() -> list[Case]:
    chiplet = "  a: {{dataflow: os, macs: 256, buffer_KiB: 64, {}}}"
    return [
        *(_hw_line(*row) for row in HW_LINE_CASES),
        _hardware("nop-scalar", "\n".join([*HW_LINES[:4], "nop: 5"]), "{d}/hw.yaml:5", "nop", "expected dict"),
        _hardware("dram-list", "\n".join([*HW_LINES[:4], "dram: [1, 2]"]), "{d}/hw.yaml:5", "dram", "expected dict"),
        _hardware("dram-misspelt", "\n".join([*HW_LINES[:4], "dram2: 1"]), "{d}/hw.yaml:5", "dram2",
                  "did you mean 'dram'"),
        *(_hw_line(name, 3, f"  a: {{{fields}}}", f"chiplet_types.a.{field}", message)
          for name, fields, field, message in CHIPLET_CASES),
        _hw_line("array-mismatch", 3, chiplet.format("array: [8, 8]"), "chiplet_types.a.array", "macs = 256"),
        _hw_line("array-string", 3, chiplet.format("array: big"), "chiplet_types.a.array", "[rows, cols]"),
        _hw_line("ports-unknown", 3, chiplet.format("ports_bytes_per_cycle: {inputs: 8}"),
                 "chiplet_types.a.ports_bytes_per_cycle.inputs", "did you mean 'input'"),
        _hw_line("ports-negative", 3, chiplet.format("ports_bytes_per_cycle: {input: -8}"),
                 "chiplet_types.a.ports_bytes_per_cycle.input", "> 0"),
        _hw_line("ports-scalar", 3, chiplet.format("ports_bytes_per_cycle: 8"),
                 "chiplet_types.a.ports_bytes_per_cycle", "mapping"),
        _hw_line("weights-via-buffer-string", 3, chiplet.format("weights_via_buffer: yes please"),
                 "chiplet_types.a.weights_via_buffer", "expected bool"),
        _hw_line("register-inf", 3, chiplet.format("register_bytes: .inf"), "chiplet_types.a.register_bytes",
                 "finite"),
        _hw_line("accumulator-negative", 3, chiplet.format("accumulator_KiB: -1"), "chiplet_types.a.accumulator_KiB",
                 ">= 0"),
        _hardware("chiplet-types-list", "mesh: {cols: 2, rows: 2}\nchiplet_types: [a]\nlayout: a\n", "{d}/hw.yaml:2",
                  "chiplet_types", "expected dict"),
        _hardware("duplicate-key", "\n".join([*HW_LINES[:6], "  link_bandwidth_GBps: 32"]), "{d}/hw.yaml:7",
                  "nop.link_bandwidth_GBps", "duplicate"),
        _hardware("yaml-syntax", "\n".join([*HW_LINES[:2], "  a: {dataflow: os, macs: 256", *HW_LINES[3:]]),
                  "{d}/hw.yaml:4", "invalid YAML", "flow mapping"),
        _hardware("latin-1", ("\n".join(HW_LINES) + "\n# \xb5m\n").encode("latin-1"), "{d}/hw.yaml:9", "not UTF-8"),
        _hardware("empty", "", "{d}/hw.yaml", "empty"),
        _hardware("top-level-list", "- 1\n", "{d}/hw.yaml", "hardware", "mapping"),
        _hardware("bom-then-error", b"\xef\xbb\xbfmesh: {cols: 2, rows: x}\n", "{d}/hw.yaml:1", "mesh.rows"),
        *(_hardware(f"package-{name}", "\n".join([*HW_LINES, *body]) + "\n", f"{{d}}/hw.yaml:{line}", *expect)
          for name, body, line, expect in PACKAGE_CASES),
        Case("hardware-unknown-preset", {"m.json": "{}"}, (*EVALUATE, "--hardware", "he-37", "--mapping",
                                                           "{d}/m.json"), ("hardware", "he-37", "he-36")),
    ]


# ------------------------------------------------------------------------------------------- mapping and pins


def _mapping(name: str, body: str | bytes, *expect: str) -> Case:
    return Case(f"mapping-{name}", {"m.json": body}, (*EVALUATE, "--hardware", "os-36", "--mapping",
                                                      "{d}/m.json"), expect)


def mapping_cases() -> list[Case]:
    return [
        _mapping("truncated", '{"segmentation": [0, 0,', "{d}/m.json:1", "invalid JSON"),
        _mapping("syntax-line-3", '{\n "segmentation": [0],\n "layer_to_chip": [[0,]]\n}', "{d}/m.json:3",
                 "invalid JSON"),
        _mapping("nan", '{"segmentation": [0],\n"layer_to_chip": [[NaN]]}', "{d}/m.json:2", "NaN"),
        _mapping("infinity", '{"segmentation": [0],\n"layer_to_chip": [[Infinity]]}', "{d}/m.json:2", "Infinity"),
        _mapping("not-object", "[1, 2]", "{d}/m.json", "mapping", "JSON object"),
        _mapping("missing-field", '{"segmentation": [0]}', "{d}/m.json", "layer_to_chip", "missing"),
        _mapping("chiplet-huge", '{"segmentation": [0, 0, 0, 0],\n"layer_to_chip": [[0, 1, 10000000000000000000000000'
                 ', 0, 0]]}', "{d}/m.json:2", "layer_to_chip[0][2]", "magnitude"),
        _mapping("chiplet-negative", '{"segmentation": [0, 0, 0, 0],\n"layer_to_chip": [[0, -1, 0, 0, 0]]}',
                 "{d}/m.json:2", "layer_to_chip[0][1]", "outside 0..35"),
        _mapping("chiplet-too-large", '{"segmentation": [0, 0, 0, 0],\n"layer_to_chip": [[0, 36, 0, 0, 0]]}',
                 "{d}/m.json:2", "layer_to_chip[0][1]", "outside 0..35"),
        _mapping("chiplet-string", '{"segmentation": [0, 0, 0, 0],\n"layer_to_chip": [[0, "x", 0, 0, 0]]}',
                 "{d}/m.json:2", "layer_to_chip[0][1]", "expected an integer"),
        _mapping("chiplet-float", '{"segmentation": [0, 0, 0, 0],\n"layer_to_chip": [[0, 1.5, 0, 0, 0]]}',
                 "{d}/m.json:2", "layer_to_chip[0][1]", "expected an integer"),
        _mapping("chiplet-bool", '{"segmentation": [0, 0, 0, 0],\n"layer_to_chip": [[0, true, 0, 0, 0]]}',
                 "{d}/m.json:2", "layer_to_chip[0][1]", "expected an integer"),
        _mapping("wrong-shape", '{"segmentation": [0, 0, 0, 0],\n"layer_to_chip": [[0, 1, 2]]}', "{d}/m.json",
                 "layer_to_chip", "expected 1 micro-batches x 5 layers"),
        _mapping("ragged", '{"segmentation": [0, 0, 0, 0],\n"layer_to_chip": [[0, 1, 2, 3, 4], [0]]}',
                 "{d}/m.json:2", "layer_to_chip[1]"),
        _mapping("segmentation-bits", '{"segmentation": [0, 2, 0, 0],\n"layer_to_chip": [[0, 0, 0, 0, 0]]}',
                 "{d}/m.json", "segmentation", "0 or 1"),
        _mapping("segmentation-length", '{"segmentation": [0],\n"layer_to_chip": [[0, 0, 0, 0, 0]]}', "{d}/m.json",
                 "segmentation", "expected 4 bits"),
        _mapping("segmentation-string", '{"segmentation": "0000",\n"layer_to_chip": [[0, 0, 0, 0, 0]]}',
                 "{d}/m.json", "segmentation"),
        _mapping("layer-to-chip-empty", '{"segmentation": [0, 0, 0, 0],\n"layer_to_chip": []}', "{d}/m.json:2",
                 "layer_to_chip", "non-empty"),
        _mapping("latin-1", '{"segmentation": [0],\n"note": "\xb5"}'.encode("latin-1"), "{d}/m.json:2",
                 "not UTF-8"),
        _mapping("utf-16", '{"segmentation": [0]}'.encode("utf-16"), "{d}/m.json:1", "not UTF-8"),
        _mapping("empty", "", "{d}/m.json", "JSON"),
        _mapping("binary", bytes(range(256)), "{d}/m.json"),
        _mapping("duplicate-key", '{"segmentation": [0, 0, 0, 0],\n"segmentation": [0, 0, 0, 0]}', "{d}/m.json:2",
                 "duplicate"),
        Case("mapping-missing-file", {}, (*EVALUATE, "--hardware", "os-36", "--mapping", "{d}/none.json"),
             ("{d}/none.json", "file not found")),
    ]


SEARCH = ("map", "search", "--model", "llama-3-8b", "--hardware", "os-36", "--slots", "2", "--micro-batches", "1",
          "--steps", "1", "--tensor-parallel", "1", "--pop", "4", "--gen", "1", "--workers", "1", "--no-progress")


def pin_cases() -> list[Case]:
    def pin(name, body, *expect):
        return Case(f"pin-{name}", {"p.json": body}, (*SEARCH, "--out", "{d}/out", "--pin", "{d}/p.json"), expect)

    return [
        pin("truncated", '{"segmentation": [null,', "{d}/p.json:1", "invalid JSON"),
        pin("not-object", "5", "{d}/p.json", "pins", "JSON object"),
        pin("chiplet-range", '{"segmentation": [null, null, null, null],\n"layer_to_chip": [[99, null, null, null, '
            'null]]}', "{d}/p.json", "layer_to_chip", "0..35"),
        pin("chiplet-huge", '{"segmentation": [null, null, null, null],\n"layer_to_chip": [[1e30, null, null, '
            'null, null]]}', "{d}/p.json:2", "layer_to_chip[0][0]"),
        pin("bits", '{"segmentation": [3, null, null, null],\n"layer_to_chip": [[null, null, null, null, null]]}',
            "{d}/p.json", "segmentation", "0, 1 or null"),
        pin("segmentation-length", '{"segmentation": [null],\n"layer_to_chip": [[null, null, null, null, null]]}',
            "{d}/p.json", "segmentation", "expected 4 entries"),
        pin("latin-1", b'{"segmentation": [null]}\n\xff', "{d}/p.json:2", "not UTF-8"),
    ]


# ------------------------------------------------------------------------------------------ checkpoints, runs


def checkpoint_cases() -> list[Case]:
    import pickle

    class Payload:
        def __reduce__(self):
            return (print, ("unpickled: code ran",))

    train = ("ail", "train", "--out", "{d}/run", "--jobs", "1", "--quiet", "--iterations", "1", "--rollouts", "1",
             "--validation", "0")
    return [
        Case("checkpoint-pickle", {"out/checkpoint.npz": pickle.dumps(Payload())},
             (*SEARCH, "--out", "{d}/out", "--resume"), ("{d}/out/checkpoint.npz", "not a readable")),
        Case("checkpoint-truncated-zip", {"out/checkpoint.npz": b"PK\x03\x04\x14\x00\x00\x00"},
             (*SEARCH, "--out", "{d}/out", "--resume"), ("{d}/out/checkpoint.npz", "not a readable")),
        Case("checkpoint-without-resume", {"out/checkpoint.npz": b""}, (*SEARCH, "--out", "{d}/out"),
             ("--out", "--resume")),
        Case("output-search-out-is-a-file", {"out": "x"}, (*SEARCH, "--out", "{d}/out/sub"), ("--out", "cannot write")),
        Case("manifest-truncated", {"run/manifest.json": '{"config": {"method": "act'}, train,
             ("{d}/run/manifest.json:1", "truncated")),
        Case("manifest-not-utf8", {"run/manifest.json": b'{"config": "\xff"}'}, train,
             ("{d}/run/manifest.json", "not UTF-8")),
        Case("manifest-list", {"run/manifest.json": "[1, 2]"}, train, ("{d}/run/manifest.json", "not a manifest")),
        Case("manifest-other-config", {"run/manifest.json": '{"config": {"method": "bc", "seed": 9}, '
                                                            '"shards": {}, "iterations": {}}'}, train,
             ("{d}/run/manifest.json", "another configuration", "seed")),
        Case("output-compare-out-is-a-file", {"out": "x"},
             ("compare", "--governors", "performance", "--out", "{d}/out/x", "--quiet"), ("--out", "cannot write")),
        Case("output-simulate-out-is-a-file", {"out": "x"}, (*SIMULATE[:-2], "--out", "{d}/out/x"),
             ("--out", "cannot write")),
    ]


# -------------------------------------------------------------------------------------------- ONNX policies


def policy_cases() -> list[Case]:
    from corpus.policies import crafted_policy_bytes

    tiny = str(Path(__file__).parents[1] / "imitation" / "tiny-2x2x2.yaml")
    run = (*SIMULATE, "--system", tiny, "--governor", "{d}/p.onnx")
    return [
        Case("policy-garbage", {"p.onnx": b"\x00\xffnot protobuf" * 5}, run, ("{d}/p.onnx", "not an ONNX model")),
        Case("policy-empty", {"p.onnx": b""}, run, ("{d}/p.onnx", "governor")),
        Case("policy-missing", {}, run, ("{d}/p.onnx", "no such ONNX file")),
        Case("policy-text", {"p.onnx": "hello\n"}, run, ("{d}/p.onnx", "governor")),
        Case("policy-unknown-governor", {}, (*SIMULATE, "--governor", "ondemnd"), ("governor", "ondemand")),
        *(Case(f"policy-returns-{kind}", {"p.onnx": crafted_policy_bytes(kind)}, run,
               ("{d}/p.onnx: governor: returned", message)) for kind, message in (
            ("shape", "of shape [1, 2] for 8 cores"), ("nan", "returned nan for core 0"),
            ("inf", "returned inf for core 0"))),
    ]


# ----------------------------------------------------------------------------------------------- traces

TRACE_HEADER = "instance,thread,request,phase,kernel,kernel_type,instructions,tokens\n"


def trace_cases() -> list[Case]:
    from ailfm.traces.schema import TRACE_COLUMNS

    header = ",".join(TRACE_COLUMNS) + "\n"
    good = _trace_row()

    def row(**change):
        values = dict(good)
        values.update({k: str(v) for k, v in change.items()})
        return ",".join(values[c] for c in TRACE_COLUMNS) + "\n"

    def show(name, body, *expect):
        return Case(f"trace-{name}", {"t.csv": body}, ("trace", "show", "{d}/t.csv"), expect)

    cases = [show("missing-column", "a,b\n1,2\n", "{d}/t.csv:1", "missing column"),
             show("empty", "", "{d}/t.csv"),
             show("latin-1", (header + row()).encode() + b"\xb5\n", "{d}/t.csv:3", "not UTF-8"),
             show("utf-16", (header + row()).encode("utf-16"), "{d}/t.csv:1", "not UTF-8"),
             show("binary", bytes(range(256)), "{d}/t.csv"),
             Case("trace-unknown-suffix", {"t.txt": "x"}, ("trace", "show", "{d}/t.txt"), ("{d}/t.txt", ".csv")),
             Case("trace-missing", {}, ("trace", "show", "{d}/none.csv"), ("{d}/none.csv",)),
             Case("trace-parquet-garbage", {"t.parquet": b"PAR1garbage"}, ("trace", "show", "{d}/t.parquet"),
                  ("{d}/t.parquet",)),
             Case("trace-as-workload", {"t.csv": header + row(instance="1e30")},
                  (*SIMULATE, "--workload", "{d}/t.csv"), ("{d}/t.csv:2", "instance")),
             Case("trace-more-threads-than-cores", {"t.csv": header + row(threads="65", active_threads="65")},
                  (*SIMULATE, "--workload", "{d}/t.csv"), ("threads", "65 threads", "64 cores"))]
    for column, value in _BAD_TRACE_VALUES:
        cases.append(show(f"{column}-{value}", header + row() + row(**{column: value}), "{d}/t.csv:3", column))
    return cases


def _trace_row() -> list[str]:
    from ailfm.traces.schema import TRACE_COLUMNS

    sample = ("0,0,0.0,prefill,0,0,attn_norm,rmsnorm,8192.0,32768.0,73728.0,2,2,31768.7,834.2,64.0,36864.0,0.5706,"
              "0.3439,0").split(",")
    return dict(zip(TRACE_COLUMNS, sample, strict=True))


_BAD_TRACE_VALUES = [("instance", "1e30"), ("instance", "-1"), ("instance", "x"), ("instance", "nan"),
                     ("request", "inf"), ("step", "1.5"), ("layer", "99999999999"), ("phase", "train"),
                     ("phase", ""), ("kernel", "conv9"), ("instructions_per_thread", "-5"),
                     ("instructions_per_thread", "nan"), ("flops", "inf"), ("bytes", "lots"), ("tokens", "-1"),
                     ("tokens", "1e300"), ("threads", "0"), ("active_threads", "99"), ("activity", "1.5"),
                     ("base_cpi", "-1"), ("arrival_s", "-inf"), ("working_set_bytes_per_thread", "1e999")]


# ------------------------------------------------------------------------------------------ HotSpot files

FLP = "core\t0.004\t0.004\t0\t0\nl2\t0.004\t0.004\t0.004\t0\n"
PTRACE = "core\tl2\n1.0\t0.5\n2.0\t0.5\n"


def _hotspot(name: str, files: dict, argv: tuple[str, ...], *expect: str) -> Case:
    base = {"c.flp": FLP, "c.ptrace": PTRACE, **files}
    return Case(f"hotspot-{name}", base, argv, expect, entry="ailfm-hotspot")


def hotspot_cases() -> list[Case]:
    run = ("-f", "{d}/c.flp", "-p", "{d}/c.ptrace")
    cases = [
        _hotspot("usage-odd", {}, ("-f", "{d}/c.flp", "-p"), "even number of arguments"),
        _hotspot("unknown-flag", {}, (*run, "-t_chipp", "0.0005"), "-t_chipp"),
        _hotspot("negative-t-chip-cli", {}, (*run, "-t_chip", "-0.0005"), "t_chip"),
        _hotspot("nan-flag", {}, (*run, "-k_chip", "nan"), "k_chip"),
        _hotspot("grid-rows-huge", {}, (*run, "-model_type", "grid", "-grid_rows", "100000"), "grid_rows"),
        _hotspot("model-type", {}, (*run, "-model_type", "mesh"), "model_type"),
        _hotspot("config-negative-t-chip", {"c.config": "-t_chip 0.00015\n-t_chip2 1\n"}, (*run, "-c", "{d}/c.config"),
                 "{d}/c.config:2"),
        _hotspot("config-negative-value", {"c.config": "# comment\n-t_chip -0.00015\n"}, (*run, "-c",
                                                                                          "{d}/c.config"),
                 "{d}/c.config:2", "t_chip"),
        _hotspot("config-not-number", {"c.config": "-k_chip lots\n"}, (*run, "-c", "{d}/c.config"),
                 "{d}/c.config:1", "k_chip"),
        _hotspot("config-latin-1", {"c.config": b"-t_chip 0.00015 # \xb5m\n"}, (*run, "-c", "{d}/c.config"),
                 "{d}/c.config:1", "not UTF-8"),
        _hotspot("config-bom", {"c.config": b"\xef\xbb\xbf-t_chip 0.00015\n"}, (*run, "-c", "{d}/c.config"),
                 "{d}/c.config:1", "byte-order mark"),
        _hotspot("config-missing-value", {"c.config": "-t_chip\n"}, (*run, "-c", "{d}/c.config"),
                 "{d}/c.config:1"),
        _hotspot("config-missing-file", {}, (*run, "-c", "{d}/none.config"), "{d}/none.config"),
        _hotspot("config-huge", {"c.config": "-s_sink 1e300\n"}, (*run, "-c", "{d}/c.config"), "s_sink"),
        _hotspot("flp-negative-width", {"c.flp": "core\t-0.004\t0.004\t0\t0\n"}, run, "{d}/c.flp:1"),
        _hotspot("flp-not-number", {"c.flp": "core\twide\t0.004\t0\t0\n"}, run, "{d}/c.flp:1"),
        _hotspot("flp-nan", {"c.flp": "core\t0.004\tnan\t0\t0\n"}, run, "{d}/c.flp:1"),
        _hotspot("flp-coordinate-1e300", {"c.flp": "core\t0.004\t0.004\t1e300\t0\nl2\t0.004\t0.004\t0.004\t0\n"},
                 run, "{d}/c.flp:1"),
        _hotspot("flp-too-few-fields", {"c.flp": "core\t0.004\t0.004\n"}, run, "{d}/c.flp", "no blocks"),
        _hotspot("flp-four-fields", {"c.flp": "core\t0.004\t0.004\t0\n"}, run, "{d}/c.flp:1", "5 or 7"),
        _hotspot("flp-extra-field", {"c.flp": "core\t0.004\t0.004\t0\t0\tjunk\n"}, run, "{d}/c.flp:1"),
        _hotspot("flp-duplicate", {"c.flp": FLP + "core\t0.004\t0.004\t0.008\t0\n"}, run, "{d}/c.flp:3"),
        _hotspot("flp-overlap", {"c.flp": "core\t0.004\t0.004\t0\t0\nl2\t0.004\t0.004\t0.002\t0\n"}, run, "c.flp"),
        _hotspot("flp-latin-1", {"c.flp": FLP.encode() + b"# \xb5\n"}, run, "{d}/c.flp:3", "not UTF-8"),
        _hotspot("flp-empty", {"c.flp": ""}, run, "{d}/c.flp"),
        _hotspot("flp-bom", {"c.flp": b"\xef\xbb\xbf" + FLP.encode()}, run, "{d}/c.flp:1", "byte-order mark"),
        _hotspot("ptrace-unknown-block", {"c.ptrace": "core\tl3\n1\t1\n"}, run, "c.ptrace", "l3"),
        _hotspot("ptrace-short-row", {"c.ptrace": "core\tl2\n1.0\t0.5\n2.0\n"}, run, "{d}/c.ptrace:3"),
        _hotspot("ptrace-not-number", {"c.ptrace": "core\tl2\n1.0\tlots\n"}, run, "{d}/c.ptrace:2"),
        _hotspot("ptrace-nan", {"c.ptrace": "core\tl2\nnan\t0.5\n"}, run, "{d}/c.ptrace:2"),
        _hotspot("ptrace-inf", {"c.ptrace": "core\tl2\ninf\t0.5\n"}, run, "{d}/c.ptrace:2"),
        _hotspot("ptrace-negative", {"c.ptrace": "core\tl2\n-1.0\t0.5\n"}, run, "{d}/c.ptrace:2"),
        _hotspot("ptrace-header-only", {"c.ptrace": "core\tl2\n"}, run, "c.ptrace"),
        _hotspot("ptrace-latin-1", {"c.ptrace": b"core\tl2\n1.0\t0.5\xb5\n"}, run, "{d}/c.ptrace:2", "not UTF-8"),
        _hotspot("ptrace-missing", {}, ("-f", "{d}/c.flp", "-p", "{d}/none.ptrace"), "{d}/none.ptrace"),
        _hotspot("init-missing-block", {"c.init": "core\t320\n"}, (*run, "-init_file", "{d}/c.init", "-o",
                                                                   "{d}/o.ttrace"), "{d}/c.init", "lacks"),
        _hotspot("init-not-number", {"c.init": "core\thot\nl2\t320\n"}, (*run, "-init_file", "{d}/c.init", "-o",
                                                                         "{d}/o.ttrace"), "{d}/c.init:1"),
        _hotspot("init-negative-kelvin", {"c.init": "core\t-5\nl2\t320\n"}, (*run, "-init_file", "{d}/c.init",
                                                                             "-o", "{d}/o.ttrace"), "{d}/c.init:1"),
        _hotspot("init-latin-1", {"c.init": b"core\t320 \xb0\nl2\t320\n"}, (*run, "-init_file", "{d}/c.init",
                                                                           "-o", "{d}/o.ttrace"), "{d}/c.init:1",
                 "not UTF-8"),
        _hotspot("lcf-missing-field", {"c.lcf": "0\nY\nY\n1.75e6\n0.01\n0.00015\n"},
                 (*run, "-model_type", "grid", "-grid_layer_file", "{d}/c.lcf"), "c.lcf"),
        _hotspot("lcf-not-number", {"c.lcf": "0\nY\nY\nlots\n0.01\n0.00015\n{d}/c.flp\n"},
                 (*run, "-model_type", "grid", "-grid_layer_file", "{d}/c.lcf"), "{d}/c.lcf:4"),
        _hotspot("lcf-negative-thickness", {"c.lcf": "0\nY\nY\n1.75e6\n0.01\n-0.00015\n{d}/c.flp\n"},
                 (*run, "-model_type", "grid", "-grid_layer_file", "{d}/c.lcf"), "{d}/c.lcf:6"),
        _hotspot("lcf-latin-1", {"c.lcf": b"0\nY\nY\n1.75e6\n0.01\n0.00015\xb5\n"},
                 (*run, "-model_type", "grid", "-grid_layer_file", "{d}/c.lcf"), "{d}/c.lcf:6", "not UTF-8"),
        _hotspot("materials-not-number", {"m.materials": "silicon\nthermal_conductivity lots\n"},
                 (*run, "-materials_file", "{d}/m.materials"), "{d}/m.materials"),
        _hotspot("materials-latin-1", {"m.materials": b"# \xb5\n"}, (*run, "-materials_file", "{d}/m.materials"),
                 "{d}/m.materials:1", "not UTF-8"),
    ]
    return cases


# ------------------------------------------------------------------------------------------- demo scenario


def demo_cases() -> list[Case]:
    def demo(name, body, *expect):
        return Case(f"demo-{name}", {"s.yaml": body}, ("demo", "--scenario", "{d}/s.yaml", "--out", "{d}/out"),
                    expect)

    return [demo("latin-1", b"grid_cells: 8 # \xb5\n", "{d}/s.yaml:1", "not UTF-8"),
            demo("yaml-syntax", "grid_cells: [8\n", "{d}/s.yaml", "YAML"),
            demo("list", "- 1\n", "{d}/s.yaml", "scenario"),
            demo("unknown-key", "grid_cell: 8\n", "{d}/s.yaml", "grid_cell", "did you mean 'grid_cells'"),
            Case("demo-missing", {}, ("demo", "--scenario", "{d}/none.yaml", "--out", "{d}/out"),
                 ("{d}/none.yaml",)),
            Case("output-demo-out-is-a-file", {"out": "x"}, ("demo", "--grid", "8", "--out", "{d}/out/x"),
                 ("--out", "cannot write"))]


# --------------------------------------------------------------------------------------------- options

_MODEL = ("--model", "llama-3-8b", "--hardware", "os-36", "--mapping", "{d}/m.json")


def option_cases() -> list[Case]:
    def option(name, argv, *expect):
        return Case(f"option-{name}", {"m.json": "{}"}, argv, expect)

    sim = ("simulate", "--out", "{d}/out", "--quiet")
    cmp = ("compare", "--out", "{d}/out", "--quiet", "--governors", "performance")
    train = ("ail", "train", "--out", "{d}/run", "--quiet")
    search = ("map", "search", "--model", "llama-3-8b", "--out", "{d}/out", "--no-progress")
    evaluate = ("map", "evaluate", *_MODEL)
    explore = ("map", "explore", "--model", "llama-3-8b", "--out", "{d}/out", "--no-progress")
    gen = ("trace", "generate", "--model", "llama-2-7b", "--out", "{d}/t.csv")
    cases = []
    for flag, value, command in [
        ("--jobs", "0", cmp), ("--jobs", "-2", cmp), ("--jobs", "many", cmp), ("--jobs", "0", train),
        ("--jobs", "-2", train), ("--validation", "-1", train), ("--seed", "-1", train), ("--seed", "-1", sim),
        ("--seed", "x", sim), ("--epochs", "-5", train), ("--epochs", "0", train), ("--iterations", "0", train),
        ("--rollouts", "-1", train), ("--threshold", "nan", train), ("--threshold", "inf", train),
        ("--threshold", "-0.1", train), ("--max-new-shards", "-1", train),
        ("--grid-cells", "5000", sim), ("--grid-cells", "0", sim), ("--grid-cells", "-3", cmp),
        ("--duration", "nan", sim), ("--duration", "-1", sim), ("--duration", "0", sim), ("--duration", "inf", sim),
        ("--requests", "0", sim), ("--instances", "-1", sim), ("--threads", "0", sim), ("--thermal", "hot", sim),
        ("--steps", "-3", evaluate), ("--steps", "0", search), ("--slots", "0", evaluate),
        ("--micro-batches", "-1", evaluate), ("--tensor-parallel", "0", evaluate), ("--blocks", "0", evaluate),
        ("--workload-seed", "-1", evaluate), ("--zigzag-workers", "0", evaluate), ("--serving", "fifo", evaluate),
        ("--cost", "exact", evaluate), ("--pop", "0", search), ("--gen", "-1", search), ("--seed", "-1", search),
        ("--max-evals", "0", search), ("--patience", "0", search), ("--checkpoint-every", "0", search),
        ("--local-share", "1.5", search), ("--local-share", "nan", search), ("--workers", "0", search),
        ("--objective", "speed", search), ("--t-max-C", "nan", search), ("--t-max-C", "500", evaluate),
        ("--max-peak-C", "-1", search), ("--max-peak-C", "hot", search), ("--t-max-C", "-5", explore),
        ("--trials", "0", explore),
        ("--lns-steps", "-1", explore),
        ("--total-macs", "0", explore), ("--inner-pop", "0", explore), ("--seed", "-4", explore),
        ("--instances", "0", gen), ("--threads", "-1", gen), ("--requests", "0", gen), ("--seed", "-1", gen),
        ("--time-window", "-1", gen), ("--time-window", "nan", gen), ("--arrival-speedup", "0", gen),
        ("--arrival-speedup", "inf", gen), ("--grid", "0", ("demo", "--out", "{d}/out")),
        ("--grid", "100000", ("demo", "--out", "{d}/out")), ("--top", "0", ("demo", "--out", "{d}/out")),
        ("--warmup-epochs", "9,3", train), ("--warmup-epochs", "5", train), ("--fmax-target", "0.5", train),
        ("--fmax-target", "nan", train),
    ]:
        words = " ".join(command[:2]).replace(" --", "")
        cases.append(option(f"{words.replace(' ', '-')}{flag}={value}", (*command, flag, value), flag))
    cases += [
        option("compare-seeds", (*cmp, "--seeds", "1,x"), "seeds"),
        option("compare-seeds-negative", (*cmp, "--seeds", "-1"), "seeds"),
        option("compare-governors-empty", ("compare", "--out", "{d}/out", "--governors", ","), "governors"),
        option("train-workloads-empty", (*train, "--workloads", ","), "workloads"),
        option("train-workloads-unknown", (*train, "--workloads", "llama-9", "--jobs", "1"), "llama-9"),
        option("train-method", (*train, "--method", "rl"), "--method"),
        option("explore-dataflows", (*explore, "--dataflows", "tpu"), "--dataflows"),
        option("trace-lengths", (*gen, "--lengths", "fixed:x"), "lengths"),
        option("trace-out-suffix", ("trace", "generate", "--model", "llama-2-7b", "--out", "{d}/t.txt"), "t.txt"),
        option("simulate-lengths", (*sim, "--lengths", "fixed:-4,2"), "lengths"),
        option("simulate-workload", (*sim, "--workload", "llama-9"), "llama-9"),
        option("simulate-threads-overflow", (*sim, "--instances", "3", "--threads", "64"), "threads", "64 cores"),
        option("compare-threads-overflow", (*cmp, "--instances", "1", "--threads", "65", "--requests", "1"),
               "threads", "64 cores"),
        option("compare-dask-address", (*cmp, "--dask", "foo"), "dask", "'foo'"),
        option("train-dask-address", (*train, "--dask", "nohost"), "dask", "'nohost'"),
        option("search-dask-address", (*search, "--dask", "nohost"), "dask", "'nohost'"),
        option("train-lengths", (*train, "--lengths", "fixed:16"), "lengths"),
        option("train-lengths-missing", (*train, "--lengths", "fixed:16,4;{d}/nope.csv"), "lengths", "nope.csv"),
    ]
    return cases


def cases() -> list[Case]:
    from corpus.gem5_scripts import gem5_cases
    from corpus.models import length_cases, model_cases

    return (system_cases() + hardware_cases() + mapping_cases() + pin_cases() + checkpoint_cases()
            + policy_cases() + trace_cases() + hotspot_cases() + demo_cases() + option_cases() + model_cases()
            + length_cases() + gem5_cases())


# ------------------------------------------------------------------------------------------------ running


@dataclass
class Outcome:
    code: int | None
    stderr: str
    kind: str  # clean | vague | traceback | accepted


def write_case(case: Case, folder: Path) -> None:
    for name, body in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, str):
            path.write_bytes(_sub(body, folder).encode())
        else:
            path.write_bytes(body)


def run_case(case: Case, folder: Path) -> Outcome:
    """Run the case's command in this process (its files written to ``folder``) and classify the outcome."""
    import traceback

    from corpus.gem5_scripts import ENTRIES

    from ailfm.cli import main as ailfm_main
    from ailfm.thermal.hotspot_cli import main as hotspot_main

    write_case(case, folder)
    argv = [_sub(a, folder) for a in case.argv]
    main = {"ailfm": ailfm_main, "ailfm-hotspot": hotspot_main, **ENTRIES}[case.entry]
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except Exception:  # noqa: BLE001 - an escaped exception is exactly what the corpus looks for
            traceback.print_exc()
            code = None
    stderr = err.getvalue()
    if code is None or "Traceback" in stderr:
        kind = "traceback"
    elif code == 0:
        kind = "accepted"
    elif all(_sub(e, folder) in stderr for e in case.expect):
        kind = "clean"
    else:
        kind = "vague"
    return Outcome(code, stderr, kind)


def _main(argv: list[str]) -> int:
    import tempfile

    if argv[:1] == ["--write"]:
        root = Path(argv[1])
        for case in cases():
            write_case(case, root / case.id)
        print(f"wrote {len(cases())} cases to {root}")
        return 0
    counts: Counter[str] = Counter()
    readers: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="ailfm-corpus-") as tmp:
        for n, case in enumerate(cases()):
            folder = Path(tmp) / f"case{n}"  # not the id: an expected word must not match the folder's name
            folder.mkdir()
            outcome = run_case(case, folder)
            counts[outcome.kind] += 1
            readers[case.id.split("-")[0]] += 1
            if outcome.kind != "clean":
                last = outcome.stderr.strip().splitlines()[-1:] or [""]
                print(f"{outcome.kind:10s} {case.id}: {last[0][:200]}", file=sys.stderr)
    print("| outcome | cases |\n|---|---:|")
    for kind in ("clean", "vague", "traceback", "accepted"):
        print(f"| {kind} | {counts[kind]} |")
    print(f"| total | {sum(counts.values())} |")
    print("cases per reader: " + ", ".join(f"{k} {v}" for k, v in sorted(readers.items())))
    return 0 if counts["clean"] == sum(counts.values()) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parents[1]))  # the tests folder, as pytest's pythonpath
    sys.exit(_main(sys.argv[1:]))
