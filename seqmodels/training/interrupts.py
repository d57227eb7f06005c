"""Ctrl-C between training steps, not inside them.

Python raises KeyboardInterrupt wherever the interpreter happens to be when SIGINT arrives: inside an
Orbax save, a thread join or a JAX dispatch, where the half-done work can abort the process at exit.
While the training loop runs, `deferred_sigint()` turns the first Ctrl-C into a request that the loop
reads between steps (`requested()`): it saves a checkpoint of the step it has reached, closes its files
and raises KeyboardInterrupt from plain Python. A second Ctrl-C interrupts at once, as before.

    with interrupts.deferred_sigint() as stop:
        while ...:
            if stop.requested():
                save(...); raise KeyboardInterrupt
            train one step
"""

import contextlib
import signal
import threading


class StopRequest:
    """Whether a Ctrl-C arrived since the context started."""

    def __init__(self):
        self._event = threading.Event()

    def requested(self) -> bool:
        return self._event.is_set()

    def _set(self) -> None:
        self._event.set()


@contextlib.contextmanager
def deferred_sigint():
    """Within the block, the first SIGINT sets the yielded StopRequest; the second raises KeyboardInterrupt.

    Outside the main thread (where Python cannot install handlers), or where SIGINT is ignored, nothing
    changes and the request is never set."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN or previous is None:
        yield stop
        return

    def handler(signum, frame):
        if stop.requested():  # the second Ctrl-C: the user does not want to wait for the save
            raise KeyboardInterrupt
        stop._set()

    signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
