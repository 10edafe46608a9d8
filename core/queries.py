"""A batch of recommendation requests: item histories, optionally with the user id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Queries:
    """B requests to a recommender.

    Attributes:
        histories: B time-ordered item-id arrays (the user's interactions so far).
        users: int64 (B,) dense ids of users the system has an account for, -1
            for anonymous / unknown users; None means all unknown.
    """

    histories: Sequence[np.ndarray]
    users: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.histories)

    @classmethod
    def of(cls, histories: Sequence[Sequence[int]], users: Sequence[int] | None = None) -> "Queries":
        hs = [np.asarray(h, dtype=np.int64) for h in histories]
        us = None if users is None else np.asarray(users, dtype=np.int64)
        if us is not None and len(us) != len(hs):
            raise ValueError("users and histories must have the same length")
        return cls(hs, us)

    def slice(self, start: int, stop: int) -> "Queries":
        return Queries(self.histories[start:stop], None if self.users is None else self.users[start:stop])

    def user_ids(self) -> np.ndarray:
        return np.full(len(self), -1, dtype=np.int64) if self.users is None else self.users

    def padded(self, max_len: int, offset: int = 1, pad: int = 0) -> np.ndarray:
        """Left-padded (B, max_len) int64 matrix of the last ``max_len`` items, ids shifted by ``offset``.

        Sequential models reserve 0 for padding, hence ``offset=1``.
        """
        out = np.full((len(self), max_len), pad, dtype=np.int64)
        for i, h in enumerate(self.histories):
            h = h[-max_len:]
            if len(h):
                out[i, max_len - len(h) :] = h + offset
        return out

    def history_mask_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, item) index pairs of every history item, for masking seen items."""
        lens = np.fromiter((len(h) for h in self.histories), dtype=np.int64, count=len(self))
        rows = np.repeat(np.arange(len(self)), lens)
        cols = np.concatenate(list(self.histories)) if lens.sum() else np.zeros(0, dtype=np.int64)
        return rows, cols.astype(np.int64)
