"""From per-core model outputs to a governor ``Decision`` (shared by the ONNX governor and training rollouts).

Column 0 of a policy's output is the requested V/f as a fraction of the level range, rounded to the nearest level.
Column 1 is a placement score: the running threads on the lowest-scoring occupied cores move to the highest-scoring
free cores, pair by pair while the score gain exceeds ``margin`` (hysteresis against ping-pong), at most
``max_moves`` per epoch (a migration costs a reschedule plus a cold-cache refill, charged by the engine).
"""

from __future__ import annotations

import numpy as np

from ailfm.plugins.governors.base import Decision, GovernorContext, Observation

MOVE_MARGIN = 0.25  # score gain needed to move a thread [inferred; scores are occupancy probabilities in [0, 1]]
MAX_MOVES = 4  # migrations per epoch [inferred: the Oracle's local search moves a few threads per epoch]


def level_fractions(context: GovernorContext, f_GHz: np.ndarray) -> np.ndarray:
    """V/f as a fraction of [f_min, f_max] (the training target of output column 0)."""
    dvfs = context.system.dvfs
    return (np.asarray(f_GHz, dtype=float) - dvfs.f_min_GHz) / max(dvfs.f_max_GHz - dvfs.f_min_GHz, 1e-12)


def frequencies_from_fractions(context: GovernorContext, fraction: np.ndarray) -> np.ndarray:
    dvfs = context.system.dvfs
    steps = np.rint(np.clip(fraction, 0.0, 1.0) * (dvfs.f_max_GHz - dvfs.f_min_GHz) / dvfs.f_step_GHz)
    return dvfs.f_min_GHz + steps * dvfs.f_step_GHz + 1e-9


def moved_placement(score: np.ndarray, obs: Observation, margin: float = MOVE_MARGIN,
                    max_moves: int = MAX_MOVES) -> np.ndarray | None:
    """The placement after score-driven moves, or None when no thread moves."""
    placement = obs.thread_core
    movable = np.flatnonzero((placement >= 0) & (obs.thread_kernel_type >= 0))
    if len(movable) == 0:
        return None
    occupied = np.zeros(len(score), dtype=bool)
    occupied[placement[placement >= 0]] = True
    free = np.flatnonzero(~occupied)
    n = min(max_moves, len(free), len(movable))
    if n == 0:
        return None
    worst = movable[np.argsort(score[placement[movable]], kind="stable")[:n]]
    best_free = free[np.argsort(-score[free], kind="stable")[:n]]
    gain = score[best_free] - score[placement[worst]]
    take = gain > margin
    if not take.any():
        return None
    new = placement.copy()
    new[worst[take]] = best_free[take]
    return new


def decision_from_outputs(context: GovernorContext, outputs: np.ndarray, obs: Observation) -> Decision:
    return Decision(frequencies_from_fractions(context, outputs[:, 0]), moved_placement(outputs[:, 1], obs))


def coolest_placement(context: GovernorContext) -> np.ndarray:
    """Initial placement of the learned governors and the Oracle: the cores of lowest steady self-heating (the rows
    of the thermal resistance matrix summed: how much the chip heats a core), ties to the lower NUCA latency."""
    r_cc, _ = context.thermal_resistance_K_per_W
    order = np.lexsort((context.nuca.mean_latency_ns, np.round(r_cc.sum(axis=1), 6)))
    return order[: context.n_threads].copy()
