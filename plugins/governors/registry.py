"""Governors as plugins, selected by name.

Built-in: performance, powersave, ondemand, conservative (Linux cpufreq), tsp, pcgov (power budgets), coldest-core,
pcmig (migration), ail and ail-edp (the shipped ONNX policies, trained for throughput and for EDP),
shielded-performance and shielded-ondemand (ail's shield and placement with cpufreq requests: the ablation
baselines), oracle and oracle-edp (look-ahead search for throughput and for EDP: the teachers of ail and ail-edp).
A path ending in ``.onnx`` selects an ONNX policy that follows the governor contract (docs/ail.md). Other packages
add governors through the ``ailfm.governors`` entry-point group (name -> a ``Governor`` subclass).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from ailfm.errors import ConfigError
from ailfm.plugins.governors.base import Governor
from ailfm.plugins.governors.cpufreq import Conservative, Ondemand, Performance, Powersave
from ailfm.plugins.governors.migration import ColdestCore, PcMig
from ailfm.plugins.governors.onnx_governor import AilEdpGovernor, AilGovernor, OnnxGovernor
from ailfm.plugins.governors.shielded import ShieldedOndemand, ShieldedPerformance
from ailfm.plugins.governors.tsp import PcGov, Tsp
from ailfm.plugins.imitation.oracle import EdpOracleGovernor, OracleGovernor

BUILTIN_GOVERNORS: dict[str, type[Governor]] = {
    cls.name: cls for cls in (Performance, Powersave, Ondemand, Conservative, Tsp, PcGov, ColdestCore, PcMig,
                          AilGovernor, AilEdpGovernor, ShieldedPerformance, ShieldedOndemand)}
#: Governors that simulate candidate actions from the loop's state (``GovernorContext.lookahead``).
LOOKAHEAD_GOVERNORS: dict[str, type[Governor]] = {cls.name: cls for cls in (OracleGovernor, EdpOracleGovernor)}


def available_governors() -> dict[str, type[Governor]]:
    """Built-in governors plus those registered under the ``ailfm.governors`` entry-point group."""
    found = {**BUILTIN_GOVERNORS, **LOOKAHEAD_GOVERNORS}
    for entry in entry_points(group="ailfm.governors"):
        found.setdefault(entry.name, entry.load())
    return found


def make_governor(name: str, **params) -> Governor:
    """A governor by name, or an ONNX policy by path; an unknown name raises ConfigError listing the known ones."""
    if name.endswith(".onnx"):
        return OnnxGovernor(name, **params)
    known = available_governors()
    if name not in known:
        raise ConfigError("governor", f"unknown governor {name!r}; known: {', '.join(sorted(known))}")
    return known[name](**params)
