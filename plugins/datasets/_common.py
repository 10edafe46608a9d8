"""Shared machinery of the file-backed dataset loaders (private: not scanned for components).

``FileDataset`` and ``Resolved`` live in ``recsec.dataset`` (public: a third-party file
dataset subclasses the same base); they are re-exported here for the built-in loaders.

File lookup: a relative path such as ``ml-1m/ratings.dat`` is looked for as
``X`` and ``X.gz`` under ``ctx.data_dir`` first, then under
``<ctx.cache_dir>/raw`` (where downloaded archives are extracted).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from recsec.dataset import DUPLICATES, DataContext, FileDataset, Resolved, download, extract_zip, sha256_file
from recsec.errors import DataUnavailableError
from recsec.params import Param

__all__ = ["Archive", "FileDataset", "Resolved", "filter_params", "candidates", "find", "raw_dir", "fetch_archive",
           "unavailable", "locate"]

log = logging.getLogger("recsec.datasets")


@dataclass(frozen=True)
class Archive:
    """A publisher's download with its pinned checksum (None: no verified checksum known)."""

    url: str
    filename: str
    sha256: str | None
    size: int | None = None
    #: where the sha256 was taken from (shown in errors and reports)
    checksum_source: str = ""


def filter_params(default: int) -> dict[str, Param]:
    """The preprocessing parameters: the one-pass thresholds (methods.md section 1; 0 turns a
    step off) and the policy for repeated (user, item) rows (``recsec.dataset.DUPLICATES``)."""
    return {
        "min_item_count": Param(
            default, help="drop items with fewer interactions (one pass, before users); 0 = off", valid="[0, inf)"
        ),
        "min_user_count": Param(
            default, help="then drop users with fewer remaining interactions (one pass); 0 = off", valid="[0, inf)"
        ),
        "duplicates": DUPLICATES,
    }


def candidates(ctx: DataContext, rel: str) -> list[Path]:
    """Every path ``rel`` is looked for at, in order (plain before gzipped)."""
    roots = ([Path(ctx.data_dir)] if ctx.data_dir is not None else []) + [raw_dir(ctx)]
    return [p for root in roots for p in (root / rel, root / f"{rel}.gz")]


def find(ctx: DataContext, rel: str) -> Path | None:
    for p in candidates(ctx, rel):
        if p.is_file():
            return p
    return None


def raw_dir(ctx: DataContext) -> Path:
    return Path(ctx.cache_dir) / "raw"


def fetch_archive(ctx: DataContext, archive: Archive, rel: str) -> None:
    """Download ``archive`` (checksum verified) so that ``rel`` appears under ``<cache_dir>/raw``.

    A zip goes to ``<cache_dir>/downloads`` and is extracted into ``raw``; a
    single file is stored directly as ``raw/<rel>``.
    """
    is_zip = archive.filename.endswith(".zip")
    dest = Path(ctx.cache_dir) / "downloads" / archive.filename if is_zip else raw_dir(ctx) / rel
    if is_zip and dest.exists() and (archive.sha256 is None or sha256_file(dest) == archive.sha256):
        log.info("using the downloaded %s", dest)
    else:  # download() replaces a stale file atomically, under a lock shared with other workers
        log.info("downloading %s", archive.url)
        download(archive.url, dest, archive.sha256, progress=ctx.progress)
    if is_zip:
        extract_zip(dest, raw_dir(ctx))


def unavailable(name: str, looked: list[Path], url: str | None, extra: str = "") -> DataUnavailableError:
    """One line: what was looked for where, where it comes from, and what to do."""
    parts = [f"dataset {name!r}: no data file found; looked in {', '.join(str(p) for p in looked)}"]
    if url:
        parts.append(f"source: {url}")
    if extra:
        parts.append(extra)
    parts.append("set RECSEC_DATA_DIR (or --data-dir) to a directory holding the official layout")
    return DataUnavailableError("; ".join(parts))


def locate(
    ctx: DataContext, name: str, rel: str, archive: Archive | None, extra: str = ""
) -> Path:
    """Find ``rel`` locally, else download and extract ``archive`` when allowed, else raise."""
    found = find(ctx, rel)
    if found is not None:
        return found
    looked = candidates(ctx, rel)
    url = archive.url if archive else None
    if archive is not None and ctx.allow_download:
        try:
            fetch_archive(ctx, archive, rel)
        except DataUnavailableError as exc:
            raise unavailable(name, looked, url, f"download failed: {exc}") from exc
        found = find(ctx, rel)
        if found is not None:
            return found
        raise unavailable(name, looked, url, f"the downloaded archive has no {rel}")
    if archive is not None:
        extra = (extra + "; " if extra else "") + "downloads are disabled (allow_download=False)"
    raise unavailable(name, looked, url, extra)
