"""FISM: a factored item-similarity model, the torch matrix-factorisation victim of DP-SGD.

Kabbur, Ning, Karypis, "FISM: Factored Item Similarity Models for Top-N Recommender
Systems", KDD 2013. recsec's ``lfm`` updates its factors by hand (no autograd module), so
Opacus cannot train it; FISM is the latent-factor model it can: a ``torch.nn.Module`` with
no per-user parameters, whose every prediction is a function of the item tables and the
user's history. DP-SGD on it (``recsec.plugins.defenses.dp_sgd``) with one sample per user
is user-level differential privacy for the whole served model (Abadi et al., CCS 2016).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from recsec.params import Param
from recsec.queries import Queries
from recsec.recommender import Recommender, TrainReport

from ._mf_common import known_mask, lookup_known

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from recsec.context import RunContext
    from recsec.data import Split

    from ._fism import FISMNet, Privatizer


class FISM(Recommender):
    """FISM (Kabbur et al., KDD 2013): score(h, j) = b_j + |h|^-alpha sum_{i in h} w_i . q_j, trained by Adam on sampled zeros.

    FISMrmse: squared error of 1 on each training interaction and 0 on ``neg_ratio`` uniform
    negatives per interaction, drawn afresh every epoch; a positive j is predicted from the
    history without j (the paper's self-exclusion), with weight decay ``reg`` (Adam's) on
    every table. One training sample is one user: its at most ``max_items`` interactions and
    their negatives (the loss a mean over them), ``batch_size`` users per step. No user bias
    (it never changes a user's ranking) and no user factors: a member and a non-member with
    the same history get the same list, so under the realistic membership protocol the
    model itself is all an attacker can read. ``knows`` reports the training users, so a
    service with a most-popular fallback can still tell them apart (the popular protocol).

    ``fit(split, ctx, private=...)`` lets a training-time defense wrap the module, optimizer
    and loader before the first step (DP-SGD: ``dp-sgd``). Training statistics: ``epochs``,
    ``loss_first``, ``loss``, ``users``.
    """

    name = "fism"
    family = "general"
    version = "1"
    #: ``fit`` accepts ``private=`` (a wrapper of module, optimizer and loader, e.g. Opacus's).
    private_training = True
    params = {
        "dim": Param(64, help="latent factors per item (both tables)", low=8, high=256, log=True, valid="[1, inf)"),
        "alpha": Param(0.5, help="history-length normalisation exponent (FISM's alpha)", low=0.0, high=1.0,
                       valid="[0, 1]"),
        "optimizer": Param("adam", choices=("adam", "sgd"), help="Adam, or SGD with momentum 0.9 (DP-SGD's usual choice)"),
        "lr": Param(0.001, help="learning rate", low=1e-4, high=0.1, log=True, valid="(0, inf)"),
        "reg": Param(0.0, help="Adam weight decay on every table", low=0.0, high=0.01, valid="[0, inf)"),
        "epochs": Param(30, help="passes over the training users", low=5, high=200, log=True, valid="[1, inf)"),
        "batch_size": Param(32, help="users per step", low=8, high=512, log=True, valid="[1, inf)"),
        "neg_ratio": Param(3, help="uniform negatives per interaction per epoch", low=1, high=10, valid="[1, inf)"),
        "max_items": Param(200, help="at most this many of a user's interactions per step (a fresh sample each time)",
                           valid="[1, inf)"),
        "init_std": Param(0.01, help="standard deviation of the initial factors", valid="(0, inf)"),
    }

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self.net: "FISMNet | None" = None
        self._known = np.zeros(0, dtype=bool)

    def fit(self, split: "Split", ctx: "RunContext", private: "Privatizer | None" = None) -> TrainReport:
        import torch

        from ._fism import FISMNet, train_fism

        data = split.train
        self.device, self.n_items = ctx.device, data.n_items
        seqs = [np.unique(s) for s in data.sequences()]
        users = np.flatnonzero([len(s) > 0 for s in seqs]).astype(np.int64)
        init_seed = ctx.seed_for("fism", "init")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            self.net = FISMNet(self.n_items, int(self.p.dim), float(self.p.alpha), float(self.p.init_std)).to(ctx.device)
        p = self.p
        losses = train_fism(self.net, seqs, users, optimizer=str(p.optimizer), lr=float(p.lr), weight_decay=float(p.reg), epochs=int(p.epochs),
                            batch_size=int(p.batch_size), neg_ratio=int(p.neg_ratio), max_items=int(p.max_items),
                            seed=ctx.seed_for("fism", "batches"), device=ctx.device, private=private)
        self._known = known_mask(users, data.n_users)
        stats = {"epochs": float(len(losses)), "loss_first": losses[0] if losses else float("nan"),
                 "loss": losses[-1] if losses else float("nan"), "users": float(len(users))}
        return TrainReport(stats, init_seed=init_seed, curve=[{"epoch": float(i + 1), "loss": v} for i, v in enumerate(losses)])

    def knows(self, users: np.ndarray) -> np.ndarray:
        return lookup_known(self._known, users)

    def score(self, queries: Queries) -> "torch.Tensor":
        import torch

        from ._fism import fism_scores

        assert self.net is not None, "fit() or load_state() first"
        with torch.no_grad():
            return fism_scores(self.net, queries.histories)

    def state(self) -> dict[str, Any]:
        assert self.net is not None, "nothing to save: fit() first"
        return {"n_items": self.n_items, "dim": int(self.p.dim), "alpha": float(self.p.alpha),
                "weights": {k: v.detach().cpu() for k, v in self.net.state_dict().items()}, "known": self._known.copy()}

    def load_state(self, state: dict[str, Any]) -> None:
        import torch

        from ._fism import FISMNet

        self.n_items = int(state["n_items"])
        self.net = FISMNet(self.n_items, int(state["dim"]), float(state["alpha"]), 1.0)
        self.net.load_state_dict(state["weights"])
        self.net.to(self.device if self.device is not None else torch.device("cpu")).eval()
        self._known = np.asarray(state["known"], dtype=bool)

    def to(self, device: Any) -> "FISM":
        self.device = device
        if self.net is not None:
            self.net.to(device)
        return self
