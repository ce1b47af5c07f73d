"""Local process pools for sweeps (``compare``, ``ail train``, ``map search``, the ZigZag cache).

Workers end when their parent dies, even by kill -9 (a watcher thread sees the parent id change), so a killed run
leaves no 200-400 MB orphans. Workers ignore SIGINT: Ctrl-C reaches the parent only, which cancels what has not
started, lets the running tasks finish for a few seconds, ends the workers that are still busy and re-raises, so the
command can keep what finished and exit with one line. Any other
error in the parent also cancels the queued work instead of waiting for it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor

PARENT_POLL_S = 0.5
CTRL_C_GRACE_S = 5.0


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)  # the parent is gone: nobody will read this worker's results


def _worker_start(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="ailfm-parent-watch").start()


def _end_workers() -> None:
    """Let the running tasks finish for up to ``CTRL_C_GRACE_S`` (the workers ignore SIGINT and exit after them),
    then terminate the rest. Not at once: a worker killed while it writes its result leaves half a message in the
    result pipe, and the pool's manager thread waits for the rest forever, so the command could not exit."""
    deadline = time.monotonic() + CTRL_C_GRACE_S
    for child in multiprocessing.active_children():
        child.join(max(0.0, deadline - time.monotonic()))
    for child in multiprocessing.active_children():
        child.terminate()


@contextlib.contextmanager
def process_pool(max_workers: int | None = None):
    """A ``ProcessPoolExecutor`` with the hygiene above, as a context manager."""
    pool = ProcessPoolExecutor(max_workers, initializer=_worker_start, initargs=(os.getpid(),))
    try:
        yield pool
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        _end_workers()
        raise
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


@contextlib.contextmanager
def dask_client(address: str):
    """A Dask ``Client`` for ``--dask ADDRESS``; an address that does not parse or answer is a ``ConfigError`` (one
    line), not a chain of connection tracebacks."""
    from distributed import Client

    from ailfm.errors import ConfigError

    try:
        client = Client(address)
    except (OSError, ValueError, TimeoutError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError("dask", f"cannot connect to a Dask scheduler at {address!r}: {reason}") from None
    with client:
        yield client
