"""Engine, governors and the co-simulation loop (AILFM pipeline: engine -> power -> thermal -> governor)."""
