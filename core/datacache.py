"""On-disk cache of preprocessed ``Interactions`` (npz files under ``ctx.cache_dir``).

A cache entry is keyed by :func:`cache_key`: the sha256 of the source files,
the dataset's name and version, its parameters (the preprocessing thresholds
among them) and :data:`FORMAT`. The same key is what ``Dataset.fingerprint``
returns, so results computed on changed data never reuse stale entries.

Hashing a large source file on every load would cost seconds (ML-20M's
ratings.csv is 533 MB), so :func:`file_sha256` remembers digests by
(path, size, mtime) in ``<cache_dir>/datasets/digests.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .data import Interactions

log = logging.getLogger("recsec.datacache")

#: Bump when the npz layout or the preprocessing code changes what is stored.
FORMAT = "1"

_ARRAYS = ("users", "items", "ratings", "timestamps", "raw_user_ids", "raw_item_ids")


def cache_dir_for(cache_root: Path) -> Path:
    return Path(cache_root) / "datasets"


def cache_key(name: str, version: str, sources: dict[str, str], params: dict[str, Any]) -> str:
    """The cache key / fingerprint: sha256 over name, version, source digests and parameters.

    Args:
        name, version: the dataset component's identity.
        sources: ``{label: sha256}`` of every file read (labels are stable
            names such as ``"ratings.csv"``, not absolute paths, so the key
            does not depend on where the data directory is).
        params: every parameter value (thresholds, variants, seeds).
    """
    blob = json.dumps(
        {"format": FORMAT, "name": name, "version": version, "sources": sources, "params": params},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


#: Digests already known in this process (planning a spec asks for each file once per worker).
_SEEN: dict[str, str] = {}


def file_sha256(path: Path, cache_root: Path | None = None) -> str:
    """sha256 of ``path``, memoised by (resolved path, size, mtime_ns) in this process and under ``cache_root``."""
    path = Path(path)
    st = path.stat()
    memo_key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    if memo_key in _SEEN:
        return _SEEN[memo_key]
    _SEEN[memo_key] = digest = _file_sha256(path, memo_key, cache_root)
    return digest


def _file_sha256(path: Path, memo_key: str, cache_root: Path | None) -> str:
    memo_file = cache_dir_for(cache_root) / "digests.json" if cache_root is not None else None
    memo: dict[str, str] = {}
    if memo_file is not None and memo_file.exists():
        try:
            memo = json.loads(memo_file.read_text())
        except (OSError, ValueError):
            memo = {}
    if memo_key in memo:
        return memo[memo_key]
    digest = sha256_file(path)
    if memo_file is not None:
        memo[memo_key] = digest
        try:
            _atomic_write_text(memo_file, json.dumps(memo, indent=0, sort_keys=True))
        except OSError as exc:  # a read-only cache only costs speed
            log.debug("could not record digest in %s: %s", memo_file, exc)
    return digest


def entry_path(cache_root: Path, name: str, key: str) -> Path:
    return cache_dir_for(cache_root) / f"{name}-{key[:24]}.npz"


def save_interactions(path: Path, data: Interactions) -> None:
    """Write ``data`` to ``path`` atomically (no pickles: string ids are stored as unicode arrays)."""
    arrays: dict[str, np.ndarray] = {}
    for field_name in _ARRAYS:
        arr = getattr(data, field_name)
        if arr is not None:
            arrays[field_name] = np.asarray(arr)
    meta = {"n_users": data.n_users, "n_items": data.n_items, "source": data.source, "format": FORMAT}
    arrays["meta"] = np.array(json.dumps(meta, default=str))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_interactions(path: Path) -> Interactions:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: cache format {meta.get('format')!r}, expected {FORMAT!r}")
        arrays = {k: z[k] for k in _ARRAYS if k in z.files}
    return Interactions(
        users=arrays["users"].astype(np.int64, copy=False),
        items=arrays["items"].astype(np.int64, copy=False),
        n_users=int(meta["n_users"]),
        n_items=int(meta["n_items"]),
        ratings=arrays.get("ratings"),
        timestamps=arrays.get("timestamps"),
        raw_user_ids=arrays.get("raw_user_ids"),
        raw_item_ids=arrays.get("raw_item_ids"),
        source=dict(meta.get("source") or {}),
    )


def cached_interactions(
    cache_root: Path, name: str, key: str, build: Callable[[], Interactions]
) -> tuple[Interactions, bool]:
    """Load the entry for ``key`` or build, store and return it; the flag says whether it was a hit."""
    path = entry_path(cache_root, name, key)
    if path.exists():
        try:
            return load_interactions(path), True
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # a damaged entry is rebuilt
            log.warning("ignoring unreadable dataset cache %s: %s", path, exc)
    data = build()
    try:
        save_interactions(path, data)
    except OSError as exc:
        log.warning("could not write dataset cache %s: %s", path, exc)
    return data, False


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
