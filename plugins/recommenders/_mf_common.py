"""Small helpers shared by the general (user-id based) recommenders; numpy only."""

from __future__ import annotations

import numpy as np

from recsec.data import Interactions


def unique_pairs(data: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, item) pairs of ``data`` as two int64 arrays sorted by (user, item)."""
    keys = np.unique(data.users.astype(np.int64) * data.n_items + data.items.astype(np.int64))
    return keys // data.n_items, keys % data.n_items


def known_mask(users: np.ndarray, n_users: int) -> np.ndarray:
    """Bool (n_users,) with True for every id in ``users``."""
    mask = np.zeros(n_users, dtype=bool)
    mask[users] = True
    return mask


def lookup_known(mask: np.ndarray, users: np.ndarray) -> np.ndarray:
    """``mask[users]`` with ids outside ``[0, len(mask))`` (including -1, anonymous) mapped to False."""
    users = np.asarray(users, dtype=np.int64)
    ok = (users >= 0) & (users < len(mask))
    out = np.zeros(len(users), dtype=bool)
    out[ok] = mask[users[ok]]
    return out
