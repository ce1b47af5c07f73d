"""Governors: the seam (``base``: ``Observation``, ``Decision``, ``GovernorContext``, ``Governor``), the heuristic
policies (cpufreq, TSP/PCGov, migration), the ONNX governor, and the registry that picks one by name
(``ailfm.plugins.governors.registry.make_governor``).

The package itself imports nothing, so that the imitation-learning package (which builds on the seam) and the
ONNX governor (which runs what it learned) import each other's modules in one direction only.
"""
