"""An attack: profile pollution by probing the black box, no surrogate model.

The profile-pollution threat of Yue et al., "Black-Box Attacks on Sequential Recommenders
via Data-Free Model Extraction" (RecSys 2021): append items to real users' histories so
that the service ranks a target item higher. Where they search the items on an extracted
surrogate, this attack asks the service itself: after which single item does it list the
target highest? (A guide example of recsec's, not a method from a paper.)
"""

from __future__ import annotations

import numpy as np

from recsec.attack import Attack
from recsec.blackbox import BlackBoxAPI
from recsec.context import AttackContext
from recsec.outputs import PollutedProfiles
from recsec.params import Param
from recsec.queries import Queries
from recsec.threat import PollutionTask, Serving, ThreatModel


def target_rank(lists: np.ndarray, target: int) -> np.ndarray:
    """Position of ``target`` in each answer, the list width when absent (-1 pads are never it)."""
    hit = lists == target
    return np.where(hit.any(axis=1), hit.argmax(axis=1), lists.shape[1])


class ProbePollution(Attack):
    """Appends the items after which the black box lists the target highest.

    For each target of the assignment, ``n_probes`` single-item histories [j] (seeded
    random items, never the target) are sent and the target's position in each answer
    read off; the ``n_append`` best items go at the end of every assigned history, the
    best one last. The query budget (``budget``) is shared evenly between the targets.
    """

    name = "probe-pollution"
    version = "1"
    output = PollutedProfiles
    params = {
        "n_targets": Param(5, help="target items (chosen by the arena across popularity)", valid="[1, inf)"),
        "n_users": Param(50, help="real test users polluted per target", valid="[1, inf)"),
        "n_append": Param(3, help="items appended to each history", low=1, high=10, valid="[1, inf)"),
        "n_probes": Param(40, help="single-item queries per target", low=5, high=500, log=True, valid="[1, inf)"),
        "budget": Param(1000, help="the attacker's query budget", valid="[0, inf)"),
    }

    def threat_model(self) -> ThreatModel:
        # the assignment (targets, users' histories) is all it knows beyond the black box
        return ThreatModel(pollution=PollutionTask(int(self.p.n_targets), int(self.p.n_users), int(self.p.n_append)))

    def serving(self) -> Serving:
        return Serving(budget=int(self.p.budget))  # k: the spec's; fold-in; history excluded

    def run(self, api: BlackBoxAPI, ctx: AttackContext) -> PollutedProfiles:
        tasks = ctx.knowledge.pollution()
        n_items, m = ctx.knowledge.n_items, int(self.p.n_append)
        rng = ctx.rng("probes")
        appended, best_ranks = [], []
        for i, target in enumerate(int(t) for t in tasks.targets):
            # plan from what is left, so no batch is refused (BudgetExhausted is raised before answering)
            share = int(self.p.n_probes) if api.remaining is None else api.remaining // (len(tasks.targets) - i)
            others = np.delete(np.arange(n_items), target)
            probes = rng.permutation(others)[: min(int(self.p.n_probes), share)]
            if len(probes):
                ranks = target_rank(api.query(Queries.of([[int(j)] for j in probes])), target)
                order = np.argsort(ranks, kind="stable")
                best, best_ranks = probes[order[:m]], best_ranks + [float(ranks[order[0]])]
            else:
                best = np.zeros(0, dtype=np.int64)
            if len(best) < m:  # too few probes: fill with random items other than the target
                best = np.concatenate([best, rng.choice(np.setdiff1d(others, best), m - len(best), replace=False)])
            rows = len(tasks.eligible(target))  # the users who do not hold the target yet
            appended.append(np.tile(best[::-1].astype(np.int64), (rows, 1)))  # (rows, m), best item last
        diagnostics = {"probes_sent": float(api.queries_used)}
        if best_ranks:
            diagnostics["best_probe_rank"] = float(np.mean(best_ranks))
        return PollutedProfiles(appended=appended, diagnostics=diagnostics)
