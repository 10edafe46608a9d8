"""On-disk cache of preprocessed ``Interactions`` (npz files under ``ctx.cache_dir``).

A cache entry is keyed by :func:`cache_key`: the sha256 of the source files,
the dataset's name and version, its parameters (the preprocessing thresholds
among them) and :data:`FORMAT`. The same key is what ``Dataset.fingerprint``
returns, so results computed on changed data never reuse stale entries.

Identity is the content, never the path, size or modification time: a file edited
with its mtime put back (``touch -r``, ``cp -p``, ``os.utime``) gets a new key. Hashing
a large file on every plan would cost seconds (ML-20M's ratings.csv is 533 MB), so
:func:`file_sha256` remembers digests in ``<cache_dir>/datasets/digests.json`` by the
file's whole stat signature, its inode change time included: no user call can set
``ctime`` back (``utime`` itself moves it), so an edit always misses the memo. A digest
is remembered only for a file that had not changed for :data:`SETTLED_S` seconds when
hashing began, so an edit in the same clock tick as the hash cannot hide behind an
equal signature (git's "racily clean" entries). The memo is a speed-up that
``FileDataset.load`` re-verifies: a load hashes the bytes afresh
(:func:`verified_sha256`), corrects the memo and refuses data that differ from the plan.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .bounded import open_regular
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


#: Digests already known in this process, by stat signature (planning asks for each file once per worker).
_SEEN: dict[str, str] = {}
#: A file changed less than this long before its hash began is hashed again next time.
SETTLED_S = 2.0


def _signature(path: Path) -> tuple[str, os.stat_result]:
    st = os.stat(path)
    sig = f"{Path(path).resolve()}|{st.st_dev}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"
    return sig, st


def file_sha256(path: Path, cache_root: Path | None = None) -> str:
    """sha256 of the bytes of ``path``, remembered by its stat signature (ctime included) in this
    process and under ``cache_root`` once the file has settled (see the module docstring)."""
    sig, _ = _signature(path)
    if sig in _SEEN:
        return _SEEN[sig]
    digest = _read_memo(cache_root).get(sig)
    if digest is None:
        return verified_sha256(path, cache_root)
    _SEEN[sig] = digest
    return digest


def verified_sha256(path: Path, cache_root: Path | None = None) -> str:
    """sha256 of the bytes of ``path`` read now, whatever any memo says; the memo learns it."""
    sig, st = _signature(path)
    started = time.time()
    digest = sha256_file(path)
    after, _ = _signature(path)
    settled = started - max(st.st_mtime, st.st_ctime) > SETTLED_S
    for key in [k for k, v in _SEEN.items() if k.split("|", 1)[0] == sig.split("|", 1)[0]]:
        del _SEEN[key]  # whatever was remembered for this path is superseded
    if after == sig and settled:
        _SEEN[sig] = digest
    _write_memo(cache_root, sig, digest if after == sig and settled else None)
    return digest


def _memo_file(cache_root: Path | None) -> Path | None:
    return cache_dir_for(cache_root) / "digests.json" if cache_root is not None else None


def _read_memo(cache_root: Path | None) -> dict[str, str]:
    memo_file = _memo_file(cache_root)
    if memo_file is None or not memo_file.exists():
        return {}
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def _write_memo(cache_root: Path | None, sig: str, digest: str | None) -> None:
    """Replace every entry of ``sig``'s path by ``sig -> digest`` (none when ``digest`` is None)."""
    memo_file = _memo_file(cache_root)
    if memo_file is None:
        return
    memo = _read_memo(cache_root)
    where = sig.split("|", 1)[0] + "|"
    kept = {k: v for k, v in memo.items() if not k.startswith(where)}
    if digest is not None:
        kept[sig] = digest
    if kept == memo:
        return
    try:
        _atomic_write_text(memo_file, json.dumps(kept, indent=0, sort_keys=True))
    except OSError as exc:  # a read-only cache only costs speed
        log.debug("could not record digest in %s: %s", memo_file, exc)


#: Part of an entry's file name, not of the key: entries written before duplicate (user, item)
#: rows were refused may hold them, so they are rebuilt (and refused) rather than reused.
ENTRY_REVISION = "r2"


def entry_path(cache_root: Path, name: str, key: str) -> Path:
    return cache_dir_for(cache_root) / f"{name}-{key[:24]}-{ENTRY_REVISION}.npz"


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
    """sha256 of a regular file's bytes, streamed (a FIFO or a directory raises ReadRefused, never hangs)."""
    h = hashlib.sha256()
    f, _ = open_regular(path)
    with f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
