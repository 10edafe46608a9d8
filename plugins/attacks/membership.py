"""User-level membership inference against recommenders from their top-k lists.

Zhang, Ren, Wang, Ren, Chen, Hu, Zhang, "Membership Inference Attacks Against
Recommender Systems", ACM CCS 2021 (arXiv 2109.08045), as applied to a latent
factor model by Hu, "Membership Inference Attacks Against Latent Factor
Model" (arXiv 2301.03596).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from recsec.attack import Attack
from recsec.data import Interactions, Split
from recsec.params import Param, format_value

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import BlackBoxAPI
    from recsec.context import AttackContext

    from ._mia_data import MIAPartition


class ZhangMIA(Attack):
    """Membership inference from recommended lists with a shadow recommender (Zhang et al., CCS 2021).

    Protocol (``split``): users with at least ``min_interactions`` events are
    cut into disjoint shadow, target and item-embedding sets; half of the
    shadow and of the target users are members. The victim trains on the
    target members (minus each one's last event, which is its utility test
    target); the attacker trains a shadow recommender of the same algorithm
    (``victim_factory``) on the shadow members.

    Threat model: the attacker knows the recommender's algorithm and
    hyperparameters (never its weights), the interactions of the embedding
    and shadow users (from the same distribution), the observed histories of
    the target users (not their labels), the list length and how the service
    treats users it has no model of. It sees only item lists through the
    black box; from ``ctx.split`` it reads only ``extra["mia"]`` (the
    partition: its own data plus the targets' histories) and the target
    labels to score itself.

    Attack: item vectors (``dim``) from a truncated SVD of the embedding
    users' 0/1 matrix; a user's feature is the mean vector of its history
    minus the rank-weighted centroid of its k recommended items (weight
    (k - j) / sum); an MLP dim -> 32 -> 8 -> 2 (Adam, cross-entropy) trained
    on the shadow users' features (labels known) scores the target users.
    Features are standardised with the shadow statistics when
    ``standardize`` is on. The shadow's API mirrors the victim's serving
    policy; by default not its defense (a non-adaptive attacker, as in the
    paper). With ``adaptive`` the attacker knows the defense and its
    parameters (Kerckhoffs): the shadow is trained through the defense's
    ``train_victim`` and served through a copy of it, prepared on the shadow
    split, so the attack model learns what defended lists look like.

    ``nonmember_lists``: ``"popular"`` is the paper's protocol: the service
    returns the most-popular list to users it was not trained on
    (``cold_start="popular"``), so much of the signal is "personalised list
    or not". ``"foldin"`` serves non-members a personalised list from their
    history (``cold_start="model"``), which isolates what the model memorised.

    One query per target user; under a query budget smaller than the target
    set, the attack scores the (random) subset of target users it can afford.

    Metrics: ``auc`` (ROC AUC of the MLP's membership probability),
    ``tpr@1%fpr``, ``balanced_accuracy`` (threshold 0.5; what the reference
    code reports as "AUC"), the in-sample ``shadow_train_auc``, and the user
    counts ``n_target`` and ``n_shadow``.
    """

    name = "mia-zhang"
    version = "1"
    families = ("general",)
    primary_metric = "auc"
    metric_directions = {"auc": True, "tpr@1%fpr": True, "balanced_accuracy": True}
    params = {
        "nonmember_lists": Param(
            "popular",
            help="lists non-members get: 'popular' (cold-start fallback, the paper) or 'foldin' (personalised)",
            choices=("popular", "foldin"),
        ),
        "k": Param(100, help="recommended list length the attacker observes", low=10, high=100),
        "dim": Param(100, help="item-vector dimension (= MLP input size)", low=10, high=150),
        "mlp_lr": Param(1e-3, help="Adam learning rate of the attack MLP", low=1e-4, high=1e-1, log=True),
        "mlp_epochs": Param(100, help="training epochs of the attack MLP", low=10, high=500, log=True),
        "mlp_batch": Param(32, help="attack MLP mini-batch size"),
        "mlp_weight_decay": Param(0.0, help="Adam weight decay of the attack MLP"),
        "standardize": Param(True, help="standardise features with the shadow mean and std"),
        "min_interactions": Param(20, help="users with fewer events are left out (Zhang et al.: 20)"),
        "shadow_frac": Param(1 / 3, help="fraction of kept users in the shadow set"),
        "target_frac": Param(1 / 3, help="fraction of kept users in the target set (the rest: item embedding)"),
        "member_frac": Param(0.5, help="fraction of the shadow and of the target users that are members"),
        "adaptive": Param(False, help="the attacker knows the defense: its shadow is served through a copy of it"),
    }

    _SPLIT_PARAMS = ("min_interactions", "shadow_frac", "target_frac", "member_frac")

    # -- protocol --------------------------------------------------------------------------------
    def split_key(self) -> str:
        inner = ",".join(f"{k}={format_value(self.p[k])}" for k in self._SPLIT_PARAMS)
        return f"mia-zhang-v1[{inner}]"

    def split(self, data: Interactions, rng: np.random.Generator) -> Split:
        from ._mia_data import build_split

        return build_split(
            data,
            rng,
            min_interactions=int(self.p.min_interactions),
            shadow_frac=float(self.p.shadow_frac),
            target_frac=float(self.p.target_frac),
            member_frac=float(self.p.member_frac),
            key=self.split_key(),
        )

    def _cold_start(self) -> str:
        return "popular" if self.p.nonmember_lists == "popular" else "model"

    def serving(self) -> dict[str, Any]:
        return {"k": int(self.p.k), "cold_start": self._cold_start()}

    # -- attack ----------------------------------------------------------------------------------
    def run(self, api: "BlackBoxAPI", ctx: "AttackContext") -> dict[str, float]:
        from recsec.metrics import balanced_accuracy, roc_auc, tpr_at_fpr

        from ._mia_data import item_vectors, mia_features

        part = self._partition(ctx)
        vectors = item_vectors(part.interactions_of(part.embedding), int(self.p.dim), ctx.rng(self.name, "item-vectors"))

        # Shadow side: a recommender of the victim's kind, trained on the attacker's members.
        shadow_api = self._shadow_api(api, part, ctx)
        sh_users = np.concatenate([part.shadow_members, part.shadow_nonmembers])
        sh_labels = np.r_[np.ones(len(part.shadow_members)), np.zeros(len(part.shadow_nonmembers))].astype(np.int64)
        sh_hist = part.histories(sh_users)
        sh_lists = shadow_api.query(sh_hist, users=sh_users, account="shadow")
        X_sh = mia_features(sh_hist, sh_lists, vectors)

        # Target side: the victim, through the (possibly defended) black box, in a random order.
        tg_users = np.concatenate([part.target_members, part.target_nonmembers])
        tg_labels = np.r_[np.ones(len(part.target_members)), np.zeros(len(part.target_nonmembers))].astype(np.int64)
        order = ctx.rng(self.name, "query-order").permutation(len(tg_users))
        if api.remaining is not None and api.remaining < len(order):  # a budget: score the users it covers
            order = order[: max(api.remaining, 0)]
        tg_users, tg_labels = tg_users[order], tg_labels[order]
        if len(np.unique(tg_labels)) < 2:
            raise ValueError(f"{self.name}: the query budget covers {len(order)} target users, not both members and non-members")
        tg_hist = part.histories(tg_users)
        tg_lists = api.query(tg_hist, users=tg_users, account="attacker")
        X_tg = mia_features(tg_hist, tg_lists, vectors)

        if self.p.standardize:
            mu, sd = X_sh.mean(axis=0), X_sh.std(axis=0)
            sd = np.where(sd > 1e-12, sd, 1.0)
            X_sh, X_tg = (X_sh - mu) / sd, (X_tg - mu) / sd

        from ._mia_model import member_probability, train_mlp

        model, _ = train_mlp(
            X_sh,
            sh_labels,
            lr=float(self.p.mlp_lr),
            epochs=int(self.p.mlp_epochs),
            batch_size=int(self.p.mlp_batch),
            weight_decay=float(self.p.mlp_weight_decay),
            init_seed=ctx.seed_for(self.name, "mlp-init"),
            order_seed=ctx.seed_for(self.name, "mlp-order"),
            device=ctx.device,
        )
        prob = member_probability(model, X_tg)
        return {
            "auc": roc_auc(tg_labels, prob),
            "tpr@1%fpr": tpr_at_fpr(tg_labels, prob, 0.01),
            "balanced_accuracy": balanced_accuracy(tg_labels, prob >= 0.5),
            "shadow_train_auc": roc_auc(sh_labels, member_probability(model, X_sh)),
            "n_target": float(len(tg_users)),
            "n_shadow": float(len(sh_users)),
        }

    def _partition(self, ctx: "AttackContext") -> "MIAPartition":
        part = None if ctx.split is None else ctx.split.extra.get("mia")
        if part is None:
            raise ValueError(f"{self.name} needs the split made by its own split() (Split.extra['mia'] is missing)")
        return part

    def _shadow_api(self, api: "BlackBoxAPI", part: "MIAPartition", ctx: "AttackContext") -> "BlackBoxAPI":
        """Train the shadow recommender and wrap it like the victim is served (same k and cold start)."""
        from recsec.blackbox import BlackBoxAPI
        from recsec.context import RunContext

        from ._mia_data import empty_evalset

        if ctx.victim_factory is None:
            raise ValueError(f"{self.name} needs ctx.victim_factory to train its shadow recommender")
        shadow = ctx.victim_factory()
        train = part.interactions_of(part.shadow_members)
        split = Split(train=train, valid=empty_evalset(), test=empty_evalset(), key="mia-shadow")
        fit_ctx = RunContext(seed=ctx.seed_for(self.name, "shadow-fit"), device=ctx.device, progress=False, log=ctx.log)
        defense = copy.deepcopy(api.defense) if self.p.adaptive and api.defense is not None else None
        if defense is not None:
            defense.train_victim(shadow, split, fit_ctx)
            defense.prepare(shadow, split, fit_ctx)
        else:
            shadow.fit(split, fit_ctx)
        return BlackBoxAPI(
            shadow,
            defense=defense,
            k=api.k,
            cold_start=self._cold_start(),
            popular=train.popularity_ranking(),
            exclude_history=api.exclude_history,
            log_queries=False,
            rng=ctx.rng(self.name, "shadow-api"),
        )
