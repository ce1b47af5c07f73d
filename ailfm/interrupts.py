"""A Ctrl-C that cannot be lost.

Python raises KeyboardInterrupt wherever the main thread is when SIGINT arrives, and an exception raised inside a
finaliser (``__del__``, e.g. a ZipFile's while a checkpoint is written) is printed and ignored: the command then runs
on as if nothing happened (a search of a million generations never ends). At the CLI edge, ``ctrl_c_remembered``
makes SIGINT also set a flag, and the long loops call ``check`` once per step, which raises KeyboardInterrupt again
when a Ctrl-C was swallowed.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_requested = threading.Event()


def _on_sigint(signum, frame) -> None:
    _requested.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def ctrl_c_remembered():
    """While the block runs (in the main thread, under Python's default SIGINT handler), remember every Ctrl-C."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    _requested.clear()
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _requested.clear()


def check() -> None:
    """Raise KeyboardInterrupt if a Ctrl-C arrived (and may have been swallowed) since the block began."""
    if _requested.is_set():
        raise KeyboardInterrupt
