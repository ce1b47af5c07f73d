"""AILFM imitation learning: features, the Oracle, active DAgger, and the ONNX policy contract (docs/ail.md)."""
