"""Item-based collaborative filtering with cosine item-item similarity.

One of the three recommenders of Zhang et al., "Membership Inference Attacks
Against Recommender Systems" (CCS 2021): items a user interacted with vote for
the items most similar to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from recsec.params import Param
from recsec.queries import Queries
from recsec.recommender import Recommender

from ._mf_common import known_mask, lookup_known, unique_pairs

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from recsec.context import RunContext
    from recsec.data import Split


class ItemCF(Recommender):
    """Item-based CF: score(h, j) = sum_{i in h} cos(i, j) over the binary training matrix X (U x N).

    ``cos(i, j) = c_ij / sqrt(n_i n_j)`` with ``c = X^T X`` (co-interaction
    counts) and ``n_i`` the number of users of item i. The N x N similarity
    matrix is never materialised: for a batch of binary histories H (B x N),
    ``scores = ((H D^-1/2) X^T X) D^-1/2`` is two sparse-dense products
    through the user dimension (memory B x (U + N)).

    The history of a query is its item list; for a user seen in training
    (``knows``) it is joined with that user's training interactions when
    ``use_profile`` is on (the account's stored profile).
    """

    name = "itemcf"
    family = "general"
    version = "1"
    params = {
        "use_profile": Param(True, help="join a known user's training interactions to the query history"),
    }

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._users = np.zeros(0, dtype=np.int64)  # (E,) distinct training pairs, sorted by user
        self._items = np.zeros(0, dtype=np.int64)
        self._n_users = 0

    def fit(self, split: "Split", ctx: "RunContext") -> dict[str, float]:
        self.device = ctx.device
        self.n_items = split.train.n_items
        self._n_users = split.train.n_users
        self._users, self._items = unique_pairs(split.train)
        self._build()
        return {"pairs": float(len(self._users)), "users": float(self._known.sum())}

    def _build(self) -> None:
        """Derived structures: the sparse matrices on the device, norms, per-user offsets."""
        import torch

        dev = self.device if self.device is not None else torch.device("cpu")
        U, N = self._n_users, self.n_items
        counts = np.bincount(self._items, minlength=N).astype(np.float64)
        dinv = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1.0)), 0.0)
        idx = torch.as_tensor(np.stack([self._users, self._items]))
        ones = torch.ones(len(self._users), dtype=torch.float32)
        self._X = torch.sparse_coo_tensor(idx, ones, (U, N), check_invariants=True).coalesce().to(dev)  # (U, N)
        self._Xt = torch.sparse_coo_tensor(idx.flip(0), ones, (N, U), check_invariants=True).coalesce().to(dev)  # (N, U)
        self._dinv = torch.as_tensor(dinv, dtype=torch.float32, device=dev)  # (N,)
        self._known = known_mask(self._users, U)
        self._offsets = np.searchsorted(self._users, np.arange(U + 1))

    def knows(self, users: np.ndarray) -> np.ndarray:
        return lookup_known(self._known, users)

    def score(self, queries: Queries) -> "torch.Tensor":
        """(B, N) summed cosine similarities to the history items."""
        import torch

        rows, cols = queries.history_mask_indices()
        if self.p.use_profile:
            users = queries.user_ids()
            known = np.flatnonzero(self.knows(users))
            if len(known):
                lo, hi = self._offsets[users[known]], self._offsets[users[known] + 1]
                lens = hi - lo
                pos = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(lo, lens)
                rows = np.concatenate([rows, np.repeat(known, lens)])
                cols = np.concatenate([cols, self._items[pos]])
        dev = self._dinv.device
        H = torch.zeros((len(queries), self.n_items), dtype=torch.float32, device=dev)
        if len(rows):
            H[torch.as_tensor(rows, device=dev), torch.as_tensor(cols, device=dev)] = 1.0
        T = torch.sparse.mm(self._X, (H * self._dinv).T)  # (U, B)
        S = torch.sparse.mm(self._Xt, T)  # (N, B)
        return S.T * self._dinv

    def state(self) -> dict[str, Any]:
        return {"n_items": self.n_items, "n_users": self._n_users, "users": self._users.copy(), "items": self._items.copy()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.n_items = int(state["n_items"])
        self._n_users = int(state["n_users"])
        self._users = np.asarray(state["users"], dtype=np.int64)
        self._items = np.asarray(state["items"], dtype=np.int64)
        self._build()

    def to(self, device: Any) -> "ItemCF":
        self.device = device
        if len(self._users) or self.n_items:
            self._build()
        return self
