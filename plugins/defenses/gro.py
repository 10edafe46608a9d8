"""GRO: Gradient-based Ranking Optimization, a training-time defense against model extraction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recsec.defense import Defense
from recsec.params import Param

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import QueryLog
    from recsec.context import RunContext
    from recsec.data import Split
    from recsec.recommender import Recommender

#: Recommenders GRO can train (their nets expose per-position scores over the catalogue).
SUPPORTED = ("bert4rec", "sasrec")

#: Labels of the student's init seed. The reference code (train_gro.py) seeds once and draws the
#: student first, so its DFME surrogate, drawn first under the same seed, starts from the
#: student's weights: what ``init_seed_labels`` tells a ``surrogate_init = "reference"`` attacker.
STUDENT_SEED = ("gro", "student")

#: What a swap row with a zero gradient does: ``mask`` (recsec: it carries no signal, so it adds
#: nothing to L_swap) or ``first_item`` (the reference code: ``grad.max(-1)`` of an all-zero
#: row returns column 0, the first item id, so the row pushes that item above c_bi).
ZERO_ROWS = ("mask", "first_item")


class GRO(Defense):
    """GRO (Zhang, Yin, Chen, Long, "Defense Against Model Extraction Attacks on Recommender Systems", WSDM 2024).

    Trains the victim ("target") together with a student that imitates the
    attacker's surrogate: per batch of real training sequences, the student
    (same architecture, independently seeded) learns the target's top-k lists
    with DFME's two-margin ranking loss L_S; the gradient of L_S w.r.t. the
    swap matrix of each list gives, in closed form, the item that would hurt
    the student most in each slot (argmax / argmin of the student's scores by
    the gradient's sign; rows with a zero gradient are masked, or with
    ``zero_rows=first_item`` get the first item id as the reference code's argmax
    gives them), and the target
    minimises L_T + ``lam`` * L_swap, L_swap = mean max(0, t[c] - t[j*]) over every
    list slot (masked rows count 0).
    L_T is the target's own loss (BERT4Rec cloze cross-entropy, SASRec BCE).
    Published ``lam``: ML-1M 0.1 to 1, ML-20M 0.01 to 1, Steam 0.001 to 0.01,
    Beauty 0.001 (the default). Only BERT4Rec and SASRec victims (others are
    skipped). Training statistics (stored as ``victim.gro_*``):
    ``gro_overhead_s`` (seconds spent on the student, the top-k and the swap
    loss: GRO's extra training time), mean ``gro_student_loss``,
    ``gro_swap_loss``, ``gro_target_loss`` and ``gro_masked_rows`` (fraction of
    zero-gradient rows, masked or not). ``warm_epochs`` > 0 first trains without GRO and
    then continues with it (the reference code does so on Beauty). ``metrics`` repeats ``train_overhead_s`` and
    ``train_s`` when this process trained the victim (not when it was
    loaded from a checkpoint). Answers are not changed.
    """

    name = "gro"
    version = "2"  # 2: the swap loss averages over every row, masked ones counting 0 (the paper's scale)
    trains_victim = True
    params = {
        "lam": Param(0.001, help="weight of the swap loss (Beauty 0.001, ML-1M 0.1-1)", low=1e-4, high=1.0, log=True),
        "k": Param(100, help="length of the target lists the student learns (the API's k)", low=10, high=200),
        "student_lr": Param(1e-3, help="the student's AdamW learning rate", low=1e-4, high=1e-2, log=True),
        "margin_topk": Param(0.5, help="student loss: margin between consecutive list items (DFME)"),
        "margin_neg": Param(0.5, help="student loss: margin between list items and negatives (DFME)"),
        "max_positions": Param(0, help="at most this many positions per batch enter the swap step (0 = all)"),
        "zero_rows": Param("mask", choices=ZERO_ROWS, search=False,
                           help="rows whose gradient is zero: mask them (recsec) or, as the reference code's "
                           "argmax does, swap in the first item id (first_item)"),
        "warm_epochs": Param(0, help="first train this many epochs without GRO, then GRO for max_epochs "
                             "(the reference's --use_pretrained, used for Beauty); 0 = GRO from scratch"),
    }
    metric_directions = {"train_overhead_s": False}

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._train_stats: dict[str, float] = {}

    def skip(self, **context: Any) -> str | None:
        rec = context.get("recommender")
        if rec is not None and rec.name not in SUPPORTED:
            return f"gro trains {'/'.join(SUPPORTED)} victims, not {rec.name}"
        return None

    def init_seed_labels(self, recommender: "Recommender") -> tuple[str, ...] | None:
        """From scratch the student's seed (the reference code draws it first); with
        ``warm_epochs`` the plain warm-up run's, as the reference's ``--use_pretrained``."""
        return recommender.init_seed_labels() if self.p.warm_epochs > 0 else STUDENT_SEED

    def train_victim(self, recommender: "Recommender", split: "Split", ctx: "RunContext") -> dict[str, float]:
        from ._gro_train import GROConfig, train_gro

        if recommender.name not in SUPPORTED:
            raise ValueError(self.skip(recommender=recommender))
        cfg = GROConfig(**{k: self.p[k] for k in GROConfig.__dataclass_fields__})
        warm: dict[str, float] = {}
        if self.p.warm_epochs > 0:
            pre = type(recommender)(**{**recommender.given_params, "max_epochs": int(self.p.warm_epochs)})
            warm = {f"warm_{k}": float(v) for k, v in pre.fit(split, ctx).items()}
            recommender.net = pre.net  # type: ignore[attr-defined]
        stats = {**warm, **train_gro(recommender, split, ctx, cfg)}  # type: ignore[arg-type]
        self._train_stats = {k: float(v) for k, v in stats.items()}
        return stats

    def metrics(self, log: "QueryLog", ctx: "RunContext") -> dict[str, float]:
        s = self._train_stats
        if not s:
            return {}
        return {"train_overhead_s": s["gro_overhead_s"], "train_s": s.get("train_s", float("nan"))}
