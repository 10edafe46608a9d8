"""The dataset contract and the data-directory / download helpers loaders share."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar, Iterator

from .component import Component
from .datacache import cache_key, sha256_file  # noqa: F401 - sha256_file: recsec.dataset's public helper
from .data import Interactions
from .errors import DataUnavailableError


@dataclass(frozen=True)
class DataContext:
    """Where datasets look for and cache files.

    Attributes:
        data_dir: the directory holding official file layouts
            (``RECSEC_DATA_DIR`` or ``--data-dir``); None if unset.
        cache_dir: where downloads and preprocessed caches go.
        allow_download: fetch from the publisher's URL when files are absent.
        progress: show progress bars.
    """

    data_dir: Path | None
    cache_dir: Path
    allow_download: bool = True
    progress: bool = False

    @classmethod
    def from_env(cls, data_dir: str | Path | None = None, **kw) -> "DataContext":
        d = data_dir or os.environ.get("RECSEC_DATA_DIR")
        cache = Path(os.environ.get("RECSEC_CACHE_DIR", Path.home() / ".cache" / "recsec"))
        return cls(Path(d).expanduser() if d else None, cache, **kw)


class Dataset(Component):
    """Base class of every dataset.

    Class attributes:
        family: ``"ratings"`` (user-item events, matrix-factorisation work) or
            ``"sequential"`` (time-ordered sequences); both load ``Interactions``.
    """

    kind: ClassVar[str] = "dataset"
    family: ClassVar[str] = "ratings"

    def load(self, ctx: DataContext) -> Interactions:
        """Read (or generate) the interactions. Must be deterministic for given parameters."""
        raise NotImplementedError

    def fingerprint(self, ctx: DataContext | None = None) -> str:
        """A sha256 that changes whenever the data ``load`` returns would: part of every result's key.

        File-backed datasets hash the file(s) they would read, their
        preprocessing parameters and their version, without parsing anything
        (``recsec.plugins.datasets._common.FileDataset``). This default, for
        data generated from parameters alone, hashes the name, version and
        every parameter value: override it when ``load`` reads anything else.
        """
        return cache_key(self.name, self.version, {}, self.param_values)


def dataset_error(dataset: Dataset, exc: Exception) -> DataUnavailableError:
    """An error a dataset let through raw (not a RecsecError), as one line naming the dataset."""
    return DataUnavailableError(f"dataset {dataset.instance_name!r}: {type(exc).__name__}: {exc}")


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
