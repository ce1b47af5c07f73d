"""Exception types shared by every subpackage.

User mistakes (a malformed file, an unknown option) raise one of these, never a bare ``Exception``,
so the CLI can print them as one clear line and exit with status 2.
"""

from __future__ import annotations

from pathlib import Path


class AilfmError(Exception):
    """Base class of every error ailfm raises on bad input."""


class FormatError(AilfmError, ValueError):
    """A file does not follow its format; the message names the file and, where known, the line."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(AilfmError, ValueError):
    """A description or option has a bad value; the message names the field (and file, where known)."""

    def __init__(self, field: str, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.field = field
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = message
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{field}: {message}")


class ToolError(AilfmError, RuntimeError):
    """An external tool (hotspot, gem5.opt) is missing, failed or timed out."""
