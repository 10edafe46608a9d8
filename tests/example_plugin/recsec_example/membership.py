"""A membership-inference attack that needs no shadow model."""

import numpy as np

from recsec.attack import Attack
from recsec.outputs import MembershipScores
from recsec.params import Param
from recsec.protocols import Membership
from recsec.threat import Serving, ThreatModel


class PopularityGap(Attack):
    """Members get personalised lists, strangers the popular one: score = distance from it.

    A user the service was trained on gets a list of its own; a user it never saw
    gets the cold-start fallback (Zhang et al., CCS 2021). The attacker asks for the
    list of an empty history (the fallback itself) and scores each target user by
    how little of its list the fallback shares.
    """

    name = "popularity-gap"
    version = "1"
    families = ("general",)
    output = MembershipScores
    params = {"k": Param(20, help="list length observed", low=5, high=100)}

    def protocol(self):
        return Membership()  # shadow, target and embedding users, half members

    def threat_model(self):
        return ThreatModel(auxiliary=True)  # the target users and their histories, no labels

    def serving(self):
        return Serving(k=int(self.p.k), cold_start="popular")

    def run(self, api, ctx):
        targets = ctx.knowledge.membership().targets
        fallback = api.query([[]])[0]
        lists = api.query(ctx.knowledge.membership().histories(targets), users=targets)
        shared = np.isin(lists, fallback).mean(axis=1)
        return MembershipScores(users=targets, scores=1.0 - shared, threshold=0.5)
