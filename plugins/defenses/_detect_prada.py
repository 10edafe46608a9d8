"""PRADA's per-account state for item-sequence queries (numpy / scipy only).

Juuti, Szyller, Marchal, Asokan, "PRADA: Protecting Against DNN Model
Stealing Attacks", EuroS&P 2019, Algorithm 1, adapted to recommender
queries (methods.md section 5; the adaptation is ours):

- a query is the SET of items in its history; the distance is the Jaccard
  distance 1 - |a ∩ b| / |a ∪ b| (or the cosine distance of the binary item
  vectors, ``distance="cosine"``);
- per account, a growing set G of earlier queries. For a new query x,
  d_min = min over y in G of d(x, y) is appended to the account's distance
  set D; x joins G when d_min > T, and T = max(T, mean(D_G) - std(D_G)) over
  the distances of G's members (the first query joins G without a distance);
- the alarm statistic is the Shapiro-Wilk W (``scipy.stats.shapiro``) of
  the last ``window`` entries of D; the account is flagged when W < delta
  once |D| >= ``min_queries``. PRADA keys growing sets by the predicted class;
  a recommender has no small label set, so there is one growing set per
  account. G keeps its ``memory`` most recent members (bounded cost).

Shapes: B queries in a batch, N items, M members of G.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import sparse
from scipy.stats import shapiro

#: Fewest distances a W statistic is computed from (scipy's minimum).
MIN_W = 3


def item_matrix(histories: list[np.ndarray], n_items: int, unique: bool = False) -> sparse.csr_matrix:
    """Binary (B, N) CSR matrix of each history's item set (``unique``: the arrays are sets already)."""
    sets = histories if unique else [np.unique(np.asarray(h, dtype=np.int64)) for h in histories]
    indptr = np.r_[0, np.cumsum([len(s) for s in sets])]
    idx = np.concatenate(sets) if sets and indptr[-1] else np.zeros(0, np.int64)
    return sparse.csr_matrix((np.ones(len(idx), np.float32), idx, indptr), shape=(len(sets), n_items))


def pair_distances(a: sparse.csr_matrix, b: sparse.csr_matrix, kind: str = "jaccard") -> np.ndarray:
    """Dense (len(a), len(b)) distances between the item sets; an empty set is at distance 1 from all."""
    inter = np.asarray((a @ b.T).todense(), dtype=np.float64)
    na = np.asarray(a.sum(1), dtype=np.float64)  # (A, 1)
    nb = np.asarray(b.sum(1), dtype=np.float64).T  # (1, B)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "jaccard":
            sim = inter / (na + nb - inter)
        elif kind == "cosine":
            sim = inter / np.sqrt(na * nb)
        else:
            raise ValueError(f"unknown distance {kind!r}")
    return 1.0 - np.nan_to_num(sim, nan=0.0)


def w_statistic(d: np.ndarray) -> float:
    """Shapiro-Wilk W of ``d`` (1.0 when undefined: fewer than 3 values or all equal)."""
    d = np.asarray(d, dtype=np.float64)
    if len(d) < MIN_W or np.ptp(d) == 0:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about p-values for n > 5000; W itself is fine
        return float(shapiro(d).statistic)


class PradaState:
    """One account's growing set, threshold and distance set."""

    def __init__(self, n_items: int, distance: str = "jaccard", memory: int = 5000) -> None:
        self.n_items, self.distance, self.memory = n_items, distance, memory
        self.members: list[np.ndarray] = []  # G (item sets, most recent ``memory``)
        self.member_d: list[float] = []  # D_G
        self.threshold = 0.0
        self.dists: list[float] = []  # D
        self.alarmed = False

    def process(self, histories: list[np.ndarray]) -> np.ndarray:
        """Feed queries in order; returns d_min per query (float (B,), NaN when G was empty)."""
        B = len(histories)
        out = np.full(B, np.nan)
        if B == 0:
            return out
        sets = [np.unique(np.asarray(h, dtype=np.int64)) for h in histories]
        q = item_matrix(sets, self.n_items, unique=True)
        d_g = (pair_distances(q, item_matrix(self.members, self.n_items, unique=True), self.distance).min(1)
               if self.members else np.full(B, np.inf))
        d_q = pair_distances(q, q, self.distance)  # (B, B) within the batch
        added: list[int] = []
        for b in range(B):
            d = d_g[b]
            if added:
                d = min(d, float(d_q[b, added].min()))
            if not np.isfinite(d):  # G empty: the first query founds it
                added.append(b)
                continue
            out[b] = d
            self.dists.append(float(d))
            if d > self.threshold:
                added.append(b)
                self.member_d.append(float(d))
                md = np.asarray(self.member_d)
                self.threshold = max(self.threshold, float(md.mean() - md.std()))
        self.members.extend(sets[b] for b in added)
        if len(self.members) > self.memory:
            del self.members[: len(self.members) - self.memory]
        return out

    def statistic(self, window: int) -> float:
        """W over the last ``window`` distances."""
        return w_statistic(np.asarray(self.dists[-window:]))

    def update_alarm(self, delta: float, min_queries: int, window: int) -> bool:
        """Sticky alarm: set once |D| >= min_queries and W < delta."""
        if not self.alarmed and len(self.dists) >= min_queries and self.statistic(window) < delta:
            self.alarmed = True
        return self.alarmed


def stream_scores(histories: list[np.ndarray], n_items: int, distance: str, memory: int, window: int,
                  delta: float, min_queries: int, batch: int = 256, max_tests: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Replay one account's queries from a fresh state.

    Returns (score float (Q,): 1 - W of the distances so far, 0 before 3 distances;
    flagged bool (Q,): the sticky alarm after each query). W is recomputed after
    every query, or every ceil(Q / max_tests) queries for long streams (held in between).
    """
    n = len(histories)
    st = PradaState(n_items, distance, memory)
    d_min = np.concatenate([st.process(list(histories[a : a + batch])) for a in range(0, n, batch)]) if n else np.zeros(0)
    count = np.cumsum(np.isfinite(d_min))  # |D| after each query
    dists = d_min[np.isfinite(d_min)]
    every = max(1, -(-n // max_tests))
    score = np.zeros(n)
    flagged = np.zeros(n, dtype=bool)
    w, alarm = 1.0, False
    for i in range(n):
        if i % every == 0 or i == n - 1:
            c = int(count[i])
            w = w_statistic(dists[max(0, c - window) : c]) if c >= MIN_W else 1.0
        score[i] = 1.0 - w
        alarm = alarm or (count[i] >= min_queries and w < delta)
        flagged[i] = alarm
    return score, flagged
