"""The epoch model and the co-simulation loop that steps it."""
