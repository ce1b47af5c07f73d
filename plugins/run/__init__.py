"""Running the co-simulation: run configuration, runner, CLI, plots and the Gymnasium environment."""
