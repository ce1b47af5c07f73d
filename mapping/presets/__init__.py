"""Packaged descriptions: hardware presets (YAML) and request-length samples of the Azure trace (CSV)."""
