"""Membership inference (mia-zhang): protocol split, features, item vectors, end to end on tiny data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsec.arena import Arena
from recsec.data import Interactions
from recsec.plugins.attacks import _mia_data
from recsec.plugins.attacks._mia_data import item_vectors, mia_features, rank_weights
from recsec.plugins.attacks.membership import ZhangMIA
from recsec.protocols import MembershipPartition, knowledge_of
from recsec.threat import Serving
from recsec.plugins.recommenders.lfm import LFM
from recsec.testing import check_attack



pytestmark = pytest.mark.usefixtures("one_torch_thread")

def taste_data(n_users: int = 240, n_items: int = 120, n_clusters: int = 4, seed: int = 0) -> Interactions:
    """Users with 12 to 35 events: a quarter from 10 blockbusters everybody likes, the rest from
    their own taste cluster, Zipf popularity inside each group."""
    rng = np.random.default_rng(seed)
    n_global = 10
    size = (n_items - n_global) // n_clusters
    users, items, times = [], [], []
    for u in range(n_users):
        c = u % n_clusters
        n = int(rng.integers(12, 36))
        p = np.zeros(n_items)
        p[:n_global] = 0.25 / np.arange(1, n_global + 1)
        lo = n_global + c * size
        p[lo : lo + size] = 1.0 / np.arange(1, size + 1)
        p[lo : lo + size] *= 0.75 / p[lo : lo + size].sum()
        p[:n_global] *= 0.25 / p[:n_global].sum()
        chosen = rng.choice(n_items, n, replace=False, p=p / p.sum())
        users += [u] * n
        items += chosen.tolist()
        times += rng.permutation(n).tolist()
    return Interactions(
        users=np.asarray(users, dtype=np.int64),
        items=np.asarray(items, dtype=np.int64),
        n_users=n_users,
        n_items=n_items,
        timestamps=np.asarray(times, dtype=np.int64),
    )


def test_split_partitions_are_disjoint_with_the_right_sizes():
    data = taste_data()
    attack = ZhangMIA()
    split = attack.protocol().split(data, np.random.default_rng(0))
    part: MembershipPartition = split.extra["membership"]
    counts = np.bincount(data.users, minlength=data.n_users)
    eligible = np.flatnonzero(counts >= 20)
    groups = [part.shadow_members, part.shadow_nonmembers, part.target_members, part.target_nonmembers, part.embedding]
    joined = np.concatenate(groups)
    assert len(joined) == len(np.unique(joined)), "partitions overlap"
    assert np.array_equal(np.sort(joined), eligible), "every user with >= 20 events, and only those"
    n = len(eligible)
    assert len(part.shadow_members) + len(part.shadow_nonmembers) == round(n / 3)
    assert len(part.target_members) + len(part.target_nonmembers) == round(n / 3)
    assert abs(len(part.shadow_members) - len(part.shadow_nonmembers)) <= 1
    assert abs(len(part.target_members) - len(part.target_nonmembers)) <= 1

    # the victim trains on the target members minus each one's last event; that event is the test target
    assert np.array_equal(np.unique(split.train.users), part.target_members)
    assert np.array_equal(split.test.users, part.target_members)
    seqs = data.sequences()
    for j, u in enumerate(part.target_members):
        assert split.test.targets[j] == seqs[u][-1]
        assert np.array_equal(split.test.histories[j], seqs[u][:-1])
        assert len(split.train.subset(split.train.users == u)) == counts[u] - 1
    assert len(split.valid) == 0
    # the attacker's view: shadow/target users without their last event, embedding users complete
    know = knowledge_of(part, np.random.default_rng(0))
    for u in part.shadow_nonmembers[:5]:
        assert np.array_equal(know.histories(np.array([u]))[0], seqs[u][:-1])
    for u in part.embedding[:5]:
        assert np.array_equal(know.histories(np.array([u]))[0], seqs[u])

    again = attack.protocol().split(data, np.random.default_rng(0))
    assert np.array_equal(again.extra["membership"].target_members, part.target_members), "split is not deterministic"


def test_the_protocol_key_tracks_the_partition_parameters_only():
    base = ZhangMIA().protocol().key
    # the key of recsec's first version, so victims and seeds of unchanged protocols stay the same
    assert base == "mia-zhang-v1[min_interactions=20,shadow_frac=0.3333333333333333,target_frac=0.3333333333333333,member_frac=0.5]"
    assert ZhangMIA(nonmember_lists="foldin", k=50, dim=20, mlp_lr=0.01).protocol().key == base
    assert ZhangMIA(min_interactions=10).protocol().key != base
    assert ZhangMIA(member_frac=0.4).protocol().key != base
    assert ZhangMIA(shadow_frac=0.25).protocol().key != base


def test_serving_and_metric_declarations():
    assert ZhangMIA().serving() == Serving(k=100, cold_start="popular")
    assert ZhangMIA(nonmember_lists="foldin", k=20).serving() == Serving(k=20, cold_start="model")
    assert ZhangMIA(lists="reference").serving() == Serving(k=100, cold_start="popular", exclude_history=False,
                                                            popular_from="nonmembers")
    assert ZhangMIA().primary_metric == "attack.auc" and ZhangMIA.families == ("general",)
    tm = ZhangMIA().threat_model()
    assert tm.algorithm and tm.auxiliary and not tm.defense and ZhangMIA(adaptive=True).threat_model().defense
    tunable = {k for k, p in ZhangMIA.params.items() if p.tunable}
    assert {"mlp_lr", "mlp_epochs", "dim", "k"} <= tunable


def test_rank_weights():
    w = rank_weights(4)
    np.testing.assert_allclose(w, np.array([4, 3, 2, 1]) / 10)


def test_features_on_a_hand_made_example():
    V = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [-1.0, 4.0]], dtype=np.float32)
    histories = [np.array([0, 1]), np.array([3]), np.zeros(0, dtype=np.int64)]
    lists = np.array([[2, 3], [0, 1], [1, 0]])
    f = mia_features(histories, lists, V)
    # mean of history - (2/3 v_first + 1/3 v_second)
    expected = np.array(
        [
            [0.5 - (4 / 3 - 1 / 3), 0.5 - (4 / 3 + 4 / 3)],
            [-1 - 2 / 3, 4 - 1 / 3],
            [0 - 1 / 3, 0 - 2 / 3],
        ]
    )
    np.testing.assert_allclose(f, expected, atol=1e-6)


def test_item_vectors_factorise_the_embedding_matrix(monkeypatch):
    data = taste_data(n_users=40, n_items=60, n_clusters=2)
    keep = data.items < 50  # items 50..59 unseen: zero vectors
    sub = data.subset(keep)
    V = item_vectors(sub, 8, np.random.default_rng(0))
    assert V.shape == (60, 8) and V.dtype == np.float32
    assert np.all(V[50:] == 0)
    # V V^T = sum_{k<=8} s_k v_k v_k^T: the best rank-8 approximation of (M^T M)^(1/2)
    M = np.zeros((40, 60))
    M[sub.users, sub.items] = 1
    w, E = np.linalg.eigh(M.T @ M)
    root = (E * np.sqrt(np.clip(w, 0, None))) @ E.T
    err = np.linalg.norm(root - V.astype(np.float64) @ V.T.astype(np.float64))
    assert err == pytest.approx(np.sqrt(np.clip(np.sort(w)[:-8], 0, None).sum()), rel=1e-3)
    wide = item_vectors(data.subset(data.users < 5), 8, np.random.default_rng(0))  # rank 5 < 8: zero columns
    assert np.all(wide[:, 5:] == 0)
    # the sparse (ARPACK) path for large matrices gives the same factorisation up to column signs
    monkeypatch.setattr(_mia_data, "DENSE_SVD_LIMIT", 0)
    V_sparse = item_vectors(sub, 8, np.random.default_rng(0))
    np.testing.assert_allclose(V_sparse @ V_sparse.T, V @ V.T, atol=1e-3)


def run_cell(attack: ZhangMIA, data: Interactions, seed: int = 0) -> dict[str, float]:
    """The runner's sequence in an arena: split, train the victim, serve it, attack, judge."""
    arena = Arena.for_testing(recommender=LFM(dim=16, epochs=30, lr=0.02), data=data, attack=attack, seed=seed)
    verdict = arena.attack(attack)
    assert verdict.metrics["attack.queries"] == verdict.metrics["attack.n_target"]
    return {**{k.split(".", 1)[1]: v for k, v in verdict.metrics.items()},
            **{k.split(".", 1)[1]: v for k, v in verdict.diagnostics.items()}}


def test_end_to_end_popular_nonmember_lists_are_detected():
    data = taste_data()
    m = run_cell(ZhangMIA(k=10, dim=16), data)
    eligible = int((np.bincount(data.users) >= 20).sum())
    assert m["n_target"] == m["n_shadow"] == round(eligible / 3)
    assert m["auc"] > 0.85, m
    assert m["balanced_accuracy"] > 0.7, m
    for key in ("auc", "tpr@1%fpr", "balanced_accuracy"):
        assert 0.0 <= m[key] <= 1.0


def test_conformance_kit():
    # the kit's toy users have 15 events: lower the activity threshold
    check_attack(ZhangMIA, min_interactions=10, k=10, dim=8, mlp_epochs=20)
    check_attack(ZhangMIA, min_interactions=10, k=10, dim=8, mlp_epochs=20, nonmember_lists="foldin")
    verdict = check_attack(ZhangMIA, budget=30, min_interactions=10, k=10, dim=8, mlp_epochs=20)
    assert verdict.metrics["attack.n_target"] == 30  # a budget below the target set: a random subset of the targets


def test_split_refuses_empty_groups():
    data = taste_data(n_users=20)
    with pytest.raises(ValueError, match="empty"):
        ZhangMIA(min_interactions=34).protocol().split(data, np.random.default_rng(0))


def test_the_reference_service_keeps_history_and_ranks_popularity_on_non_members():
    """Zhang et al.'s released code: member lists may hold the user's own items; the popular list a
    non-member gets is ranked on the non-members' events, not the victim's training data."""
    from recsec.blackbox import AccountKind

    arena = Arena.for_testing(recommender=LFM(epochs=3, dim=8), data=taste_data(), attack=ZhangMIA(lists="reference"))
    part = arena.membership_partition()
    serving = ZhangMIA(lists="reference").serving()
    api = arena.serve(AccountKind.ATTACKER, serving)
    observed = part.observed
    nonmember_pop = observed.subset(np.isin(observed.users, part.target_nonmembers)).popularity_ranking()[:100]
    know = knowledge_of(part, np.random.default_rng(0))
    non = part.target_nonmembers[:5]
    assert (api.query(know.histories(non), users=non) == nonmember_pop).all()
    assert not np.array_equal(nonmember_pop, arena.split.train.popularity_ranking()[:100])
    members = part.target_members[:40]
    lists = api.query(know.histories(members), users=members)
    kept = sum(len(set(l.tolist()) & set(h.tolist())) for l, h in zip(lists, know.histories(members)))
    assert kept > 0  # history items are served, as the reference code serves them
