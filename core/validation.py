"""Checks on every value that crosses the plugin boundary into core.

Each check raises ``PluginOutputError`` with one line naming the component and method
(``who``), what was wrong and how to fix it; the runner then stores the cell as failed,
never as done. Checks are vectorised: they run on every answer of the black box.

Shapes: B rows, K list length, N catalogue size.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from .errors import PluginOutputError

if TYPE_CHECKING:  # pragma: no cover
    from .queries import Queries


def check_number(value: Any, who: str, name: str, finite: bool = True) -> float:
    """A finite real number (Python or NumPy scalar, not bool) as a float (``finite=False``: NaN
    and infinities pass)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise PluginOutputError(f"{who}: {name!r} must be a real number, got {type(value).__name__} {value!r:.60}")
    out = float(value)
    if finite and not math.isfinite(out):
        raise PluginOutputError(f"{who}: {name!r} is {out}; report only finite numbers (leave a number out instead)")
    return out


def check_numbers(values: Any, who: str, finite: bool = True) -> dict[str, float]:
    """A mapping of metric names to finite real numbers; with ``finite=False`` non-finite values
    (a statistic that does not apply, such as the validation score of a run without
    validation) are dropped instead of rejected."""
    if not isinstance(values, Mapping):
        raise PluginOutputError(f"{who}: expected a dict of name -> number, got {type(values).__name__}")
    out = {}
    for name, value in values.items():
        if not isinstance(name, str) or not name or len(name) > 80 or "\x00" in name:
            raise PluginOutputError(f"{who}: metric names must be non-empty strings of at most 80 characters, got {name!r:.90}")
        number = check_number(value, who, name, finite)
        if math.isfinite(number):
            out[name] = number
    return out


def check_ids(ids: Any, who: str, what: str, n_items: int) -> np.ndarray:
    """An integer array of item or user ids, as int64; -1 is allowed (callers decide where)."""
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise PluginOutputError(f"{who}: {what} must hold integer ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < -1 or arr.max() >= n_items):
        bad = arr[(arr < -1) | (arr >= n_items)][:3]
        raise PluginOutputError(f"{who}: {what} holds ids outside 0..{n_items - 1}: {bad.tolist()}")
    return arr


def check_lists(lists: Any, queries: "Queries", n_items: int, who: str, *, k: int, exact: bool,
                exclude_history: bool, allowed_history: np.ndarray | None = None) -> np.ndarray:
    """Ranked lists for ``queries``: int64 (B, K'), distinct ids per row, best first.

    ``exact``: K' must equal ``k`` and every entry must be an item (a recommender's top-k);
    otherwise K' <= k and a row may end in -1 padding (a defense that shortens or refuses).
    ``exclude_history``: no item of the query's history, unless it is in ``allowed_history``
    (the victim's own list, which a defense may keep).
    """
    arr = check_ids(lists, who, "the lists", n_items)
    B = len(queries)
    if arr.ndim != 2 or arr.shape[0] != B:
        raise PluginOutputError(f"{who}: expected one list per query, shape ({B}, K), got {arr.shape}")
    width = arr.shape[1]
    if (exact and width != min(k, n_items)) or width > k:
        raise PluginOutputError(f"{who}: lists of {width} items, expected {'exactly' if exact else 'at most'} {min(k, n_items)}")
    if B == 0 or width == 0:
        return arr
    pad = arr < 0
    if exact and pad.any():
        raise PluginOutputError(f"{who}: -1 in a top-{k} list; every position must hold an item")
    if (pad[:, :-1] & ~pad[:, 1:]).any():
        raise PluginOutputError(f"{who}: -1 before an item in a list; pad only at the end of a shorter list")
    srt = np.sort(arr, axis=1)
    dup = (srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)
    if dup.any():
        row = int(np.flatnonzero(dup.any(axis=1))[0])
        raise PluginOutputError(f"{who}: a list repeats an item (row {row}); each list holds distinct items")
    if exclude_history:
        rows, items = queries.history_mask_indices()
        if len(rows):
            seen = np.unique(rows * n_items + items)
            valid = ~pad
            list_rows = np.repeat(np.arange(B), width)[valid.ravel()]
            keys = list_rows * n_items + arr.ravel()[valid.ravel()]
            hit = np.isin(keys, seen)
            if hit.any() and allowed_history is not None:
                ok = np.unique(np.repeat(np.arange(B), allowed_history.shape[1]) * n_items + allowed_history.ravel())
                hit &= ~np.isin(keys, ok)
            # a history item may only fill a list that the other items cannot fill
            room = n_items - np.bincount(seen // n_items, minlength=B)
            excess = np.bincount(list_rows[hit], minlength=B) > np.maximum(valid.sum(1) - room, 0)
            if excess.any():
                raise PluginOutputError(f"{who}: a list recommends an item of the query's own history (row "
                                        f"{int(np.flatnonzero(excess)[0])}); the service never returns what the user already has")
    return arr


def check_flags(flags: Any, n: int, who: str) -> np.ndarray:
    """One bool flag per query."""
    arr = np.asarray(flags)
    if arr.shape != (n,) or arr.dtype != bool:
        raise PluginOutputError(f"{who}: expected a bool array of shape ({n},), got {arr.dtype} {arr.shape}")
    return arr
