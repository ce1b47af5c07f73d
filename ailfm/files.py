"""Reading description files and writing results: errors name the file, field and line; no half-written file.

Reading: ``read_text`` decodes UTF-8 (naming the line of a bad byte); ``load_document`` returns plain Python values
(YAML or JSON) plus a ``Lines`` index from a dotted field path (``chiplet_types.os.macs``) to its 1-based line, so
validators raise ``ConfigError(field, msg, path, line)``; ``require``/``known_fields``/``positive`` type-check, refuse
misspelt keys (naming the nearest valid one) and bound values.

Writing: a run folder (``--out``) is checked writable before any work starts, locked for the run (a second run on the
same folder is refused while the first one lives; the kernel drops the lock when a process dies, even by kill -9),
and every file in it is written under a temporary name and renamed, so a reader never sees half of one. Checkpoints
are JSON or npz read with ``allow_pickle=False``: a results folder shared between users cannot run code. A
checkpoint records the configuration that made it; resuming with another configuration is refused, naming the
fields.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ailfm.errors import ConfigError, FormatError, unknown_name


def read_text(path: str | Path, *, bom: bool = True) -> str:
    """A text file decoded as UTF-8, CRLF line ends read as LF; any defect is a FormatError naming the file (and the
    line of an undecodable byte). ``bom``: accept a leading UTF-8 byte-order mark (YAML, JSON, CSV do; HotSpot's C
    readers take it for part of the first token, so its formats refuse it)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormatError(path, None, "file not found") from None
    except IsADirectoryError:
        raise FormatError(path, None, "is a folder, not a file") from None
    except OSError as err:
        raise FormatError(path, None, f"cannot read: {err.strerror or err}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        if not bom:
            raise FormatError(path, 1, "starts with a UTF-8 byte-order mark, which HotSpot reads as part of the first "
                                       "token; save the file without it")
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise FormatError(path, line, f"not UTF-8 text: byte 0x{data[err.start]:02x} at column {column}; save the "
                                      "file as UTF-8") from None
    return text.replace("\r\n", "\n")


def yaml_error(path: str | Path, err: yaml.YAMLError) -> FormatError:
    """PyYAML's error as one line: the problem, at the line of its mark."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    return FormatError(path, None if mark is None else mark.line + 1,
                       f"invalid YAML: {problem}{f' ({context})' if context else ''}")


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
        if isinstance(value, str) and (spelt := number_in_text(value)) is not None:
            value = spelt  # YAML 1.1 reads 1e30 (no dot) as a string
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


def number_in_text(text: str) -> float | None:
    """The number a YAML 1.1 string spells (it reads 1e30 and 1.75e6 as strings), or None."""
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


@contextlib.contextmanager
def staged_files(folder: str | Path):
    """A temporary folder inside ``folder`` to write a set of files into (writers that take a path: HotSpot files,
    PNGs); when the block ends without error every file is renamed to the same place under ``folder``, so a reader
    never sees half of one, and after an error none is left."""
    folder = Path(folder)
    stage = folder / f".staging.{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        yield stage
        for file in sorted(p for p in stage.rglob("*") if p.is_file()):
            target = folder / file.relative_to(stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(file, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


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
