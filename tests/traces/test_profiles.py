"""The characterisation table: it loads, it is measured, bad tables fail by line, and it implies the rooflines."""

from __future__ import annotations

import pytest

from ailfm.errors import FormatError
from ailfm.traces.decompose import KernelType
from ailfm.traces.profiles import cold_fraction, default_profiles_path, load_kernel_profiles

# Machine balance for the roofline check: HotSniper's config/kingscross-nuca.cfg has 4 DRAM controllers of 32 GB/s
# for 64 cores; the default scenario runs 48 threads; the lowest V/f level is 1 GHz.
BANDWIDTH_PER_THREAD_B_PER_S = 4 * 32e9 / 48
F_MIN_HZ = 1.0e9
F_MAX_HZ = 4.0e9


def test_every_kernel_type_is_measured_with_provenance():
    profiles = load_kernel_profiles()
    assert set(profiles) == set(KernelType)
    for profile in profiles.values():
        assert profile.source == "measured"
        assert "cachegrind" in profile.provenance and "MODELLED" in profile.provenance


def _flops_per_dram_byte(profile):
    """Arithmetic intensity of the measured cold run: FLOPs per byte fetched from memory."""
    return 1.0 / (profile.instructions_per_unit * profile.dram_mpki_cold / 1000.0 * 64)


def _ridge_flops_per_byte(profile, f_hz):
    """Where the roofline of this kernel's core-bound peak meets the per-thread bandwidth."""
    peak_flops_per_s = f_hz / (profile.instructions_per_unit * profile.base_cpi)
    return peak_flops_per_s / BANDWIDTH_PER_THREAD_B_PER_S


def test_gemm_is_compute_bound_and_gemv_and_attention_memory_bound():
    profiles = load_kernel_profiles()
    gemm = profiles[KernelType.GEMM]
    assert _flops_per_dram_byte(gemm) > _ridge_flops_per_byte(gemm, F_MIN_HZ)
    for kind in (KernelType.GEMV, KernelType.ATTN_SCORES, KernelType.ATTN_CONTEXT):
        profile = profiles[kind]
        assert _flops_per_dram_byte(profile) < _ridge_flops_per_byte(profile, F_MIN_HZ)
        assert _flops_per_dram_byte(profile) < _flops_per_dram_byte(gemm) / 5


def test_cold_fraction_is_zero_when_the_reuse_fits_and_grows_with_it():
    assert cold_fraction(1e5, 2**20) == 0.0
    assert cold_fraction(2**21, 2**20) == pytest.approx(0.5)
    assert cold_fraction(1e12, 2**20) == pytest.approx(1.0, abs=1e-5)


def _table_with(tmp_path, old, new):
    text = default_profiles_path().read_text().replace(old, new, 1)
    path = tmp_path / "profiles.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("old", "new", "message", "line"), [
    ("gemv,flop,", "gemx,flop,", "unknown type 'gemx'", 3),
    ("gemv,flop,", "gemv,element,", "work_unit", 3),
    ("softmax,element,", "gemm,flop,", "gemm appears twice", 5),
])
def test_malformed_table_names_the_line(tmp_path, old, new, message, line):
    path = _table_with(tmp_path, old, new)
    with pytest.raises(FormatError, match=message) as err:
        load_kernel_profiles(path)
    assert err.value.line == line and f"{path}:{line}" in str(err.value)


def test_bad_number_and_missing_column_are_named(tmp_path):
    text = default_profiles_path().read_text().splitlines()
    fields = text[2].split(",")
    fields[3] = "fast"
    (tmp_path / "bad.csv").write_text("\n".join([text[0], text[1], ",".join(fields), *text[3:]]) + "\n")
    with pytest.raises(FormatError, match="base_cpi: not a number") as err:
        load_kernel_profiles(tmp_path / "bad.csv")
    assert err.value.line == 3
    (tmp_path / "cols.csv").write_text(text[0].replace("activity,", "") + "\n")
    with pytest.raises(FormatError, match="missing column"):
        load_kernel_profiles(tmp_path / "cols.csv")
