"""Shadow-free (metric-based) membership inference from recommended lists.

The metric-based attacks of the membership-inference literature threshold a statistic of
what the service returns instead of training an attack model on a shadow recommender (the
taxonomy of He et al., "Membership Inference Attacks on Recommender Systems: A Survey",
arXiv 2509.11080). The relative metric follows Chi, Zhang, Wang, Hu, Dou, "Reference
Recommendation based Membership Inference Attack against Hybrid-based Recommender
Systems" (AAAI 2026, arXiv 2512.09442): a reference recommendation, obtained for the same
user data from the same personalised service, is subtracted from the target's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from recsec.outputs import MembershipScores
from recsec.params import Param

from ._mia_common import MembershipAttack, affordable, protocol_params, serving_params

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import BlackBoxAPI
    from recsec.context import AttackContext

SCORES = ("similarity", "relative", "disagreement")


class MetricMIA(MembershipAttack):
    """Shadow-free membership inference: a threshold on how closely a user's list follows its history.

    No shadow recommender, no attack model, no knowledge of the victim's algorithm. Item
    vectors (``dim``) come from a truncated SVD of the public embedding users' 0/1 matrix, as in
    Zhang et al. (CCS 2021). For each target user the attacker observes its recommended list
    L_u (one query as that user) and scores

    - ``score="similarity"``: cos(mean_{i in h_u} v_i, sum_j w_j v_{L_u[j]}), the history
      centroid against the rank-weighted list centroid (w_j = (k - j) / sum); a model fits
      its training users' histories more closely than anyone else's, so higher = member.
    - ``score="relative"``: the same similarity minus that of a reference list R_u, the list
      the service gives a fresh account carrying the same history (a second, anonymous query).
      Chi et al.'s reference recommendation (AAAI 2026); they obtain it through the
      personalisation of a hybrid recommender (user attributes), recsec through a fresh
      account with the target's history (inferred: their exact construction and metric form
      are not public at the level of detail needed; the difference of similarities is
      recsec's reading of their "relative membership metric"). A service that serves every
      user from the history alone gives R_u = L_u to members and non-members alike; one that
      keeps per-user state for its members answers them differently, and that difference is
      what the metric measures.
    - ``score="disagreement"``: 1 - |L_u ∩ R_u| / k, the share of the own list a fresh account
      with the same history is not shown (recsec's sign-free variant of the relative metric:
      the signed difference ranks members whose own list fits the history worse than the
      reference below every non-member).

    Decision threshold (for the balanced accuracy): the attacker knows the protocol's member
    fraction, so it calls the top ``member_frac`` of the target scores members (midpoint
    between the two scores at the boundary; ties kept together, ``top_fraction_threshold``).
    One query per target (two with a reference list); under a smaller budget, the first
    targets it can afford. General and sequential victims (a sequential one only under
    ``nonmember_lists="foldin"``). Diagnostics: ``mean_score``.
    """

    name = "mia-metric"
    version = "1"
    families = ("general", "sequential")  # sequential victims: the realistic protocol only (skip)
    params = {
        **serving_params(),
        "dim": Param(100, help="item-vector dimension of the public embedding factorisation", low=10, high=150,
                     valid="[1, inf)"),
        "score": Param("similarity", choices=SCORES, search=False,
                       help="'similarity' (history vs own list), 'relative' (minus a fresh account's list; Chi et al.) "
                       "or 'disagreement' (1 - overlap of the two lists)"),
        **protocol_params(),
    }

    def run(self, api: "BlackBoxAPI", ctx: "AttackContext") -> MembershipScores:
        from ._mia_data import item_vectors, list_similarity

        know = ctx.knowledge.membership()
        vectors = item_vectors(know.interactions_of(know.embedding), int(self.p.dim), ctx.rng(self.name, "item-vectors"))
        referenced = self.p.score != "similarity"
        users = affordable(know.targets, api, per_user=2 if referenced else 1)
        hist = know.histories(users)
        own = api.query(hist, users=users)
        ref = api.query(hist) if referenced else None  # a fresh (anonymous) account with the same history
        if self.p.score == "disagreement":
            scores = 1.0 - list_overlap(own, ref)
        else:
            scores = list_similarity(hist, own, vectors)
            if ref is not None:
                scores = scores - list_similarity(hist, ref, vectors)
        return MembershipScores(users=users, scores=scores, threshold=top_fraction_threshold(scores, float(self.p.member_frac)),
                                diagnostics={"mean_score": float(scores.mean()) if len(scores) else 0.0})


def list_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a_u ∩ b_u| / k per row of two (B, k) lists of distinct items (-1 padding never matches)."""
    a, b = np.asarray(a), np.asarray(b)
    if len(a) == 0:
        return np.zeros(0)
    same = (a[:, :, None] == b[:, None, :]) & (a[:, :, None] >= 0)
    return same.any(axis=2).sum(axis=1) / a.shape[1]


def top_fraction_threshold(scores: np.ndarray, fraction: float) -> float:
    """A threshold that calls the top ``fraction`` of ``scores`` members (``score >= threshold``):
    the midpoint between the lowest score called a member and the highest one not called; when
    tied scores straddle that boundary, all of them go to the side that keeps the member count
    closer to ``fraction``."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if len(s) == 0:
        return 0.0
    n_out = int(round((1.0 - fraction) * len(s)))
    if n_out <= 0:
        return float(s[0])
    if n_out >= len(s):
        return float(np.nextafter(s[-1], np.inf))
    if s[n_out - 1] < s[n_out]:
        return float((s[n_out - 1] + s[n_out]) / 2.0)
    tie, target = s[n_out], len(s) - n_out
    above = float(np.nextafter(tie, np.inf))
    return above if abs(int((s > tie).sum()) - target) <= abs(int((s >= tie).sum()) - target) else float(tie)
