"""Query detectors against model extraction: SAME (per query) and PRADA (per account).

No peer-reviewed detector for recommender APIs is known (methods.md section
5): both are adaptations to item-sequence queries. ``metrics`` scores the
attacker's logged queries against benign sessions of held-out real users
(see ``_detect_eval``): AUROC, AUPR and FPR at 95% TPR per query and per
account, and the share of benign users the online rule would refuse.

Where they fail, by construction: DFME's autoregressive queries follow the
victim's own recommendations and few-shot queries are real sequences, so both
lie on the data manifold a reconstructor learns; and every benign session is
itself a chain of prefixes, the pattern PRADA's distances see in a
generator's queries.

Shapes: B queries, K list length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from recsec.blackbox import EVALUATOR
from recsec.defense import Defense
from recsec.params import Param
from recsec.queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import QueryLog
    from recsec.context import RunContext
    from recsec.data import Split
    from recsec.recommender import Recommender

COMMON: dict[str, Param] = {
    "action": Param("flag", help="flagged queries: answer and flag, reject (popular / empty list) or perturb (random order)",
                    choices=("flag", "reject", "perturb")),
    "reject_with": Param("popular", help="what a rejected query gets: the most popular items outside its history, "
                         "or an empty list (-1 entries)", choices=("popular", "empty")),
    "benign_users": Param(1000, help="held-out real users whose sessions are the benign traffic in metrics (0 = all)"),
    "max_queries": Param(50, help="benign session: the last this many prefixes of a user's history (0 = all)"),
    "account_size": Param(50, help="metrics: the attacker's log cut into accounts of this many queries (0 = as logged)"),
}
DIRECTIONS = {"auroc_query": True, "aupr_query": True, "fpr95_query": False, "auroc_account": True,
              "aupr_account": True, "fpr95_account": False, "benign_refused": False, "benign_flagged": False,
              "attacker_flagged": True, "attacker_refused": True}


class QueryDetector(Defense):
    """Shared machinery: online flags and actions, benign sessions, detection metrics (no ``name``: not registered)."""

    metric_directions: ClassVar[dict[str, bool]] = DIRECTIONS

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._ranking: np.ndarray | None = None
        self._benign: list[list[np.ndarray]] = []
        self._n_items = 0
        self._scores: dict[str, list[float]] = {}  # online per-query scores, by account, in log order

    # -- subclass hooks ---------------------------------------------------------------------------
    def _fit(self, victim: "Recommender", split: "Split", ctx: "RunContext", held_out: np.ndarray) -> None:
        """Train whatever the detector needs; ``held_out`` = user ids it must not learn from."""

    def _online(self, queries: Queries, lists: np.ndarray, account: str) -> tuple[np.ndarray, np.ndarray]:
        """(scores float (B,), flags bool (B,)) for a batch, updating any per-account state."""
        raise NotImplementedError

    def _stream(self, histories: list[np.ndarray], online: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float]:
        """Offline: (per-query scores, flags, account score) of one account's queries in order."""
        raise NotImplementedError

    # -- the Defense contract ---------------------------------------------------------------------
    def prepare(self, victim: "Recommender", split: "Split", ctx: "RunContext") -> None:
        from ._detect_eval import benign_streams, pick_users

        self._ranking = split.train.popularity_ranking()
        self._n_items = int(victim.n_items)
        rows = pick_users(len(split.test), int(self.p.benign_users), ctx.rng(self.name, "benign-users"))
        self._benign = benign_streams(split.test, rows, int(self.p.max_queries))
        self._fit(victim, split, ctx, np.asarray(split.test.users)[rows])

    def answer(self, queries: Queries, lists: np.ndarray, personalised: np.ndarray, account: str,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        scores, flags = self._online(queries, lists, account)
        if account != EVALUATOR:
            self._scores.setdefault(account, []).extend(float(s) for s in scores)
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

    def metrics(self, log: "QueryLog", ctx: "RunContext") -> dict[str, float]:
        from ._detect_eval import attacker_groups, detection_metrics

        names, groups = attacker_groups(log, int(self.p.account_size))
        if not groups or not self._benign:
            return {}
        pos = {a: 0 for a in self._scores}
        att_q, att_a, att_refused = [], [], []
        for name, idx in zip(names, groups):
            acct = name.split("#")[0]
            online = np.asarray(self._scores.get(acct, [])[pos.get(acct, 0) : pos.get(acct, 0) + len(idx)])
            pos[acct] = pos.get(acct, 0) + len(idx)
            q, f, a = self._stream([log.records[i].history for i in idx], online if len(online) == len(idx) else None)
            att_q.append(q)
            att_a.append(a)
            att_refused.append(bool(f.any()))
        ben_q, ben_a, refused, flagged = [], [], [], []
        for stream in self._benign:
            q, f, a = self._stream(stream, None)
            ben_q.append(q)
            ben_a.append(a)
            refused.append(bool(f.any()))
            flagged.append(f)
        out = detection_metrics(np.concatenate(att_q), np.concatenate(ben_q), np.asarray(att_a), np.asarray(ben_a))
        recs = [r for r in log.records if r.account != EVALUATOR]
        out["attacker_flagged"] = float(np.mean([r.flagged for r in recs])) if recs else float("nan")
        out["attacker_refused"] = float(np.mean(att_refused))
        out["benign_refused"] = float(np.mean(refused))
        out["benign_flagged"] = float(np.concatenate(flagged).mean())
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
    queries per account (a benign user asks a handful), and sybil accounts
    (``account_size``) split the attacker's series.
    """

    name = "prada-detector"
    version = "1"
    params = {
        **COMMON,
        "distance": Param("jaccard", help="distance between the queries' item sets", choices=("jaccard", "cosine")),
        "delta": Param(0.9, help="alarm when the Shapiro-Wilk W falls below this", low=0.5, high=0.99),
        "min_queries": Param(50, help="distances needed before an alarm", low=3, high=1000, log=True),
        "window": Param(5000, help="W is computed on the last this many distances"),
        "memory": Param(5000, help="growing-set members kept per account (most recent)"),
    }

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._state: dict[Any, Any] = {}

    def _new_state(self):
        from ._detect_prada import PradaState

        return PradaState(self._n_items, self.p.distance, int(self.p.memory))

    def _online(self, queries: Queries, lists: np.ndarray, account: str) -> tuple[np.ndarray, np.ndarray]:
        B = len(queries)
        if account == EVALUATOR:  # the runner's utility check stands for many users, each asking once
            users = queries.user_ids()
            keys: list[Any] = [(EVALUATOR, int(u)) if u >= 0 else (EVALUATOR, -1 - i) for i, u in enumerate(users)]
        else:
            keys = [account] * B
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

    def _stream(self, histories: list[np.ndarray], online: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float]:
        from ._detect_prada import stream_scores

        p = self.p
        q, f = stream_scores(histories, self._n_items, p.distance, int(p.memory), int(p.window), float(p.delta), int(p.min_queries))
        return q, f, float(q[-1]) if len(q) else 0.0


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
    ``metrics`` adds the per-query AUROC of each term alone (the paper's
    SAME-X / SAME-Y ablation): ``auroc_query_recon``, ``auroc_query_dev``.
    """

    name = "same-detector"
    version = "1"
    params = {
        **COMMON,
        "alpha": Param(0.5, help="weight of the reconstruction loss (1 - alpha: deviation)", low=0.0, high=1.0),
        "mask_prob": Param(0.2, help="share of a query's items masked for reconstruction (at least one)", low=0.05, high=0.8),
        "dev_k": Param(10, help="list length compared by the deviation term", low=1, high=100),
        "hidden": Param(64, help="hidden size of the cloze reconstructor"),
        "epochs": Param(20, help="training epochs of the cloze reconstructor"),
        "aux_epochs": Param(20, help="training epochs of the auxiliary model"),
        "patience": Param(5, help="early-stopping patience of both models (validation NDCG@10)"),
        "valid_users": Param(2000, help="validation users for early stopping (0 = all)"),
        "train_users": Param(0, help="users the detector trains on (0 = all but the held-out ones)"),
        "calib_users": Param(500, help="held-out users whose sessions set the standardisation and threshold"),
        "fpr": Param(0.05, help="target benign false-positive rate of the online threshold", low=0.001, high=0.5, log=True),
    }

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        self._models: Any = None
        self._norm = (0.0, 1.0, 0.0, 1.0)  # mean / std of reconstruction loss and deviation
        self._threshold = float("inf")
        self._parts: dict[str, list[np.ndarray]] = {}  # raw (reconstruction, deviation) per account; "" = benign

    def skip(self, **context: Any) -> str | None:
        rec = context.get("recommender")
        if rec is not None and rec.family != "sequential":
            return f"same-detector reconstructs item sequences: needs a sequential victim, not {rec.name}"
        return None

    def _fit(self, victim: "Recommender", split: "Split", ctx: "RunContext", held_out: np.ndarray) -> None:
        from ._detect_eval import benign_streams, pick_users
        from ._detect_same import fit_models, raw_scores

        rng = ctx.rng(self.name, "users")
        test_users = np.asarray(split.test.users)
        taken = np.flatnonzero(np.isin(test_users, held_out))
        calib_rows = pick_users(len(split.test), int(self.p.calib_users), rng, exclude=taken)
        excluded = np.union1d(held_out, test_users[calib_rows])
        train_users = np.setdiff1d(np.unique(split.train.users), excluded)
        if 0 < int(self.p.train_users) < len(train_users):
            train_users = np.sort(rng.choice(train_users, int(self.p.train_users), replace=False))
        self._models = fit_models(victim, split, train_users, ctx, dict(self.p))
        calib = [h for s in benign_streams(split.test, calib_rows, int(self.p.max_queries)) for h in s]
        rec, dev = raw_scores(self._models, calib, None, dict(self.p))
        self._norm = (float(rec.mean()), float(rec.std()) or 1.0, float(dev.mean()), float(dev.std()) or 1.0)
        self._threshold = float(np.quantile(self._combine(rec, dev), 1.0 - float(self.p.fpr)))

    def _combine(self, rec: np.ndarray, dev: np.ndarray) -> np.ndarray:
        mr, sr, md, sd = self._norm
        a = float(self.p.alpha)
        return a * (rec - mr) / sr + (1 - a) * (dev - md) / sd

    def _score(self, histories: list[np.ndarray], lists: np.ndarray | None, key: str | None = None) -> np.ndarray:
        from ._detect_same import raw_scores

        if self._models is None:
            raise RuntimeError("same-detector: prepare() first")
        rec, dev = raw_scores(self._models, histories, lists, dict(self.p))
        if key is not None:
            self._parts.setdefault(key, []).append(np.stack([rec, dev], axis=1))
        return self._combine(rec, dev)

    def _online(self, queries: Queries, lists: np.ndarray, account: str) -> tuple[np.ndarray, np.ndarray]:
        s = self._score(list(queries.histories), lists, None if account == EVALUATOR else f"attacker:{account}")
        return s, s > self._threshold

    def _stream(self, histories: list[np.ndarray], online: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float]:
        q = online if online is not None else self._score(histories, None, "")
        return q, q > self._threshold, float(q.mean()) if len(q) else 0.0

    def metrics(self, log: "QueryLog", ctx: "RunContext") -> dict[str, float]:
        from recsec.metrics import roc_auc

        self._parts.pop("", None)
        out = super().metrics(log, ctx)
        att = [p for k, v in self._parts.items() if k.startswith("attacker:") for p in v]
        ben = self._parts.get("", [])
        if out and att and ben:
            a, b = np.concatenate(att), np.concatenate(ben)
            labels = np.r_[np.ones(len(a), bool), np.zeros(len(b), bool)]
            out["auroc_query_recon"] = roc_auc(labels, np.r_[a[:, 0], b[:, 0]])
            out["auroc_query_dev"] = roc_auc(labels, np.r_[a[:, 1], b[:, 1]])
        return out
