"""The membership-inference judge (Zhang et al., CCS 2021; methods.md section 6).

From the attack's per-user scores and the labels the arena held back:
``attack.auc`` (ROC AUC, Mann-Whitney with ties 1/2), ``attack.tpr@1%fpr`` and
``attack.tpr@0.1%fpr`` (the low-FPR operating points Carlini et al., S&P 2022, and the
realistic-protocol surveys ask for: He et al., arXiv 2509.11080; with fewer than 1,000
non-members 0.1 % FPR admits no false positive at all),
``attack.balanced_accuracy`` at the attack's own threshold (what the reference code
reports as "AUC"), ``attack.n_target``, and the observable ``attack.shadow_auc`` on the
attacker's own shadow users, whose membership it knows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import PluginOutputError, RecsecError
from ..metrics import balanced_accuracy, roc_auc, tpr_at_fpr
from ..validation import check_ids, check_number

if TYPE_CHECKING:  # pragma: no cover
    from ..arena import Arena
    from ..outputs import MembershipScores


def _scored(users: object, scores: object, allowed: np.ndarray, n_users: int, who: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    u = check_ids(users, who, f"{what} users", n_users)
    s = np.asarray(scores)
    if u.ndim != 1 or s.shape != u.shape:
        raise PluginOutputError(f"{who}: {what} users and scores must be 1-d arrays of one length, got {u.shape} and {s.shape}")
    if s.dtype.kind not in "fiu" or (s.dtype.kind == "f" and not np.isfinite(s).all()):
        raise PluginOutputError(f"{who}: {what} scores must be finite real numbers")
    if len(np.unique(u)) != len(u):
        raise PluginOutputError(f"{who}: {what} users repeat; score each user once")
    if not np.isin(u, allowed).all():
        raise PluginOutputError(f"{who}: {what} users include users that were not granted as {what} users")
    return u, s.astype(np.float64)


def judge_membership(arena: "Arena", out: "MembershipScores", who: str) -> dict[str, float]:
    part = arena.membership_partition()
    n_users = arena.split.train.n_users
    users, scores = _scored(out.users, out.scores, part.targets, n_users, who, "target")
    labels = part.is_member(users)
    if labels.all() or not labels.any():
        raise RecsecError(f"{who}: the {len(users)} scored target users are all "
                          f"{'members' if labels.all() else 'non-members'}: too few queries to judge (raise the budget)")
    threshold = check_number(out.threshold, who, "threshold")
    metrics = {
        "attack.auc": roc_auc(labels, scores),
        "attack.tpr@1%fpr": tpr_at_fpr(labels, scores, 0.01),
        "attack.tpr@0.1%fpr": tpr_at_fpr(labels, scores, 0.001),
        "attack.balanced_accuracy": balanced_accuracy(labels, scores >= threshold),
        "attack.n_target": float(len(users)),
    }
    if out.shadow_users is not None:
        shadow = np.concatenate([part.shadow_members, part.shadow_nonmembers])
        su, ss = _scored(out.shadow_users, out.shadow_scores, shadow, n_users, who, "shadow")
        sl = np.isin(su, part.shadow_members)
        if sl.any() and not sl.all():
            metrics["attack.shadow_auc"] = roc_auc(sl, ss)
    return metrics
