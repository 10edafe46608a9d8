"""Latent factor model (LFM) trained by stochastic gradient descent on implicit feedback.

The victim of Hu, "Membership Inference Attacks Against Latent Factor Model"
(arXiv 2301.03596; SGD with learning rate 0.01 and regularisation 0.01 on
MovieLens latest-small) and one of the three recommenders of Zhang et al.,
"Membership Inference Attacks Against Recommender Systems" (CCS 2021).
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


class LFM(Recommender):
    """Latent factor model: score(u, i) = p_u . q_i, fitted by mini-batch SGD with sampled negatives.

    Training (implicit top-k, the classic LFM recipe): every observed (user,
    item) pair is a positive with target 1; each epoch draws ``neg_ratio``
    fresh negatives per positive with target 0, from items in proportion to
    their training popularity (``neg_sampling="popularity"``, so that a
    popular item the user skipped counts as a stronger negative than an
    obscure one) or uniformly; sampled pairs that are positives are dropped.
    Loss per example: squared error plus ``reg/2`` times the squared norms of
    both factor vectors; plain SGD with step ``lr`` per example, vectorised in
    mini-batches of ``batch_size`` (see ``_mf.sgd_epoch``), learning rate
    multiplied by ``lr_decay`` after every epoch.

    Serving: users seen in training (``knows``) are scored with their trained
    factors; any other query is folded in: its factors are the closed-form
    regularised least-squares fit of its history against the frozen item
    factors, with the negatives' expected contribution (``_mf.fold_in``). An
    empty history gets the popularity ranking. Items absent from training
    keep zero factors (score 0).
    """

    name = "lfm"
    family = "general"
    version = "1"
    params = {
        "dim": Param(100, help="latent factors per user and item", low=8, high=256, log=True, valid="[1, inf)"),
        "lr": Param(0.01, help="SGD step size per example (Hu: 0.01)", low=1e-3, high=0.1, log=True, valid="(0, inf)"),
        "reg": Param(0.01, help="L2 regularisation per example (Hu: 0.01)", low=1e-4, high=0.1, log=True, valid="[0, inf)"),
        "epochs": Param(30, help="passes over the positives (fresh negatives each time)", low=5, high=200, log=True, valid="[1, inf)"),
        "neg_ratio": Param(1, help="negatives sampled per positive per epoch", low=1, high=8, valid="[1, inf)"),
        "neg_sampling": Param("popularity", help="how negatives are drawn", choices=("popularity", "uniform")),
        "batch_size": Param(256, help="examples per vectorised SGD step", low=32, high=4096, log=True, valid="[1, inf)"),
        "lr_decay": Param(1.0, help="learning-rate factor applied after each epoch", low=0.8, high=1.0, valid="(0, 1]"),
        "init_std": Param(0.1, help="standard deviation of the initial factors", low=0.01, high=0.5, log=True, valid="(0, inf)"),
    }

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._P: "torch.Tensor | None" = None  # (U, d)
        self._Q: "torch.Tensor | None" = None  # (N, d)
        self._G: "torch.Tensor | None" = None  # (d, d) expected negative outer product
        self._probs: "torch.Tensor | None" = None  # (N,) negative-sampling distribution
        self._known = np.zeros(0, dtype=bool)  # (U,)
        self._pop: "torch.Tensor | None" = None  # (N,) popularity scores for empty histories
        self.history: list[float] = []  # training loss per epoch

    # -- training --------------------------------------------------------------------------------
    def fit(self, split: "Split", ctx: "RunContext") -> dict[str, float]:
        import torch

        from ._mf import negative_gram, sgd_epoch

        data = split.train
        self.device = ctx.device
        self.n_items = N = data.n_items
        U, d = data.n_users, int(self.p.dim)
        pos_u, pos_i = unique_pairs(data)
        pos_keys = pos_u * N + pos_i  # sorted
        counts = np.bincount(pos_i, minlength=N).astype(np.float64)
        if self.p.neg_sampling == "popularity":
            probs = counts / max(counts.sum(), 1.0)
        else:
            probs = np.full(N, 1.0 / N)

        gen = ctx.torch_generator("lfm", "init")
        P = torch.randn(U, d, generator=gen) * self.p.init_std
        Q = torch.randn(N, d, generator=gen) * self.p.init_std
        Q[torch.as_tensor(counts == 0)] = 0.0  # never seen in training: no information, score 0
        P, Q = P.to(ctx.device), Q.to(ctx.device)

        rng = ctx.rng("lfm", "epochs")
        ratio = int(self.p.neg_ratio)
        lr = float(self.p.lr)
        self.history = []
        for _ in range(int(self.p.epochs)):
            neg_u = np.repeat(pos_u, ratio)
            neg_i = rng.choice(N, size=len(neg_u), p=probs)
            keys = neg_u * N + neg_i
            at = np.minimum(np.searchsorted(pos_keys, keys), len(pos_keys) - 1)
            keep = pos_keys[at] != keys
            u = np.concatenate([pos_u, neg_u[keep]])
            i = np.concatenate([pos_i, neg_i[keep]])
            y = np.concatenate([np.ones(len(pos_u), np.float32), np.zeros(int(keep.sum()), np.float32)])
            perm = rng.permutation(len(u))
            loss = sgd_epoch(
                P,
                Q,
                torch.as_tensor(u[perm], device=ctx.device),
                torch.as_tensor(i[perm], device=ctx.device),
                torch.as_tensor(y[perm], device=ctx.device),
                lr=lr,
                reg=float(self.p.reg),
                batch_size=int(self.p.batch_size),
            )
            self.history.append(loss)
            lr *= float(self.p.lr_decay)

        self._P, self._Q = P, Q
        self._probs = torch.as_tensor(probs, dtype=Q.dtype, device=Q.device)
        self._G = negative_gram(Q, self._probs)
        self._known = known_mask(pos_u, U)
        self._pop = torch.as_tensor(counts / max(counts.max(), 1.0), dtype=Q.dtype, device=Q.device)
        return {
            "epochs": float(len(self.history)),
            "loss_first": float(self.history[0]) if self.history else float("nan"),
            "loss": float(self.history[-1]) if self.history else float("nan"),
            "users": float(self._known.sum()),
            "positives": float(len(pos_u)),
        }

    # -- serving ---------------------------------------------------------------------------------
    def knows(self, users: np.ndarray) -> np.ndarray:
        return lookup_known(self._known, users)

    def user_factors(self, queries: Queries) -> "torch.Tensor":
        """(B, d) factors: trained ones for known users, fold-in for the others."""
        import torch

        from ._mf import fold_in

        assert self._P is not None and self._Q is not None and self._G is not None, "fit() or load_state() first"
        users = queries.user_ids()
        known = self.knows(users)
        out = torch.empty((len(queries), self._Q.shape[1]), dtype=self._Q.dtype, device=self._Q.device)
        if known.any():
            idx = torch.as_tensor(np.flatnonzero(known), device=out.device)
            out[idx] = self._P[torch.as_tensor(users[known], device=out.device)]
        if (~known).any():
            rows = np.flatnonzero(~known)
            out[torch.as_tensor(rows, device=out.device)] = fold_in(
                self._Q,
                self._G,
                self._probs,
                [queries.histories[r] for r in rows],
                neg_ratio=float(self.p.neg_ratio),
                reg=float(self.p.reg),
            )
        return out

    def score(self, queries: Queries) -> "torch.Tensor":
        """(B, N) scores p . q_i; unknown users with an empty history get item popularity."""
        factors = self.user_factors(queries)
        scores = factors @ self._Q.T
        empty = np.fromiter((len(h) == 0 for h in queries.histories), dtype=bool, count=len(queries))
        empty &= ~self.knows(queries.user_ids())
        if empty.any():
            import torch

            scores[torch.as_tensor(np.flatnonzero(empty), device=scores.device)] = self._pop
        return scores

    # -- checkpoints -----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        assert self._P is not None, "nothing to save: fit() first"
        return {
            "n_items": self.n_items,
            "P": self._P.detach().cpu(),
            "Q": self._Q.detach().cpu(),
            "G": self._G.detach().cpu(),
            "probs": self._probs.detach().cpu(),
            "pop": self._pop.detach().cpu(),
            "known": self._known.copy(),
            "history": list(self.history),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        import torch

        dev = self.device if self.device is not None else torch.device("cpu")
        self.n_items = int(state["n_items"])
        self._P, self._Q, self._G, self._probs, self._pop = (state[k].to(dev) for k in ("P", "Q", "G", "probs", "pop"))
        self._known = np.asarray(state["known"], dtype=bool)
        self.history = list(state.get("history", []))

    def to(self, device: Any) -> "LFM":
        self.device = device
        if self._P is not None:
            self._P, self._Q, self._G, self._probs, self._pop = (
                t.to(device) for t in (self._P, self._Q, self._G, self._probs, self._pop)
            )
        return self
