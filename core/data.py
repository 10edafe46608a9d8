"""Interaction data and the splits recommenders are trained and evaluated on.

Conventions used everywhere in recsec:
- users and items are dense 0-based integer ids; ``raw_user_ids`` and
  ``raw_item_ids`` map them back to the ids in the source files;
- sequential models add 1 internally for padding; nothing outside a model ever
  sees a padding or mask id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Interactions:
    """A set of (user, item[, rating, timestamp]) events.

    Attributes:
        users, items: int64 arrays of shape (n,), dense ids.
        ratings: float32 (n,) or None for implicit data.
        timestamps: int64 (n,) or None; for sequence files the position in the sequence.
        n_users, n_items: id-space sizes (ids may be unused after a subset).
        raw_user_ids, raw_item_ids: original ids, indexed by dense id.
        source: free-text provenance (file names, checksums, notes such as "partial").
    """

    users: np.ndarray
    items: np.ndarray
    n_users: int
    n_items: int
    ratings: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    raw_user_ids: np.ndarray | None = None
    raw_item_ids: np.ndarray | None = None
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.users)
        if len(self.items) != n:
            raise ValueError("users and items must have the same length")
        for name in ("ratings", "timestamps"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != n:
                raise ValueError(f"{name} must have the same length as users")

    @classmethod
    def from_raw(
        cls,
        raw_users: np.ndarray,
        raw_items: np.ndarray,
        ratings: np.ndarray | None = None,
        timestamps: np.ndarray | None = None,
        source: dict[str, Any] | None = None,
    ) -> "Interactions":
        """Re-index raw ids densely (sorted order of the raw ids)."""
        uid, users = np.unique(np.asarray(raw_users), return_inverse=True)
        iid, items = np.unique(np.asarray(raw_items), return_inverse=True)
        return cls(
            users=users.astype(np.int64),
            items=items.astype(np.int64),
            n_users=len(uid),
            n_items=len(iid),
            ratings=None if ratings is None else np.asarray(ratings, dtype=np.float32),
            timestamps=None if timestamps is None else np.asarray(timestamps, dtype=np.int64),
            raw_user_ids=uid,
            raw_item_ids=iid,
            source=dict(source or {}),
        )

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, mask: np.ndarray) -> "Interactions":
        """The events selected by a boolean mask or index array; id spaces are kept."""
        return Interactions(
            users=self.users[mask],
            items=self.items[mask],
            n_users=self.n_users,
            n_items=self.n_items,
            ratings=None if self.ratings is None else self.ratings[mask],
            timestamps=None if self.timestamps is None else self.timestamps[mask],
            raw_user_ids=self.raw_user_ids,
            raw_item_ids=self.raw_item_ids,
            source=self.source,
        )

    def order(self) -> np.ndarray:
        """Indices sorting events by (user, timestamp, item): the reference protocol's order
        (methods.md section 1) and recsec's one tie rule, which every split, sequence and
        duplicate policy uses.

        Events at the same time go by item in the order of the *raw* item ids when they are
        known (else of the dense ids): two loaders of one file that number items differently
        (sorted, or by first appearance) still give every user the same sequence. Events
        equal in all three keep their row order.
        """
        ts = self.timestamps if self.timestamps is not None else np.zeros(len(self), dtype=np.int64)
        return np.lexsort((self.item_tie_rank()[self.items], ts, self.users))

    def item_tie_rank(self) -> np.ndarray:
        """Each dense item id's rank among the raw item ids (the dense id itself when those are
        unknown or already sorted, as ``from_raw`` and the loaders leave them), shape (n_items,)."""
        raw = self.raw_item_ids
        dense = np.arange(self.n_items, dtype=np.int64)
        if raw is None or len(raw) != self.n_items or len(raw) < 2:
            return dense
        raw = np.asarray(raw)
        try:
            if bool(np.all(raw[1:] >= raw[:-1])):
                return dense
            by_raw = np.argsort(raw, kind="stable")
        except TypeError:  # raw ids that do not compare (mixed types): the dense order
            return dense
        rank = np.empty(self.n_items, dtype=np.int64)
        rank[by_raw] = dense
        return rank

    def sequences(self) -> list[np.ndarray]:
        """Each user's items in time order (ties by ``order``'s rule); index = dense user id."""
        idx = self.order()
        users, items = self.users[idx], self.items[idx]
        bounds = np.searchsorted(users, np.arange(self.n_users + 1))
        return [items[bounds[u] : bounds[u + 1]] for u in range(self.n_users)]

    def item_counts(self) -> np.ndarray:
        """Interactions per item, shape (n_items,)."""
        return np.bincount(self.items, minlength=self.n_items)

    def popularity_ranking(self) -> np.ndarray:
        """Item ids from most to least popular (ties by id)."""
        counts = self.item_counts()
        return np.lexsort((np.arange(self.n_items), -counts))

    def stats(self) -> dict[str, int]:
        return {
            "users": int(len(np.unique(self.users))),
            "items": int(len(np.unique(self.items))),
            "interactions": int(len(self)),
        }


@dataclass(frozen=True)
class EvalSet:
    """One held-out target per user: rank ``targets[i]`` given ``histories[i]``.

    Attributes:
        users: dense user ids, shape (m,).
        histories: the input each user is scored from (time-ordered items).
        targets: the held-out item per user, shape (m,).
    """

    users: np.ndarray
    histories: list[np.ndarray]
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class Split:
    """What a victim is trained on and how its utility is measured.

    Attributes:
        train: the events the recommender fits.
        valid: per-user validation targets (early stopping, tuning).
        test: per-user test targets (the utility reported next to attacks).
        key: a short stable name of the protocol (part of the victim cache key).
        extra: protocol-specific data (e.g. the membership-inference partitions).
    """

    train: Interactions
    valid: EvalSet
    test: EvalSet
    key: str = "loo"
    extra: dict[str, Any] = field(default_factory=dict)


def leave_one_out(data: Interactions, min_len: int = 3) -> Split:
    """Leave-one-out by time: train = all but the last two, valid = second to last, test = last.

    The test input is train + validation (the reference protocol, methods.md
    section 1). Users with fewer than ``min_len`` events keep everything in
    train and are not evaluated.
    """
    idx = data.order()
    users = data.users[idx]
    bounds = np.searchsorted(users, np.arange(data.n_users + 1))
    keep = np.ones(len(idx), dtype=bool)
    seqs = data.items[idx]
    v_users, v_hist, v_tgt, t_hist, t_tgt = [], [], [], [], []
    for u in range(data.n_users):
        a, b = bounds[u], bounds[u + 1]
        if b - a < min_len:
            continue
        keep[b - 2 : b] = False
        v_users.append(u)
        v_hist.append(seqs[a : b - 2])
        v_tgt.append(seqs[b - 2])
        t_hist.append(seqs[a : b - 1])
        t_tgt.append(seqs[b - 1])
    ev_users = np.asarray(v_users, dtype=np.int64)
    return Split(
        train=data.subset(idx[keep]),
        valid=EvalSet(ev_users, v_hist, np.asarray(v_tgt, dtype=np.int64)),
        test=EvalSet(ev_users, t_hist, np.asarray(t_tgt, dtype=np.int64)),
        key="loo",
    )
