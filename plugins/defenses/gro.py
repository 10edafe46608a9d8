"""GRO: Gradient-based Ranking Optimization, a training-time defense against model extraction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recsec.defense import Defense
from recsec.params import Param
from recsec.recommender import TrainReport

from ._gro_config import STUDENT_SEED, ZERO_ROWS

if TYPE_CHECKING:  # pragma: no cover
    from recsec.context import RunContext
    from recsec.data import Split
    from recsec.recommender import Recommender

#: Recommenders GRO can train (their nets expose per-position scores over the catalogue).
SUPPORTED = ("bert4rec", "sasrec")


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
    then continues with it; a victim given ``checkpoint=`` (trained weights) is loaded and GRO
    continues from it, the reference code's Beauty recipe (``--use_pretrained``: 50 GRO epochs
    at batch 16 from the trained victim). ``lam=0`` is the "GRO regime" control (the same warm
    start, batches, epochs and served epoch without the swap loss): it trains no student, so it
    costs what plain training costs (``gro_overhead_s`` 0; no student or swap statistics).
    Answers are not changed. The training report's init seed is the student's (the reference code draws it first) or,
    with ``warm_epochs``, the warm-up run's.
    """

    name = "gro"
    # 2: the swap loss averages over every row, masked ones counting 0 (the paper's scale);
    # 3: lam = 0 trains no student (the target's dropout stream differs from version 2's)
    version = "3"
    trains_victim = True
    params = {
        "lam": Param(0.001, help="weight of the swap loss (Beauty 0.001, ML-1M 0.1-1)", low=1e-4, high=1.0, log=True,
                     valid="[0, inf)"),
        "k": Param(100, help="length of the target lists the student learns (the API's k)", low=10, high=200, valid="[1, inf)"),
        "student_lr": Param(1e-3, help="the student's AdamW learning rate", low=1e-4, high=1e-2, log=True, valid="(0, inf)"),
        "margin_topk": Param(0.5, help="student loss: margin between consecutive list items (DFME)", valid="[0, inf)"),
        "margin_neg": Param(0.5, help="student loss: margin between list items and negatives (DFME)", valid="[0, inf)"),
        "max_positions": Param(0, help="at most this many positions per batch enter the swap step (0 = all)",
                               valid="[0, inf)"),
        "zero_rows": Param("mask", choices=ZERO_ROWS, search=False,
                           help="rows whose gradient is zero: mask them (recsec) or, as the reference code's "
                           "argmax does, swap in the first item id (first_item)"),
        "warm_epochs": Param(0, help="first train this many epochs without GRO, then GRO for max_epochs "
                             "(the reference's --use_pretrained, used for Beauty); 0 = GRO from scratch",
                             valid="[0, inf)"),
    }

    def skip(self, **context: Any) -> str | None:
        rec = context.get("recommender")
        if rec is not None and rec.name not in SUPPORTED:
            return f"gro trains {'/'.join(SUPPORTED)} victims, not {rec.name}"
        return None

    def train_victim(self, recommender: "Recommender", split: "Split", ctx: "RunContext") -> TrainReport:
        from ._gro_train import train_gro

        if recommender.name not in SUPPORTED:
            raise ValueError(self.skip(recommender=recommender))
        warm: dict[str, float] = {}
        init_seed = ctx.seed_for(*STUDENT_SEED)  # from scratch the reference code draws the student first
        checkpoint = getattr(getattr(recommender, "p", None), "checkpoint", "")
        if checkpoint and self.p.warm_epochs > 0:
            raise ValueError(f"gro: warm_epochs={self.p.warm_epochs} and {recommender.name}[checkpoint=...] both "
                             "give a warm start; set one")
        if checkpoint:
            # The reference's Beauty recipe: GRO continues from the trained victim's weights. fit()
            # with a checkpoint loads them and trains nothing; train_gro then starts from rec.net.
            report = recommender.fit(split, ctx)
            warm = {f"warm_{k}": float(v) for k, v in report.stats.items()}
        elif self.p.warm_epochs > 0:
            pre = type(recommender)(**{**recommender.given_params, "max_epochs": int(self.p.warm_epochs)})
            report = pre.fit(split, ctx)
            warm, init_seed = {f"warm_{k}": float(v) for k, v in report.stats.items()}, report.init_seed
            recommender.net = pre.net  # type: ignore[attr-defined]
        stats = {**warm, **train_gro(recommender, split, ctx, self.p)}  # type: ignore[arg-type]
        return TrainReport(stats, init_seed=init_seed, curve=list(getattr(recommender, "train_history", [])))
