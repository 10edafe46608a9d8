"""Popularity randomization against membership inference (Zhang et al., CCS 2021)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from recsec.defense import Defense
from recsec.params import Param
from recsec.queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import Caller
    from recsec.context import RunContext
    from recsec.data import Split
    from recsec.recommender import Recommender


class PopularityRandomization(Defense):
    """Non-personalised lists become a random sample of the popular items (Zhang et al., CCS 2021, section 7).

    Zhang, Ren, Wang, Ren, Chen, Hu, Zhang, "Membership Inference Attacks
    Against Recommender Systems" (CCS 2021): the fixed most-popular list that
    a service returns to users it has no model of is what gives most of them
    away, so each such list (``personalised`` False) is replaced by N_rec
    items drawn uniformly without replacement, in random order, from the
    N_cand most popular training items, N_rec / N_cand = ``ratio`` (0.1 in
    the paper). N_rec is the list length K; N_cand = ``n_cand`` when set,
    else ceil(K / ratio), clipped to [K, catalogue size]. With
    ``exclude_history`` the query's own items are drawn only when too few
    other candidates remain. Personalised lists are left unchanged.
    """

    name = "popularity-randomization"
    version = "1"
    params = {
        "ratio": Param(0.1, help="N_rec / N_cand (Zhang et al.: 0.1)", low=0.01, high=1.0, log=True, valid="(0, 1]"),
        "n_cand": Param(0, help="size of the candidate pool (0: list length / ratio)", valid="[0, inf)"),
        "exclude_history": Param(True, help="avoid the query's own items when sampling"),
    }

    def __init__(self, **given) -> None:
        super().__init__(**given)
        self._ranking: np.ndarray | None = None  # item ids, most popular first

    def skip(self, **context) -> str | None:
        attack = context.get("attack")
        if attack is not None and attack.serving().cold_start != "popular":
            return (f"popularity-randomization changes only cold-start lists, and {attack.name}'s service "
                    "personalises every list (cold_start = model)")
        return None

    def prepare(self, victim: "Recommender", split: "Split", ctx: "RunContext") -> None:
        self._ranking = split.train.popularity_ranking()

    def pool_size(self, k: int) -> int:
        """N_cand for lists of length ``k``."""
        assert self._ranking is not None, "prepare() first"
        n = int(self.p.n_cand) if self.p.n_cand > 0 else math.ceil(k / float(self.p.ratio) - 1e-9)
        return int(min(max(n, k), len(self._ranking)))

    def answer(
        self,
        queries: Queries,
        lists: np.ndarray,
        personalised: np.ndarray,
        account: "Caller",
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        flags = np.zeros(len(queries), dtype=bool)
        rows = np.flatnonzero(~np.asarray(personalised, dtype=bool))
        if len(rows) == 0:
            return lists, flags
        assert self._ranking is not None, "prepare() first"
        k = lists.shape[1]
        cands = self._ranking[: self.pool_size(k)]
        keys = rng.random((len(rows), len(cands)))  # (R, N_cand): a random order of the pool per row
        if self.p.exclude_history:
            pos = np.full(len(self._ranking), -1, dtype=np.int64)
            pos[cands] = np.arange(len(cands))
            r, items = Queries([queries.histories[i] for i in rows]).history_mask_indices()
            p = pos[items]
            hit = p >= 0
            keys[r[hit], p[hit]] += 1.0  # history items go after every other candidate
        pick = np.argsort(keys, axis=1)[:, :k]
        out = lists.copy()
        out[rows] = cands[pick]
        return out, flags
