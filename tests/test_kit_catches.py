"""The conformance kit (recsec.testing) catches what a run cannot see."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from recsec.defense import Defense  # noqa: E402
from recsec.testing import check_defense, check_recommender  # noqa: E402
from recsec.testing.checks import _Popularity  # noqa: E402


class PeeksAtTargets(_Popularity):
    """Most popular, except that the user's test target goes first: it trained on the answers."""

    name = "peeks-at-targets"

    def fit(self, split, ctx):
        report = super().fit(split, ctx)
        self._answer = {int(u): int(t) for u, t in zip(split.test.users, split.test.targets)}
        return report

    def score(self, queries):
        scores = super().score(queries).clone()
        for row, u in enumerate(queries.user_ids()):
            if int(u) in self._answer:
                scores[row, self._answer[int(u)]] = 1e6
        return scores


class Fragile(_Popularity):
    """Divides by the history's length: NaN for a new user with no history."""

    name = "fragile"

    def score(self, queries):
        import torch

        scores = super().score(queries)
        lengths = torch.as_tensor([float(len(h)) for h in queries.histories])[:, None]
        return scores * (lengths / lengths)


class DependsOnCaller(Defense):
    """Reverses the lists of some accounts, chosen by their id."""

    name = "depends-on-caller"

    def answer(self, queries, lists, personalised, account, rng):
        flip = int(account.id[-1], 16) % 2 == 1
        return (lists[:, ::-1].copy() if flip else lists), np.zeros(len(queries), dtype=bool)


def test_a_recommender_that_trains_on_test_targets_is_caught():
    with pytest.raises(AssertionError, match="reads the test targets"):
        check_recommender(PeeksAtTargets)
    check_recommender(_Popularity)  # the honest twin passes


def test_nan_on_an_empty_history_is_caught():
    with pytest.raises(AssertionError, match="NaN"):
        check_recommender(Fragile)


def test_a_defense_whose_answers_depend_on_who_asks_is_caught(monkeypatch):
    import recsec.blackbox as bb

    # with some secret, the two fresh accounts' ids differ in parity; try secrets until they do
    for i in range(64):
        monkeypatch.setattr(bb, "_ACCOUNT_SECRET", bytes([i]) * 16)
        a = bb.Caller.of(bb.Account(bb.AccountKind.EVALUATOR, "fresh-evaluator")).id
        b = bb.Caller.of(bb.Account(bb.AccountKind.ATTACKER, "fresh-attacker")).id
        if int(a[-1], 16) % 2 != int(b[-1], 16) % 2:
            break
    with pytest.raises(AssertionError, match="depend on who asks"):
        check_defense(DependsOnCaller)
