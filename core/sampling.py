"""Uniform sampling of distinct items outside a per-row forbidden set.

One sampler serves the sampled-evaluation negatives
(``recsec.evaluation.sample_negatives``) and the random items of the
output-perturbation defenses (``recsec.plugins.defenses.perturbation``).
"""

from __future__ import annotations

import numpy as np


def draw_outside_keys(
    seen: np.ndarray, n_rows: int, n_items: int, m: int, rng: np.random.Generator, enumerate_factor: int
) -> np.ndarray:
    """Per row, ``m`` distinct items drawn uniformly outside that row's forbidden items: int64 (n_rows, m).

    Args:
        seen: sorted unique int64 keys ``row * n_items + item`` of the forbidden pairs.
        n_rows: number of rows R.
        n_items: catalogue size N.
        m: items wanted per row; a row with fewer than ``m`` allowed items gets them all and ``-1`` after.
        rng: the stream to draw from (the draws are a fixed function of it).
        enumerate_factor: rows with fewer than ``enumerate_factor * m`` allowed items are
            enumerated and permuted directly, where rejection would waste most draws.

    Vectorised rejection sampling for the other rows: the first distinct
    allowed draws of an i.i.d. uniform stream form a uniform random subset.
    """
    out = np.full((n_rows, m), -1, dtype=np.int64)
    if n_rows == 0 or m == 0:
        return out
    free = n_items - np.bincount(seen // n_items, minlength=n_rows)
    need = np.minimum(m, free)
    filled = np.zeros(n_rows, dtype=np.int64)
    bounds = np.searchsorted(seen, np.arange(n_rows + 1) * n_items)
    for r in np.flatnonzero(free < enumerate_factor * m):
        mine = seen[bounds[r] : bounds[r + 1]] - r * n_items
        pool = np.setdiff1d(np.arange(n_items), mine)
        out[r, : need[r]] = rng.permutation(pool)[: need[r]]
        filled[r] = need[r]
    pending = np.flatnonzero(filled < need)
    while len(pending):
        cand = rng.integers(0, n_items, size=(len(pending), 2 * m))
        keys = pending[:, None] * n_items + cand
        ok = ~np.isin(keys, seen)
        taken = out[pending]
        ok &= ~np.isin(keys, np.where(taken >= 0, pending[:, None] * n_items + taken, -1))
        # keep the first occurrence of each candidate within its row
        flat = np.where(ok, keys, -1 - np.arange(keys.size).reshape(keys.shape))
        first = np.zeros(keys.size, dtype=bool)
        first[np.unique(flat.ravel(), return_index=True)[1]] = True
        ok &= first.reshape(keys.shape)
        slot = filled[pending][:, None] + np.cumsum(ok, axis=1) - 1
        take = ok & (slot < need[pending][:, None])
        r_idx, c_idx = np.nonzero(take)
        out[pending[r_idx], slot[r_idx, c_idx]] = cand[r_idx, c_idx]
        filled[pending] += take.sum(axis=1)
        pending = pending[filled[pending] < need[pending]]
    return out


def pick_rows(n_available: int, n: int, rng: np.random.Generator, exclude: np.ndarray | None = None) -> np.ndarray:
    """A seeded sorted sample of ``n`` indices of 0..n_available-1 outside ``exclude`` (all when n <= 0 or too few)."""
    pool = np.arange(n_available) if exclude is None else np.setdiff1d(np.arange(n_available), exclude)
    if n <= 0 or n >= len(pool):
        return pool
    return np.sort(rng.choice(pool, n, replace=False))
