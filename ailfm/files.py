"""Reading description files so that errors name the field *and* the line; writing result files atomically.

``load_document`` returns plain Python values (YAML or JSON) plus a ``Lines`` index from a dotted field path
(``chiplet_types.os.macs``) to its 1-based line, so validators raise ``ConfigError(field, msg, path, line)``.
``write_atomic`` writes so that a reader never sees half of a result or checkpoint file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ailfm.errors import ConfigError, FormatError


@dataclass
class Lines:
    """Where each field of a loaded document sits (dotted path -> 1-based line)."""

    path: str
    by_field: dict[str, int] = field(default_factory=dict)

    def line(self, name: str) -> int | None:
        """Line of ``name`` or of its nearest enclosing field that has one."""
        while name:
            if name in self.by_field:
                return self.by_field[name]
            name = name.rpartition(".")[0]
        return None

    def error(self, name: str, message: str) -> ConfigError:
        """A ConfigError naming the field, the file and the field's line."""
        return ConfigError(name, message, path=self.path, line=self.line(name))


def _walk(node: yaml.Node, prefix: str, lines: dict[str, int]) -> Any:
    if prefix:
        lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = str(yaml.safe_load(yaml.serialize(key_node)))
            name = f"{prefix}.{key}" if prefix else key
            lines[name] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, name, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, f"{prefix}[{i}]", lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def load_document(path: str | Path) -> tuple[Any, Lines]:
    """Load a YAML or JSON file (JSON is YAML) keeping line numbers; malformed text raises FormatError."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise FormatError(path, None, f"cannot read: {err.strerror}") from err
    try:
        if path.suffix == ".json":
            json.loads(text)  # strict JSON first: its errors carry the exact line
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except json.JSONDecodeError as err:
        raise FormatError(path, err.lineno, f"invalid JSON: {err.msg}") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise FormatError(path, None if mark is None else mark.line + 1, f"invalid YAML: {err}") from err
    lines = Lines(str(path))
    if node is None:
        raise FormatError(path, None, "the file is empty")
    return _walk(node, "", lines.by_field), lines


def require(doc: dict, name: str, lines: Lines, kind: type | tuple[type, ...], *, prefix: str = "") -> Any:
    """``doc[name]`` checked for presence and type; errors name ``prefix.name`` and its line."""
    full = f"{prefix}.{name}" if prefix else name
    if not isinstance(doc, dict):
        raise lines.error(prefix or name, "expected a mapping of fields")
    if name not in doc:
        raise lines.error(full, "missing required field")
    value = doc[name]
    if kind in (int, float) or kind == (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise lines.error(full, f"expected a number, got {value!r}")
        if kind is int and (not float(value).is_integer()):
            raise lines.error(full, f"expected an integer, got {value!r}")
        return int(value) if kind is int else float(value)
    if not isinstance(value, kind):
        raise lines.error(full, f"expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def positive(value: float, name: str, lines: Lines) -> float:
    """``value`` if > 0, else a ConfigError naming the field."""
    if not value > 0:
        raise lines.error(name, f"must be > 0, got {value}")
    return value


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed over ``path``.

    The temporary name carries the process id, so processes writing the same file (two searches warming one
    ZigZag cache) never write into each other's temporary file; the last rename wins whole.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
