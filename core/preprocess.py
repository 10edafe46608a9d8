"""Preprocessing shared by the dataset loaders (methods.md section 1).

The sequential protocol of DFME (Yue et al., RecSys 2021) and GRO (Zhang et
al., WSDM 2024): keep every interaction (implicit feedback, no rating
threshold), drop items with fewer than ``min_item_count`` interactions, then
users with fewer than ``min_user_count`` of the remaining interactions, in
ONE pass -- not an iterative k-core, so an item can end below the item
threshold after its users were dropped. Ids are then re-indexed densely
(0-based here; sequential models add 1 for padding themselves) and events are
ordered by (user, timestamp, item).
"""

from __future__ import annotations

import numpy as np

from .data import Interactions


def one_pass_filter(data: Interactions, min_item_count: int = 5, min_user_count: int = 5) -> Interactions:
    """Drop rare items, then rare users, once; re-index densely and order canonically.

    A threshold of 0 (or 1) turns that step off. Ratings and timestamps are
    carried along unchanged; ``source`` gains the counts before and after.
    """
    if min_item_count < 0 or min_user_count < 0:
        raise ValueError("filter thresholds must be >= 0")
    keep = np.ones(len(data), dtype=bool)
    if min_item_count > 1:
        item_counts = np.bincount(data.items, minlength=data.n_items)
        keep &= item_counts[data.items] >= min_item_count
    if min_user_count > 1:
        user_counts = np.bincount(data.users[keep], minlength=data.n_users)
        keep &= user_counts[data.users] >= min_user_count
    out = reindex(data.subset(keep))
    source = dict(data.source)
    source["before_filter"] = data.stats()
    source["filter"] = {"min_item_count": int(min_item_count), "min_user_count": int(min_user_count), "passes": 1}
    source["after_filter"] = out.stats()
    return _with_source(out, source)


def iterative_k_core(data: Interactions, min_item_count: int = 5, min_user_count: int = 5) -> Interactions:
    """The iterative k-core (repeat the one-pass filter until nothing changes).

    Not the reference protocol; provided to compare against and for tests.
    """
    current, passes = data, 0
    while True:
        nxt = one_pass_filter(current, min_item_count, min_user_count)
        passes += 1
        if len(nxt) == len(current):
            break
        current = nxt
    source = dict(nxt.source)
    source["before_filter"] = data.stats()
    source["filter"] = {"min_item_count": int(min_item_count), "min_user_count": int(min_user_count), "passes": passes}
    return _with_source(nxt, source)


#: What a dataset does with repeated (user, item) rows (its ``duplicates`` parameter).
DUPLICATE_POLICIES = ("error", "first", "last")


def first_duplicate(data: Interactions) -> tuple[int, int] | None:
    """(row, earlier row) for the first row, in row order, whose (user, item) an earlier row
    already has; None when every pair is distinct.

    A repeated pair lets leave-one-out hold out an event that training still holds (a
    copy of it), so a duplicate must be refused or resolved before any split.
    """
    key = data.users.astype(np.int64) * max(int(data.n_items), 1) + data.items
    by_key = np.argsort(key, kind="stable")  # equal keys keep row order: the earlier row first
    sorted_key = key[by_key]
    repeats = np.flatnonzero(sorted_key[1:] == sorted_key[:-1]) + 1
    if not len(repeats):
        return None
    row = int(by_key[repeats].min())
    earlier = int(by_key[np.searchsorted(sorted_key, key[row])])
    return row, earlier


def drop_duplicates(data: Interactions, keep: str) -> Interactions:
    """One event per (user, item): the earliest (``keep="first"``) or the latest (``"last"``) in
    time order (``Interactions.order``, the one tie rule), its rating and timestamp with it.
    The kept rows stay in their original order; ``source["duplicates"]`` counts the dropped."""
    if keep not in ("first", "last"):
        raise ValueError(f"keep must be 'first' or 'last', got {keep!r}")
    idx = data.order()
    if keep == "last":
        idx = idx[::-1]
    key = data.users[idx].astype(np.int64) * max(int(data.n_items), 1) + data.items[idx]
    _, first = np.unique(key, return_index=True)  # the first occurrence along idx
    kept = data.subset(np.sort(idx[first]))
    source = dict(data.source)
    source["duplicates"] = {"policy": keep, "dropped": int(len(data) - len(kept))}
    return _with_source(kept, source)


def reindex(data: Interactions) -> Interactions:
    """Dense ids over the users and items that occur, raw-id order kept; events in canonical order."""
    used_users, users = np.unique(data.users, return_inverse=True)
    used_items, items = np.unique(data.items, return_inverse=True)
    raw_u = data.raw_user_ids[used_users] if data.raw_user_ids is not None else used_users
    raw_i = data.raw_item_ids[used_items] if data.raw_item_ids is not None else used_items
    dense = Interactions(
        users=users.astype(np.int64),
        items=items.astype(np.int64),
        n_users=len(used_users),
        n_items=len(used_items),
        ratings=data.ratings,
        timestamps=data.timestamps,
        raw_user_ids=raw_u,
        raw_item_ids=raw_i,
        source=data.source,
    )
    return dense.subset(dense.order())


def _with_source(data: Interactions, source: dict) -> Interactions:
    return Interactions(
        users=data.users,
        items=data.items,
        n_users=data.n_users,
        n_items=data.n_items,
        ratings=data.ratings,
        timestamps=data.timestamps,
        raw_user_ids=data.raw_user_ids,
        raw_item_ids=data.raw_item_ids,
        source=source,
    )
