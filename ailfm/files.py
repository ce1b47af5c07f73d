"""Result folders and the files in them: atomic writes, one run per folder, checkpoints that are data, not code.

A run folder (``--out``) is checked writable before any work starts, locked for the run (a second run on the same
folder is refused while the first one lives; the kernel drops the lock when a process dies, even by kill -9), and
every file in it is written under a temporary name and renamed, so a reader never sees half of one. Checkpoints are
JSON or npz read with ``allow_pickle=False``: a results folder shared between users cannot run code. A checkpoint
records the configuration that made it; resuming with another configuration is refused, naming the fields.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path

import yaml

from ailfm.errors import ConfigError, FormatError


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
