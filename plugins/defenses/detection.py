"""Query detectors against model extraction: SAME (per query) and PRADA (per account).

No peer-reviewed detector for recommender APIs is known (methods.md section
5): both are adaptations to item-sequence queries. They flag queries online
(``answer``) and score any account's stream of queries (``score_stream``);
recsec's detection judge scores them against benign sessions of held-out real
users (``recsec.judges.detection``), which they never see while preparing.

Where they fail, by construction: DFME's autoregressive queries follow the
victim's own recommendations and few-shot queries are real sequences, so both
lie on the data manifold a reconstructor learns; and every benign session is
itself a chain of prefixes, the pattern PRADA's distances see in a
generator's queries.

Shapes: B queries, K list length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from recsec.detection import QueryDetector as _Detector
from recsec.detection import StreamScores
from recsec.params import Param
from recsec.queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import Caller
    from recsec.context import RunContext
    from recsec.data import Split
    from recsec.recommender import Recommender

COMMON: dict[str, Param] = {
    "action": Param("flag", help="flagged queries: answer and flag, reject (popular / empty list) or perturb (random order)",
                    choices=("flag", "reject", "perturb")),
    "reject_with": Param("popular", help="what a rejected query gets: the most popular items outside its history, "
                         "or an empty list (-1 entries)", choices=("popular", "empty")),
}


class QueryDetector(_Detector):
    """Shared machinery: online flags and actions (no ``name``: not registered)."""

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._ranking: np.ndarray | None = None
        self._n_items = 0

    # -- subclass hooks ---------------------------------------------------------------------------
    def _fit(self, victim: "Recommender", split: "Split", ctx: "RunContext") -> None:
        """Train whatever the detector needs on ``split`` (the benign test users are not in it)."""

    def _online(self, queries: Queries, lists: np.ndarray, account: "Caller") -> tuple[np.ndarray, np.ndarray]:
        """(scores float (B,), flags bool (B,)) for a batch, updating any per-account state."""
        raise NotImplementedError

    # -- the Defense contract ---------------------------------------------------------------------
    def prepare(self, victim: "Recommender", split: "Split", ctx: "RunContext") -> None:
        self._ranking = split.train.popularity_ranking()
        self._n_items = int(victim.n_items)
        self._fit(victim, split, ctx)

    def answer(self, queries: Queries, lists: np.ndarray, personalised: np.ndarray, account: "Caller",
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        _, flags = self._online(queries, lists, account)
        return self._act(queries, lists, flags, rng), flags

    def _act(self, queries: Queries, lists: np.ndarray, flags: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        rows = np.flatnonzero(flags)
        if self.p.action == "flag" or len(rows) == 0:
            return lists
        out = lists.copy()
        K = lists.shape[1]
        if self.p.action == "perturb":
            out[rows] = np.take_along_axis(lists[rows], np.argsort(rng.random((len(rows), K)), axis=1), axis=1)
        elif self.p.reject_with == "empty":
            out[rows] = -1
        else:
            assert self._ranking is not None, "prepare() first"
            for r in rows:
                h = np.asarray(queries.histories[r], dtype=np.int64)
                cand = self._ranking[: K + len(h)]
                out[r] = cand[~np.isin(cand, h)][:K]
        return out


class PradaDetector(QueryDetector):
    """PRADA (Juuti, Szyller, Marchal, Asokan, EuroS&P 2019) for item-sequence queries.

    Per account, the minimum distance of each new query to the account's
    growing set of earlier queries (``distance``: Jaccard or cosine on item
    sets) joins a distance set; the account raises a (sticky) alarm when the
    Shapiro-Wilk W of its last ``window`` distances falls below ``delta`` once
    it holds ``min_queries`` of them. The runner's evaluator is one account
    per user. Query score for metrics: 1 - W of the account's distances so far
    (0 before 3 distances); account score: 1 - W of all its distances. No
    training: ``prepare`` only picks the benign users. Weakness: it needs many
    queries per account (a benign user asks a handful), and sybil accounts split
    the attacker's series (the judge's ``[judge] account_size``).
    """

    name = "prada-detector"
    version = "2"  # 2: judged by recsec against benign traffic (accounts of whole query sequences)
    params = {
        **COMMON,
        "distance": Param("jaccard", help="distance between the queries' item sets", choices=("jaccard", "cosine")),
        "delta": Param(0.9, help="alarm when the Shapiro-Wilk W falls below this", low=0.5, high=0.99, valid="(0, 1]"),
        "min_queries": Param(50, help="distances needed before an alarm", low=3, high=1000, log=True, valid="[3, inf)"),
        "window": Param(5000, help="W is computed on the last this many distances", valid="[3, inf)"),
        "memory": Param(5000, help="growing-set members kept per account (most recent)", valid="[1, inf)"),
    }

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._state: dict[Any, Any] = {}

    def _new_state(self):
        from ._detect_prada import PradaState

        return PradaState(self._n_items, self.p.distance, int(self.p.memory))

    def _online(self, queries: Queries, lists: np.ndarray, account: "Caller") -> tuple[np.ndarray, np.ndarray]:
        B = len(queries)
        keys: list[Any] = [account] * B  # one opaque account per call (the black box groups by account)
        scores, flags = np.zeros(B), np.zeros(B, dtype=bool)
        order: dict[Any, list[int]] = {}
        for i, key in enumerate(keys):
            order.setdefault(key, []).append(i)
        for key, idx in order.items():
            st = self._state.get(key) or self._state.setdefault(key, self._new_state())
            st.process([queries.histories[i] for i in idx])
            flags[idx] = st.update_alarm(float(self.p.delta), int(self.p.min_queries), int(self.p.window))
            scores[idx] = 1.0 - st.statistic(int(self.p.window))
        return scores, flags

    def score_stream(self, histories: list[np.ndarray]) -> StreamScores:
        from ._detect_prada import stream_scores

        p = self.p
        q, f = stream_scores(histories, self._n_items, p.distance, int(p.memory), int(p.window), float(p.delta), int(p.min_queries))
        return StreamScores(q, f, float(q[-1]) if len(q) else 0.0)


class SameDetector(QueryDetector):
    """SAME (Xie et al., "SAME: Sample Reconstruction against Model Extraction Attacks", AAAI 2024) for item sequences.

    A cloze model (a small BERT4Rec, ``hidden``, ``epochs``) trained on
    benign sequences (``split.train`` of every user except the held-out
    benign and calibration users) reconstructs each query (``mask_prob`` of
    its items masked); an auxiliary model (the victim's architecture,
    ``aux_epochs``) is trained on the reconstructed training sequences.
    Score = ``alpha`` * z(reconstruction loss) + (1 - ``alpha``) * z(top-``dev_k``
    deviation between the victim on x and the auxiliary model on the
    reconstruction), z = standardised on ``calib_users`` held-out users'
    sessions; a query is flagged when its score exceeds their (1 - ``fpr``)
    quantile. Account score: the mean of its query scores. Sequential victims only.
    The judge also reports the per-query AUROC of each term alone (the paper's
    SAME-X / SAME-Y ablation): ``defense.auroc_query_recon``, ``defense.auroc_query_dev``.
    """

    name = "same-detector"
    version = "2"  # 2: judged by recsec against benign traffic it never trained on
    params = {
        **COMMON,
        "alpha": Param(0.5, help="weight of the reconstruction loss (1 - alpha: deviation)", low=0.0, high=1.0),
        "mask_prob": Param(0.2, help="share of a query's items masked for reconstruction (at least one)", low=0.05, high=0.8, valid="(0, 1]"),
        "dev_k": Param(10, help="list length compared by the deviation term", low=1, high=100, valid="[1, inf)"),
        "hidden": Param(64, help="hidden size of the cloze reconstructor", valid="[1, inf)"),
        "epochs": Param(20, help="training epochs of the cloze reconstructor", valid="[1, inf)"),
        "aux_epochs": Param(20, help="training epochs of the auxiliary model", valid="[1, inf)"),
        "patience": Param(5, help="early-stopping patience of both models (validation NDCG@10; 0 = never)", valid="[0, inf)"),
        "valid_users": Param(2000, help="validation users for early stopping (0 = all)", valid="[0, inf)"),
        "train_users": Param(0, help="users the detector trains on (0 = all but the held-out ones)", valid="[0, inf)"),
        "calib_users": Param(500, help="held-out users whose sessions set the standardisation and threshold", valid="[1, inf)"),
        "calib_queries": Param(50, help="a calibration session: the last this many prefixes of a user's history (0 = all)", valid="[0, inf)"),
        "fpr": Param(0.05, help="target benign false-positive rate of the online threshold", low=0.001, high=0.5, log=True, valid="(0, 1)"),
    }

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._models: Any = None
        self._norm = (0.0, 1.0, 0.0, 1.0)  # mean / std of reconstruction loss and deviation
        self._threshold = float("inf")

    def skip(self, **context: Any) -> str | None:
        rec = context.get("recommender")
        if rec is not None and rec.family != "sequential":
            return f"same-detector reconstructs item sequences: needs a sequential victim, not {rec.name}"
        return None

    def _fit(self, victim: "Recommender", split: "Split", ctx: "RunContext") -> None:
        from recsec.judges.detection import prefix_session
        from recsec.sampling import pick_rows

        from ._detect_same import fit_models, raw_scores

        rng = ctx.rng(self.name, "users")
        test_users = np.asarray(split.test.users)
        calib_rows = pick_rows(len(split.test), int(self.p.calib_users), rng)
        train_users = np.setdiff1d(np.unique(split.train.users), test_users[calib_rows])
        if 0 < int(self.p.train_users) < len(train_users):
            train_users = np.sort(rng.choice(train_users, int(self.p.train_users), replace=False))
        self._models = fit_models(victim, split, train_users, ctx, dict(self.p))
        calib = [h for r in calib_rows for h in prefix_session(split.test.histories[r], int(self.p.calib_queries))]
        rec, dev = raw_scores(self._models, calib, None, dict(self.p))
        self._norm = (float(rec.mean()), float(rec.std()) or 1.0, float(dev.mean()), float(dev.std()) or 1.0)
        self._threshold = float(np.quantile(self._combine(rec, dev), 1.0 - float(self.p.fpr)))

    def _combine(self, rec: np.ndarray, dev: np.ndarray) -> np.ndarray:
        mr, sr, md, sd = self._norm
        a = float(self.p.alpha)
        return a * (rec - mr) / sr + (1 - a) * (dev - md) / sd

    def _raw(self, histories: list[np.ndarray], lists: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        from ._detect_same import raw_scores

        if self._models is None:
            raise RuntimeError("same-detector: prepare() first")
        return raw_scores(self._models, histories, lists, dict(self.p))

    def _online(self, queries: Queries, lists: np.ndarray, account: "Caller") -> tuple[np.ndarray, np.ndarray]:
        s = self._combine(*self._raw(list(queries.histories), lists))
        return s, s > self._threshold

    def score_stream(self, histories: list[np.ndarray]) -> StreamScores:
        rec, dev = self._raw(histories, None)
        q = self._combine(rec, dev)
        return StreamScores(q, q > self._threshold, float(q.mean()) if len(q) else 0.0, parts={"recon": rec, "dev": dev})
