"""Misbehaving third-party components: each ``mode`` breaks one part of a contract.

The tests run them through the matrix and check that every breakage ends as a failed
cell with a one-line message naming the component and the fault, never as ``done``.
"""

from __future__ import annotations

import sys

import numpy as np

from recsec.attack import Attack
from recsec.defense import Defense
from recsec.hookspecs import hookimpl
from recsec.outputs import MembershipScores, Surrogate
from recsec.params import Param
from recsec.queries import Queries
from recsec.testing.checks import _Popularity

ATTACK_MODES = (
    "ok", "none", "dict", "wrong-output", "nan-diagnostic", "bool-diagnostic", "string-diagnostic", "array-diagnostic",
    "float32-diagnostic", "no-model", "wrong-catalogue", "fake-holdout", "exit", "skip-raises", "skip-exits",
    "peek-algorithm", "peek-real", "peek-membership", "peek-init-seed",
)
DEFENSE_MODES = ("ok", "past-catalogue", "minus-one", "float-ids", "duplicates", "history", "short", "flags", "middle-pad")


class Breaker(Attack):
    """Extraction-shaped attack that breaks its contract as ``mode`` says."""

    name = "breaker"
    output = Surrogate
    params = {"mode": Param("ok", help="what to break", choices=ATTACK_MODES)}

    def skip(self, **context):
        if self.p.mode == "skip-raises":
            raise RuntimeError("skip exploded")
        if self.p.mode == "skip-exits":
            sys.exit(3)
        return super().skip(**context)

    def run(self, api, ctx):
        mode = self.p.mode
        know = ctx.knowledge
        if mode == "exit":
            sys.exit(1)
        if mode == "peek-algorithm":
            know.new_victim()
        if mode == "peek-real":
            know.real_sequences()
        if mode == "peek-membership":
            know.membership()
        if mode == "peek-init-seed":
            know.victim_init_seed()
        hist = Queries.of([[i] for i in range(5)])
        lists = api.query(hist)
        model = _Popularity()
        model.n_items, model.counts = know.n_items, np.bincount(lists.ravel(), minlength=know.n_items).astype(np.float32)
        out = Surrogate(model=model, holdout=hist, holdout_lists=lists)
        if mode == "none":
            return None
        if mode == "dict":
            return {"agr@10": 1.0}
        if mode == "wrong-output":
            return MembershipScores(users=np.arange(3), scores=np.ones(3))
        if mode == "no-model":
            out.model = "a model"
        if mode == "wrong-catalogue":
            model.counts, model.n_items = model.counts[:-1], know.n_items - 1
        if mode == "fake-holdout":
            out.holdout_lists = lists[:, ::-1].copy()
        diag = {"nan-diagnostic": float("nan"), "bool-diagnostic": True, "string-diagnostic": "0.5",
                "array-diagnostic": np.ones(2), "float32-diagnostic": np.float32(0.5)}
        if mode in diag:
            out.diagnostics = {"value": diag[mode]}
        return out


class BadDefense(Defense):
    """An output defense whose answers break the list contract as ``mode`` says."""

    name = "bad-defense"
    params = {"mode": Param("ok", help="what to break", choices=DEFENSE_MODES)}

    def answer(self, queries, lists, personalised, account, rng):
        out, flags = lists.copy(), np.zeros(len(queries), dtype=bool)
        mode = self.p.mode
        if mode == "past-catalogue":
            out[:, 0] = 10_000
        elif mode == "minus-one":
            out[:, :] = -1
        elif mode == "float-ids":
            out = out.astype(np.float64)
        elif mode == "duplicates":
            out[:, 1] = out[:, 0]
        elif mode == "history":
            for i, h in enumerate(queries.histories):
                if len(h):
                    out[i, 0] = h[0]
        elif mode == "short":
            out = out[:, :3]
        elif mode == "flags":
            flags = np.zeros(len(queries) + 1)
        elif mode == "middle-pad":
            out[:, 0] = -1
        return out, flags


class NaNRecommender(_Popularity):
    """A recommender whose scores are NaN (a diverged training)."""

    name = "nan-recommender"

    def score(self, queries):
        import torch

        return torch.full((len(queries), self.n_items), float("nan"))


@hookimpl
def recsec_register_attacks(registry):
    registry.add_attack(Breaker)


@hookimpl
def recsec_register_defenses(registry):
    registry.add_defense(BadDefense)


@hookimpl
def recsec_register_recommenders(registry):
    registry.add_recommender(NaNRecommender)
