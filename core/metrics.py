"""Metrics computed the standard way, shared by every attack, defense and evaluation.

ROC AUC is the Mann-Whitney statistic (ties count one half), not the balanced
accuracy that the reference membership-inference code reports under that name.
"""

from __future__ import annotations

import numbers

import numpy as np


def is_number(value: object) -> bool:
    """True for a real number (Python or NumPy), False for a bool, None, a string or anything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_binary(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError("labels and scores must have the same shape")
    if y.all() or (~y).all():
        raise ValueError("need both positive and negative labels")
    return y, s


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a random positive > random negative), ties 1/2."""
    from scipy.stats import rankdata

    y, s = _check_binary(labels, scores)
    ranks = rankdata(s)  # average ranks handle ties
    n_pos, n_neg = y.sum(), (~y).sum()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) at every distinct threshold, from (0, 0) to (1, 1)."""
    y, s = _check_binary(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[distinct]
    fp = (distinct + 1) - tp
    tpr = np.r_[0.0, tp / y.sum()]
    fpr = np.r_[0.0, fp / (~y).sum()]
    return fpr, tpr


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr_target: float = 0.01) -> float:
    """Highest TPR reachable with FPR <= ``fpr_target`` (no interpolation)."""
    fpr, tpr = roc_curve(labels, scores)
    return float(tpr[fpr <= fpr_target + 1e-12].max())


def fpr_at_tpr(labels: np.ndarray, scores: np.ndarray, tpr_target: float = 0.95) -> float:
    """Lowest FPR at which TPR >= ``tpr_target``."""
    fpr, tpr = roc_curve(labels, scores)
    return float(fpr[tpr >= tpr_target - 1e-12].min())


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve (step-wise average precision)."""
    y, s = _check_binary(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[distinct]
    precision = tp / (distinct + 1)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def balanced_accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """(TPR + TNR) / 2 of hard predictions; what the reference MIA code calls "AUC"."""
    y = np.asarray(labels).astype(bool)
    p = np.asarray(predictions).astype(bool)
    return float(0.5 * ((p & y).sum() / y.sum() + (~p & ~y).sum() / (~y).sum()))


def ranking_metrics(ranks: np.ndarray, ks: tuple[int, ...] = (1, 5, 10, 20)) -> dict[str, float]:
    """NDCG@K and HR@K for one relevant item per user, from its 0-based rank.

    Args:
        ranks: int (m,) the position of the held-out item (0 = top).
    """
    r = np.asarray(ranks)
    out: dict[str, float] = {}
    for k in ks:
        hit = r < k
        out[f"hr@{k}"] = float(hit.mean()) if len(r) else float("nan")
        out[f"ndcg@{k}"] = float(np.where(hit, 1.0 / np.log2(r + 2.0), 0.0).mean()) if len(r) else float("nan")
    return out


def agreement_at_k(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Agr@K: mean over rows of |top-K(a) ∩ top-K(b)| / K (Yue et al., RecSys 2021).

    Args:
        a, b: int (m, >=K) ranked item lists for the same m queries.
    """
    a, b = np.asarray(a)[:, :k], np.asarray(b)[:, :k]
    if a.shape != b.shape:
        raise ValueError("lists must have the same number of rows and at least K columns")
    inter = [len(np.intersect1d(x, y, assume_unique=True)) for x, y in zip(a, b)]
    return float(np.mean(inter) / k)


def served_agreement(ours: np.ndarray, theirs: np.ndarray, k: int = 10) -> float:
    """Agr@K against lists a service served, which may be shorter than K (a defense that truncates,
    a spec's k below 10; -1 pads them): per row, K_r = min(K, items served), the overlap of the
    top-K_r of ``ours`` with the first K_r served items over K_r; rows with nothing served are left
    out (NaN when every row is). With full lists it equals ``agreement_at_k``."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    scores = []
    for mine, served in zip(ours, theirs):
        served = served[served >= 0][:k]
        if len(served):
            scores.append(len(np.intersect1d(mine[: len(served)], served)) / len(served))
    return float(np.mean(scores)) if scores else float("nan")


def list_diversity(lists: np.ndarray) -> dict[str, float]:
    """Distinct items at top-1 and in the top-10 across users (a victim returning one list to all is useless)."""
    lists = np.asarray(lists)
    return {
        "distinct_top1": float(len(np.unique(lists[:, 0]))),
        "distinct_top10": float(len(np.unique(lists[:, :10]))),
    }
