"""What the Oracle maximises over its look-ahead, and what validation measures: ``ailfm ail train --objective``.

Progress is counted in instructions retired (barrier spinning retires none), the only measure fine enough for a
4-epoch horizon (a token takes hundreds of epochs). Over a fixed horizon H with progress I and chip energy E:

* ``throughput``: I (the default; what the shipped policy was trained for);
* ``tokens-per-joule``: I / E, work per joule;
* ``edp``: I^2 / E. For a fixed amount of work W at this rate (I / H) and power (E / H), delay D = W H / I and energy
  (E / H) D, so energy x delay = W^2 H E / I^2: maximising I^2 / E minimises the EDP of the work.
"""

from __future__ import annotations

import numpy as np

OBJECTIVES = ("throughput", "edp", "tokens-per-joule")
DEFAULT_OBJECTIVE = "throughput"


def objective_score(objective: str, instructions, energy_J):
    """Higher is better; ``instructions`` and ``energy_J`` are arrays (one per candidate or run) or floats."""
    instructions = np.asarray(instructions, dtype=float)
    if objective == "throughput":
        return instructions
    energy = np.maximum(np.asarray(energy_J, dtype=float), 1e-30)
    if objective == "tokens-per-joule":
        return instructions / energy
    if objective == "edp":
        return instructions * instructions / energy
    raise ValueError(f"unknown objective {objective!r}; known: {', '.join(OBJECTIVES)}")
