"""``synthetic``: the embedded default dataset -- seeded, offline, with learnable structure.

Generative model (all drawn from one ``numpy`` generator seeded by ``seed``):

- user tastes ``U`` (n_users x dim) and item factors ``V`` (n_items x dim),
  Gaussian, scaled so that a taste score ``U_u . V_j`` has unit variance;
- Zipf-like popularity: item ``j`` gets a popularity rank ``r_j`` (a random
  permutation) and the logit bonus ``-zipf_exponent * log(r_j)``;
- sequential dependence: an item ``i`` points to a "successor direction"
  ``V_i R`` (``R`` a random rotation), so the next item after ``i`` is
  favoured when ``(V_i R) . V_j`` is large -- an item-item transition
  affinity that a matrix factorisation cannot express but a sequential model
  can learn;
- each user draws a length ``min_events + Geometric`` (mean ``mean_events``)
  and then items one at a time, without repeats, from
  ``softmax(taste_strength * U_u . V_j + transition_strength * (V_prev R) . V_j + popularity_j)``;
- timestamps: a start within one year, then exponential gaps (mean one day);
- ratings 1-5: the user's taste score for the item, rounded after noise.

So popularity beats uniform guessing, a user-history model (MF) beats
popularity, and an order-aware model beats both. The set carries ratings,
timestamps and orders, so it serves matrix-factorisation and sequential
recommenders alike; its ``family`` is ``"sequential"`` (every sequential set
also carries what an MF model needs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from recsec.data import Interactions
from recsec.dataset import DataContext, Dataset
from recsec.errors import ParameterError
from recsec.params import Param
from recsec.preprocess import one_pass_filter

log = logging.getLogger("recsec.datasets")

_T0 = 1_500_000_000  # 2017-07-14, an arbitrary epoch for the synthetic clock
_DAY = 86_400


@dataclass(frozen=True)
class SyntheticWorld:
    """The generated events plus the latent truth they were drawn from (for tests and diagnostics)."""

    interactions: Interactions
    user_factors: np.ndarray
    item_factors: np.ndarray
    rotation: np.ndarray
    popularity_logit: np.ndarray


def generate(
    n_users: int = 1000,
    n_items: int = 500,
    mean_events: float = 40.0,
    min_events: int = 5,
    dim: int = 8,
    zipf_exponent: float = 1.0,
    taste_strength: float = 2.0,
    transition_strength: float = 2.0,
    seed: int = 0,
) -> SyntheticWorld:
    """Draw a synthetic world; deterministic for given arguments (see the module docstring)."""
    if n_users < 1 or n_items < 2 or dim < 1:
        raise ValueError("synthetic: need n_users >= 1, n_items >= 2, dim >= 1")
    if min_events < 1 or mean_events < min_events:
        raise ValueError("synthetic: need 1 <= min_events <= mean_events")
    rng = np.random.default_rng(seed)
    scale = dim ** -0.25  # unit variance of a dot product of two factor vectors
    U = (rng.standard_normal((n_users, dim)) * scale).astype(np.float32)
    V = (rng.standard_normal((n_items, dim)) * scale).astype(np.float32)
    R = np.linalg.qr(rng.standard_normal((dim, dim)))[0].astype(np.float32)
    rank = rng.permutation(n_items) + 1
    pop = (-zipf_exponent * np.log(rank)).astype(np.float32)

    max_len = max(min_events, n_items // 2)
    extra_mean = mean_events - min_events
    extra = rng.geometric(1.0 / (1.0 + extra_mean), size=n_users) - 1 if extra_mean > 0 else np.zeros(n_users, int)
    lengths = np.minimum(min_events + extra, max_len).astype(np.int64)

    base = taste_strength * (U @ V.T) + pop  # (n_users, n_items)
    trans = transition_strength * ((V @ R) @ V.T)  # (n_items, n_items): prev -> next

    # Users ordered by decreasing length: the still-active users are a prefix.
    by_len = np.argsort(-lengths, kind="stable")
    sorted_len = lengths[by_len]
    seqs = np.empty((n_users, int(sorted_len[0])), dtype=np.int64)
    logits_base = base[by_len]
    consumed = np.zeros((n_users, n_items), dtype=bool)
    prev = np.zeros(n_users, dtype=np.int64)
    for t in range(int(sorted_len[0])):
        k = int(np.searchsorted(-sorted_len, -t, side="left"))  # users with length > t
        logits = logits_base[:k].copy()
        if t > 0:
            logits += trans[prev[:k]]
        logits[consumed[:k]] = -np.inf
        u = rng.random((k, n_items), dtype=np.float32)
        gumbel = -np.log(-np.log(np.clip(u, 1e-12, 1 - 1e-7)))
        choice = np.argmax(logits + gumbel, axis=1)
        seqs[:k, t] = choice
        consumed[np.arange(k), choice] = True
        prev[:k] = choice

    users_sorted = np.repeat(by_len, sorted_len)
    mask = np.arange(seqs.shape[1])[None, :] < sorted_len[:, None]
    items = seqs[mask]

    starts = rng.integers(_T0, _T0 + 365 * _DAY, size=n_users)
    gaps = np.maximum(1, rng.exponential(_DAY, size=len(items))).astype(np.int64)
    first = np.repeat(np.cumsum(sorted_len) - sorted_len, sorted_len)
    csum = np.cumsum(gaps)
    stamps = starts[users_sorted] + csum - csum[first] + gaps[first]

    taste = (U[users_sorted] * V[items]).sum(axis=1)
    noise = rng.normal(0.0, 0.5, size=len(items))
    ratings = np.clip(np.rint(3.0 + 1.2 * taste + noise), 1, 5).astype(np.float32)

    data = Interactions(
        users=users_sorted.astype(np.int64),
        items=items,
        n_users=n_users,
        n_items=n_items,
        ratings=ratings,
        timestamps=stamps.astype(np.int64),
        raw_user_ids=np.arange(n_users, dtype=np.int64),
        raw_item_ids=np.arange(n_items, dtype=np.int64),
        source={"generator": "recsec synthetic"},
    )
    data = data.subset(data.order())
    return SyntheticWorld(data, U, V, R, pop)


class Synthetic(Dataset):
    """Seeded low-rank + Zipf-popularity + item-transition data; the embedded default (no files).

    Generates in a fraction of a second at the default size. Family
    ``sequential``; it carries ratings and timestamps, so MF recommenders use
    it as well.
    """

    name = "synthetic"
    family = "sequential"
    version = "1"
    params = {
        "n_users": Param(1000, help="number of users", valid="[1, inf)"),
        "n_items": Param(500, help="number of items", valid="[2, inf)"),
        "mean_events": Param(40.0, help="mean interactions per user (at least min_events)", valid="[1, inf)"),
        "min_events": Param(5, help="fewest interactions a user gets", valid="[1, inf)"),
        "dim": Param(8, help="rank of the latent taste / item factors", valid="[1, inf)"),
        "zipf_exponent": Param(1.0, help="popularity skew: logit bonus -a*log(rank)", valid="[0, inf)"),
        "taste_strength": Param(2.0, help="weight of the user-taste logit", valid="[0, inf)"),
        "transition_strength": Param(2.0, help="weight of the previous-item transition logit", valid="[0, inf)"),
        "seed": Param(0, help="generator seed", valid="[0, inf)"),
        "min_item_count": Param(0, help="one-pass filter: drop items with fewer interactions; 0 = off", valid="[0, inf)"),
        "min_user_count": Param(0, help="one-pass filter: then drop users with fewer; 0 = off", valid="[0, inf)"),
    }

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        # The one bound that joins two parameters: the generator draws min_events + Geometric.
        if self.p.mean_events < self.p.min_events:
            raise ParameterError(
                f"dataset 'synthetic': mean_events ({self.p.mean_events}) must be at least min_events ({self.p.min_events})"
            )

    def world(self) -> SyntheticWorld:
        p = self.p
        return generate(
            n_users=p.n_users, n_items=p.n_items, mean_events=p.mean_events, min_events=p.min_events,
            dim=p.dim, zipf_exponent=p.zipf_exponent, taste_strength=p.taste_strength,
            transition_strength=p.transition_strength, seed=p.seed,
        )

    def load(self, ctx: DataContext | None = None) -> Interactions:
        data = self.world().interactions
        if self.p.min_item_count > 1 or self.p.min_user_count > 1:
            data = one_pass_filter(data, self.p.min_item_count, self.p.min_user_count)
        log.info("%s: %s", self.instance_name, data.stats())
        return data
