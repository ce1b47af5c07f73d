"""Solvers of an RCNetwork: eigendecomposition (exact, small networks) and sparse factorisation (grids)."""
