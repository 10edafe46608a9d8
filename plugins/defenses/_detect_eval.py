"""Scoring a query detector: benign traffic from held-out real users, attacker traffic from the log.

Positives are the attacker's logged queries (every account but the runner's
``"evaluator"``); negatives are benign users' sessions: each held-out user
queries every prefix of their real history (``split.test`` input), in
order, the way a service re-ranks after each interaction. Both go through
the same scoring.

- per query: AUROC, AUPR (positive = attacker), FPR at 95% TPR
  (``recsec.metrics``);
- per account: accounts are groups of queries. Benign accounts are users;
  the attacker's log is cut into consecutive groups of ``account_size``
  queries (0: the accounts as logged), as if it spread its traffic over that
  many sybil accounts. The detector defines the account score.
- refusals: ``benign_refused`` / ``attacker_refused`` = share of benign users
  / attacker accounts (as grouped above) with at least one query the online
  rule flags when replayed alone; ``attacker_flagged`` = share of the
  attacker's logged queries flagged online (its real accounts).

Shapes: Q queries, U accounts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from recsec.blackbox import EVALUATOR
from recsec.metrics import average_precision, fpr_at_tpr, roc_auc

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import QueryLog
    from recsec.data import EvalSet


def pick_users(n_available: int, n: int, rng: np.random.Generator, exclude: np.ndarray | None = None) -> np.ndarray:
    """A seeded sorted sample of ``n`` row indices of 0..n_available-1 outside ``exclude`` (all when n <= 0 or too few)."""
    pool = np.arange(n_available) if exclude is None else np.setdiff1d(np.arange(n_available), exclude)
    if n <= 0 or n >= len(pool):
        return pool
    return np.sort(rng.choice(pool, n, replace=False))


def prefix_stream(history: np.ndarray, max_queries: int) -> list[np.ndarray]:
    """Every prefix h[:1], ..., h[:L] of one user's history (the last ``max_queries`` if > 0)."""
    h = np.asarray(history, dtype=np.int64)
    start = 1 if max_queries <= 0 else max(1, len(h) - max_queries + 1)
    return [h[:t] for t in range(start, len(h) + 1)]


def benign_streams(evalset: "EvalSet", rows: np.ndarray, max_queries: int) -> list[list[np.ndarray]]:
    """One prefix stream per chosen row of ``evalset`` (users with an empty history are dropped)."""
    out = [prefix_stream(evalset.histories[r], max_queries) for r in rows]
    return [s for s in out if s]


def attacker_groups(log: "QueryLog", account_size: int) -> tuple[list[str], list[np.ndarray]]:
    """(account names, record indices per account) of the non-evaluator traffic, cut into groups if asked."""
    by_acct: dict[str, list[int]] = {}
    for i, r in enumerate(log.records):
        if r.account != EVALUATOR:
            by_acct.setdefault(r.account, []).append(i)
    names, groups = [], []
    for acct, idx in by_acct.items():
        arr = np.asarray(idx, dtype=np.int64)
        if account_size <= 0:
            names.append(acct)
            groups.append(arr)
            continue
        for g, a in enumerate(range(0, len(arr), account_size)):
            names.append(f"{acct}#{g}")
            groups.append(arr[a : a + account_size])
    return names, groups


def _three(labels: np.ndarray, scores: np.ndarray, suffix: str) -> dict[str, float]:
    nan = float("nan")
    if labels.all() or (~labels).all():
        return {f"auroc_{suffix}": nan, f"aupr_{suffix}": nan, f"fpr95_{suffix}": nan}
    return {
        f"auroc_{suffix}": roc_auc(labels, scores),
        f"aupr_{suffix}": average_precision(labels, scores),
        f"fpr95_{suffix}": fpr_at_tpr(labels, scores, 0.95),
    }


def detection_metrics(att_query: np.ndarray, ben_query: np.ndarray, att_account: np.ndarray,
                      ben_account: np.ndarray) -> dict[str, float]:
    """AUROC / AUPR / FPR@95%TPR per query and per account, positives = attacker."""
    out: dict[str, float] = {}
    for suffix, pos, neg in (("query", att_query, ben_query), ("account", att_account, ben_account)):
        pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
        labels = np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]
        out.update(_three(labels, np.r_[pos, neg], suffix))
    out.update({"n_attacker_queries": float(len(att_query)), "n_benign_queries": float(len(ben_query)),
                "n_attacker_accounts": float(len(att_account)), "n_benign_accounts": float(len(ben_account))})
    return out
