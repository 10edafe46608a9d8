"""The base class of recsec's sequential recommenders (SASRec, BERT4Rec, NARM, GRU4Rec, and third-party ones).

Importing this module does not import torch: the networks live in
``transformer`` / ``recurrent`` and the training loop in ``trainer``,
imported when a model is built.

Conventions (core/queries.py): item ids 0..N-1 outside the model; inside,
``id + 1`` with 0 the padding token (BERT4Rec adds N + 1 as its mask token).
``score`` drops those extra columns, so nothing outside ever sees them.
The parameters the trainer reads, and the reference configuration they
default to, are in ``params``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from recsec.queries import Queries
from recsec.recommender import Recommender, TrainReport

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from recsec.context import RunContext
    from recsec.data import Split


class SequentialRecommender(Recommender):
    """Scores the next item from the item history alone (``family = "sequential"``).

    Subclasses set ``name``, ``params`` (``params.COMMON_PARAMS`` at least:
    the trainer reads them) and implement ``_build_net`` (import torch there)
    returning a ``net.SeqNet``. Checkpoints hold the weights, the parameter
    values and ``n_items``.
    """

    family: ClassVar[str] = "sequential"

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self.net: Any = None
        self.n_items = 0
        self.device = None
        #: One row per epoch of the last ``fit`` (epoch, loss, epoch_s, valid_ndcg@10, valid_hr@10).
        self.train_history: list[dict[str, float]] = []

    # -- hooks for subclasses --------------------------------------------------------------------
    def _build_net(self, n_items: int, config: dict[str, Any]) -> "torch.nn.Module":
        """The ``SeqNet`` for ``n_items`` items and parameter values ``config``."""
        raise NotImplementedError

    # -- training --------------------------------------------------------------------------------
    def fit(self, split: "Split", ctx: "RunContext") -> TrainReport:
        """Train on ``split.train`` with early stopping on ``split.valid`` (see ``trainer``); the
        report carries the seed the weights were drawn under and the per-epoch curve."""
        import torch

        from .trainer import train_sequential

        self.n_items = int(split.train.n_items)
        self.device = ctx.device if ctx.device is not None else torch.device("cpu")
        if self.p.checkpoint:
            return TrainReport(self._fit_from_checkpoint(Path(self.p.checkpoint).expanduser(), ctx))
        seed = self.init_seed(ctx)
        self.net = self.draw_net(self.n_items, seed).to(self.device)
        stats = train_sequential(self, split, ctx)
        return TrainReport(stats, init_seed=seed, curve=list(self.train_history))

    def init_seed(self, ctx: "RunContext") -> int:
        """The seed ``fit`` draws the weights under (GRO's target is drawn under it too)."""
        return ctx.seed_for(self.name, "init")

    def draw_net(self, n_items: int, seed: int) -> "torch.nn.Module":
        """A new net for ``n_items`` items, its weights drawn under ``seed`` (on the CPU).

        Seeds torch's global generator, as ``fit`` always has; a caller that
        must leave the global stream alone wraps it in ``torch.random.fork_rng``.
        """
        import torch

        torch.manual_seed(seed % (2**63))
        return self._build_net(n_items, self.param_values)

    def _fit_from_checkpoint(self, path: Path, ctx: "RunContext") -> dict[str, float]:
        if not path.is_file():
            raise FileNotFoundError(f"{self.name}: checkpoint={str(path)!r} does not exist")
        from recsec.datacache import sha256_file

        digest = sha256_file(path)
        if self.p.checkpoint_sha256 and digest != self.p.checkpoint_sha256.lower():
            raise ValueError(f"{self.name}: checkpoint {path} has sha256 {digest}, "
                             f"checkpoint_sha256 names {self.p.checkpoint_sha256}")
        n_items = self.n_items
        self.load(path)
        self.to(self.device)
        if self.n_items != n_items:
            raise ValueError(f"{self.name}: checkpoint {path} scores {self.n_items} items, the data has {n_items}")
        ctx.log(f"{self.name}: weights loaded from {path} (sha256 {digest}), not trained")
        return {"epochs": 0.0, "from_checkpoint": 1.0}

    # -- serving ---------------------------------------------------------------------------------
    def score(self, queries: Queries) -> "torch.Tensor":
        """Float (B, N) scores of items 0..N-1 from each query's last ``max_len`` items."""
        import torch

        if self.net is None:
            raise RuntimeError(f"{self.name}: score() before fit() or load_state()")
        was_training = self.net.training
        self.net.eval()
        try:
            tokens = torch.as_tensor(queries.padded(self.net.input_len), device=self.device)
            with torch.no_grad():
                return self.net.score_last(tokens).float()
        finally:
            self.net.train(was_training)

    # -- checkpoints -----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        if self.net is None:
            raise RuntimeError(f"{self.name}: nothing to save before fit()")
        return {
            "name": self.name,
            "version": self.version,
            "config": dict(self.param_values),
            "n_items": int(self.n_items),
            "weights": {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        import torch

        if state.get("name") != self.name:
            raise ValueError(f"checkpoint of {state.get('name')!r} cannot be loaded into {self.name!r}")
        self.n_items = int(state["n_items"])
        self.net = self._build_net(self.n_items, dict(state["config"]))
        self.net.load_state_dict(state["weights"])
        self.device = self.device if self.device is not None else torch.device("cpu")
        self.net.to(self.device).eval()

    def to(self, device: Any) -> "SequentialRecommender":
        self.device = device
        if self.net is not None:
            self.net.to(device)
        return self

