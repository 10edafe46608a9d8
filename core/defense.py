"""The defense contract: training-time, output-time and detection defenses.

A defense may act at three points; each has a no-op default, so a defense
overrides only what it does:

1. ``train_victim`` replaces the victim's training (e.g. GRO). Set
   ``trains_victim = True`` so the victim cache key includes the defense.
2. ``prepare`` runs once after training, before any query (fit a detector,
   read the popularity ranking).
3. ``answer`` sees every batch of queries with the victim's lists and returns
   the lists to send (perturbed, truncated, refused) plus a flag per query.

``metrics`` is called after the attack with the API's query log, for
detection scores (AUROC per query and per account, benign users refused).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from .component import Component
from .queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    from .blackbox import QueryLog
    from .context import RunContext
    from .data import Split
    from .recommender import Recommender


class Defense(Component):
    """Base class of every defense; the default is no defense at all."""

    kind: ClassVar[str] = "defense"
    trains_victim: ClassVar[bool] = False
    #: metric name -> True when higher is better (for tuning and leaderboards).
    metric_directions: ClassVar[dict[str, bool]] = {}

    def train_victim(self, recommender: "Recommender", split: "Split", ctx: "RunContext") -> dict[str, float]:
        """Train ``recommender`` on ``split``; training-time defenses override this."""
        return recommender.fit(split, ctx)

    def init_seed_labels(self, recommender: "Recommender") -> tuple[str, ...] | None:
        """The labels of the seed of the first network ``train_victim`` draws for ``recommender``.

        Called by the runner before an attack (see ``Recommender.init_seed_labels``);
        a training-time defense that draws another network first overrides it.
        Returns the recommender's own labels by default.
        """
        return recommender.init_seed_labels()

    def prepare(self, victim: "Recommender", split: "Split", ctx: "RunContext") -> None:
        """Called once after training and before the first query."""

    def answer(
        self,
        queries: Queries,
        lists: np.ndarray,
        personalised: np.ndarray,
        account: str,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the lists to send for ``queries`` and a bool flag per query.

        Args:
            queries: the batch (B requests).
            lists: int64 (B, K) the victim's top-K, best first.
            personalised: bool (B,) False where the list is the cold-start fallback.
            account: who asked (``"evaluator"`` for the runner's utility check).
            rng: the API's random stream (seeded from the cell).
        Returns:
            (lists to send, int64 (B, K') with K' <= K; flags, bool (B,)).
        """
        return lists, np.zeros(len(queries), dtype=bool)

    def metrics(self, log: "QueryLog", ctx: "RunContext") -> dict[str, float]:
        """Defense-side metrics after the attack (detectors report AUROC etc. here)."""
        return {}
