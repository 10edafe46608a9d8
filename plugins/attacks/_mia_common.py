"""What every membership-inference attack shares (numpy only): the protocol and serving
parameters, the realistic-protocol switch, the shadow recommender and the budget rule.

The membership protocol is Zhang et al.'s user partition (CCS 2021; ``recsec.protocols.Membership``).
How the service answers users it was not trained on is the switch the realistic-protocol
surveys ask for (He et al., "Membership Inference Attacks on Recommender Systems: A Survey",
arXiv 2509.11080; Chi et al., "Reference Recommendation based Membership Inference Attack
against Hybrid-based Recommender Systems", AAAI 2026, arXiv 2512.09442): with
``nonmember_lists="popular"`` (Zhang et al.'s protocol) a non-member receives the cold-start
most-popular list, so "personalised or not" gives membership away; with ``"foldin"`` every
user, member or not, is served by the same personalised model (a fold-in of the history for
users it holds no state for, the model's own list for a sequential victim), so only what the
model memorised separates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recsec.attack import Attack
from recsec.data import Split
from recsec.outputs import MembershipScores
from recsec.params import Param
from recsec.protocols import Membership, empty_evalset
from recsec.threat import Serving, ThreatModel

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import BlackBoxAPI
    from recsec.context import AttackContext
    from recsec.protocols import MembershipKnowledge

#: ``nonmember_lists`` values: Zhang et al.'s popular fallback, or the realistic protocol.
NONMEMBER_LISTS = ("popular", "foldin")


def serving_params(default: str = "popular") -> dict[str, Param]:
    """The list length and the non-member rule (``nonmember_lists``) of a membership attack."""
    return {
        "nonmember_lists": Param(default, choices=NONMEMBER_LISTS,
                                 help="lists non-members get: 'popular' (cold-start fallback, Zhang et al.) or "
                                 "'foldin' (the realistic protocol: the same personalised model serves everyone)"),
        "k": Param(100, help="recommended list length the attacker observes", low=10, high=100, valid="[1, inf)"),
        "lists": Param("recsec", choices=("recsec", "reference"), search=False,
                       help="how the service answers: recsec's (lists exclude the user's history; the popular "
                       "fallback ranked on the training data) or Zhang et al.'s released code's (lists keep "
                       "history items; the popular fallback ranked on the non-members' events)"),
    }


def protocol_params() -> dict[str, Param]:
    """The user partition of Zhang et al. (CCS 2021); part of the victim's key."""
    return {
        "min_interactions": Param(20, help="users with fewer events are left out (Zhang et al.: 20)", valid="[1, inf)"),
        "shadow_frac": Param(1 / 3, help="fraction of kept users in the shadow set", valid="(0, 1)"),
        "target_frac": Param(1 / 3, help="fraction of kept users in the target set (the rest: item embedding)",
                             valid="(0, 1)"),
        "member_frac": Param(0.5, help="fraction of the shadow and of the target users that are members",
                             valid="(0, 1)"),
    }


class MembershipAttack(Attack):
    """Base of recsec's membership attacks: the protocol from ``min_interactions``, ``shadow_frac``,
    ``target_frac`` and ``member_frac``; the serving from ``k`` and ``nonmember_lists``."""

    families = ("general",)
    output = MembershipScores

    def skip(self, **context: object) -> str | None:
        reason = super().skip(**context)
        rec = context.get("recommender")
        if reason is None and rec is not None and getattr(rec, "family", "") == "sequential" \
                and self.p.nonmember_lists == "popular":
            return (f"{self.name}: a sequential recommender keeps no per-user state, so the popular fallback would "
                    "serve every user alike; use nonmember_lists=foldin")
        return reason

    def protocol(self) -> Membership:
        return Membership(int(self.p.min_interactions), float(self.p.shadow_frac), float(self.p.target_frac),
                          float(self.p.member_frac))

    def threat_model(self) -> ThreatModel:
        return ThreatModel(auxiliary=True)

    def serving(self) -> Serving:
        reference = self.p.lists == "reference"
        return Serving(k=int(self.p.k), cold_start="popular" if self.p.nonmember_lists == "popular" else "model",
                       exclude_history=not reference, popular_from="nonmembers" if reference else "training")


def affordable(users: np.ndarray, api: "BlackBoxAPI", per_user: int = 1) -> np.ndarray:
    """The first users of ``users`` whose ``per_user`` queries each fit in the remaining budget."""
    if api.remaining is None:
        return users
    return users[: max(api.remaining, 0) // per_user]


def shadow_api(attack: str, know: "MembershipKnowledge", ctx: "AttackContext", adaptive: bool) -> "BlackBoxAPI":
    """A shadow recommender of the victim's kind trained on the attacker's shadow members, served as
    the victim is served (same k and cold-start rule). With ``adaptive`` the shadow is trained through
    the deployed defense's ``train_victim`` and served through a copy of it prepared on the shadow split
    (Kerckhoffs). Seeds derive from ``attack``'s streams."""
    from recsec.context import RunContext

    shadow = ctx.knowledge.new_victim()
    train = know.interactions_of(know.shadow_members)
    split = Split(train=train, valid=empty_evalset(), test=empty_evalset(), key="mia-shadow")
    fit_ctx = RunContext(seed=ctx.seed_for(attack, "shadow-fit"), device=ctx.device, progress=False, log=ctx.log)
    defense = ctx.knowledge.new_defense() if adaptive else None
    if defense is not None:
        defense.train_victim(shadow, split, fit_ctx)
        defense.prepare(shadow, split, fit_ctx)
    else:
        shadow.fit(split, fit_ctx)
    # the shadow's popular fallback ranked as the victim's service ranks its own (Serving.popular_from)
    popular_src = (know.interactions_of(know.shadow_nonmembers) if ctx.knowledge.serving.popular_from == "nonmembers"
                   else train)
    return ctx.knowledge.mirror(shadow, defense=defense, popular=popular_src.popularity_ranking(),
                                rng=ctx.rng(attack, "shadow-api"))


def labelled_shadow(know: "MembershipKnowledge") -> tuple[np.ndarray, np.ndarray]:
    """The shadow users (members first) and their labels (1 = member of the shadow recommender)."""
    users = np.concatenate([know.shadow_members, know.shadow_nonmembers])
    labels = np.r_[np.ones(len(know.shadow_members)), np.zeros(len(know.shadow_nonmembers))].astype(np.int64)
    return users, labels


@dataclass(frozen=True)
class Observed:
    """What a shadow-model membership attack observes before it trains its attack model: the
    item vectors, the labelled shadow users with their histories and features (from the shadow
    recommender's lists), and the target users it could afford with theirs (from the black box)."""

    vectors: np.ndarray
    shadow_users: np.ndarray
    shadow_labels: np.ndarray
    shadow_histories: list
    shadow_features: np.ndarray
    target_users: np.ndarray
    target_histories: list
    target_features: np.ndarray


def observe(attack: str, api: "BlackBoxAPI", ctx: "AttackContext", dim: int, adaptive: bool) -> Observed:
    """Zhang et al.'s observation step (CCS 2021), shared by every shadow-model attack: item vectors
    from the public embedding users, the shadow recommender's lists for the labelled shadow users,
    the black box's lists for the targets as far as the budget goes, each as per-user features."""
    from ._mia_data import item_vectors, mia_features

    know = ctx.knowledge.membership()
    vectors = item_vectors(know.interactions_of(know.embedding), dim, ctx.rng(attack, "item-vectors"))
    shadow = shadow_api(attack, know, ctx, adaptive)
    sh_users, sh_labels = labelled_shadow(know)
    sh_hist = know.histories(sh_users)
    X_sh = mia_features(sh_hist, shadow.query(sh_hist, users=sh_users), vectors)
    tg_users = affordable(know.targets, api)
    tg_hist = know.histories(tg_users)
    X_tg = mia_features(tg_hist, api.query(tg_hist, users=tg_users), vectors)
    return Observed(vectors, sh_users, sh_labels, sh_hist, X_sh, tg_users, tg_hist, X_tg)
