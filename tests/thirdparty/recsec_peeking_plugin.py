"""Attacks that try to read what their threat model withholds (tests/test_isolation.py).

Each returns a perfect clone if it finds the victim or the labels: run in the arena's
process they would succeed; run in the attacker's process they find nothing.
"""

from __future__ import annotations

import gc

import numpy as np

from recsec.attack import Attack
from recsec.defense import Defense
from recsec.hookspecs import hookimpl
from recsec.outputs import MembershipScores, Surrogate
from recsec.params import Param
from recsec.protocols import Membership
from recsec.recommender import Recommender
from recsec.testing.checks import _Popularity
from recsec.threat import ThreatModel


def _victims(n_items: int, mine: object = None) -> list[Recommender]:
    """Trained recommenders over this catalogue found anywhere in the process."""
    found = []
    for obj in gc.get_objects():
        try:
            if isinstance(obj, Recommender) and obj is not mine and getattr(obj, "n_items", None) == n_items:
                found.append(obj)
        except ReferenceError:
            continue
    return found


class PeekVictim(Attack):
    """Model extraction by theft: the victim itself, through the black box's private field or gc."""

    name = "peek-victim"
    version = "1"
    output = Surrogate
    params = {"how": Param("field", choices=("field", "gc"), help="where to look")}

    def run(self, api, ctx):
        probe = [np.array([i]) for i in range(min(5, api.n_items))]
        served = api.query(probe)  # honest queries: the cell is judged as usual, and they tell the victim apart
        if self.p.how == "field":
            victim = getattr(api, "_victim", None)
        else:
            # Other recommenders over a catalogue of this size may be alive in the process (earlier
            # tests, other cells): a thief keeps the one whose lists match what the service served.
            victim = max(_victims(api.n_items), key=lambda m: _agreement(m, probe, served), default=None)
        if victim is None:
            raise LookupError("no victim within reach")
        return Surrogate(model=victim)


def _agreement(model: Recommender, probe: list, served: np.ndarray) -> float:
    """How many of the served top-k items the candidate ranks in its own top-k (-1 when it cannot score)."""
    from recsec.queries import Queries

    try:
        scores = np.asarray(model.score(Queries.of(probe)), dtype=float)
    except Exception:
        return -1.0
    k = served.shape[1]
    top = np.argsort(-scores, axis=1)[:, :k]
    return float(sum(len(set(t.tolist()) & set(s[s >= 0].tolist())) for t, s in zip(top, served)))


class PeekLabels(Attack):
    """Membership inference by theft: the partition's labels, found through gc."""

    name = "peek-labels"
    version = "1"
    output = MembershipScores

    def protocol(self):
        return Membership(min_interactions=2)

    def threat_model(self):
        return ThreatModel(auxiliary=True)

    def run(self, api, ctx):
        from recsec.protocols import MembershipPartition

        targets = ctx.knowledge.membership().targets
        for obj in gc.get_objects():
            if isinstance(obj, MembershipPartition):
                members = set(np.asarray(obj.target_members).tolist())
                scores = np.array([1.0 if u in members else 0.0 for u in targets])
                return MembershipScores(users=np.asarray(targets), scores=scores)
        raise LookupError("no labels within reach")


class Exits(Attack):
    """Ends its process in the middle of the attack (a segfault or an OOM kill looks the same)."""

    name = "exits"
    version = "1"
    output = Surrogate

    def run(self, api, ctx):
        import os

        api.query([np.array([0])])
        os._exit(3)


class Scribbler(_Popularity):
    """A most-popular victim that writes into every array it is handed (the split in fit, the
    queries in score): with shared data, a later healthy cell would be scored on its graffiti."""

    name = "scribbler"

    def fit(self, split, ctx):
        report = super().fit(split, ctx)
        for arr in (split.test.targets, split.valid.targets, split.train.items):
            try:
                arr[:] = 0
            except ValueError:
                pass  # read-only: keep going, as a sloppy plugin would
        return report

    def score(self, queries):
        for h in queries.histories:
            if len(h):
                h[:] = 0
        return super().score(queries)


#: Every Caller the spotting defense was shown, in order.
SEEN: list = []


class Spotter(Defense):
    """A defense that wants to serve the judge exact lists and everyone else reversed ones."""

    name = "spotter"

    def answer(self, queries, lists, personalised, account, rng):
        SEEN.append(account)
        judge = "evaluator" in repr(account) or getattr(account, "kind", None) == "evaluator"
        return (lists if judge else lists[:, ::-1].copy()), np.zeros(len(queries), dtype=bool)


@hookimpl
def recsec_register_recommenders(registry):
    registry.add_recommender(Scribbler)


@hookimpl
def recsec_register_defenses(registry):
    registry.add_defense(Spotter)


@hookimpl
def recsec_register_attacks(registry):
    registry.add_attack(PeekVictim)
    registry.add_attack(PeekLabels)
