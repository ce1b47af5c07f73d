"""A Ctrl-C swallowed by a finaliser is not lost (ailfm.interrupts)."""

import os
import signal

import pytest

from ailfm import interrupts


@pytest.fixture(autouse=True)
def default_sigint():
    """Python's own SIGINT handler for each test, whatever an earlier test left (a pool worker's start ignores it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class SwallowsInterrupt:
    """Raises nothing itself; Ctrl-C arrives while its finaliser runs, and Python ignores exceptions there."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10_000):  # the handler runs between bytecodes, here, inside __del__
            pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_inside_a_finaliser_is_raised_again_by_check():
    with interrupts.ctrl_c_remembered():
        obj = SwallowsInterrupt()
        del obj  # KeyboardInterrupt raised in __del__: printed and ignored by Python
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    interrupts.check()  # outside the block nothing is remembered
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_without_the_flag_a_finaliser_swallows_the_ctrl_c():
    """The failure the module exists for: under the default handler nothing remembers the interrupt."""
    obj = SwallowsInterrupt()
    del obj
    interrupts.check()  # no error: the Ctrl-C is gone
