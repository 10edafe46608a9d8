"""How a run meets the outside world's signals: the user's Ctrl-C (or a scheduler's SIGTERM)
told apart from a ``KeyboardInterrupt`` a plugin raises, the handlers a run installs, a dead
process's exit status in words, and the log lines of a run.

Both reach the runner as ``KeyboardInterrupt``. Only the first must stop the matrix (the cell
goes back to pending, the run is stored as interrupted); the second is a fault of one
component and is recorded as that cell's failure. While a run lasts, ``watch`` wraps the
process's SIGINT (and SIGTERM, where one already stops the run: ``recsec run`` installs it)
handlers so that a real signal sets a flag before the interrupt is raised; ``requested``
reads it. Signal handlers exist only in the main thread, so elsewhere (a Dask worker's task
thread) every ``KeyboardInterrupt`` is a component's.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

_requested = threading.Event()


def requested() -> bool:
    """Whether a real SIGINT or SIGTERM arrived during the current ``watch``."""
    return _requested.is_set()


@contextmanager
def watch() -> Iterator[None]:
    """Flag real interrupt signals while the block runs (handlers restored after it)."""
    _requested.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        old = signal.getsignal(signum)
        if not callable(old):  # ignored, or the default (SIGTERM ends the process on the spot): left alone
            continue

        def flagged(num: int, frame: Any, _old: Any = old) -> None:
            _requested.set()
            _old(num, frame)
            raise KeyboardInterrupt(signal.Signals(num).name)  # when the old handler did not raise

        previous[signum] = old
        signal.signal(signum, flagged)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def exit_cause(returncode: int) -> str:
    """A child's exit status in words: ``signal 9 (SIGKILL)`` or ``exit code 3``."""
    if returncode < 0:
        try:
            return f"signal {-returncode} ({signal.Signals(-returncode).name})"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def stop_on_signals() -> None:
    """Make SIGTERM and SIGINT stop a run the way Ctrl-C does.

    A scheduler or ``kill`` stops a worker with SIGTERM, whose default would end
    the process on the spot and leave its cell and run marked "running"; a shell
    starts background jobs with SIGINT ignored. Both now raise KeyboardInterrupt,
    so the current cell goes back to "pending" (its victim's training state is
    kept), the run is stored as "interrupted", and the same command resumes.
    """
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def configure_logging(verbosity: int, progress: bool) -> None:
    """Log lines through the standard logging module: one per cell start and end (``recsec.cells``),
    what components report (``recsec.progress``) with ``-v``, only failures with ``-q``; above a
    progress bar when there is one."""
    import logging

    class _AboveBar(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)

    handler: logging.Handler = _AboveBar() if progress else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("recsec")
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(logging.WARNING if verbosity < 0 else logging.INFO)
    logging.getLogger("recsec.progress").setLevel(logging.INFO if verbosity > 0 else logging.WARNING)
