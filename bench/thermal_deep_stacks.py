"""Deep 3D stacks for checking ``ailfm-hotspot`` against HotSpot 7.0: generate, run both tools, tabulate.

Each case is drawn from a seed (``draw_case``): 3-6 silicon tile layers, each with a TIM layer under it,
2x2..8x8 tiles, square or rectangular tiles, silicon/TIM thickness and material variations, ``-detailed_3D`` on
(some blocks with their own materials) or off, a 8x8..64x64 grid, sampling 0.1-2 ms and a bursty power trace.
Every case runs the same three commands through both tools, HotSpot's own command lines:

    1. steady:     -steady_file out.steady -grid_steady_file out.grid.steady
    2. transient from ambient:  -init_temp <ambient> -o out.ttrace
    3. transient from steady:   -init_file steady.init -o out_from_steady.ttrace

``steady.init`` is HotSpot's ``out.steady`` (so both tools start from the same state). HotSpot's outputs are cached
under ``--cache`` (default ``$AILFM_HOTSPOT_CACHE`` or ~/.cache/ailfm/hotspot-runs, outside the repository), keyed by
the case's inputs and the binary, so a case is never run twice.

    python bench/thermal_deep_stacks.py table --seeds 0-53 [--hotspot hotspot] [--jobs 2]
    python bench/thermal_deep_stacks.py write-case --seed 34 --samples 5 --out tests/thermal/data/deep_stacks/deep34

``table`` prints the markdown parity table of docs/thermal-grid.md (worst steady node/cell, worst transient sample of
each trace, in K) and exits 1 if any case exceeds 0.05 K steady or 0.2 K transient. ``write-case`` is how the small
reference cases in tests/thermal/data/deep_stacks were made.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

STEADY_BUDGET_K = 0.05
TRANSIENT_BUDGET_K = 0.2
DEFAULT_CACHE = Path(os.environ.get("AILFM_HOTSPOT_CACHE", Path.home() / ".cache" / "ailfm" / "hotspot-runs"))
AMBIENT_K = 318.15
SAMPLING_S = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3)


def draw_case(seed: int, *, cells: int | None = None, samples: int | None = None,
              tile_layers: int | None = None) -> dict:
    """The description of case ``seed`` (plain data, JSON-able); same seed, same case.

    ``cells`` (a square grid), ``samples`` and ``tile_layers`` override what the seed draws (the speed benchmark's
    64x64 stacks)."""
    case = _drawn_case(seed)
    if cells is not None:
        case["grid"] = [cells, cells]
    if samples is not None:
        case["samples"] = samples
    if tile_layers is not None:
        case["chip"]["tile_layers"] = tile_layers
    if (cells, samples, tile_layers) != (None, None, None):
        case["chip"]["name"] = f"deep{seed}-{case['chip']['tile_layers']}x{case['grid'][0]}x{case['samples']}"
    return case


def _drawn_case(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    tile_rows, tile_cols = (int(x) for x in rng.integers(2, 9, size=2))
    tile_w = float(rng.uniform(0.6e-3, 2.0e-3))
    aspect = 1.0 if rng.random() < 0.5 else float(rng.uniform(0.5, 2.0))
    cells = int(rng.choice([8, 16, 16, 32, 32]))
    return {
        "seed": seed,
        "chip": {
            "name": f"deep{seed}",
            "tile_layers": int(rng.integers(3, 7)),
            "tile_rows": tile_rows,
            "tile_cols": tile_cols,
            "tile_width_m": round(tile_w, 7),
            "tile_height_m": round(tile_w * aspect, 7),
            "core_fraction": round(float(rng.uniform(0.5, 0.75)), 4),
            "banks_per_tile": int(rng.integers(1, 3)),
            "silicon_thickness_m": round(float(rng.uniform(25e-6, 100e-6)), 8),
            "top_silicon_thickness_m": round(float(rng.uniform(50e-6, 200e-6)), 8),
            "silicon_specific_heat_J_per_m3K": round(float(rng.uniform(1.6e6, 1.75e6)), -3),
            "silicon_resistivity_mK_per_W": round(float(rng.uniform(0.0067, 0.01)), 5),
            "tim_thickness_m": round(float(rng.uniform(10e-6, 50e-6)), 8),
            "tim_specific_heat_J_per_m3K": round(float(rng.uniform(2e6, 4e6)), -3),
            "tim_resistivity_mK_per_W": round(float(rng.uniform(0.05, 0.5)), 4),
        },
        "detailed_3D": bool(rng.random() < 0.4),
        "grid": [cells, int(cells * rng.choice([1, 1, 2])) if cells < 32 else cells],
        "sampling_s": float(rng.choice(SAMPLING_S)),
        "samples": int(rng.integers(6, 16)),
        "total_power_W": round(float(rng.uniform(30.0, 150.0)), 1),
    }


def _floorplans(case: dict, out_dir: Path):
    """The stack's floorplans and LCF layers; with -detailed_3D some banks and cores get their own material."""
    from ailfm.thermal.floorplan_gen import ChipStack, build_stack

    floorplans, layers = build_stack(ChipStack.from_dict(case["chip"]), out_dir)
    if case["detailed_3D"]:
        rng = np.random.default_rng(case["seed"] + 10_000)
        floorplans = [dataclasses.replace(fp, blocks=tuple(
            dataclasses.replace(b, specific_heat_J_per_m3K=round(float(rng.uniform(1.5e6, 3.5e6)), -3),
                                resistivity_mK_per_W=round(float(rng.uniform(0.0025, 0.02)), 5))
            if layer.has_power and rng.random() < 0.3 else b for b in fp.blocks))
            for fp, layer in zip(floorplans, layers, strict=True)]
    return floorplans, layers


def _power_rows(case: dict, names: list[str], areas: np.ndarray) -> np.ndarray:
    """Bursty power: each core switches between idle and busy at random; banks draw a steady trickle."""
    rng = np.random.default_rng(case["seed"] + 20_000)
    is_core = np.array(["_core_" in n for n in names])
    busy = rng.random(is_core.sum()) < 0.5
    density = np.where(is_core, 1.0, 0.15) * rng.uniform(0.7, 1.3, len(names))
    rows = []
    for _ in range(case["samples"]):
        flip = rng.random(busy.size) < 0.3
        busy = busy ^ flip
        row = density.copy()
        row[is_core] *= np.where(busy, 1.0, 0.1)
        rows.append(row * areas)
    rows = np.array(rows)
    return rows * (case["total_power_W"] / rows.sum(axis=1).mean())


def write_inputs(case: dict, out_dir: Path) -> list[list[str]]:
    """Write the stack, the power trace and case.json into ``out_dir``; return the three command lines."""
    from ailfm.thermal.formats import PowerTrace, write_flp, write_lcf, write_ptrace

    out_dir.mkdir(parents=True, exist_ok=True)
    floorplans, layers = _floorplans(case, out_dir)
    for fp, layer in zip(floorplans, layers, strict=True):
        write_flp(layer.floorplan_path, fp)
    write_lcf(out_dir / "stack.lcf", layers)
    power_blocks = [b for fp, layer in zip(floorplans, layers, strict=True) if layer.has_power for b in fp.blocks]
    names = [b.name for b in power_blocks]
    areas = np.array([b.width_m * b.height_m for b in power_blocks])
    write_ptrace(out_dir / "power.ptrace", PowerTrace(tuple(names), np.round(_power_rows(case, names, areas), 4)))
    rows, cols = case["grid"]
    base = ["hotspot", "-p", "power.ptrace", "-grid_layer_file", "stack.lcf", "-model_type", "grid",
            "-grid_rows", str(rows), "-grid_cols", str(cols), "-sampling_intvl", repr(case["sampling_s"]),
            "-ambient", repr(AMBIENT_K), "-detailed_3D", "on" if case["detailed_3D"] else "off"]
    commands = [base + ["-steady_file", "out.steady", "-grid_steady_file", "out.grid.steady"],
                base + ["-init_temp", repr(AMBIENT_K), "-o", "out.ttrace"],
                base + ["-init_file", "steady.init", "-o", "out_from_steady.ttrace"]]
    (out_dir / "case.json").write_text(json.dumps({"case": case, "commands": commands}, indent=1) + "\n")
    return commands


def _inputs_key(case_dir: Path, binary: str) -> str:
    digest = hashlib.sha256(Path(binary).read_bytes())
    for path in sorted(case_dir.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:20]


def run_hotspot(case: dict, binary: str, cache: Path, writer=None) -> Path:
    """HotSpot's outputs for ``case`` (a cached folder holding the inputs and out.* files); ``writer(case, folder)``
    writes the inputs and returns the command lines (default: this module's ``write_inputs``)."""
    with tempfile.TemporaryDirectory() as tmp:
        commands = (writer or write_inputs)(case, Path(tmp))
        name = case["name"] if "name" in case else case["chip"]["name"]
        done = cache / f"{name}-{_inputs_key(Path(tmp), binary)}"
        if (done / "out_from_steady.ttrace").exists():
            return done
        work = Path(str(done) + ".partial")
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(tmp, work)
    for k, command in enumerate(commands):
        result = subprocess.run([binary, *command[1:]], cwd=work, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{binary} failed on seed {case['seed']}: {result.stderr.strip()[-400:]}")
        if k == 0:
            shutil.copy(work / "out.steady", work / "steady.init")
    work.rename(done)
    return done


def run_kind(flags: dict[str, str]) -> str:
    """What one HotSpot command line computes: ``steady``, ``transient_from_ambient`` or ``transient_from_steady``."""
    if "o" not in flags:
        return "steady"
    return "transient_from_steady" if "init_file" in flags else "transient_from_ambient"


def output_error_K(theirs: Path, ours: Path, flags: dict[str, str]) -> float:
    """Largest difference (K) between the output files one command wrote in ``theirs`` and in ``ours``: every node of
    its steady file, every cell of its grid steady file, every sample of its transient trace."""
    from ailfm.thermal.formats import read_grid_steady, read_steady, read_ttrace

    errors = []
    if "steady_file" in flags:
        ref, got = read_steady(theirs / flags["steady_file"]), read_steady(ours / flags["steady_file"])
        errors.append(max(abs(got[n] - ref[n]) for n in ref))
    if "grid_steady_file" in flags:
        ref_layers = read_grid_steady(theirs / flags["grid_steady_file"])
        got_layers = read_grid_steady(ours / flags["grid_steady_file"])
        errors.append(max(float(np.max(np.abs(a - b))) for a, b in zip(got_layers, ref_layers, strict=True)))
    if "o" in flags:
        ref_trace, got_trace = read_ttrace(theirs / flags["o"]), read_ttrace(ours / flags["o"])
        errors.append(float(np.max(np.abs(got_trace.temperatures_K - ref_trace.temperatures_K))))
    return max(errors)


def compare(case_dir: Path) -> dict[str, float]:
    """Run ailfm-hotspot on HotSpot's case folder (in a copy) and return the worst differences (K): ``steady`` (every
    node of out.steady, every cell of out.grid.steady), ``from_ambient`` and ``from_steady`` (every sample)."""
    from ailfm.thermal.hotspot_cli import main as hotspot_main
    from ailfm.thermal.hotspot_cli import parse_command_line

    commands = [command[1:] for command in json.loads((case_dir / "case.json").read_text())["commands"]]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for path in case_dir.iterdir():
            if not path.name.startswith("out"):
                shutil.copy(path, work)
        shutil.copy(case_dir / "out.steady", work / "steady.init")  # HotSpot's steady state starts the third run
        cwd = os.getcwd()
        os.chdir(work)
        try:
            for argv in commands:
                with open(os.devnull, "w") as devnull, _redirect(devnull):
                    if hotspot_main(argv) != 0:
                        raise RuntimeError(f"ailfm-hotspot failed on {case_dir.name}: {' '.join(argv)}")
        finally:
            os.chdir(cwd)
        keys = {"steady": "steady", "transient_from_ambient": "from_ambient", "transient_from_steady": "from_steady"}
        return {keys[run_kind(flags)]: output_error_K(case_dir, work, flags)
                for flags in map(parse_command_line, commands)}


class _redirect:
    """Send stdout to ``stream`` (ailfm-hotspot prints HotSpot's progress lines)."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        self.saved, sys.stdout = sys.stdout, self.stream

    def __exit__(self, *exc):
        sys.stdout = self.saved


def _seeds(text: str) -> list[int]:
    seeds = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds += list(range(int(lo), int(hi or lo) + 1))
    return seeds


def describe(case: dict) -> str:
    chip = case["chip"]
    shape = "square" if chip["tile_width_m"] == chip["tile_height_m"] else "rect"
    return (f"{chip['tile_layers']} x {chip['tile_rows']}x{chip['tile_cols']} {shape}, "
            f"{case['grid'][0]}x{case['grid'][1]}, {'3D' if case['detailed_3D'] else 'plain'}, "
            f"{case['samples']} x {case['sampling_s'] * 1e3:g} ms")


def add_hotspot_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hotspot", default=os.environ.get("HOTSPOT", "hotspot"))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)


def hotspot_binary(args: argparse.Namespace) -> str:
    """The binary ``--hotspot`` names (exit with the reason when there is none); creates ``--cache``."""
    binary = shutil.which(args.hotspot)
    if binary is None:
        sys.exit(f"no HotSpot binary '{args.hotspot}' (set --hotspot or $HOTSPOT)")
    args.cache.mkdir(parents=True, exist_ok=True)
    return binary


def hotspot_cases(argv, *, description: str, seeds: str, jobs: int, draw, writer=None, describe_case=None,
                  overrides: tuple[str, ...] = ("samples",)):
    """The command line the HotSpot-parity benches share. ``write-case --seed N --out DIR`` draws one case (options
    ``--<override>`` go to ``draw(seed, **overrides)``), runs HotSpot on it (``run_hotspot`` with ``writer``) and
    copies its files to DIR, returning None; ``table --seeds A-B`` returns [(case, HotSpot's folder)] per seed."""
    parser = argparse.ArgumentParser(description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    table = sub.add_parser("table")
    table.add_argument("--seeds", default=seeds)
    table.add_argument("--jobs", type=int, default=jobs, help="HotSpot processes at once")
    write = sub.add_parser("write-case")
    write.add_argument("--seed", type=int, required=True)
    write.add_argument("--out", type=Path, required=True)
    for name in overrides:
        write.add_argument(f"--{name}", type=int, help=f"override the drawn {name} (small reference files)")
    for p in (table, write):
        add_hotspot_options(p)
    args = parser.parse_args(argv)
    binary = hotspot_binary(args)
    if args.command == "write-case":
        case = draw(args.seed, **{name: getattr(args, name) for name in overrides})
        done = run_hotspot(case, binary, args.cache, writer)
        args.out.mkdir(parents=True, exist_ok=True)
        for path in done.iterdir():
            if path.name != "steady.init":  # a copy of out.steady; compare() makes it
                shutil.copy(path, args.out)
        print(f"{args.out}: {(describe_case or describe)(case)}")
        return None
    cases = [draw(s) for s in _seeds(args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        folders = list(pool.map(lambda c: run_hotspot(c, binary, args.cache, writer), cases))
    return list(zip(cases, folders, strict=True))


def main(argv: list[str] | None = None) -> int:
    runs = hotspot_cases(argv, description=__doc__.split("\n")[0], seeds="0-39", jobs=2, draw=draw_case)
    if runs is None:
        return 0
    cases, folders = (list(v) for v in zip(*runs, strict=True))
    print("| seed | stack (tile layers x tiles, grid, model, samples) | steady (K) | from ambient (K) | "
          "from steady (K) |")
    print("|---:|---|---:|---:|---:|")
    worst = {"steady": 0.0, "from_ambient": 0.0, "from_steady": 0.0}
    for case, folder in zip(cases, folders, strict=True):
        err = compare(folder)
        worst = {k: max(v, err[k]) for k, v in worst.items()}
        print(f"| {case['seed']} | {describe(case)} | {err['steady']:.3f} | {err['from_ambient']:.3f} | "
              f"{err['from_steady']:.3f} |", flush=True)
    print(f"| all | {len(cases)} stacks | {worst['steady']:.3f} | {worst['from_ambient']:.3f} | "
          f"{worst['from_steady']:.3f} |")
    ok = worst["steady"] <= STEADY_BUDGET_K and max(worst["from_ambient"], worst["from_steady"]) <= TRANSIENT_BUDGET_K
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
