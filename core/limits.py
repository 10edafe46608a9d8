"""What the results databases can store, checked before anything runs.

SQLite stores almost anything; PostgreSQL does not: an ``INTEGER`` column is
32-bit, ``VARCHAR(200)`` is enforced and text can never hold a NUL character.
A spec that only fails there would validate and run on SQLite and then break
a PostgreSQL worker mid-run, so ``recsec validate`` applies these limits on
every database.
"""

from __future__ import annotations

#: recsec_cells.seed, recsec_cells.n_trials: PostgreSQL INTEGER.
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
#: recsec_runs.benchmark and recsec_cells.benchmark: VARCHAR(200).
NAME_MAX = 200


def control_character(text: str) -> str | None:
    """The first control character in ``text`` (NUL, newline, ...) as ``repr`` shows it, or None.

    NUL cannot be stored in PostgreSQL text; the others would break the
    one-line labels and messages names appear in.
    """
    for ch in text:
        if ord(ch) < 32 or ord(ch) == 127:
            return repr(ch)
    return None


def int32_problem(value: int) -> str | None:
    """Why ``value`` does not fit a 32-bit signed integer column, or None."""
    if INT32_MIN <= value <= INT32_MAX:
        return None
    return f"{value} does not fit a 32-bit signed integer ({INT32_MIN} to {INT32_MAX})"
