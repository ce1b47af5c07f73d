"""Performance engines behind one seam: the built-in analytic engine now, a gem5 engine later."""

from ailfm.plugins.engine.base import Engine, EpochActivity
from ailfm.plugins.engine.builtin import BuiltinEngine

__all__ = ["Engine", "EpochActivity", "BuiltinEngine"]
