"""Invariants of the evaluation engine (hypothesis draws the mappings)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ailfm.mapping.cost import job_costs
from ailfm.mapping.encoding import Mapping
from ailfm.mapping.evaluator import ENERGY_PARTS, Evaluator
from ailfm.mapping.hardware import ChipletType, Hardware
from ailfm.mapping.search import operators
from ailfm.mapping.workload import build_jobs, layer_graph

SETTINGS = settings(max_examples=25, deadline=None)


def single_chiplet_model(workload, chiplet: ChipletType, hw: Hardware, segmentation: np.ndarray):
    """The single-chiplet model written as a plain loop: jobs run one after another in program order; an output
    stays on chip only for the job right after its producer; weights are reused only when the previous job was
    the same layer; everything else goes to DRAM (the DRAM controller sits at the chiplet: no NoP hops)."""
    ops = build_jobs(workload)
    cost = job_costs(ops, chiplet)
    graph = layer_graph(workload)
    n_it, n_mb, n_l = ops.shape
    seg = np.concatenate([[0], np.cumsum(segmentation)])
    order = sorted(((b, l) for b in range(n_mb) for l in range(n_l)), key=lambda bl: (seg[bl[1]], bl[0], bl[1]))
    consumers = {l: [c for c in range(n_l) if l in graph.predecessors[c]] for l in range(n_l)}
    latency = energy = 0.0
    for i in range(n_it):
        jobs = [(b, l) for b, l in order if ops.tokens[i, b, l] > 0]
        for k, (b, l) in enumerate(jobs):
            prev = jobs[k - 1] if k else None
            nxt = jobs[k + 1] if k + 1 < len(jobs) else None
            read = ops.kv_read_bytes[i, b, l] + ops.input_read_bytes[i, b, l] + cost.spill_bytes[i, b, l]
            if prev is None or prev[1] != l:
                read += ops.weight_bytes[i, b, l]
            for p in graph.predecessors[l]:
                if prev != (b, p):
                    read += ops.output_bytes[i, b, p]
            write = ops.kv_write_bytes[i, b, l]
            if graph.last_block_output[l] or any(nxt != (b, c) for c in consumers[l]):
                write += ops.output_bytes[i, b, l]
            dram = read + write
            latency += max(cost.compute_s[i, b, l], dram / (hw.dram_GBps * 1e9))
            energy += (cost.mac_pJ[i, b, l] + cost.vector_pJ[i, b, l] + cost.buffer_pJ[i, b, l]
                       + dram * 8 * hw.dram_pJ_per_bit) * 1e-12
    return latency, energy


@SETTINGS
@given(data=st.data())
def test_one_chiplet_equals_single_chiplet_model(tiny, data):
    chiplet = ChipletType("c", data.draw(st.sampled_from(["os", "ws", "nvdla", "eyeriss"])), 256,
                          data.draw(st.sampled_from([16.0, 64.0, 1024.0])))
    hw = Hardware("one", 1, 1, (chiplet,), (0,))
    ev = Evaluator(tiny, hw)
    bits = np.asarray(data.draw(st.lists(st.integers(0, 1), min_size=ev.encoding.n_bits,
                                         max_size=ev.encoding.n_bits)), np.int64)
    mapping = Mapping(bits, np.zeros((ev.encoding.n_micro_batches, ev.encoding.n_layers), np.int64))
    got = ev.evaluate_mapping(mapping)
    want_latency, want_energy = single_chiplet_model(tiny, chiplet, hw, bits)
    assert got.latency_s[0] == pytest.approx(want_latency, rel=1e-12)
    assert got.energy_J[0] == pytest.approx(want_energy, rel=1e-12)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_latency_never_below_compute_bound(tiny, mixed_hw, seed):
    ev = Evaluator(tiny, mixed_hw)
    genomes = np.random.default_rng(seed).integers(0, ev.encoding.upper_bounds() + 1, size=(16, ev.encoding.n_genes))
    result = ev.evaluate(genomes)
    assert (result.latency_s >= ev.compute_lower_bound_s() * (1 - 1e-12)).all()
    assert (result.energy_J > 0).all()


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_energies_add_up_to_the_total(tiny, mixed_hw, seed):
    ev = Evaluator(tiny, mixed_hw)
    genome = np.random.default_rng(seed).integers(0, ev.encoding.upper_bounds() + 1)
    details = ev.details(ev.encoding.decode(genome))
    total = details.evaluation.energy_J[0]
    assert set(details.energy_by_part_J) == set(ENERGY_PARTS)
    assert sum(details.energy_by_part_J.values()) == pytest.approx(total, rel=1e-12)
    assert details.energy_by_chiplet_J.sum() == pytest.approx(total, rel=1e-12)
    assert details.energy_by_layer_J.sum() == pytest.approx(total, rel=1e-12)
    assert details.finish_s.max() <= details.evaluation.latency_s[0] * (1 + 1e-12)


@SETTINGS
@given(producer=st.integers(0, 5), near=st.integers(0, 5), far=st.integers(0, 5), layer=st.integers(0, 9))
def test_moving_a_transfer_farther_never_lowers_nop_energy(tiny, producer, near, far, layer):
    # On a 6 x 1 mesh with DRAM on both ends, every chiplet is equally far from DRAM on average; the consumer
    # layer moves between two chiplets that run nothing else, so the data-access flags stay the same and only
    # the producer -> consumer distance changes.
    assume(near != producer and far != producer)
    chiplet = ChipletType("c", "os", 256, 64.0)
    hw = Hardware("row", 6, 1, (chiplet,), (0,) * 6, dram_channels=2)
    ev = Evaluator(tiny, hw)
    if abs(far - producer) < abs(near - producer):
        near, far = far, near

    def nop_energy(consumer_chip: int) -> float:
        chips = np.full((ev.encoding.n_micro_batches, ev.encoding.n_layers), producer, np.int64)
        chips[:, layer] = consumer_chip
        return ev.details(Mapping(np.zeros(ev.encoding.n_bits, np.int64), chips)).energy_by_part_J["nop"]

    assert nop_energy(far) >= nop_energy(near) * (1 - 1e-12)


def test_spreading_work_beats_one_chiplet_on_prefill(he36):
    from ailfm.mapping.models import load_model
    from ailfm.mapping.workload import Iteration, Request, ServingWorkload

    wl = ServingWorkload(load_model("llama-3-8b"), (Iteration("prefill", (Request(512, 0),) * 8),), 8, 8)
    ev = Evaluator(wl, he36)
    one = np.zeros((8, ev.encoding.n_layers), np.int64)
    spread = (np.arange(8)[:, None] * 4 + np.arange(ev.encoding.n_layers)[None, :] % 4) % 36
    zero_bits = np.zeros(ev.encoding.n_bits, np.int64)
    lat_one = ev.evaluate_mapping(Mapping(zero_bits, one)).latency_s[0]
    lat_spread = ev.evaluate_mapping(Mapping(zero_bits, spread)).latency_s[0]
    assert lat_spread < lat_one / 4


def test_xy_routes_and_link_loads_account_for_every_hop(tiny, mixed_hw):
    # routes: one link per hop, x before y; the first link leaves the source, the last enters the destination
    routes, links = mixed_hw.route_links(), mixed_hw.links
    assert np.array_equal(routes.sum(axis=2), mixed_hw.hops)
    for a, b in [(0, 5), (5, 0), (2, 3)]:
        used = links[routes[a, b] > 0]
        assert a in used[:, 0] and b in used[:, 1] and b not in used[:, 0] and a not in used[:, 1]
    ev = Evaluator(tiny, replace(mixed_hw, nop_link_GBps=0.01))
    binds = []
    for genome in operators.random_genomes(ev.encoding, 20, np.random.default_rng(3)):
        d = ev.details(ev.encoding.decode(genome))
        # link bytes summed over links = bytes x hops, i.e. the NoP energy
        nop_J = d.link_bytes.sum() * 8 * ev.hardware.nop_pJ_per_bit_hop * 1e-12
        assert nop_J == pytest.approx(d.energy_by_part_J["nop"], rel=1e-9)
        # no iteration is shorter than its busiest link needs; with slow links the bound binds for some mappings
        link_s = d.link_bytes.max(axis=1) / (ev.hardware.nop_link_GBps * 1e9)
        assert (d.evaluation.iteration_latency_s[0] >= link_s * (1 - 1e-12)).all()
        binds.append(np.isclose(d.evaluation.iteration_latency_s[0], link_s, rtol=1e-12).any())
    assert any(binds)
