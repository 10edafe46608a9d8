"""Random permutation of the returned lists (an output-perturbation defense)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from recsec.defense import Defense
from recsec.params import Param
from recsec.queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import Caller


class ListShuffle(Defense):
    """Randomly permute each returned list, or only its first ``top_m`` positions.

    Hides the victim's ranking order while keeping the set of items (and the
    list length): attacks that weight items by rank, such as the
    membership-inference features of Zhang et al. (CCS 2021), lose that part
    of the signal; utility measured by set overlap (HR@K with K the list
    length) is unchanged, rank-sensitive utility (NDCG, HR@10 of a top-100
    list) drops. ``top_m = 0`` shuffles the whole list; ``personalised_only``
    leaves the cold-start fallback lists untouched.
    """

    name = "list-shuffle"
    version = "1"
    params = {
        "top_m": Param(0, help="shuffle only the first m positions (0: the whole list)", low=0, high=100, valid="[0, inf)"),
        "personalised_only": Param(False, help="shuffle only personalised lists"),
    }

    def answer(
        self,
        queries: Queries,
        lists: np.ndarray,
        personalised: np.ndarray,
        account: "Caller",
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        flags = np.zeros(len(queries), dtype=bool)
        k = lists.shape[1]
        m = k if self.p.top_m <= 0 else min(int(self.p.top_m), k)
        rows = np.flatnonzero(personalised) if self.p.personalised_only else np.arange(len(lists))
        if len(rows) == 0 or m < 2:
            return lists, flags
        perm = np.argsort(rng.random((len(rows), m)), axis=1)  # (R, m) a uniform permutation per row
        out = lists.copy()
        out[rows, :m] = np.take_along_axis(lists[rows, :m], perm, axis=1)
        return out, flags
