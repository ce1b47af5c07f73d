"""Performance engines behind one seam: the built-in analytic engine now, and gem5 (plugins/engine/gem5.py)."""

from ailfm.plugins.engine.base import Engine, EpochActivity
from ailfm.plugins.engine.builtin import BuiltinEngine

__all__ = ["Engine", "EpochActivity", "BuiltinEngine"]
