"""Shipped ONNX governor policies (package data): ``ail-default.onnx`` is the ``ail`` governor (docs/ail.md)."""
