"""The command line's one-line messages for failures that are not RecsecErrors.

A closed pipe (``recsec plugins | head``), a file the command could not read or
write (``report --out`` below a file), an input nested past the parser's recursion
limit and a database that refuses a write (read-only, full) are the environment's
faults, not recsec's: each becomes one ``recsec: error:`` line, never a traceback.
The database rolled its transaction back, so nothing stored before is lost.
"""

from __future__ import annotations

import os
import sys

__all__ = ["fail", "outside_error"]

_DATABASE_MODULES = ("sqlalchemy", "sqlite3", "psycopg", "psycopg2")


def outside_error(exc: Exception, db: str | None) -> str | None:
    """The message for ``exc``, or None when it is a fault of recsec itself (let it raise).
    ``db``: the ``--db`` value, to name the database."""
    if isinstance(exc, BrokenPipeError):  # the reader left: say so once, write nothing more
        _drop_stdout()
        return "the output was closed before all of it was written (broken pipe)"
    if isinstance(exc, RecursionError):
        return "an input is nested too deeply (brackets, arrays or tables inside one another) to read"
    if isinstance(exc, OSError):
        return f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}"
    if type(exc).__module__.split(".")[0] in _DATABASE_MODULES:
        orig = getattr(exc, "orig", None) or exc
        first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        return f"database {_database_label(db)}: {first}"
    return None


def fail(message: str) -> int:
    """Print ``message`` as one ``recsec: error:`` line (a plugin's error may span several); exit status 2."""
    try:
        print("recsec: error: " + "; ".join(ln.strip() for ln in message.splitlines() if ln.strip()), file=sys.stderr)
    except OSError:  # stderr itself is gone
        pass
    return 2


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file descriptor (captured): nothing to flush
        pass


def _database_label(db: str | None) -> str:
    """The results database's URL as messages show it (password masked)."""
    from .storage.db import DEFAULT_URL, mask_url, normalize_url

    raw = db or os.environ.get("RECSEC_DB") or DEFAULT_URL
    try:
        from sqlalchemy.engine import make_url

        return mask_url(make_url(normalize_url(raw)))
    except Exception:  # noqa: BLE001 - only a label for a message
        return "(the results database)"
