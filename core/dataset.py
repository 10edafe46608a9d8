"""The dataset contract and the data-directory / download helpers loaders share."""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from .component import Component
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

    def fingerprint(self, ctx: DataContext) -> str:
        """A string that changes when the underlying data changes (checksums); part of cache keys."""
        return ""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: Path, sha256: str | None, progress: bool = False) -> Path:
    """Fetch ``url`` to ``dest`` and verify its checksum; a mismatch deletes the file and raises."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0) or None
            from tqdm import tqdm

            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {dest.name}", disable=not progress) as bar:
                for chunk in iter(lambda: r.read(1 << 16), b""):
                    f.write(chunk)
                    bar.update(len(chunk))
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataUnavailableError(f"could not download {url}: {exc}") from exc
    if sha256 is not None:
        got = sha256_file(tmp)
        if got != sha256:
            tmp.unlink(missing_ok=True)
            raise DataUnavailableError(f"checksum mismatch for {url}: expected sha256 {sha256}, got {got}")
    shutil.move(tmp, dest)
    return dest


def extract_zip(archive: Path, into: Path) -> None:
    with zipfile.ZipFile(archive) as z:
        z.extractall(into)
