"""A recommender: EASE, a closed-form item-item model.

Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019: the item-item
weights B minimise ||X - XB||^2 + lam ||B||^2 subject to diag(B) = 0, whose solution is
B = I - P diag(1 / diag(P)) with P = (X^T X + lam I)^-1 (X: the binary user-item matrix).
A history x is scored as x B. The N x N inverse suits catalogues of a few thousand items.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from recsec.context import RunContext
from recsec.data import Split
from recsec.params import Param
from recsec.queries import Queries
from recsec.recommender import Recommender, TrainReport


class EASE(Recommender):
    """EASE (Steck, WWW 2019): closed-form item-item regression, scored from the history.

    A user seen in training (``knows``) is scored from the query's history joined with
    the items the model holds for that user when ``use_profile`` is on.
    """

    name = "ease"
    family = "general"  # keeps per-user state: membership attacks apply
    version = "1"
    params = {
        "lam": Param(100.0, help="L2 penalty of the item-item weights", low=1.0, high=1e4, log=True, valid="(0, inf)"),
        "use_profile": Param(True, help="join a known user's training items to the query history"),
    }

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self.device = torch.device("cpu")
        self._weights = np.zeros((0, 0), dtype=np.float32)  # (N, N) B
        self._offsets = np.zeros(1, dtype=np.int64)  # (U + 1,) each user's slice of _items
        self._items = np.zeros(0, dtype=np.int64)  # training items, grouped by user

    def fit(self, split: Split, ctx: RunContext) -> TrainReport:
        train = split.train
        self.n_items = train.n_items
        x = np.zeros((train.n_users, train.n_items), dtype=np.float64)
        x[train.users, train.items] = 1.0  # binary: a repeated event counts once
        gram = x.T @ x + float(self.p.lam) * np.eye(train.n_items)
        p = np.linalg.inv(gram)
        weights = -p / np.diag(p)[None, :]
        np.fill_diagonal(weights, 0.0)
        self._weights = weights.astype(np.float32)
        order = np.argsort(train.users, kind="stable")
        self._items = train.items[order].astype(np.int64)
        self._offsets = np.searchsorted(train.users[order], np.arange(train.n_users + 1)).astype(np.int64)
        self._to_device()
        return TrainReport(stats={"pairs": float(x.sum()), "users": float(train.n_users)})

    def knows(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        n_users = len(self._offsets) - 1
        ok = (users >= 0) & (users < n_users)
        known = np.zeros(len(users), dtype=bool)
        known[ok] = self._offsets[users[ok] + 1] > self._offsets[users[ok]]
        return known

    def score(self, queries: Queries) -> torch.Tensor:
        """(B, N) scores x B, x the 0/1 vector of the history (plus the stored profile)."""
        rows, cols = queries.history_mask_indices()
        if self.p.use_profile:
            users = queries.user_ids()
            for row in np.flatnonzero(self.knows(users)):
                mine = self._items[self._offsets[users[row]] : self._offsets[users[row] + 1]]
                rows, cols = np.concatenate([rows, np.full(len(mine), row)]), np.concatenate([cols, mine])
        h = torch.zeros((len(queries), self.n_items), dtype=torch.float32, device=self.device)
        if len(rows):
            h[torch.as_tensor(rows, device=self.device), torch.as_tensor(cols, device=self.device)] = 1.0
        return h @ self._b

    # -- checkpoints: plain arrays and numbers only (recsec.safefiles) --------------------------
    def state(self) -> dict[str, Any]:
        return {"n_items": self.n_items, "weights": self._weights, "offsets": self._offsets, "items": self._items}

    def load_state(self, state: dict[str, Any]) -> None:
        self.n_items = int(state["n_items"])
        self._weights = np.asarray(state["weights"], dtype=np.float32)
        self._offsets = np.asarray(state["offsets"], dtype=np.int64)
        self._items = np.asarray(state["items"], dtype=np.int64)
        self._to_device()

    def to(self, device: Any) -> "EASE":
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self._to_device()
        return self

    def _to_device(self) -> None:
        self._b = torch.as_tensor(self._weights, device=self.device)
