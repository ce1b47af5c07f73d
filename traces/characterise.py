"""Measure the kernel characterisation table by running the project's C kernels under valgrind.

Run ``python -m ailfm.traces.characterise`` (needs gcc, valgrind, objdump and llvm-mca on PATH). For
each kernel type, ``traces/kernels/<kernel>.c`` is compiled (static, ``-O2 -mavx2 -mfma -mf16c``) and:

1. **Cache and branch events** come from ``valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes``
   with an L1 of 32 KiB and a last level of one thread's LLC share (default 256 KiB, see
   :data:`ailfm.traces.scenario.DEFAULT_LLC_BYTES_PER_THREAD`). Two runs are subtracted so only one
   kernel call remains: *cold* = a large problem whose data has been flushed from every cache (as the
   weights and KV cache are when a whole model pass lies between two uses), *warm* = a small problem
   run a second time, its data resident in the LLC share. ``instructions_per_unit`` = Ir / work units
   (cold run); ``llc_apki`` = (I1 + D1 read + D1 write misses) per kilo-instruction (cold run; cachegrind
   has no private L2, so this counts every access that leaves the L1 and is an upper bound on LLC
   accesses); ``dram_mpki_cold`` / ``dram_mpki_warm`` = last-level misses per kilo-instruction;
   ``dram_misses_per_line`` = cold last-level misses / (distinct bytes the kernel touches / 64).
2. **Base CPI and activity cannot come from cachegrind.** They come from a documented model: callgrind
   (``--dump-instr=yes --toggle-collect=ailfm_kernel``) counts how often each instruction of the kernel
   ran; consecutive instructions with equal counts form basic blocks; LLVM's machine-code analyser
   ``llvm-mca -mcpu=skylake`` (the LLVM 14 Skylake scheduling model: per-instruction latencies, ports
   and throughputs) gives each block's steady-state cycles per iteration, all memory accesses hitting
   the L1. Base cycles = sum over blocks of count x cycles per iteration, plus cachegrind's mispredicted
   branches x :data:`MISPREDICT_PENALTY_CYCLES`. ``base_cpi`` = base cycles / Ir: core-bound, so it is
   the same at every frequency. ``activity`` = uops issued per base cycle / the model's dispatch width,
   the fraction of issue slots switching (McPAT-style dynamic power scales with per-unit access counts).

Every number in the regenerated CSV is measured by this script; its ``provenance`` column says how.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ailfm.errors import FormatError, ToolError
from ailfm.traces.decompose import WORK_UNIT, KernelType
from ailfm.traces.profiles import PROFILE_COLUMNS, default_profiles_path
from ailfm.traces.scenario import DEFAULT_LLC_BYTES_PER_THREAD

GCC_FLAGS = ("-O2", "-mavx2", "-mfma", "-mf16c", "-static", "-fno-pie", "-no-pie")
L1_BYTES = 32 * 1024
L1_WAYS = 8
LLC_WAYS = 16
LINE_BYTES = 64
MCA_CPU = "skylake"
#: Skylake's branch misprediction penalty: 15-20 cycles (A. Fog, "The microarchitecture of Intel, AMD and VIA
#: CPUs", section on Skylake branch prediction); the middle of that range.
MISPREDICT_PENALTY_CYCLES = 17.0
#: Problem sizes per kernel: (warm: data fits the LLC share, cold: data larger than it), as the C sources'
#: size arguments. Cold sizes are decode-like shapes of a 7B model scaled to run in seconds under valgrind.
#: Attention is measured with one K/V head per query head, so each cached row is read once; with grouped-query
#: attention the query heads of a group re-read one head's K/V slice (context x 256 bytes), which stays in the
#: instance's LLC, so the decomposition counts the KV cache once.
KERNEL_SIZES: dict[KernelType, tuple[tuple[int, ...], tuple[int, ...]]] = {
    KernelType.GEMM: ((16, 64, 512), (64, 512, 1024)),
    KernelType.GEMV: ((32, 1024), (2048, 1024)),
    KernelType.ATTN_SCORES: ((8, 8, 1, 32, 128), (32, 32, 1, 256, 128)),
    KernelType.ATTN_CONTEXT: ((8, 8, 1, 32, 128), (32, 32, 1, 256, 128)),
    KernelType.SOFTMAX: ((8, 1024), (32, 16384)),
    KernelType.RMSNORM: ((2, 4096), (64, 4096)),
    KernelType.LAYERNORM: ((2, 4096), (64, 4096)),
    KernelType.SILU: ((8192,), (262144,)),
    KernelType.GELU: ((8192,), (524288,)),
    KernelType.RELU: ((8192,), (524288,)),
    KernelType.ROPE: ((2, 32, 128), (64, 40, 128)),
    KernelType.KV_APPEND: ((16, 1024), (512, 1024)),
    KernelType.EMBEDDING: ((8, 1024, 16), (64, 4096, 2048)),
    KernelType.ADD: ((8192,), (262144,)),
}
CACHEGRIND_EVENTS = ("Ir", "I1mr", "ILmr", "Dr", "D1mr", "DLmr", "Dw", "D1mw", "DLmw", "Bc", "Bcm", "Bi", "Bim")


def kernel_source(kernel: KernelType) -> Path:
    """The C source of a kernel type, ``ailfm/traces/kernels/<kernel>.c``."""
    return Path(str(resources.files("ailfm.traces.kernels") / f"{kernel.value}.c"))


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True, **kwargs)
    except FileNotFoundError:
        raise ToolError(f"{cmd[0]} not found on PATH") from None
    except subprocess.CalledProcessError as err:
        raise ToolError(f"{' '.join(cmd[:3])}... failed ({err.returncode}): {err.stderr.strip()[-500:]}") from None


def _valgrind(tool_args: list[str], binary: Path, program_args: list) -> subprocess.CompletedProcess:
    """Run ``binary`` under valgrind from its folder, by a relative name, with a fixed environment, so the
    client's stack (and so its cache sets) lies out the same whatever the build folder is called."""
    return _run(["valgrind", *tool_args, f"./{binary.name}", *map(str, program_args)], cwd=binary.parent,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"})


def compile_kernel(kernel: KernelType, build_dir: Path) -> Path:
    """Compile one kernel with gcc; returns the binary."""
    binary = build_dir / kernel.value
    _run(["gcc", *GCC_FLAGS, "-o", str(binary), str(kernel_source(kernel)), "-lm"])
    return binary


def parse_cachegrind(path: Path) -> dict[str, int]:
    """The ``summary:`` totals of a cachegrind output file, by event name."""
    events: list[str] = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            values = line.split()[1:]
            if not events or len(values) != len(events):
                raise FormatError(path, lineno, f"summary has {len(values)} values for {len(events)} events")
            return dict(zip(events, (int(v) for v in values), strict=True))
    raise FormatError(path, None, "no summary line (did cachegrind finish?)")


def cachegrind(binary: Path, calls: int, flush: bool, sizes: tuple[int, ...],
               llc_bytes: int) -> tuple[dict[str, int], dict[str, float]]:
    """Events of one run of ``binary CALLS FLUSH SIZES...`` and what it prints (``work_units``, ``bytes``)."""
    out = f"cg.{binary.name}.{calls}.{int(flush)}.out"
    cache = f"{L1_BYTES},{L1_WAYS},{LINE_BYTES}"
    result = _valgrind(["--tool=cachegrind", "--cache-sim=yes", "--branch-sim=yes", f"--I1={cache}", f"--D1={cache}",
                        f"--LL={llc_bytes},{LLC_WAYS},{LINE_BYTES}", f"--cachegrind-out-file={out}"],
                       binary, [calls, int(flush), *sizes])
    printed = {k: float(v) for k, v in re.findall(r"^(work_units|bytes) (\d+)$", result.stdout, re.M)}
    if set(printed) != {"work_units", "bytes"}:
        raise ToolError(f"{binary.name} did not print work_units and bytes: {result.stdout[:200]!r}")
    return parse_cachegrind(binary.parent / out), printed


def kernel_events(binary: Path, sizes: tuple[int, ...], *, cold: bool,
                  llc_bytes: int) -> tuple[dict[str, int], dict[str, float]]:
    """Events of one kernel call: cold = (1 call, flushed) - (0 calls, flushed); warm = (2 calls) - (1 call)."""
    calls = 1 if cold else 2
    after, printed = cachegrind(binary, calls, cold, sizes, llc_bytes)
    before, _ = cachegrind(binary, calls - 1, cold, sizes, llc_bytes)
    return {e: after[e] - before.get(e, 0) for e in after}, printed


def parse_callgrind_instructions(path: Path) -> dict[int, int]:
    """Instructions executed per address from a callgrind ``--dump-instr=yes`` file (self cost, not calls)."""
    counts: dict[int, int] = {}
    address = 0
    skip_cost = False
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith("calls="):
            skip_cost = True  # the next cost line is the callee's inclusive cost
            continue
        if not line or line[0] not in "0123456789+-*":
            continue
        fields = line.split()
        pos = fields[0]
        try:
            if pos.startswith("0x"):
                address = int(pos, 16)
            elif pos[0] in "+-":
                address += int(pos, 0)
            if len(fields) < 3:
                raise ValueError
            cost = int(fields[2])
        except ValueError:
            raise FormatError(path, lineno, f"unexpected cost line {line!r}") from None
        if skip_cost:
            skip_cost = False
            continue
        counts[address] = counts.get(address, 0) + cost
    return counts


@dataclass(frozen=True)
class Instruction:
    """One disassembled instruction: its text for llvm-mca and the address of the next one."""

    text: str
    next_address: int
    ends_block: bool


_TARGET = re.compile(r"\b[0-9a-f]+ <[^>]*>")


def disassemble(binary: Path) -> dict[int, Instruction]:
    """Instructions of a static binary by address, in AT&T syntax that llvm-mca can assemble."""
    listing = _run(["objdump", "-d", "--no-show-raw-insn", "-M", "att", str(binary)]).stdout
    rows = []
    for line in listing.splitlines():
        match = re.match(r"^\s*([0-9a-f]+):\s+(\S.*)$", line)
        if match:
            text = match.group(2).split("#")[0].strip()
            rows.append((int(match.group(1), 16), _TARGET.sub("ailfm_target", text)))
    out = {}
    for (address, text), (next_address, _) in zip(rows, rows[1:] + [(0, "")], strict=True):
        mnemonic = text.split()[0] if text else ""
        ends = mnemonic.startswith(("j", "call", "ret", "bnd", "notrack")) or "(bad)" in text
        out[address] = Instruction(text, next_address, ends)
    return out


def basic_blocks(counts: dict[int, int], code: dict[int, Instruction]) -> list[tuple[int, list[str]]]:
    """Runs of consecutive executed instructions with equal counts: (count, instruction texts)."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    count = expected = None
    for address in sorted(counts):
        if address not in code:
            raise ToolError(f"callgrind counted an instruction at {address:#x} that objdump did not list")
        ins = code[address]
        if current and (address != expected or counts[address] != count):
            blocks.append((count, current))
            current = []
        count, expected = counts[address], ins.next_address
        current.append(ins.text)
        if ins.ends_block:
            blocks.append((count, current))
            current = []
    if current:
        blocks.append((count, current))
    return blocks


def mca_block_cycles(blocks: list[list[str]], work_dir: Path) -> list[tuple[float, float, int]]:
    """Per block: (cycles per iteration, uops per iteration, dispatch width) from one llvm-mca run."""
    source = work_dir / "blocks.s"
    lines = []
    for i, body in enumerate(blocks):
        lines += [f"# LLVM-MCA-BEGIN b{i}", *(t for t in body if not t.split()[0].endswith("nop")),
                  f"# LLVM-MCA-END b{i}"]
    source.write_text("\n".join(lines) + "\n")
    iterations = 100
    report = _run([shutil.which("llvm-mca") or "llvm-mca", "-mtriple=x86_64-unknown-linux-gnu", f"-mcpu={MCA_CPU}",
                   f"-iterations={iterations}", "-all-views=false", "-summary-view", str(source)]).stdout
    regions = re.findall(r"Total Cycles:\s+(\d+)\s+Total uOps:\s+(\d+)\s+Dispatch Width:\s+(\d+)", report)
    if len(regions) != len(blocks):
        raise ToolError(f"llvm-mca reported {len(regions)} regions for {len(blocks)} blocks")
    return [(int(c) / iterations, int(u) / iterations, int(w)) for c, u, w in regions]


@dataclass(frozen=True)
class CoreModel:
    """Core-bound cycles and issued uops of one kernel call (the base-CPI model of the module docstring)."""

    cycles: float
    uops: float
    dispatch_width: int


def core_model(binary: Path, sizes: tuple[int, ...], mispredicts: int, work_dir: Path) -> CoreModel:
    """Model the core-bound cycles of one flushed kernel call with callgrind counts and llvm-mca."""
    out = f"cl.{binary.name}.out"
    _valgrind(["--tool=callgrind", "--dump-instr=yes", "--toggle-collect=ailfm_kernel", f"--callgrind-out-file={out}"],
              binary, [1, 1, *sizes])
    blocks = [b for b in basic_blocks(parse_callgrind_instructions(binary.parent / out), disassemble(binary))
              if any(not t.split()[0].endswith("nop") for t in b[1])]
    per_block = mca_block_cycles([body for _, body in blocks], work_dir)
    cycles = sum(n * c for (n, _), (c, _, _) in zip(blocks, per_block, strict=True))
    uops = sum(n * u for (n, _), (_, u, _) in zip(blocks, per_block, strict=True))
    return CoreModel(cycles + mispredicts * MISPREDICT_PENALTY_CYCLES, uops, per_block[0][2])


def characterise_kernel(kernel: KernelType, build_dir: Path, llc_bytes: int) -> dict[str, object]:
    """One row of the table, measured."""
    binary = compile_kernel(kernel, build_dir)
    warm_sizes, cold_sizes = KERNEL_SIZES[kernel]
    cold, printed = kernel_events(binary, cold_sizes, cold=True, llc_bytes=llc_bytes)
    warm, _ = kernel_events(binary, warm_sizes, cold=False, llc_bytes=llc_bytes)
    model = core_model(binary, cold_sizes, cold["Bcm"] + cold["Bim"], build_dir)
    ir = cold["Ir"]
    per_ki = 1000.0 / ir
    dram_cold = cold["ILmr"] + cold["DLmr"] + cold["DLmw"]
    sizes = " ".join(map(str, cold_sizes))
    return {
        "kernel": kernel.value,
        "work_unit": WORK_UNIT[kernel],
        "instructions_per_unit": f"{ir / printed['work_units']:.6g}",
        "base_cpi": f"{model.cycles / ir:.4g}",
        "llc_apki": f"{(cold['I1mr'] + cold['D1mr'] + cold['D1mw']) * per_ki:.4g}",
        "dram_mpki_warm": f"{(warm['ILmr'] + warm['DLmr'] + warm['DLmw']) * 1000.0 / warm['Ir']:.4g}",
        "dram_mpki_cold": f"{dram_cold * per_ki:.4g}",
        "dram_misses_per_line": f"{dram_cold / (printed['bytes'] / LINE_BYTES):.4g}",
        "activity": f"{min(1.0, model.uops / model.cycles / model.dispatch_width):.4g}",
        "source": "measured",
        "provenance": (f"traces/kernels/{kernel.value}.c (gcc {' '.join(GCC_FLAGS[:4])}); cachegrind L1 "
                       f"{L1_BYTES // 1024} KiB LL {llc_bytes // 1024} KiB: instructions, LLC accesses, DRAM misses "
                       f"(cold sizes {sizes}, warm sizes {' '.join(map(str, warm_sizes))}); base_cpi and activity "
                       f"MODELLED not measured: llvm-mca -mcpu={MCA_CPU} over callgrind block counts + "
                       f"{MISPREDICT_PENALTY_CYCLES:g} cycles x cachegrind mispredicts"),
    }


def characterise(kernels: list[KernelType], llc_bytes: int, build_dir: Path | None = None) -> list[dict[str, object]]:
    """Rows for ``kernels``, built and run in ``build_dir`` (a temporary folder by default)."""
    if build_dir is None:
        with tempfile.TemporaryDirectory(prefix="ailfm-characterise-") as tmp:
            return characterise(kernels, llc_bytes, Path(tmp))
    return [characterise_kernel(k, build_dir, llc_bytes) for k in kernels]


def write_profiles(path: Path, rows: list[dict[str, object]]) -> None:
    """Write the table with :data:`ailfm.traces.profiles.PROFILE_COLUMNS`."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=PROFILE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=default_profiles_path(), help="CSV to write (default: shipped)")
    parser.add_argument("--llc-kib", type=int, default=DEFAULT_LLC_BYTES_PER_THREAD // 1024,
                        help="last-level cache size per thread in KiB, a power of two (default %(default)s)")
    parser.add_argument("--kernels", default=",".join(k.value for k in KernelType),
                        help="comma-separated kernel types (default: all)")
    parser.add_argument("--build-dir", type=Path, default=None, help="keep binaries and valgrind outputs here")
    args = parser.parse_args(argv)
    kernels = [KernelType(k) for k in args.kernels.split(",")]
    if args.build_dir:
        args.build_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for kernel in kernels:
        rows += characterise([kernel], args.llc_kib * 1024, args.build_dir)
        print(", ".join(f"{k}={v}" for k, v in rows[-1].items() if k != "provenance"), flush=True)
    if set(kernels) != set(KernelType) and args.out.is_file():  # a partial run updates the other rows in place
        with args.out.open(newline="") as handle:
            kept = [r for r in csv.DictReader(handle) if KernelType(r["kernel"]) not in kernels]
        order = [k.value for k in KernelType]
        rows = sorted(kept + rows, key=lambda r: order.index(r["kernel"]))
    write_profiles(args.out, rows)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
