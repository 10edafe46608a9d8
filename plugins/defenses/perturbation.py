"""Output perturbations against model extraction: the baselines of GRO (WSDM 2024) and LLM4MEA.

Each changes only what the black box returns; the victim is untouched. They
apply to every account, the arena's evaluator included, so the stored
``defended.*`` utility shows what they cost benign users. Lists stay valid:
no duplicates, ids in 0..N-1, no history item that the original list did not
already contain; lengths are kept except by ``truncate``.

Shapes: B queries, K list length, N items.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from recsec.defense import Defense
from recsec.params import Param
from recsec.queries import Queries
from recsec.sampling import draw_outside_keys

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import Caller
    from recsec.context import RunContext
    from recsec.data import Split
    from recsec.recommender import Recommender


def _no_flags(queries: Queries) -> np.ndarray:
    return np.zeros(len(queries), dtype=bool)


class RandomPermutation(Defense):
    """One fixed random permutation of the K positions, applied to every list (GRO's "Random" baseline).

    Zhang, Yin, Chen, Long, WSDM 2024 (arXiv 2310.16335), baselines: the
    service draws a permutation once and reorders every top-k list with it, so
    the attacker learns a consistently wrong order (unlike ``list-shuffle``,
    which draws a new permutation per query). The permutation comes from the
    cell's seed (stream ``("random-permutation", seed)``) once ``prepare`` ran,
    else from ``seed`` alone. ``per_call``: as the GRO reference code does, a fresh
    permutation on every call (one for all the lists of a batch: a generation
    step of the attacker, a batch of the evaluation), from the API's stream.
    """

    name = "random-permutation"
    version = "1"
    params = {"seed": Param(0, help="extra seed of the permutation", valid="[0, inf)"),
              "per_call": Param(False, help="a fresh permutation per call, shared by the batch (the reference code)",
                                search=False)}

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._base_seed = int(self.p.seed)
        self._perms: dict[int, np.ndarray] = {}

    def prepare(self, victim: "Recommender", split: "Split", ctx: "RunContext") -> None:
        self._base_seed = ctx.seed_for("random-permutation", self.p.seed)
        self._perms.clear()

    def permutation(self, k: int) -> np.ndarray:
        """The fixed permutation of positions for lists of length ``k``: int64 (k,)."""
        if k not in self._perms:
            self._perms[k] = np.random.default_rng([self._base_seed, k]).permutation(k)
        return self._perms[k]

    def answer(self, queries: Queries, lists: np.ndarray, personalised: np.ndarray, account: "Caller",
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        perm = rng.permutation(lists.shape[1]) if self.p.per_call else self.permutation(lists.shape[1])
        return lists[:, perm], _no_flags(queries)


class Reverse(Defense):
    """Every top-k list returned in reverse order (GRO's "Reverse" baseline, Zhang et al., WSDM 2024)."""

    name = "reverse"
    version = "1"

    def answer(self, queries: Queries, lists: np.ndarray, personalised: np.ndarray, account: "Caller",
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return np.ascontiguousarray(lists[:, ::-1]), _no_flags(queries)


def draw_outside(forbidden: list[np.ndarray], m: int, n_items: int, rng: np.random.Generator) -> np.ndarray:
    """Per row, ``m`` distinct items drawn uniformly outside ``forbidden[row]``: int64 (R, m), -1 if too few exist.

    The sampler of ``recsec.evaluation.sample_negatives``
    (``recsec.sampling.draw_outside_keys``); rows with fewer than ``4 * m``
    allowed items are enumerated directly.
    """
    R = len(forbidden)
    if R == 0 or m == 0:
        return np.full((R, m), -1, dtype=np.int64)
    rows = np.repeat(np.arange(R), [len(f) for f in forbidden])
    seen = np.unique(rows * n_items + np.concatenate(forbidden).astype(np.int64))
    return draw_outside_keys(seen, R, n_items, m, rng, enumerate_factor=4)


class RandomReplacement(Defense):
    """Replace a random ``fraction`` of each list's positions with random items not in the list (LLM4MEA's baseline).

    The defense baseline of LLM4MEA ("Black-box Model Extraction Attacks on
    Sequential Recommenders via Large Language Models"; methods.md section
    5): 10% of each returned list replaced. round(fraction * K)
    positions are chosen uniformly per list; each gets an item drawn
    uniformly from the catalogue outside the list and the query's history
    (distinct within the list). ``n_items`` comes from the victim in
    ``prepare``.
    """

    name = "random-replacement"
    version = "1"
    params = {"fraction": Param(0.1, help="share of each list replaced", low=0.0, high=1.0)}

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._n_items = 0

    def prepare(self, victim: "Recommender", split: "Split", ctx: "RunContext") -> None:
        self._n_items = int(victim.n_items)

    def answer(self, queries: Queries, lists: np.ndarray, personalised: np.ndarray, account: "Caller",
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if self._n_items <= 0:
            raise RuntimeError("random-replacement: prepare() first (it needs the catalogue size)")
        B, K = lists.shape
        m = min(K, int(round(float(self.p.fraction) * K)))
        if m == 0 or B == 0:
            return lists, _no_flags(queries)
        forbidden = [np.concatenate([lists[i], np.asarray(queries.histories[i], dtype=np.int64)]) for i in range(B)]
        new = draw_outside(forbidden, m, self._n_items, rng)  # (B, m)
        slots = np.argsort(rng.random((B, K)), axis=1)[:, :m]  # (B, m) distinct positions per row
        out = lists.copy()
        rows = np.repeat(np.arange(B), m)
        keep = new.ravel() >= 0  # a row with too few outside items keeps some originals
        out[rows[keep], slots.ravel()[keep]] = new.ravel()[keep]
        return out, _no_flags(queries)


class Truncate(Defense):
    """Return only the first ``k`` items of each list (less information per query, same top-k for k' <= k)."""

    name = "truncate"
    version = "1"
    shortens_lists = True
    params = {"k": Param(10, help="items returned per query", low=1, high=100, valid="[1, inf)")}

    def answer(self, queries: Queries, lists: np.ndarray, personalised: np.ndarray, account: "Caller",
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return lists[:, : max(1, int(self.p.k))], _no_flags(queries)
