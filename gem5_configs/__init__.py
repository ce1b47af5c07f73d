"""gem5 configuration scripts (run by gem5.opt) and the system descriptions shared with the built-in engine."""
