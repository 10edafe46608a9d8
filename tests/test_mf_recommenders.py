"""The general recommenders: lfm, itemcf, popular (tiny synthetic data, CPU, seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from recsec.data import Interactions, Split, leave_one_out
from recsec.plugins.recommenders.itemcf import ItemCF
from recsec.plugins.recommenders.lfm import LFM
from recsec.plugins.recommenders.popular import MostPopular
from recsec.queries import Queries
from recsec.testing import check_recommender, tiny_context, tiny_interactions



pytestmark = pytest.mark.usefixtures("one_torch_thread")

def hit_rate(rec, split: Split, k: int = 10) -> float:
    lists = rec.topk(Queries(split.test.histories, split.test.users), k)
    return float((lists == split.test.targets[:, None]).any(axis=1).mean())


def clustered(n_users: int = 120, n_items: int = 60, n_clusters: int = 3, per_user: int = 12, seed: int = 0) -> Interactions:
    """Users draw items from their own cluster only; across clusters, popularity is skewed (cluster 0 biggest)."""
    rng = np.random.default_rng(seed)
    size = n_items // n_clusters
    users, items = [], []
    for u in range(n_users):
        c = 0 if u < n_users // 2 else 1 + u % (n_clusters - 1)
        chosen = rng.choice(size, per_user, replace=False) + c * size
        users += [u] * per_user
        items += chosen.tolist()
    return Interactions(
        users=np.asarray(users, dtype=np.int64),
        items=np.asarray(items, dtype=np.int64),
        n_users=n_users,
        n_items=n_items,
        timestamps=np.tile(np.arange(per_user), n_users).astype(np.int64),
    )


@pytest.mark.parametrize("cls, params", [(LFM, {"dim": 8, "epochs": 10}), (ItemCF, {}), (MostPopular, {})])
def test_conformance(cls, params):
    check_recommender(cls, **params)


def test_lfm_loss_decreases_and_beats_popular():
    split = leave_one_out(clustered())
    ctx = tiny_context(0)
    lfm, pop = LFM(dim=8, epochs=40, lr=0.02), MostPopular()
    stats = lfm.fit(split, ctx)
    pop.fit(split, ctx)
    assert stats["loss"] < 0.5 * stats["loss_first"]
    h = np.asarray(lfm.history)  # noisy epoch to epoch (fresh negatives), clearly lower block to block
    assert h[30:].mean() < h[20:30].mean() * 1.05 < h[10:20].mean() < h[:10].mean()
    hr_lfm, hr_pop = hit_rate(lfm, split), hit_rate(pop, split)
    assert hr_lfm > hr_pop + 0.15, (hr_lfm, hr_pop)
    # known users (trained factors) and the same users folded in agree on most of their lists
    q_known = Queries(split.test.histories, split.test.users)
    a, b = lfm.topk(q_known, 10), lfm.topk(Queries(split.test.histories), 10)
    assert np.mean([len(set(x) & set(y)) for x, y in zip(a, b)]) >= 7


def test_lfm_foldin_recovers_trained_user_factors():
    """Fold-in solves the fixed-point equation of the SGD epoch: trained users come back almost exactly."""
    split = leave_one_out(tiny_interactions(n_users=80, n_items=50, per_user=15))
    lfm = LFM(dim=8, epochs=200, lr=0.02)
    lfm.fit(split, tiny_context(0))
    seqs = split.train.sequences()
    users = np.arange(split.train.n_users)
    trained = lfm.user_factors(Queries(seqs, users)).numpy()
    folded = lfm.user_factors(Queries(seqs)).numpy()  # anonymous: fold-in from the same history
    cos = (trained * folded).sum(1) / np.linalg.norm(trained, axis=1) / np.linalg.norm(folded, axis=1)
    rel = np.linalg.norm(trained - folded, axis=1) / np.linalg.norm(trained, axis=1)
    assert cos.min() > 0.97 and rel.mean() < 0.15, (cos.min(), rel.mean())


def test_lfm_knows_trained_users_only_and_serves_empty_history():
    split = leave_one_out(clustered())
    members = np.arange(0, 120, 2)
    train = split.train.subset(np.isin(split.train.users, members))
    lfm = LFM(dim=8, epochs=5)
    lfm.fit(Split(train, split.valid, split.test), tiny_context(0))
    assert lfm.knows(np.array([0, 1, 2, -1, 10_000])).tolist() == [True, False, True, False, False]
    lists = lfm.topk(Queries([np.zeros(0, dtype=np.int64)] * 2), 5)  # nothing to fold in: most popular
    assert np.array_equal(lists[0], train.popularity_ranking()[:5])


@pytest.mark.parametrize("cls, params", [(LFM, {"dim": 8, "epochs": 5}), (ItemCF, {}), (MostPopular, {})])
def test_checkpoint_roundtrip_identical_scores(cls, params, tmp_path: Path):
    split = leave_one_out(tiny_interactions())
    rec = cls(**params)
    rec.fit(split, tiny_context(0))
    q = Queries(split.test.histories[:9], np.r_[split.test.users[:6], [-1, -1, -1]])
    rec.save(tmp_path / "ckpt.pt")
    other = cls(**params)
    other.load(tmp_path / "ckpt.pt")
    assert torch.equal(rec.score(q), other.score(q))
    assert np.array_equal(rec.topk(q, 10), other.topk(q, 10))


def toy_matrix() -> Split:
    # user 0: {0, 1}; user 1: {0, 1, 2}; user 2: {2, 3}
    data = Interactions(
        users=np.array([0, 0, 1, 1, 1, 2, 2]), items=np.array([0, 1, 0, 1, 2, 2, 3]), n_users=3, n_items=5
    )
    empty = leave_one_out(data, min_len=99).test
    return Split(train=data, valid=empty, test=empty)


def test_itemcf_cosine_on_toy_matrix():
    cf = ItemCF()
    cf.fit(toy_matrix(), tiny_context(0))
    # item counts n = [2, 2, 2, 1, 0]; co-counts c01 = 2, c02 = 1, c12 = 1, c23 = 1
    s = cf.score(Queries.of([[0]])).numpy()[0]
    np.testing.assert_allclose(s, [1.0, 1.0, 0.5, 0.0, 0.0], atol=1e-6)
    s = cf.score(Queries.of([[0, 3]])).numpy()[0]
    np.testing.assert_allclose(s[1:4], [1.0, 0.5 + 1 / np.sqrt(2), 1.0], atol=1e-6)
    assert cf.topk(Queries.of([[0]]), 2).tolist() == [[1, 2]]
    # a known user's stored profile joins the (here empty) query history
    assert cf.knows(np.array([2, 3, -1])).tolist() == [True, False, False]
    s_known = cf.score(Queries.of([[]], users=[2])).numpy()[0]
    np.testing.assert_allclose(s_known, cf.score(Queries.of([[2, 3]])).numpy()[0], atol=1e-6)
    no_profile = ItemCF(use_profile=False)
    no_profile.fit(toy_matrix(), tiny_context(0))
    assert np.all(no_profile.score(Queries.of([[]], users=[2])).numpy() == 0)


def test_popular_scores_counts_for_everyone():
    split = toy_matrix()
    pop = MostPopular()
    pop.fit(split, tiny_context(0))
    assert not pop.knows(np.array([0, 1])).any()
    scores = pop.score(Queries.of([[0], [3]])).numpy()
    np.testing.assert_array_equal(scores, [[2, 2, 2, 1, 0], [2, 2, 2, 1, 0]])
    assert pop.topk(Queries.of([[0]]), 3).tolist() == [[1, 2, 3]]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("cls, params", [(LFM, {"dim": 8, "epochs": 5}), (ItemCF, {}), (MostPopular, {})])
def test_same_scores_on_cuda(cls, params):
    split = leave_one_out(tiny_interactions())
    rec = cls(**params)
    rec.fit(split, tiny_context(0))
    q = Queries(split.test.histories[:9], np.r_[split.test.users[:6], [-1, -1, -1]])
    cpu = rec.score(q).numpy()
    rec.to(torch.device("cuda"))
    np.testing.assert_allclose(rec.score(q).cpu().numpy(), cpu, rtol=1e-4, atol=1e-4)
