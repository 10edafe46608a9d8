"""A model-extraction attack: a first-order Markov copy of the victim."""

import numpy as np
import torch

from recsec.attack import Attack
from recsec.outputs import Surrogate
from recsec.params import Param
from recsec.queries import Queries
from recsec.recommender import Recommender
from recsec.threat import Serving


class Transitions(Recommender):
    """Scores item j after item i by how high the victim ranked j for the query [i]."""

    name = "transitions"

    def __init__(self, table):
        super().__init__()
        self.table, self.n_items = torch.as_tensor(table), len(table)

    def score(self, queries):
        last = [h[-1] if len(h) else 0 for h in queries.histories]
        return self.table[torch.as_tensor(last)]


class Copycat(Attack):
    """Asks for the list after every single item and copies the answers into a transition table."""

    name = "copycat"
    version = "1"
    families = ("sequential",)
    output = Surrogate
    params = {"holdout": Param(50, help="queries held out to measure agreement", low=0, high=1000)}

    def serving(self):
        return Serving(budget=None)

    def run(self, api, ctx):
        n = ctx.knowledge.n_items
        single = Queries.of([[i] for i in range(n)])
        lists = api.query(single)
        table = np.zeros((n, n), dtype=np.float32)
        rows = np.repeat(np.arange(n), lists.shape[1])
        table[rows[lists.ravel() >= 0], lists.ravel()[lists.ravel() >= 0]] = np.tile(
            1.0 / np.arange(1, lists.shape[1] + 1), n)[lists.ravel() >= 0]
        pairs = ctx.rng("holdout").integers(0, n, size=(int(self.p.holdout), 2))
        held = Queries.of([list(p) for p in pairs if p[0] != p[1]])
        return Surrogate(model=Transitions(table), holdout=held, holdout_lists=api.query(held),
                         diagnostics={"queries_sent": float(n + len(held))})
