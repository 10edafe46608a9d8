"""Readers for sequence-style files (private helpers of amazon.py, movielens.py and steam.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recsec.data import Interactions
from recsec.errors import DataUnavailableError

from ._parse import decode_text, fields_check, line_error, read_bytes


def read_user_sequence_file(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``user item item ...`` per line (S3-Rec / ICLRec format), items in time order.

    Returns (raw users, raw items, positions): one row per interaction, the
    position in the user's sequence standing in for a timestamp.
    """
    users: list[int] = []
    lengths: list[int] = []
    items: list[int] = []
    for lineno, line in enumerate(read_bytes(path).splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            ids = [int(x) for x in fields]
        except ValueError as exc:
            raise DataUnavailableError(f"{path}:{lineno}: expected integer ids ({exc})") from exc
        if len(ids) < 2:
            raise DataUnavailableError(f"{path}:{lineno}: a user line needs at least one item")
        users.append(ids[0])
        lengths.append(len(ids) - 1)
        items.extend(ids[1:])
    if not users:
        raise DataUnavailableError(f"{path}: no rows")
    lens = np.asarray(lengths, dtype=np.int64)
    raw_users = np.repeat(np.asarray(users, dtype=np.int64), lens)
    starts = np.repeat(np.cumsum(lens) - lens, lens)
    positions = np.arange(len(raw_users), dtype=np.int64) - starts
    return raw_users, np.asarray(items, dtype=np.int64), positions


def read_pair_file(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``user item`` per line in time order (SASRec format).

    Returns (raw users, raw items, positions); positions count each user's
    lines in file order, so they are the user's sequence order.
    """
    text = read_bytes(path)
    if not text.strip():
        raise DataUnavailableError(f"{path}: no rows")
    try:
        flat = np.array(text.split(), dtype=np.int64)
        n_lines = len([ln for ln in text.splitlines() if ln.strip()])
        if len(flat) != 2 * n_lines:
            raise ValueError("not two ids per line")
    except ValueError as exc:
        found = line_error(path, text.splitlines(), fields_check(b" ", (int, int)))
        raise (found or DataUnavailableError(f"{path}: expected integer 'user item' pairs ({exc})")) from None
    users, items = flat[0::2], flat[1::2]
    order = np.argsort(users, kind="stable")
    sorted_users = users[order]
    first = np.searchsorted(sorted_users, sorted_users, side="left")
    positions = np.empty(len(users), dtype=np.int64)
    positions[order] = np.arange(len(users)) - first
    return users, items, positions


def sequence_interactions(path: Path, label: str) -> Interactions:
    """Interactions from a ``user item item ...`` file; the position in each line is the timestamp."""
    users, items, positions = read_user_sequence_file(path)
    return Interactions.from_raw(users, items, timestamps=positions,
                                 source={"format": f"{label} (user sequences in time order; timestamp = position)"})


def pair_interactions(path: Path, label: str) -> Interactions:
    """Interactions from a ``user item`` pair file; a user's n-th line is their n-th event."""
    users, items, positions = read_pair_file(path)
    return Interactions.from_raw(users, items, timestamps=positions,
                                 source={"format": f"{label} (user item pairs in time order; timestamp = position)"})


def read_amazon_ratings_csv(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``user,item,rating,timestamp`` without header (McAuley's ``ratings_<Category>.csv``).

    User and item ids are strings (reviewer ids, ASINs). A header line, if
    present, is skipped.
    """
    lines = decode_text(path, read_bytes(path)).splitlines()
    users: list[str] = []
    items: list[str] = []
    ratings: list[float] = []
    stamps: list[int] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.strip().split(",")
        if len(parts) != 4:
            raise DataUnavailableError(f"{path}:{lineno}: expected user,item,rating,timestamp")
        try:
            r, t = float(parts[2]), int(float(parts[3]))
        except ValueError as exc:
            if lineno == 1:
                continue  # a header
            raise DataUnavailableError(f"{path}:{lineno}: bad rating or timestamp ({exc})") from exc
        users.append(parts[0])
        items.append(parts[1])
        ratings.append(r)
        stamps.append(t)
    if not users:
        raise DataUnavailableError(f"{path}: no rows")
    return (
        np.asarray(users),
        np.asarray(items),
        np.asarray(ratings, dtype=np.float32),
        np.asarray(stamps, dtype=np.int64),
    )
