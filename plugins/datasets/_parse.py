"""Reading data files so that every failure is one line naming the file (and the line).

A truncated ``.gz`` used to surface as a bare ``EOFError``, a binary file as a
``UnicodeDecodeError`` and a malformed row as numpy's message about "row 0":
none named the file. Here each becomes a ``DataUnavailableError`` such as
``.../u.data:17: expected 4 fields separated by '\\t', got 3: b'1\\t2\\t3'``.
Parsing stays vectorised; the line-by-line scan runs only to explain a failure.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from recsec.bounded import DAMAGED_GZIP, ReadRefused, read_data
from recsec.errors import DataUnavailableError

#: The columns a rating table can have: user, item, rating, timestamp.
COLUMN_TYPES = {"u": np.int64, "i": np.int64, "r": np.float32, "t": np.int64}


def read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it is gzip (by magic number, whatever its name), within
    the limits of ``recsec.bounded`` (size, gzip ratio; a FIFO or a directory is refused)."""
    try:
        return read_data(path)
    except DAMAGED_GZIP as exc:
        raise DataUnavailableError(f"{path}: truncated or damaged gzip file ({exc})") from exc
    except ReadRefused as exc:
        raise DataUnavailableError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise DataUnavailableError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc


def decode_text(path: Path, data: bytes) -> str:
    """``data`` as UTF-8; a binary or mis-encoded file names its first bad line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataUnavailableError(f"{path}:{line}: not UTF-8 text (byte {data[exc.start]:#04x}); is it a binary file?") from None


def line_error(path: Path, lines: Sequence[bytes], check: Callable[[bytes], str | None], first_line: int = 1) -> DataUnavailableError | None:
    """The error for the first line ``check`` objects to (``check`` returns why), or None."""
    for offset, line in enumerate(lines):
        if not line.strip():
            continue
        why = check(line)
        if why is not None:
            return DataUnavailableError(f"{path}:{first_line + offset}: {why}: {line[:80]!r}")
    return None


def fields_check(delim: bytes, types: Sequence[type], shown: str = "") -> Callable[[bytes], str | None]:
    """A ``line_error`` check: ``len(types)`` fields split by ``delim`` (whitespace when blank), each
    parsing as its type; ``shown`` is the separator as the file writes it, for the message."""

    def check(line: bytes) -> str | None:
        fields = line.strip().split(delim) if delim.strip() else line.split()
        if len(fields) != len(types):
            return f"expected {len(types)} fields separated by {shown or 'whitespace'!r}, got {len(fields)}"
        for value, kind in zip(fields, types):
            try:
                kind(value)
            except ValueError:
                return f"{value[:20]!r} is not {'an integer' if kind is int else 'a number'}"
        return None

    return check


def read_numeric_table(path: Path, sep: str, header: str | None = None, columns: str = "uirt") -> np.ndarray:
    """Parse a ``user<sep>item<sep>rating<sep>timestamp`` table into a structured array.

    ``columns``: the fields present, in order, among ``u i r t`` (the rows'
    dtype has those names). ``header``: the expected start of a header line
    (skipped), or None. Multi-character separators (``::``) are mapped to a
    tab first.
    """
    text = read_bytes(path)
    first_line = 1
    if header is not None:
        first, _, text = text.partition(b"\n")
        first_line = 2
        if not first.strip().startswith(header.encode()):
            raise DataUnavailableError(f"{path}: expected a header starting with {header!r}, got {first[:80]!r}")
    delim = sep
    if len(sep) > 1:
        text, delim = text.replace(sep.encode(), b"\t"), "\t"
    if not text.strip():
        raise DataUnavailableError(f"{path}: no rows")
    dtype = np.dtype([(c, COLUMN_TYPES[c]) for c in columns])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            # comments=None: a line starting with '#' is data (and so an error), not silently skipped
            return np.loadtxt(io.BytesIO(text), delimiter=delim, dtype=dtype, ndmin=1, comments=None)
    except ValueError as exc:
        types = [int if COLUMN_TYPES[c] is np.int64 else float for c in columns]
        lines = text.replace(b"\t", sep.encode()).split(b"\n") if len(sep) > 1 else text.split(b"\n")
        found = line_error(path, lines, fields_check(sep.encode(), types, sep), first_line)
        raise (found or DataUnavailableError(f"{path}: not in the expected format ({exc})")) from None
