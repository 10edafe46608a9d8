"""Reading input files within limits: regular files only, a size cap, a gzip ratio cap.

A spec or data path may name anything: a FIFO (an ``open`` that waits forever for a
writer), a directory, a device such as ``/dev/zero``, a file of gigabytes, or a small
gzip "bomb" that inflates to gigabytes (one of 3.3 MB took 3.3 GB of memory when read
whole). Here a file is opened without blocking, refused unless it is a regular file,
refused when larger than its limit before a byte is read, and gzip is inflated in
chunks, stopping as soon as the output passes the size limit or ``max_gzip_ratio``
times the compressed size.

The limits for data files can be raised through the environment, for a real file that
needs more: ``RECSEC_MAX_DATA_BYTES`` (default 4 GiB, ML-20M's ratings.csv is 0.53 GB)
and ``RECSEC_MAX_GZIP_RATIO`` (default 50; text rating tables compress 2-5 times).
"""

from __future__ import annotations

import errno
import gzip
import os
import stat
import zlib
from pathlib import Path
from typing import BinaryIO

#: A spec is a short TOML file; the largest shipped one is a few kB.
SPEC_MAX_BYTES = 1 << 20
DATA_MAX_BYTES = 4 << 30
GZIP_MAX_RATIO = 50
#: Below this much output the ratio is not checked: tiny files compress without bound.
GZIP_RATIO_FLOOR = 16 << 20
_CHUNK = 1 << 20
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket"}


class ReadRefused(OSError):
    """A file that is not read: not a regular file, or over a limit. ``str()`` is the reason alone."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def _env_limit(name: str, default: int) -> int:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ReadRefused(errno.EINVAL, f"${name} must be a positive whole number, got {text!r}")
    return value


def data_limits() -> tuple[int, int]:
    """(largest data file in bytes, largest gzip inflation ratio), from the environment or the defaults."""
    return _env_limit("RECSEC_MAX_DATA_BYTES", DATA_MAX_BYTES), _env_limit("RECSEC_MAX_GZIP_RATIO", GZIP_MAX_RATIO)


def size_text(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def open_regular(path: str | Path) -> tuple[BinaryIO, int]:
    """Open ``path`` for reading if it is a regular file; returns the file and its size.

    ``O_NONBLOCK`` makes opening a FIFO return at once (instead of waiting for a
    writer), so it can be refused by its type like a directory or a device.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ReadRefused(errno.EISDIR, os.strerror(errno.EISDIR))
        if not stat.S_ISREG(st.st_mode):
            kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a plain file")
            raise ReadRefused(errno.EINVAL, f"not a regular file ({kind}); name a file")
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def read_limited(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The bytes of regular file ``path``, refused (ReadRefused) when over ``limit`` bytes."""
    f, size = open_regular(path)
    with f:
        if size > limit:
            raise ReadRefused(errno.EFBIG, f"is {size_text(size)}, over the {size_text(limit)} limit for a {what}")
        data = f.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise ReadRefused(errno.EFBIG, f"is over the {size_text(limit)} limit for a {what}")
    return data


def read_data(path: str | Path) -> bytes:
    """A data file's content, inflated when it is gzip (by its magic number, whatever its name).

    Raises ReadRefused for a file over the limits, ``gzip.BadGzipFile``, ``EOFError``
    or ``zlib.error`` for a damaged gzip stream, OSError when it cannot be read.
    """
    limit, ratio = data_limits()
    f, size = open_regular(path)
    with f:
        if f.read(2) != b"\x1f\x8b":
            f.close()
            return read_limited(path, limit, "data file")
        f.seek(0)
        cap = min(limit, max(GZIP_RATIO_FLOOR, ratio * size))
        chunks, total = [], 0
        with gzip.GzipFile(fileobj=f) as g:
            while chunk := g.read(_CHUNK):
                total += len(chunk)
                if total > cap:
                    if cap == limit:
                        raise ReadRefused(errno.EFBIG, f"inflates to more than {size_text(limit)}, the limit for a "
                                          "data file (RECSEC_MAX_DATA_BYTES raises it)")
                    raise ReadRefused(errno.EFBIG, f"inflates to more than {size_text(cap)} from {size_text(size)} "
                                      f"(over {ratio} times its size): refused as a possible gzip bomb "
                                      "(RECSEC_MAX_GZIP_RATIO raises the ratio)")
                chunks.append(chunk)
        return b"".join(chunks)


DAMAGED_GZIP = (EOFError, zlib.error, gzip.BadGzipFile)
