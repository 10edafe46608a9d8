"""Output defenses against membership inference: popularity-randomization and list-shuffle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsec.blackbox import Account, AccountKind, BlackBoxAPI
from recsec.data import Split, leave_one_out
from recsec.plugins.defenses.list_shuffle import ListShuffle
from recsec.plugins.defenses.popularity_randomization import PopularityRandomization
from recsec.plugins.recommenders.itemcf import ItemCF
from recsec.queries import Queries
from recsec.testing import check_defense, tiny_context, tiny_interactions
from recsec.threat import Serving


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def served():
    """An item-CF victim trained on the even users: odd users are non-members (cold start)."""
    data = tiny_interactions(n_users=60, n_items=200, per_user=12)
    split = leave_one_out(data)
    members = split.train.subset(split.train.users % 2 == 0)
    split = Split(members, split.valid, split.test)
    victim = ItemCF()
    victim.fit(split, tiny_context(0))
    q = Queries(split.test.histories, split.test.users)
    return split, victim, q


def api_for(victim, split, defense, seed=0, k=10):
    defense.prepare(victim, split, tiny_context(0))
    return BlackBoxAPI(victim, Serving(k=k, cold_start="popular"), defense=defense,
                       popular=split.train.popularity_ranking(), rng=np.random.default_rng(seed))


@pytest.mark.parametrize("cls, params", [(PopularityRandomization, {}), (ListShuffle, {}), (ListShuffle, {"top_m": 3})])
def test_conformance(cls, params):
    check_defense(cls, **params)


def test_popularity_randomization_changes_only_nonpersonalised_rows(served):
    split, victim, q = served
    plain = BlackBoxAPI(victim, Serving(k=10, cold_start="popular"), popular=split.train.popularity_ranking()).query(q)
    defense = PopularityRandomization()
    out = api_for(victim, split, defense).query(q)
    member = victim.knows(q.users)
    assert member.any() and (~member).any()
    assert out.shape == plain.shape and out.dtype == np.int64
    np.testing.assert_array_equal(out[member], plain[member])
    # non-members: 10 distinct items from the 100 most popular, not their history, rows differ from each other
    pool = set(split.train.popularity_ranking()[:100].tolist())
    assert defense.pool_size(10) == 100
    rows = np.flatnonzero(~member)
    for r in rows:
        assert len(set(out[r].tolist())) == 10 and set(out[r].tolist()) <= pool
        assert not set(out[r].tolist()) & set(q.histories[r].tolist())
    assert len({tuple(out[r]) for r in rows}) == len(rows)
    assert not np.array_equal(out[rows], plain[rows])


def test_popularity_randomization_pool_and_history_fallback(served):
    split, victim, q = served
    d = PopularityRandomization(ratio=0.5)
    d.prepare(victim, split, tiny_context(0))
    assert d.pool_size(10) == 20
    d7 = PopularityRandomization(n_cand=7)
    d7.prepare(victim, split, tiny_context(0))
    assert d7.pool_size(10) == 10  # never smaller than the list
    # a history covering most of the pool: the list keeps its length, history items fill the rest
    ranking = split.train.popularity_ranking()
    lists = np.tile(ranking[:10], (1, 1))
    out, flags = d.answer(Queries([ranking[:15]]), lists, np.array([False]), Account(AccountKind.ATTACKER, "a"),
                          np.random.default_rng(0))
    assert out.shape == (1, 10) and len(set(out[0].tolist())) == 10 and not flags.any()
    assert set(ranking[15:20].tolist()) <= set(out[0].tolist()) <= set(ranking[:20].tolist())


def test_list_shuffle_permutes_rows_and_keeps_items(served):
    split, victim, q = served
    plain = BlackBoxAPI(victim, Serving(k=10, cold_start="popular"), popular=split.train.popularity_ranking()).query(q)
    out = api_for(victim, split, ListShuffle()).query(q)
    assert out.shape == plain.shape
    assert all(sorted(a) == sorted(b) for a, b in zip(out.tolist(), plain.tolist()))
    assert (out != plain).any(axis=1).mean() > 0.9

    top3 = api_for(victim, split, ListShuffle(top_m=3)).query(q)
    np.testing.assert_array_equal(top3[:, 3:], plain[:, 3:])
    assert all(sorted(a) == sorted(b) for a, b in zip(top3[:, :3].tolist(), plain[:, :3].tolist()))

    member = victim.knows(q.users)
    only = api_for(victim, split, ListShuffle(personalised_only=True)).query(q)
    np.testing.assert_array_equal(only[~member], plain[~member])
    assert (only[member] != plain[member]).any()


def test_defenses_are_reproducible_from_the_api_stream(served):
    split, victim, q = served
    a = api_for(victim, split, PopularityRandomization(), seed=3).query(q)
    b = api_for(victim, split, PopularityRandomization(), seed=3).query(q)
    c = api_for(victim, split, PopularityRandomization(), seed=4).query(q)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
