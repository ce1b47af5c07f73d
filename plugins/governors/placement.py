"""Initial placements by name, so any governor can start from any of them (``--placement``).

Each governor has its own documented initial placement (``Governor.initial_placement``; the table is in
docs/cosim.md). A comparison in which the governors start from different cores mixes where the threads start with
how V/f is set, so a run can instead start every governor from one named placement; the governor then decides (and
migrates, if it migrates) from there. The same names serve both engines (``RunConfig.placement``).

* ``first-unused``: thread i on core i (HotSniper's ``mapFirstUnused``; the default of ``Governor``);
* ``coolest``: the cores of lowest steady self-heating, ties to the lower NUCA latency (the Oracle's own placement,
  and the learned governors' unless their policy scores the cores: ``scored_placement``);
* ``lowest-latency``: the cores of lowest mean S-NUCA latency (PCMig's own placement).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ailfm.errors import ConfigError, unknown_name
from ailfm.plugins.governors.base import Governor, GovernorContext

#: ``RunConfig.placement``'s value for "each governor's own initial placement"
OWN = "own"


def first_unused(context: GovernorContext) -> np.ndarray:
    """Thread i on core i."""
    return np.arange(context.n_threads)


def coolest_order(context: GovernorContext) -> np.ndarray:
    """Every core, from the lowest steady self-heating (the rows of the thermal resistance matrix summed: how much
    the chip heats a core) up, ties to the lower NUCA latency."""
    r_cc, _ = context.thermal_resistance_K_per_W
    return np.lexsort((context.nuca.mean_latency_ns, np.round(r_cc.sum(axis=1), 6)))


def coolest_placement(context: GovernorContext) -> np.ndarray:
    """The ``coolest_order``'s first cores, thread i on the i-th."""
    return coolest_order(context)[: context.n_threads].copy()


def scored_placement(context: GovernorContext, score: np.ndarray) -> np.ndarray:
    """The highest-scoring cores, thread i on the i-th (threads are numbered instance by instance, so each instance
    takes the best cores the ones before it left), ties in ``coolest_order``: a constant score is the coolest
    placement."""
    order = coolest_order(context)
    return order[np.argsort(-np.asarray(score, dtype=float)[order], kind="stable")][: context.n_threads].copy()


def lowest_latency(context: GovernorContext) -> np.ndarray:
    """The cores of lowest mean S-NUCA latency (stable order: ties to the lower index)."""
    return np.argsort(context.nuca.mean_latency_ns, kind="stable")[: context.n_threads].copy()


PLACEMENTS: dict[str, Callable[[GovernorContext], np.ndarray]] = {
    "first-unused": first_unused, "coolest": coolest_placement, "lowest-latency": lowest_latency}
PLACEMENT_CHOICES = (OWN, *PLACEMENTS)


def check_placement(name: str) -> str:
    """``name`` if it is ``own`` or a named placement, else a ConfigError naming the field and the nearest name."""
    if name not in PLACEMENT_CHOICES:
        raise ConfigError("placement", unknown_name(name, PLACEMENT_CHOICES, "placement"))
    return name


def initial_placement(governor: Governor, name: str, temperature_K: np.ndarray) -> np.ndarray:
    """Where the threads start: the governor's own placement (``own``), or the named one (after ``setup``)."""
    if check_placement(name) == OWN:
        return governor.initial_placement(temperature_K)
    return PLACEMENTS[name](governor.context)
