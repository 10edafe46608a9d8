"""Shared machinery of the file-backed dataset loaders (private: not scanned for components).

File lookup: a relative path such as ``ml-1m/ratings.dat`` is looked for as
``X`` and ``X.gz`` under ``ctx.data_dir`` first, then under
``<ctx.cache_dir>/raw`` (where downloaded archives are extracted).
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from recsec.data import Interactions
from recsec.datacache import cache_key, cached_interactions, file_sha256
from recsec.dataset import DataContext, Dataset, download, extract_zip, sha256_file
from recsec.errors import DataUnavailableError
from recsec.params import Param
from recsec.preprocess import one_pass_filter

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


@dataclass
class Resolved:
    """The files a load reads: ``{stable label: path}`` plus notes and warnings for the source record."""

    files: dict[str, Path]
    notes: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def filter_params(default: int) -> dict[str, Param]:
    """The one-pass preprocessing thresholds (methods.md section 1); 0 turns a step off."""
    return {
        "min_item_count": Param(
            default, help="drop items with fewer interactions (one pass, before users); 0 = off", valid="[0, inf)"
        ),
        "min_user_count": Param(
            default, help="then drop users with fewer remaining interactions (one pass); 0 = off", valid="[0, inf)"
        ),
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


class FileDataset(Dataset):
    """A dataset read from files; subclasses implement ``resolve`` and ``read``.

    ``load`` = resolve files -> cache lookup by key (source sha256 + name +
    version + parameters) -> on a miss, read + one-pass filter + store.
    """

    version: ClassVar[str] = "1"

    def resolve(self, ctx: DataContext) -> Resolved:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, resolved: Resolved) -> Interactions:  # pragma: no cover - abstract
        raise NotImplementedError

    def preprocess(self, data: Interactions) -> Interactions:
        return one_pass_filter(data, int(self.p.min_item_count), int(self.p.min_user_count))

    def _key(self, ctx: DataContext, resolved: Resolved) -> tuple[str, dict[str, str]]:
        digests = {label: file_sha256(path, ctx.cache_dir) for label, path in resolved.files.items()}
        return cache_key(self.name, self.version, digests, self.param_values), digests

    def fingerprint(self, ctx: DataContext) -> str:
        """sha256 over the file(s) ``load`` would read, the parameters and the loader's version.

        Nothing is parsed, and file digests are memoised by (path, size,
        mtime_ns), so planning a spec costs one ``stat`` per file once hashed.
        The instance remembers the value: ``load`` refuses data that changed
        since, instead of filing it under the old fingerprint.
        """
        key = self._key(ctx, self.resolve(ctx))[0]
        self._planned_fingerprint = key
        return key

    def load(self, ctx: DataContext) -> Interactions:
        resolved = self.resolve(ctx)
        for message in resolved.warnings:
            warnings.warn(message, stacklevel=2)
        key, digests = self._key(ctx, resolved)
        files = ", ".join(str(p) for p in resolved.files.values())
        planned = getattr(self, "_planned_fingerprint", None)
        if planned is not None and planned != key:
            raise DataUnavailableError(
                f"dataset {self.instance_name!r}: {files} changed after the run was planned; "
                "run again to file results under the new data"
            )

        def build() -> Interactions:
            try:
                raw = self.read(resolved)
            except (ValueError, EOFError, OSError) as exc:  # a reader that let a raw error through
                raise DataUnavailableError(f"{files}: cannot be read as {self.name} data ({type(exc).__name__}: {exc})") from exc
            log.info("%s: read %s", self.name, raw.stats())
            return self.preprocess(raw)

        data, hit = cached_interactions(ctx.cache_dir, self.name, key, build)
        source = dict(data.source)
        source.update(resolved.notes)
        source.update(
            dataset=self.name,
            file=", ".join(resolved.files),  # the stable label(s) of what was read: which alternative
            files={k: str(v) for k, v in resolved.files.items()},
            sha256=digests,
            key=key,  # = fingerprint(ctx)
        )
        data = dataclasses.replace(data, source=source)
        log.info("%s%s: %s", self.instance_name, " (cached)" if hit else "", data.stats())
        return data
