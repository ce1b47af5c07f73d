"""From per-core model outputs to requested V/f and thread moves (shared by the ONNX governor and training rollouts).

Column 0 of a policy's output is the requested V/f as a fraction of the level range, rounded to the nearest level.
Column 1 is a placement score: the running threads on the lowest-scoring occupied cores move to the highest-scoring
free cores, pair by pair while the score gain exceeds ``margin`` (hysteresis against ping-pong), at most
``max_moves`` per epoch (a migration costs a reschedule plus a cold-cache refill, charged by the engine).

The V/f then passes the model-predictive thermal shield (``ailfm.plugins.imitation.shield``, applied by
``ailfm.plugins.governors.shielded.ShieldedGovernor``), which lowers it only where the governor's thermal model
predicts a core above the limit in the coming epoch.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ailfm.plugins.governors.base import GovernorContext, Observation
from ailfm.plugins.imitation.contract import VF_RULES
from ailfm.plugins.system.description import SystemDescription

MOVE_MARGIN = 0.25  # score gain needed to move a thread [inferred; scores are occupancy probabilities in [0, 1]]
MAX_MOVES = 4  # migrations per epoch [inferred: the Oracle's local search moves a few threads per epoch]
MOVE_HEADROOM_K = 3.0  # [inferred] ~ the largest one-epoch rise of a core at f_max on snuca-64


def level_fractions(context: GovernorContext, f_GHz: np.ndarray) -> np.ndarray:
    """V/f as a fraction of [f_min, f_max] (the training target of output column 0)."""
    dvfs = context.system.dvfs
    return (np.asarray(f_GHz, dtype=float) - dvfs.f_min_GHz) / max(dvfs.f_max_GHz - dvfs.f_min_GHz, 1e-12)


def frequencies_from_fractions(context: GovernorContext, fraction: np.ndarray) -> np.ndarray:
    """Output column 0 -> per-core frequency: the nearest V/f level."""
    dvfs = context.system.dvfs
    return _nearest_levels(np.asarray(fraction, dtype=np.float64), dvfs.levels_GHz)


@njit(cache=True)
def _nearest_levels(fraction, levels_GHz):
    """Compiled: six numpy calls on 64 values cost ~9 us of call overhead, a fifth of the decision budget."""
    n_levels = levels_GHz.shape[0]
    out = np.empty(fraction.shape[0])
    for c in range(fraction.shape[0]):
        k = int(np.rint(min(max(fraction[c], 0.0), 1.0) * (n_levels - 1)))
        out[c] = levels_GHz[k]
    return out


def _per_object(function):
    """Cache by object identity: hashing a frozen ``SystemDescription`` by value costs ~8 us, per epoch."""
    cache: dict[int, tuple[object, np.ndarray]] = {}

    def cached(key):
        hit = cache.get(id(key))
        if hit is None or hit[0] is not key:
            if len(cache) >= 16:  # a sweep builds many contexts: keep only recent ones alive
                cache.clear()
            hit = cache[id(key)] = (key, function(key))
        return hit[1]

    return cached


@_per_object
def thermal_neighbourhood(system: SystemDescription) -> np.ndarray:
    """(n_cores, width) core indices: each core, its planar one-hop and its vertical neighbours (padded with itself)."""
    xyz = system.geometry.tile_coordinates()
    distance = np.abs(xyz[:, None, :] - xyz[None, :, :]).sum(axis=2)
    near = distance <= 1
    width = int(near.sum(axis=1).max())
    return np.array([np.r_[np.flatnonzero(row), [i] * (width - row.sum())] for i, row in enumerate(near)],
                    dtype=np.int64)


def moved_placement(score: np.ndarray, obs: Observation, system: SystemDescription, self_heating: np.ndarray,
                    margin: float = MOVE_MARGIN, max_moves: int = MAX_MOVES) -> np.ndarray | None:
    """The placement after score-driven moves, or None when no thread moves. A move needs a target whose steady
    self-heating (K/W) is not above the source's and whose thermal neighbourhood is below ``T_max - MOVE_HEADROOM_K``:
    a thread moved to a hotter-running core at the same V/f heats it by up to ~9 K in one epoch (measured)."""
    new = obs.thread_core.astype(np.int64)
    moved = _move_threads(np.asarray(score, dtype=np.float64), new, obs.thread_kernel_type.astype(np.int64),
                          margin, max_moves, self_heating, obs.temperature_K, thermal_neighbourhood(system),
                          system.thermal.t_max_K - MOVE_HEADROOM_K)
    return new if moved else None


@njit(cache=True)
def _move_threads(score, placement, kernel, margin, max_moves, self_heating, temperature_K, neighbourhood, limit_K):
    """Move the running threads of the lowest-scoring cores to the highest-scoring free cores, in place; returns the
    number moved. Ties keep index order (stable sorts), as in a numpy version with ``kind="stable"``."""
    n_cores = score.shape[0]
    occupied = np.zeros(n_cores, dtype=np.bool_)
    n_movable = 0
    for t in range(placement.shape[0]):
        if placement[t] >= 0:
            occupied[placement[t]] = True
            if kernel[t] >= 0:
                n_movable += 1
    movable = np.empty(n_movable, dtype=np.int64)
    k = 0
    for t in range(placement.shape[0]):
        if placement[t] >= 0 and kernel[t] >= 0:
            movable[k] = t
            k += 1
    free = np.flatnonzero(~occupied)
    n = min(max_moves, free.shape[0], n_movable)
    if n == 0:
        return 0
    movable_score = np.empty(n_movable)
    for i in range(n_movable):
        movable_score[i] = score[placement[movable[i]]]
    worst = movable[np.argsort(movable_score, kind="mergesort")[:n]]
    best_free = free[np.argsort(-score[free], kind="mergesort")[:n]]
    moved = 0
    for i in range(n):
        source, target = placement[worst[i]], best_free[i]
        hottest = temperature_K[target]
        for m in neighbourhood[target]:
            hottest = max(hottest, temperature_K[m])
        if (score[target] - score[source] > margin and self_heating[target] <= self_heating[source] + 1e-9
                and hottest < limit_K):
            placement[worst[i]] = target
            moved += 1
    return moved


def instance_fractions(context: GovernorContext, fraction: np.ndarray, obs: Observation) -> np.ndarray:
    """The ``per-instance`` rule: the cores of each instance's running threads all get the mean of their fractions;
    other cores keep their own."""
    fraction = np.array(fraction, dtype=np.float64)
    running = (obs.thread_core >= 0) & (obs.thread_kernel_type >= 0)
    cores, instance = obs.thread_core[running], np.asarray(context.thread_instance)[running]
    if cores.size:
        means = np.bincount(instance, weights=fraction[cores]) / np.maximum(np.bincount(instance), 1)
        fraction[cores] = means[instance]
    return fraction


def requested_from_outputs(context: GovernorContext, outputs: np.ndarray, obs: Observation,
                           vf_rule: str = VF_RULES[0]) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-core V/f (by ``vf_rule``, one of ``VF_RULES``) and the placement after moves (None: no thread moves),
    before the shield. A moved thread keeps at most the V/f of the core it leaves (the prediction for its new core
    was made from that core's features while it was free, and a free core's labels say nothing about load)."""
    fraction = instance_fractions(context, outputs[:, 0], obs) if vf_rule == "per-instance" else outputs[:, 0]
    f_GHz = frequencies_from_fractions(context, fraction)
    placement = moved_placement(outputs[:, 1], obs, context.system, self_heating(context))
    if placement is not None:
        moved = placement != obs.thread_core
        f_GHz[placement[moved]] = np.minimum(f_GHz[placement[moved]], f_GHz[obs.thread_core[moved]])
    return f_GHz, placement


@_per_object
def self_heating(context: GovernorContext) -> np.ndarray:
    """Each core's steady temperature rise per watt of its own power (the diagonal of the resistance matrix)."""
    r_cc, _ = context.thermal_resistance_K_per_W
    return np.ascontiguousarray(np.diag(r_cc))
