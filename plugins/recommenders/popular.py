"""Most-popular recommender: the non-personalised baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from recsec.queries import Queries
from recsec.recommender import Recommender

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from recsec.context import RunContext
    from recsec.data import Split


class MostPopular(Recommender):
    """Most popular: every query gets the items ranked by their number of training interactions.

    Holds no per-user state, so ``knows`` is False for everybody: behind a
    ``cold_start="popular"`` API every user receives the fallback list, and
    members cannot be told from non-members by their lists.
    """

    name = "popular"
    family = "general"
    version = "1"
    params: dict = {}

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._counts = np.zeros(0, dtype=np.float32)  # (N,)

    def fit(self, split: "Split", ctx: "RunContext") -> dict[str, float]:
        self.device = ctx.device
        self.n_items = split.train.n_items
        self._counts = split.train.item_counts().astype(np.float32)
        return {"items_seen": float((self._counts > 0).sum())}

    def score(self, queries: Queries) -> "torch.Tensor":
        """(B, N) interaction counts, identical rows."""
        import torch

        row = torch.as_tensor(self._counts, device=self.device)
        return row.unsqueeze(0).expand(len(queries), -1).clone()

    def state(self) -> dict[str, Any]:
        return {"n_items": self.n_items, "counts": self._counts.copy()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.n_items = int(state["n_items"])
        self._counts = np.asarray(state["counts"], dtype=np.float32)
