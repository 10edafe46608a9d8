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
from recsec.outputs import Surrogate
from recsec.queries import Queries
from recsec.recommender import Recommender
from recsec.testing import tiny_interactions
from recsec.testing.checks import _Popularity

__version__ = "0.3"

#: Tests set INTERRUPT["at"] = n to simulate the user's Ctrl-C during the n-th attack run.
INTERRUPT: dict[str, int | None] = {"at": None}
CALLS = {"fit": 0, "run": 0}


def _press_ctrl_c() -> None:
    """What the user's Ctrl-C does: SIGINT to the runner's process (tests using INTERRUPT run the
    attack in it, RECSEC_ISOLATE=0). A plain ``raise KeyboardInterrupt`` here would be the plugin's
    own fault, recorded as a failed cell."""
    import os
    import signal
    import time

    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)  # the handler raises KeyboardInterrupt long before


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


class Echo(Recommender):
    """What the toy attacker learned: items scored by how often the black box returned them."""

    name = "toy-echo"

    def __init__(self, counts=None):
        super().__init__()
        self.counts = np.zeros(0, np.float32) if counts is None else np.asarray(counts, np.float32)
        self.n_items = len(self.counts)

    def score(self, queries):
        import torch

        return torch.as_tensor(np.tile(self.counts, (len(queries), 1)))


class ToyProbe(Attack):
    """Queries random histories and returns a surrogate that echoes the items it was shown."""

    name = "toy-probe"
    version = "3"
    output = Surrogate
    params = {
        "n_queries": Param(10, help="queries to send", low=2, high=20),
        "fail": Param(False, help="raise inside run() (tests the failure path)"),
        "sleep_s": Param(0.0, help="seconds to spend in run() (tests of concurrent workers)"),
    }

    def run(self, api, ctx):
        if self.p.sleep_s:
            import time

            time.sleep(self.p.sleep_s)
        if self.p.fail:
            raise ValueError("toy attack failed on purpose")
        CALLS["run"] += 1
        if INTERRUPT["at"] is not None and CALLS["run"] == INTERRUPT["at"]:
            _press_ctrl_c()
        rng = ctx.rng("toy-probe")
        n_items = ctx.knowledge.n_items
        hist = Queries.of([rng.choice(n_items, size=3, replace=False) for _ in range(self.p.n_queries + 2)])
        try:
            lists = api.query(hist)
        except BudgetExhausted:
            return Surrogate(model=Echo(np.zeros(n_items)))
        n = self.p.n_queries
        counts = np.bincount(lists[:n][lists[:n] >= 0], minlength=n_items).astype(np.float32)
        counts += np.linspace(0, 1e-3, n_items, dtype=np.float32)  # ties broken by id
        return Surrogate(model=Echo(counts), holdout=hist.slice(n, n + 2), holdout_lists=lists[n:],
                         diagnostics={"sent": np.float32(n + 2)})


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
