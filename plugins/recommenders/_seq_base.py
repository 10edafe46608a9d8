"""The base class of recsec's sequential recommenders (SASRec, BERT4Rec, NARM, GRU4Rec).

Importing this module does not import torch: the networks live in
``_seq_transformer`` / ``_seq_rnn`` and the training loop in ``_seq_train``,
imported when a model is built.

Conventions (core/queries.py): item ids 0..N-1 outside the model; inside,
``id + 1`` with 0 the padding token (BERT4Rec adds N + 1 as its mask token).
``score`` drops those extra columns, so nothing outside ever sees them.

Reference configuration (methods.md section 2, DFME, Yue et al., RecSys 2021):
hidden 64, 2 blocks, 2 heads, AdamW (lr 1e-3, weight decay 0.01, not on biases
or LayerNorm), batch 128, gradient norm clipped to 5 (here: the global norm,
the reference clips each tensor separately), model selection by validation
NDCG@10. Published per-dataset values (dropout / attention dropout / mask prob
/ max predictions / max_len):

=========  =======  ============  =========  ===============  =======
dataset    dropout  attn_dropout  mask_prob  max_predictions  max_len
=========  =======  ============  =========  ===============  =======
ML-1M      0.1      0.1           0.2        40               200
ML-20M     0.1      0.1           0.2        20               200
Steam      0.2      0.2           0.4        20               50
Beauty     0.5      0.2           0.6        30               50
=========  =======  ============  =========  ===============  =======

The defaults are the Beauty values. Weight decay is applied to the embedding
tables too (``decay_embeddings=True``), as in the reference code, whose
no-decay list names only biases and LayerNorm parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from recsec.params import Param
from recsec.queries import Queries
from recsec.recommender import Recommender

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from recsec.context import RunContext
    from recsec.data import Split

#: Parameters every sequential model shares (the trainer reads them).
COMMON_PARAMS: dict[str, Param] = {
    "hidden": Param(64, "item embedding / hidden size", low=16, high=512, log=True),
    "max_len": Param(50, "longest history used: 200 for ML-1M/ML-20M, 50 for Steam/Beauty", low=10, high=400),
    "dropout": Param(0.5, "dropout (ML 0.1, Steam 0.2, Beauty 0.5)", low=0.0, high=0.9),
    "lr": Param(1e-3, "AdamW learning rate", low=1e-4, high=1e-2, log=True),
    "weight_decay": Param(0.01, "AdamW weight decay (never on biases / LayerNorm)", low=0.0, high=0.1),
    "decay_embeddings": Param(True, "apply weight decay to embedding tables (the DFME reference does)"),
    "batch_size": Param(128, "training sequences per step", low=16, high=1024, log=True),
    "clip_norm": Param(5.0, "clip the global gradient norm to this (0 = off)"),
    "max_epochs": Param(200, "upper bound on training epochs"),
    "patience": Param(20, "stop after this many epochs without a better validation NDCG@10 (0 = never)"),
    "time_limit_s": Param(0.0, "stop after the epoch that passes this many seconds of training + validation "
                          "(0 = no limit); the best weights so far are kept"),
    "window_step": Param(0.5, "sliding-window step for long training sequences, as a fraction of max_len", low=0.1, high=1.0),
    "bucket_by_length": Param(True, "batch training windows of similar length together (shuffled buckets): much less padding"),
    "valid_mode": Param("sampled", "validation ranking for early stopping", choices=("sampled", "full")),
    "checkpoint": Param("", "start from these weights (a file written by save(), e.g. seq_check.py --save) "
                        "instead of training: a victim trained once, elsewhere, serves a spec; relative to the "
                        "working directory. The path, not the file's content, is part of the cache key"),
    "amp": Param(False, "mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling); no effect on CPU"),
}

#: Extra parameters of the two recurrent models (NARM, GRU4Rec).
RNN_PARAMS: dict[str, Param] = {
    "rnn_hidden": Param(128, "GRU state size (twice the embedding, as in the DFME reference)", low=16, high=1024, log=True),
    "examples": Param("windows", "training examples: 'windows' (one per sliding window, a loss at every prefix "
                      "in one GRU pass) or 'prefixes' (every prefix its own example, the loss at its last item, "
                      "as the DFME reference's RNN loader; about 9x the optimizer steps per epoch on Beauty)",
                      choices=("windows", "prefixes")),
}

#: Extra parameters of the two Transformer models.
TRANSFORMER_PARAMS: dict[str, Param] = {
    "n_blocks": Param(2, "Transformer blocks", choices=(1, 2, 3, 4)),
    "n_heads": Param(2, "attention heads", choices=(1, 2, 4)),
    "attn_dropout": Param(0.2, "attention dropout (ML 0.1, Steam 0.2, Beauty 0.2)", low=0.0, high=0.9),
}


class SequentialRecommender(Recommender):
    """Scores the next item from the item history alone (``family = "sequential"``).

    Subclasses set ``name``, ``params`` and implement ``_build_net`` (import
    torch there). Checkpoints hold the weights, the parameter values and
    ``n_items``.
    """

    family: ClassVar[str] = "sequential"
    stopping_params: ClassVar[frozenset[str]] = frozenset({"max_epochs", "patience", "time_limit_s"})

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
    def fit(self, split: "Split", ctx: "RunContext") -> dict[str, float]:
        """Train on ``split.train`` with early stopping on ``split.valid`` (see ``_seq_train``)."""
        import torch

        from ._seq_train import train_sequential

        self.n_items = int(split.train.n_items)
        self.device = ctx.device if ctx.device is not None else torch.device("cpu")
        if self.p.checkpoint:
            return self._fit_from_checkpoint(Path(self.p.checkpoint).expanduser(), ctx)
        self.net = self.draw_net(self.n_items, ctx.seed_for(*self.init_labels())).to(self.device)
        return train_sequential(self, split, ctx)

    def init_labels(self) -> tuple[str, ...]:
        """The labels of the seed ``fit`` draws the weights under: ``(name, "init")``."""
        return (self.name, "init")

    def init_seed_labels(self) -> tuple[str, ...] | None:
        return None if self.p.checkpoint else self.init_labels()

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
        n_items = self.n_items
        self.load(path)
        self.to(self.device)
        if self.n_items != n_items:
            raise ValueError(f"{self.name}: checkpoint {path} scores {self.n_items} items, the data has {n_items}")
        ctx.log(f"{self.name}: weights loaded from {path}, not trained")
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

