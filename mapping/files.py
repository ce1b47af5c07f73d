"""Reading description files (YAML, JSON) so that errors can name the field *and* the line.

``load_document`` returns plain Python values plus a ``Lines`` index from a dotted field path
(``chiplet_types.os.macs``) to its 1-based line, so validators raise ``ConfigError(field, msg, path, line)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ailfm.errors import ConfigError, FormatError, unknown_name
from ailfm.files import read_text, yaml_error

#: larger magnitudes are typos (1e30 instances, a chiplet index of 10^25), and overflow the arithmetic
MAX_NUMBER = 1e15


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


def _walk(node: yaml.Node, prefix: str, lines: dict[str, int], path: Path) -> Any:
    if prefix:
        lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise FormatError(path, key_node.start_mark.line + 1,
                                  f"{prefix or 'document'}: keys must be plain names, not lists or mappings")
            key = str(_scalar(key_node, path))
            name = f"{prefix}.{key}" if prefix else key
            lines[name] = key_node.start_mark.line + 1
            if key in out:
                raise FormatError(path, key_node.start_mark.line + 1, f"{name}: duplicate key")
            out[key] = _walk(value_node, name, lines, path)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, f"{prefix}[{i}]", lines, path) for i, item in enumerate(node.value)]
    return _scalar(node, path)


def _scalar(node: yaml.Node, path: Path) -> Any:
    try:
        return yaml.safe_load(yaml.serialize(node))
    except yaml.YAMLError as err:  # an unknown tag such as !!python/object
        raise FormatError(path, node.start_mark.line + 1, f"invalid YAML: {getattr(err, 'problem', err)}") from None


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON (use a finite number)")


def load_document(path: str | Path) -> tuple[Any, Lines]:
    """Load a YAML or JSON file (JSON is YAML) keeping line numbers; malformed text raises FormatError."""
    path = Path(path)
    text = read_text(path)
    try:
        if path.suffix == ".json":
            json.loads(text, parse_constant=_no_constants)  # strict JSON first: its errors carry the exact line
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except json.JSONDecodeError as err:
        raise FormatError(path, err.lineno, f"invalid JSON: {err.msg}") from err
    except ValueError as err:  # NaN, Infinity: the line is where the word is
        word = str(err).split()[0]
        raise FormatError(path, text[:text.find(word)].count("\n") + 1, f"invalid JSON: {err}") from None
    except yaml.YAMLError as err:
        raise yaml_error(path, err) from None
    lines = Lines(str(path))
    if node is None:
        raise FormatError(path, None, "the file is empty")
    return _walk(node, "", lines.by_field, path), lines


def require(doc: dict, name: str, lines: Lines, kind: type | tuple[type, ...], *, prefix: str = "") -> Any:
    """``doc[name]`` checked for presence and type; errors name ``prefix.name`` and its line."""
    full = f"{prefix}.{name}" if prefix else name
    if not isinstance(doc, dict):
        raise lines.error(prefix or name, "expected a mapping of fields")
    if name not in doc:
        raise lines.error(full, "missing required field")
    value = doc[name]
    if kind in (int, float) or kind == (int, float):
        if isinstance(value, str) and _number_or_none(value) is not None:
            value = _number_or_none(value)  # YAML 1.1 reads 1e30 (no dot) as a string
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise lines.error(full, f"expected a number, got {value!r}")
        if abs(value) > MAX_NUMBER or value != value:
            raise lines.error(full, f"must be a finite number of magnitude <= {MAX_NUMBER:g}, got {value!r}")
        if kind is int and (not float(value).is_integer()):
            raise lines.error(full, f"expected an integer, got {value!r}")
        return int(value) if kind is int else float(value)
    if not isinstance(value, kind):
        raise lines.error(full, f"expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _number_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def known_fields(doc: dict, known, lines: Lines, prefix: str = "") -> None:
    """A misspelt key is an error naming the nearest valid one (a typo must not fall back to a default)."""
    for key in doc:
        if key not in known:
            raise lines.error(f"{prefix}.{key}" if prefix else str(key), unknown_name(key, known))


def positive(value: float, name: str, lines: Lines) -> float:
    """``value`` if > 0, else a ConfigError naming the field."""
    if not value > 0:
        raise lines.error(name, f"must be > 0, got {value}")
    return value
