"""The defense contract: training-time, output-time and detection defenses.

A defense may act at three points; each has a no-op default, so a defense overrides
only what it does:

1. ``train_victim`` replaces the victim's training (e.g. GRO). Set ``trains_victim = True``
   so the victim's cache key includes the defense.
2. ``prepare`` runs once after training, before any query (read the popularity ranking,
   fit a detector).
3. ``answer`` sees every batch of queries with the victim's lists and returns the lists
   to send (perturbed, truncated, refused) plus a flag per query. Lists keep their
   length unless the class sets ``shortens_lists`` (then rows may end in -1 padding);
   they hold distinct items and, when the service excludes history, no item of the
   query's history the victim's own list did not hold (the black box checks this).

Query detectors subclass ``recsec.detection.QueryDetector``: the core's detection judge
scores them against benign traffic. Defenses never score themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from .component import Component
from .queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    from .blackbox import Caller
    from .context import RunContext
    from .data import Split
    from .recommender import Recommender, TrainReport


class Defense(Component):
    """Base class of every defense; the default is no defense at all."""

    kind: ClassVar[str] = "defense"
    trains_victim: ClassVar[bool] = False
    #: ``answer`` may return fewer than K items per list (right-padded with -1, or narrower).
    shortens_lists: ClassVar[bool] = False

    def train_victim(self, recommender: "Recommender", split: "Split", ctx: "RunContext") -> "TrainReport | dict[str, float]":
        """Train ``recommender`` on ``split``; training-time defenses override this."""
        return recommender.fit(split, ctx)

    def prepare(self, victim: "Recommender", split: "Split", ctx: "RunContext") -> None:
        """Called once after training and before the first query."""

    def answer(
        self,
        queries: Queries,
        lists: np.ndarray,
        personalised: np.ndarray,
        account: "Caller",
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the lists to send for ``queries`` and a bool flag per query.

        Args:
            queries: the batch (B requests).
            lists: int64 (B, K) the victim's top-K, best first.
            personalised: bool (B,) False where the list is the cold-start fallback.
            account: who asked, an opaque ``recsec.blackbox.Caller`` (``account.id``): the same for
                every batch of one account, never saying whether it is an attacker, the judge's
                evaluator (one account per test user) or a benign user. One call per account.
            rng: the API's random stream (seeded from the cell).
        Returns:
            (lists to send, int64 (B, K) (or (B, K') with K' <= K when ``shortens_lists``);
            flags, bool (B,)).
        """
        return lists, np.zeros(len(queries), dtype=bool)


class Undefended(Defense):
    """No defense: what an arena serves through when it is given none (the registered ``none``
    defense behaves the same)."""

    name = "none"
