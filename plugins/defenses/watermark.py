"""AOW: autoregressive out-of-distribution watermarking, for ownership verification after extraction.

Zhang, Long, Yuan, Chen, Yin, "Watermarking Recommender Systems", CIKM 2024 (arXiv 2407.21034).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from recsec.data import Interactions
from recsec.defense import Defense
from recsec.judges.watermark import WatermarkKey
from recsec.params import Param
from recsec.recommender import TrainReport

if TYPE_CHECKING:  # pragma: no cover
    from recsec.context import RunContext
    from recsec.data import Split
    from recsec.recommender import Recommender

ORACLES = ("cooccurrence", "uniform")


class AOW(Defense):
    """AOW (Zhang et al., CIKM 2024): the victim memorises a secret out-of-distribution item sequence; a stolen copy betrays it.

    Watermark (the owner's secret, from the victim's seed stream): an initial item drawn at
    random, then, autoregressively, the next item drawn uniformly from the ``bottom``
    fraction of the oracle's ranking for the sequence so far (never an item already in it),
    until ``length`` items. AOW's oracle is a clean trained model; recsec's
    (``oracle="cooccurrence"``) is the item-to-item cosine co-occurrence of the training
    data (score(j | s) = sum_{i in s} cos(i, j)), so the secret can be re-derived from the seed
    and the split after a victim is loaded from its checkpoint, without a second trained
    model (inferred: a deviation; both put the next item where the data says it does not
    belong). ``oracle="uniform"`` draws every item uniformly (the random-watermark ablation).
    Only items seen in training are drawn.

    Embedding: the watermark enters the training data as ``copies`` extra training users
    whose sequence it is, and the victim trains as usual (inferred: the paper trains the
    sequence into the model's memory; how many times is not stated). ``copies = 0`` trains a
    clean victim and keeps the same secret: the regime control against which retention is
    compared. A control sequence drawn the same way is never trained.

    Verification (``recsec.judges.watermark``, the core's judge): the next item of every
    truncated watermark sequence, ranked by the attacker's surrogate (and by the victim); the
    defense reports nothing itself. Answers are not changed. Sequential victims only (the
    paper's setting). Training statistics: ``wm_length``, ``wm_copies``.
    """

    name = "aow"
    version = "1"
    trains_victim = True
    params = {
        "length": Param(20, help="items in the watermark sequence (inferred)", low=5, high=100, valid="[2, inf)"),
        "copies": Param(50, help="times the sequence enters the training data (0: the clean control; inferred)",
                        low=1, high=100, log=True, valid="[0, inf)"),
        "bottom": Param(0.1, help="the next item is drawn from this bottom fraction of the oracle's ranking",
                        low=0.01, high=0.5, log=True, valid="(0, 1]"),
        "oracle": Param("cooccurrence", choices=ORACLES, search=False,
                        help="what ranks the candidates: training co-occurrence, or none (uniform items)"),
    }

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._key: WatermarkKey | None = None

    def skip(self, **context: Any) -> str | None:
        rec = context.get("recommender")
        if rec is not None and rec.family != "sequential":
            return f"aow watermarks sequential recommenders, not {rec.name} ({rec.family})"
        return None

    def train_victim(self, recommender: "Recommender", split: "Split", ctx: "RunContext") -> TrainReport:
        key = self.secret(split, ctx)
        report = TrainReport.of(recommender.fit(with_sequence(split, key.sequence, int(self.p.copies)), ctx),
                                f"recommender {recommender.name!r}: fit()")
        stats = {**report.stats, "wm_length": float(len(key.sequence)), "wm_copies": float(self.p.copies)}
        return TrainReport(stats, init_seed=report.init_seed, curve=report.curve)

    def prepare(self, victim: "Recommender", split: "Split", ctx: "RunContext") -> None:
        self._key = self.secret(split, ctx)

    def watermark(self) -> WatermarkKey | None:
        """The secret the judge verifies (``recsec.judges.watermark.Watermarked``)."""
        return self._key

    def secret(self, split: "Split", ctx: "RunContext") -> WatermarkKey:
        """The watermark and the control, drawn from the ``aow`` streams of ``ctx`` (the victim's)."""
        seqs = split.train.sequences()
        oracle = CooccurrenceOracle(seqs, split.train.n_items) if self.p.oracle == "cooccurrence" else None
        allowed = np.flatnonzero(split.train.item_counts() > 0)
        if len(allowed) < 2 * int(self.p.length):
            raise ValueError(f"aow: {len(allowed)} items seen in training, too few for two sequences of "
                             f"{self.p.length}")
        draw = lambda label: autoregressive_sequence(oracle, allowed, int(self.p.length), float(self.p.bottom),  # noqa: E731
                                                     ctx.rng(self.name, label))
        return WatermarkKey(sequence=draw("watermark"), control=draw("control"))


class CooccurrenceOracle:
    """score(j | s) = sum_{i in s} c_ij / sqrt(n_i n_j): cosine co-occurrence over training users
    (``c`` = users holding both items, ``n`` = users holding each)."""

    def __init__(self, sequences: list[np.ndarray], n_items: int) -> None:
        import scipy.sparse as sp

        rows = np.repeat(np.arange(len(sequences)), [len(s) for s in sequences])
        cols = np.concatenate(sequences) if len(rows) else np.zeros(0, np.int64)
        X = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sequences), n_items))
        X.data[:] = 1.0  # repeated events count once
        self.X, self.Xt = X, X.T.tocsr()
        n = np.asarray(X.sum(axis=0)).ravel()
        self.dinv = np.where(n > 0, 1.0 / np.sqrt(np.maximum(n, 1.0)), 0.0)

    def scores(self, seq: np.ndarray) -> np.ndarray:
        h = np.zeros(self.X.shape[1])
        h[seq] = self.dinv[seq]
        return (self.Xt @ (self.X @ h)) * self.dinv


def autoregressive_sequence(oracle: CooccurrenceOracle | None, allowed: np.ndarray, length: int, bottom: float,
                            rng: np.random.Generator) -> np.ndarray:
    """AOW's generation: a random first item, then each next item uniform among the ``bottom``
    fraction of the remaining allowed items ranked lowest by ``oracle`` (ties in random order;
    no oracle: uniform)."""
    seq = [int(rng.choice(allowed))]
    while len(seq) < length:
        cands = allowed[~np.isin(allowed, seq)]
        if oracle is None:
            seq.append(int(rng.choice(cands)))
            continue
        s = oracle.scores(np.asarray(seq))[cands]
        order = np.lexsort((rng.random(len(cands)), s))  # lowest score first, random among ties
        pool = cands[order[: max(1, math.ceil(bottom * len(cands)))]]
        seq.append(int(rng.choice(pool)))
    return np.asarray(seq, dtype=np.int64)


def with_sequence(split: "Split", seq: np.ndarray, copies: int) -> "Split":
    """``split`` whose training data has ``copies`` extra users, each with ``seq`` in order."""
    if copies == 0:
        return split
    tr = split.train
    L = len(seq)
    users = np.repeat(np.arange(tr.n_users, tr.n_users + copies), L)
    times = np.tile(np.arange(L), copies)
    # The sequence's order must survive sequences()' sort by (user, timestamp, item).
    old_times = tr.timestamps if tr.timestamps is not None else np.zeros(len(tr), dtype=np.int64)
    t0 = int(old_times.max()) + 1 if len(tr) else 0
    train = Interactions(
        users=np.concatenate([tr.users, users]).astype(np.int64),
        items=np.concatenate([tr.items, np.tile(seq, copies)]).astype(np.int64),
        n_users=tr.n_users + copies, n_items=tr.n_items,
        ratings=None if tr.ratings is None else np.concatenate([tr.ratings, np.ones(len(users), np.float32)]),
        timestamps=np.concatenate([old_times, t0 + times]).astype(np.int64),
        source={**tr.source, "watermark_copies": copies},
    )
    return dataclasses.replace(split, train=train)
