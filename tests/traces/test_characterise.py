"""The characterisation script: its parsers, and a real (small) cachegrind + callgrind + llvm-mca run."""

from __future__ import annotations

import shutil

import pytest

from ailfm.errors import FormatError
from ailfm.traces import characterise
from ailfm.traces.decompose import KernelType

TOOLS = ("gcc", "valgrind", "objdump", "llvm-mca")


def test_every_kernel_type_has_a_c_source_and_sizes():
    for kind in KernelType:
        assert characterise.kernel_source(kind).is_file()
        warm, cold = characterise.KERNEL_SIZES[kind]
        assert len(warm) == len(cold)


def test_parse_cachegrind_summary(tmp_path):
    path = tmp_path / "cg.out"
    path.write_text("desc: I1 cache: 32768 B\ncmd: ./k\nevents: Ir Dr DLmr\nfl=a.c\nfn=f\n0 5 2 1\nsummary: 12 4 2\n")
    assert characterise.parse_cachegrind(path) == {"Ir": 12, "Dr": 4, "DLmr": 2}
    path.write_text("events: Ir Dr DLmr\nsummary: 12 4\n")
    with pytest.raises(FormatError, match="2 values for 3 events") as err:
        characterise.parse_cachegrind(path)
    assert err.value.line == 2


def test_parse_callgrind_skips_inclusive_call_costs(tmp_path):
    path = tmp_path / "cl.out"
    path.write_text("positions: instr line\nevents: Ir\nfn=(1) k\n0x401000 0 10\n+4 0 10\ncfn=(2) expf\n"
                    "calls=10 0x402000 0\n+3 0 500\n+5 0 10\nfn=(2)\n0x402000 0 10\n* 0 10\n")
    assert characterise.parse_callgrind_instructions(path) == {0x401000: 10, 0x401004: 10, 0x40100C: 10,
                                                               0x402000: 20}


@pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS), reason=f"needs {', '.join(TOOLS)} on PATH")
def test_small_measurement_of_the_add_kernel(tmp_path, monkeypatch):
    monkeypatch.setitem(characterise.KERNEL_SIZES, KernelType.ADD, ((1024,), (16384,)))
    folders = [tmp_path / "a", tmp_path / "a-much-longer-build-folder-name"]
    for folder in folders:
        folder.mkdir()
    row, again = (characterise.characterise_kernel(KernelType.ADD, f, 256 * 1024) for f in folders)
    assert row == again  # the same numbers whatever the build folder (fixed array and stack placement)
    # 8 elements per loop iteration: two loads, an add, a store, the index update and the branch
    assert float(row["instructions_per_unit"]) == pytest.approx(6 / 8, rel=0.01)
    # cold: every 64-byte line of a, b and c comes from memory once; warm: 36 KiB stays in a 256 KiB LLC
    assert float(row["dram_misses_per_line"]) == pytest.approx(1.0, rel=0.02)
    assert float(row["dram_mpki_warm"]) == 0.0
    assert 0.1 < float(row["base_cpi"]) < 2.0 and 0.0 < float(row["activity"]) <= 1.0
    assert row["source"] == "measured" and "MODELLED" in row["provenance"]
