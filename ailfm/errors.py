"""Exception types shared by every subpackage.

User mistakes (a malformed file, an unknown option) raise one of these, never a bare ``Exception``,
so the CLI can print them as one clear line and exit with status 2.

Each class pickles with its fields (``__reduce__``), so an error raised in a worker process (``compare``,
``ail train``, ``map search`` pools, Dask) reaches the parent as the same error and the same one line,
not as a ``BrokenProcessPool`` traceback.
"""

from __future__ import annotations

import difflib
from pathlib import Path


def unknown_name(name: object, known, what: str = "field") -> str:
    """``unknown field 'x' (did you mean 'y'?); known: ...`` for a misspelt key or value."""
    known = list(known)
    lower = {str(k).lower(): k for k in known}
    close = [lower[m] for m in difflib.get_close_matches(str(name).lower(), list(lower), n=1, cutoff=0.6)]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {str(name)!r}{hint}; known: {', '.join(known)}"


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

    def __reduce__(self):
        return type(self), (self.path, self.line, self.reason)


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

    def __reduce__(self):
        return _rebuild_config_error, (type(self), self.field, self.reason, self.path, self.line)


def _rebuild_config_error(cls, field, message, path, line):
    return cls(field, message, path=path, line=line)


class ToolError(AilfmError, RuntimeError):
    """An external tool (hotspot, gem5.opt) is missing, failed or timed out."""
