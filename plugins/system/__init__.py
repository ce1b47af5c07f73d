"""The machine the AILFM pipeline models: its description, S-NUCA latencies and power model."""
