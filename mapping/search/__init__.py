"""Mapping search: the pymoo problem, encoding-aware operators, GA/NSGA-II, baselines, annealing, hardware."""
