"""Labelled query sequences for model extraction: generation under an exact query budget.

Yue et al., "Black-Box Attacks on Sequential Recommenders via Data-Free Model
Extraction", RecSys 2021 (DFME): synthetic sequences whose every prefix is
labelled with the black box's top-k list.

All sequences of a batch grow in parallel: step ``t`` sends ONE API call
holding the prefix ``seq[:t+1]`` of every still-active sequence, so a batch of
B sequences of length T costs T calls and at most B * T queries. Before each
call the batch is cut to ``api.remaining`` rows, so the attack never asks for
more than its budget and ``api.queries_used`` ends exactly at
``min(budget, wanted)``; a sequence cut short keeps its labelled prefixes.

numpy only (no torch): the next-item rule is a callback.

Shapes: S sequences, T longest length, K list length (``api.k``), b rows of a batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from recsec.errors import BudgetExhausted
from recsec.queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import BlackBoxAPI

#: next_fn(rows (b,), prefixes int64 (b, t+1), answers int64 (b, K), t) -> next items int64 (b,)
NextFn = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]
#: first_fn(rows (b,)) -> first items int64 (b,)
FirstFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class LabelledSet:
    """Sequences with the black box's answer for every prefix.

    Attributes:
        seqs: int64 (S, T) item ids, -1 after each sequence's end.
        lists: int32 (S, T, K): ``lists[s, t]`` is the answer to ``seqs[s, :t+1]``
            (-1 where unlabelled or where the answer was shorter than K).
        lengths: int64 (S,) items (= labelled prefixes) of each sequence, >= 1.
        real: bool (S,) True for the attacker's real sequences (few-shot).
    """

    seqs: np.ndarray
    lists: np.ndarray
    lengths: np.ndarray
    real: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def n_prefixes(self) -> int:
        return int(self.lengths.sum())

    @staticmethod
    def empty(T: int, K: int) -> "LabelledSet":
        return LabelledSet(np.zeros((0, T), np.int64), np.zeros((0, T, K), np.int32), np.zeros(0, np.int64), np.zeros(0, bool))

    @staticmethod
    def concat(parts: list["LabelledSet"]) -> "LabelledSet":
        parts = [p for p in parts if len(p)]
        if not parts:
            raise ValueError("nothing to concatenate")
        T = max(p.seqs.shape[1] for p in parts)
        K = max(p.lists.shape[2] for p in parts)
        seqs, lists = [], []
        for p in parts:
            s = np.full((len(p), T), -1, np.int64)
            s[:, : p.seqs.shape[1]] = p.seqs
            li = np.full((len(p), T, K), -1, np.int32)
            li[:, : p.lists.shape[1], : p.lists.shape[2]] = p.lists
            seqs.append(s)
            lists.append(li)
        return LabelledSet(np.concatenate(seqs), np.concatenate(lists),
                           np.concatenate([p.lengths for p in parts]), np.concatenate([p.real for p in parts]))

    def subset(self, idx: np.ndarray) -> "LabelledSet":
        return LabelledSet(self.seqs[idx], self.lists[idx], self.lengths[idx], self.real[idx])


def grow(
    api: "BlackBoxAPI",
    lengths: np.ndarray,
    first_fn: FirstFn,
    next_fn: NextFn,
    account: str = "attacker",
) -> LabelledSet:
    """Grow ``len(lengths)`` sequences in parallel and label every prefix (one API call per step).

    Args:
        lengths: int (b,) wanted length of each sequence.
        first_fn, next_fn: the generation rule (see ``NextFn``).

    Rows are dropped when the budget runs out; sequences with no labelled
    prefix are removed from the result.
    """
    b = len(lengths)
    lens = np.asarray(lengths, dtype=np.int64).copy()
    T = int(lens.max()) if b else 0
    K = api.k
    seqs = np.full((b, max(T, 1)), -1, np.int64)
    lists = np.full((b, max(T, 1), K), -1, np.int32)
    if b == 0 or T == 0:
        return LabelledSet(seqs[:0], lists[:0], lens[:0], np.zeros(0, bool))
    seqs[:, 0] = first_fn(np.arange(b))
    for t in range(T):
        active = np.flatnonzero(lens > t)
        rem = api.remaining
        if rem is not None and rem < len(active):
            lens[active[max(rem, 0):]] = t  # out of budget: these stop before prefix t
            active = active[: max(rem, 0)]
        if len(active) == 0:
            break
        try:
            ans = api.query(Queries.of([seqs[i, : t + 1] for i in active]), account=account)
        except BudgetExhausted:  # not expected (we fit the batch to the budget), but never overrun
            lens[active] = t
            break
        lists[active, t, : ans.shape[1]] = ans
        grow_rows = active[lens[active] > t + 1]
        if len(grow_rows):
            pos = np.searchsorted(active, grow_rows)
            seqs[grow_rows, t + 1] = next_fn(grow_rows, seqs[grow_rows, : t + 1], ans[pos], t)
    cols = np.arange(seqs.shape[1])[None, :]
    seqs[cols >= lens[:, None]] = -1
    lists[cols >= lens[:, None]] = -1
    keep = lens > 0
    return LabelledSet(seqs[keep], lists[keep], lens[keep], np.zeros(int(keep.sum()), bool))


def generate(
    api: "BlackBoxAPI",
    n_sequences: int,
    length_fn: Callable[[int], np.ndarray],
    first_fn: FirstFn,
    next_fn: NextFn,
    batch: int,
    log: Callable[[str], None] = lambda m: None,
) -> tuple[LabelledSet, float]:
    """Generate up to ``n_sequences`` labelled sequences in batches of ``batch``; stops at the budget.

    Returns the set and the wall-clock seconds spent.
    """
    t0 = time.perf_counter()
    parts: list[LabelledSet] = []
    made = 0
    while made < n_sequences:
        if api.remaining is not None and api.remaining <= 0:
            break
        b = min(batch, n_sequences - made)
        part = grow(api, length_fn(b), first_fn, next_fn)
        parts.append(part)
        made += b
        log(f"extraction: {made}/{n_sequences} sequences generated, {api.queries_used} queries used")
    dt = time.perf_counter() - t0
    if not parts or not any(len(p) for p in parts):
        return LabelledSet.empty(1, api.k), dt
    return LabelledSet.concat(parts), dt


class CappedAPI:
    """A view of a BlackBoxAPI that answers at most ``cap`` more queries (a phase of a larger attack).

    Exposes what the generation code uses (``query``, ``remaining``,
    ``queries_used``, ``k``, ``n_items``); the underlying API still counts and
    enforces its own budget.
    """

    def __init__(self, api: "BlackBoxAPI", cap: int) -> None:
        self._api, self._start, self.cap = api, api.queries_used, int(cap)
        self.k, self.n_items = api.k, api.n_items

    @property
    def queries_used(self) -> int:
        return self._api.queries_used

    @property
    def remaining(self) -> int:
        mine = self.cap - (self._api.queries_used - self._start)
        other = self._api.remaining
        return mine if other is None else min(mine, other)

    def query(self, histories: "Queries | list", account: str = "attacker") -> np.ndarray:
        n = len(histories)
        if n > self.remaining:
            raise BudgetExhausted(f"phase budget of {self.cap} reached")
        return self._api.query(histories, account=account)


# -- DFME generation rules ---------------------------------------------------------------------


def random_rule(n_items: int, rng: np.random.Generator) -> tuple[FirstFn, NextFn]:
    """DFME random: every position uniform over the catalogue (the answers are not used)."""

    def first(rows: np.ndarray) -> np.ndarray:
        return rng.integers(0, n_items, size=len(rows))

    def nxt(rows: np.ndarray, prefixes: np.ndarray, answers: np.ndarray, t: int) -> np.ndarray:
        return rng.integers(0, n_items, size=len(rows))

    return first, nxt


def autoregressive_rule(n_items: int, rng: np.random.Generator) -> tuple[FirstFn, NextFn]:
    """DFME autoregressive: first item uniform, then uniform over the list returned for the prefix."""

    def first(rows: np.ndarray) -> np.ndarray:
        return rng.integers(0, n_items, size=len(rows))

    def nxt(rows: np.ndarray, prefixes: np.ndarray, answers: np.ndarray, t: int) -> np.ndarray:
        valid = answers >= 0
        n_valid = valid.sum(1)
        pick = np.floor(rng.random(len(rows)) * np.maximum(n_valid, 1)).astype(np.int64)
        # answers are left-aligned (defenses may return fewer items): the pick-th valid entry
        out = answers[np.arange(len(rows)), np.minimum(pick, answers.shape[1] - 1)]
        empty = n_valid == 0  # nothing returned: fall back to a uniform item
        if empty.any():
            out[empty] = rng.integers(0, n_items, size=int(empty.sum()))
        return out

    return first, nxt


def teacher_rule(sequences: list[np.ndarray]) -> tuple[FirstFn, NextFn]:
    """Label given (real) sequences: the next item is the sequence's own."""

    def first(rows: np.ndarray) -> np.ndarray:
        return np.asarray([sequences[r][0] for r in rows], dtype=np.int64)

    def nxt(rows: np.ndarray, prefixes: np.ndarray, answers: np.ndarray, t: int) -> np.ndarray:
        return np.asarray([sequences[r][t + 1] for r in rows], dtype=np.int64)

    return first, nxt


def label_sequences(api: "BlackBoxAPI", sequences: list[np.ndarray], batch: int) -> LabelledSet:
    """Label every prefix of the given sequences (in batches, stopping at the budget); marked real."""
    parts = []
    for a in range(0, len(sequences), batch):
        if api.remaining is not None and api.remaining <= 0:
            break
        chunk = sequences[a : a + batch]
        first, nxt = teacher_rule(chunk)
        parts.append(grow(api, np.asarray([len(s) for s in chunk]), first, nxt))
    parts = [p for p in parts if len(p)]
    if not parts:
        return LabelledSet.empty(1, api.k)
    out = LabelledSet.concat(parts)
    out.real[:] = True
    return out


def split_holdout(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) sequence indices; at least one held out when n >= 2 and fraction > 0."""
    perm = rng.permutation(n)
    n_hold = 0 if fraction <= 0 or n < 2 else min(n - 1, max(1, int(round(fraction * n))))
    return np.sort(perm[n_hold:]), np.sort(perm[:n_hold])
