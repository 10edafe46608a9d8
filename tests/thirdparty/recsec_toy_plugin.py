"""A third-party-style recsec plugin used by the tests: registered through an
entry point of a fake distribution, exactly as an external package would be."""

from __future__ import annotations

import numpy as np

from recsec.attack import Attack
from recsec.dataset import Dataset
from recsec.defense import Defense
from recsec.errors import BudgetExhausted
from recsec.hookspecs import hookimpl
from recsec.params import Param
from recsec.queries import Queries
from recsec.testing import tiny_interactions
from recsec.testing.checks import _Popularity

__version__ = "0.3"

#: Tests set INTERRUPT["at"] = n to simulate Ctrl-C during the n-th attack run.
INTERRUPT: dict[str, int | None] = {"at": None}
CALLS = {"fit": 0, "run": 0}


class ToyData(Dataset):
    """Tiny structured interactions from recsec.testing."""

    name = "toy-data"
    params = {"n_users": Param(80, help="users")}

    def load(self, ctx):
        return tiny_interactions(n_users=self.p.n_users)


class ToyPopular(_Popularity):
    """Most-popular victim that counts how often it is trained."""

    name = "toy-popular"

    def fit(self, split, ctx):
        CALLS["fit"] += 1
        return {**super().fit(split, ctx), "epochs": 1}


class ToyProbe(Attack):
    """Queries a few users and reports how often the answer contains their next item."""

    name = "toy-probe"
    version = "2"
    primary_metric = "hit"
    metric_directions = {"hit": True}
    params = {
        "n_queries": Param(10, help="queries to send", low=2, high=20),
        "fail": Param(False, help="raise inside run() (tests the failure path)"),
    }

    def run(self, api, ctx):
        if self.p.fail:
            raise ValueError("toy attack failed on purpose")
        CALLS["run"] += 1
        if INTERRUPT["at"] is not None and CALLS["run"] == INTERRUPT["at"]:
            raise KeyboardInterrupt
        ev = ctx.split.test
        n = min(self.p.n_queries, len(ev))
        try:
            lists = api.query(Queries(ev.histories[:n]))
        except BudgetExhausted:
            return {"hit": 0.0}
        hit = (lists == ev.targets[:n, None]).any(axis=1).mean()
        return {"hit": float(hit) + 1e-3 * self.p.n_queries, "queries": float(n)}


class ToyReverse(Defense):
    """Reverses every list (a utility-destroying output perturbation)."""

    name = "toy-reverse"

    def answer(self, queries, lists, personalised, account, rng):
        return lists[:, ::-1].copy(), np.zeros(len(queries), dtype=bool)


@hookimpl
def recsec_register_datasets(registry):
    registry.add_dataset(ToyData)


@hookimpl
def recsec_register_recommenders(registry):
    registry.add_recommender(ToyPopular)


@hookimpl
def recsec_register_attacks(registry):
    registry.add_attack(ToyProbe)


@hookimpl
def recsec_register_defenses(registry):
    registry.add_defense(ToyReverse)
