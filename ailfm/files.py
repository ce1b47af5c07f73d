"""Reading description files so that errors name the field *and* the line; writing result files atomically.

``load_document`` returns plain Python values (YAML or JSON) plus a ``Lines`` index from a dotted field path
(``chiplet_types.os.macs``) to its 1-based line, so validators raise ``ConfigError(field, msg, path, line)``.
``write_atomic`` writes so that a reader never sees half of a result or checkpoint file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
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


def write_json_atomic(path: str | Path, value, indent: int = 1) -> None:
    """Strict JSON (``NaN``/``inf`` become ``null``), indented, written atomically."""
    write_atomic(path, (json.dumps(strict_json(value), indent=indent, allow_nan=False) + "\n").encode())


def strict_json(value):
    """``value`` with every non-finite float replaced by None, so strict JSON parsers can read the file."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    return value


def read_json(path: str | Path, what: str):
    """A JSON file this project wrote (a manifest, a checkpoint): a truncated or foreign file is one clean line."""
    path = Path(path)
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except OSError as err:
        raise FormatError(path, None, f"cannot read the {what}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise FormatError(path, None, f"the {what} is not UTF-8 text (byte {err.start}); the file is damaged: "
                                      "delete it to start again") from None
    except json.JSONDecodeError as err:
        raise FormatError(path, err.lineno, f"the {what} is not valid JSON ({err.msg}), probably truncated by a "
                                            "crash or a full disk: delete it to start again") from None


def prepare_output_folder(folder: str | Path, option: str = "--out") -> Path:
    """Create ``folder`` and check it is writable, before the run starts (not after an hour of work)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigError(option, f"cannot write to {folder}: {err.strerror}") from None
    return folder


@contextlib.contextmanager
def run_lock(folder: str | Path, option: str = "--out"):
    """Hold ``folder/.lock`` for the run; a second process on the same folder is refused with one line."""
    path = Path(folder) / ".lock"
    handle = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            raise ConfigError(option, f"{folder} is in use by a running command ({owner}); wait for it or use "
                                      "another folder") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (a configuration names an input file by its content, not only its path)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def config_differences(saved: dict, current: dict) -> list[str]:
    """Fields whose values differ, as ``name: saved -> current`` (sorted)."""
    names = sorted(set(saved) | set(current))
    return [f"{name}: {saved.get(name)!r} -> {current.get(name)!r}" for name in names
            if saved.get(name) != current.get(name)]


def refuse_other_config(path: str | Path, saved: dict, current: dict, why: dict[str, str] | None = None) -> None:
    """ConfigError naming the differing fields when a checkpoint was made by another configuration (``why``: a
    note per field that explains the refusal, e.g. why a finished run cannot be extended)."""
    differ = config_differences(saved, current)
    if differ:
        notes = [note for name, note in (why or {}).items() if saved.get(name) != current.get(name)]
        raise ConfigError("--out", f"the checkpoint was made with another configuration ({'; '.join(differ)})"
                                   f"{''.join('; ' + n for n in notes)}; rerun with the same options, or use a new "
                                   "--out", path=str(path))
