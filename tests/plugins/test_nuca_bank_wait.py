"""The optional bank wait of the NUCA model (``llc.bank_service_cycles``): off by default, M/D/1 when set."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ailfm.errors import ConfigError
from ailfm.plugins.system.description import load_system, shipped_system_names
from ailfm.plugins.system.nuca import MAX_BANK_UTILISATION, NucaModel, contended_latency_kernel


def _with_service(system, cycles):
    return dataclasses.replace(system, llc=dataclasses.replace(system.llc, bank_service_cycles=cycles))


@pytest.fixture(scope="module")
def system():
    return load_system("snuca-64")


def test_shipped_systems_leave_the_bank_wait_off():
    for name in shipped_system_names():
        assert load_system(name).llc.bank_service_cycles is None


def test_default_is_the_link_model_bit_for_bit(system):
    """Without the field: exactly the link M/D/1 kernel's output on a random rate vector (no bank term added)."""
    model = NucaModel.build(system)
    rates = np.random.default_rng(7).uniform(0.0, 1.5e8, system.n_cores)
    expected = np.empty_like(model.mean_latency_ns)
    contended_latency_kernel(model.mean_latency_ns, model.link_flits_per_access, model.core_link_share, rates,
                             system.noc.frequency_GHz, expected)
    assert np.array_equal(model.latency_ns(rates), expected)
    assert model.bank_wait_ns(rates) == 0.0
    no_links = NucaModel.build(dataclasses.replace(system, noc=dataclasses.replace(system.noc, contention=False)))
    assert no_links.latency_ns(rates) is no_links.mean_latency_ns


def test_zero_load_gives_the_contention_free_latency(system):
    model = NucaModel.build(_with_service(system, 20.0))
    np.testing.assert_array_equal(model.latency_ns(np.zeros(system.n_cores)), model.mean_latency_ns)


def test_wait_is_md1_uniform_and_grows_with_the_rate(system):
    service = 20.0
    banked = NucaModel.build(_with_service(system, service))
    links = NucaModel.build(system)
    rates = np.full(system.n_cores, 5e7)
    per_bank_per_cycle = rates.sum() / system.n_banks / (system.noc.frequency_GHz * 1e9)
    rho = per_bank_per_cycle * service
    expected_ns = rho / (2 * (1 - rho)) * service / system.noc.frequency_GHz
    extra = banked.latency_ns(rates) - links.latency_ns(rates)
    np.testing.assert_allclose(extra, expected_ns, rtol=1e-12)  # the same wait for every core
    waits = [banked.bank_wait_ns(rates * scale) for scale in np.linspace(0.0, 3.0, 13)]
    assert waits[0] == 0.0 and np.all(np.diff(waits) > 0)


def test_saturated_banks_are_held_below_utilisation_one(system):
    service = 20.0
    model = NucaModel.build(_with_service(system, service))
    cap = MAX_BANK_UTILISATION / (2 * (1 - MAX_BANK_UTILISATION)) * service / system.noc.frequency_GHz
    assert model.bank_wait_ns(np.full(system.n_cores, 1e12)) == pytest.approx(cap)


def _write(tmp_path, text):
    path = tmp_path / "fitted.yaml"
    path.write_text(text)
    return path


def test_yaml_field_is_read_from_a_fitted_system(tmp_path):
    system = load_system(_write(tmp_path, "base: snuca-64\nname: fit\nllc:\n  bank_service_cycles: 22.5\n"))
    assert system.llc.bank_service_cycles == 22.5 and system.llc.bank_kib == load_system().llc.bank_kib


@pytest.mark.parametrize("value", ["0", "-3.0", "fast", ".inf", "true"])
def test_yaml_field_rejects_bad_values_naming_it(tmp_path, value):
    path = _write(tmp_path, f"base: snuca-64\nname: fit\nllc:\n  bank_service_cycles: {value}\n")
    with pytest.raises(ConfigError) as err:
        load_system(path)
    assert err.value.field == "llc.bank_service_cycles" and err.value.line == 4
