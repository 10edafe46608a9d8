"""Downloads and archives for the dataset loaders: checksummed, atomic, safe for parallel workers."""

from __future__ import annotations

import os
import tempfile
import urllib.request
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from .datacache import sha256_file
from .errors import DataUnavailableError


def download(url: str, dest: Path, sha256: str | None, progress: bool = False) -> Path:
    """Fetch ``url`` to ``dest`` and verify its checksum; a mismatch deletes the file and raises.

    Safe for parallel workers: each writes its own temporary file, under a lock
    on the destination folder, and the verified file replaces ``dest`` in one
    rename; a worker that waited for the lock finds the file done and returns.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(dest.parent):
        if sha256 is not None and dest.is_file() and sha256_file(dest) == sha256:
            return dest
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as f:
                _fetch(url, f, dest.name, progress)
            if sha256 is not None and (got := sha256_file(tmp)) != sha256:
                raise DataUnavailableError(f"checksum mismatch for {url}: expected sha256 {sha256}, got {got}")
            os.replace(tmp, dest)
        except OSError as exc:
            raise DataUnavailableError(f"could not download {url}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
    return dest


def _fetch(url: str, out: BinaryIO, label: str, progress: bool) -> None:
    from tqdm import tqdm

    with urllib.request.urlopen(url, timeout=60) as r:
        total = int(r.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {label}", disable=not progress) as bar:
            for chunk in iter(lambda: r.read(1 << 16), b""):
                out.write(chunk)
                bar.update(len(chunk))


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` across processes (POSIX ``flock`` on the directory).

    Locking the folder itself leaves no lock file behind. Where ``flock`` is
    missing (Windows) nothing is locked; the unique temporary names and the
    atomic rename still keep every file whole.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def extract_zip(archive: Path, into: Path) -> None:
    """Extract ``archive`` into ``into``, each file appearing whole (a reader never sees half a file).

    Members go to a private folder first and are then renamed into place, so
    workers extracting the same archive at once only replace a file by an
    identical one. A damaged archive is a DataUnavailableError naming it.
    """
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=into, prefix=".extract-") as tmp:
        try:
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise DataUnavailableError(f"{archive}: damaged zip archive ({exc})") from exc
        for src in sorted(Path(tmp).rglob("*")):
            if src.is_file():
                target = into / src.relative_to(tmp)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, target)
