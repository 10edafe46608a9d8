"""recsec.evaluation: hand-computed ranks and metrics, negative sampling rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recsec.data import EvalSet, Interactions, leave_one_out
from recsec.evaluation import evaluate, evaluate_split, sample_negatives, target_ranks, user_items_for
from recsec.queries import Queries
from recsec.recommender import Recommender


class FixedScores(Recommender):
    """Scores from a fixed (users, N) matrix, looked up by the query's user id."""

    name = "fixed-scores-test"

    def __init__(self, table: np.ndarray) -> None:
        super().__init__()
        self.table = torch.as_tensor(table, dtype=torch.float32)
        self.n_items = self.table.shape[1]
        self.calls: list[int] = []

    def score(self, queries: Queries) -> torch.Tensor:
        self.calls.append(len(queries))
        return self.table[torch.as_tensor(queries.user_ids())].clone()


def _evalset(histories, targets) -> EvalSet:
    return EvalSet(np.arange(len(targets)), [np.asarray(h, dtype=np.int64) for h in histories], np.asarray(targets))


TABLE = np.array(
    [
        [0.1, 0.9, 0.5, 0.7, 0.3, 0.2],  # target 3, history [1]: nothing left above 0.7 -> rank 0
        [0.1, 0.9, 0.5, 0.7, 0.3, 0.2],  # target 4, history [0]: 1, 2, 3 above -> rank 3
        [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],  # all tied, target 2, history [0]: 1, 3, 4, 5 tie -> rank 4
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],  # target 1 repeated in history [1, 5]: 2, 3, 4 above -> rank 3
    ]
)
HIST = [[1], [0], [0], [1, 5]]
TGT = [3, 4, 2, 1]


def test_full_ranking_ranks_and_metrics_match_hand_computation():
    rec, es = FixedScores(TABLE), _evalset(HIST, TGT)
    assert target_ranks(rec, es, "full").tolist() == [0, 3, 4, 3]
    m = evaluate(rec, es, "full", ks=(1, 5))
    assert m["hr@1"] == pytest.approx(0.25)
    assert m["hr@5"] == pytest.approx(1.0)
    expected = (1.0 + 1 / math.log2(5) + 1 / math.log2(6) + 1 / math.log2(5)) / 4
    assert m["ndcg@5"] == pytest.approx(expected)
    assert m["ndcg@1"] == pytest.approx(0.25)


def test_full_ranking_is_independent_of_batch_size():
    rec, es = FixedScores(TABLE), _evalset(HIST, TGT)
    assert target_ranks(rec, es, "full", batch_size=1).tolist() == target_ranks(rec, es, "full", batch_size=3).tolist()
    assert max(rec.calls) == 3


def test_sampled_ranks_with_given_negatives():
    rec, es = FixedScores(TABLE), _evalset(HIST, TGT)
    negatives = np.array([[0, 2], [5, 3], [4, 5], [0, -1]])  # -1: no candidate
    # row 0: target 0.7 vs 0.1, 0.5 -> 0; row 1: 0.3 vs 0.2, 0.7 -> 1;
    # row 2: ties count against -> 2; row 3: 0.2 vs 0.1 (the -1 slot ignored) -> 0
    assert target_ranks(rec, es, "sampled", negatives=negatives).tolist() == [0, 1, 2, 0]
    m = evaluate(rec, es, "sampled", ks=(1, 2), negatives=negatives)
    assert m["hr@1"] == pytest.approx(0.5)
    assert m["ndcg@2"] == pytest.approx((1 + 1 / math.log2(3) + 0 + 1) / 4)


def test_nan_scores_rank_last():
    table = TABLE.copy()
    table[0, 3] = np.nan
    assert target_ranks(FixedScores(table), _evalset(HIST, TGT), "full")[0] == 4  # 0, 2, 4, 5 (>= -inf)


def test_empty_evalset_gives_nan():
    m = evaluate(FixedScores(TABLE), _evalset([], np.zeros(0, np.int64)), "sampled", ks=(10,))
    assert math.isnan(m["ndcg@10"])


def test_sample_negatives_exclude_seen_items_and_are_distinct():
    rng = np.random.default_rng(0)
    n_items, m = 300, 200
    hist = [rng.choice(n_items, size=rng.integers(1, 150), replace=False) for _ in range(m)]
    tgt = rng.integers(0, n_items, size=m)
    extra = [rng.choice(n_items, size=5, replace=False) for _ in range(m)]
    negs = sample_negatives(_evalset(hist, tgt), n_items, 100, seed=3, stream="test", exclude=extra)
    assert negs.shape == (m, 100)
    for i in range(m):
        row = negs[i]
        assert (row >= 0).all() and len(set(row.tolist())) == 100
        assert not set(row.tolist()) & (set(hist[i].tolist()) | {int(tgt[i])} | set(extra[i].tolist()))


def test_sample_negatives_pad_when_too_few_items_remain():
    negs = sample_negatives(_evalset([[0, 1, 2, 3]], [4]), n_items=8, n_negatives=5)
    assert sorted(negs[0][negs[0] >= 0].tolist()) == [5, 6, 7]
    assert (negs[0] == -1).sum() == 2


def test_sample_negatives_are_uniform():
    m, n_items = 4000, 20
    es = _evalset([[0, 1, 2, 3, 4]] * m, [5] * m)
    negs = sample_negatives(es, n_items, 7, seed=1)
    counts = np.bincount(negs.ravel(), minlength=n_items)
    assert counts[:6].sum() == 0
    freq = counts[6:] / m  # each of the 14 allowed items: 7 / 14 = 0.5
    assert np.abs(freq - 0.5).max() < 0.04


def test_sample_negatives_seeded_and_streams_differ():
    rng = np.random.default_rng(1)
    es = _evalset([rng.choice(500, 10, replace=False) for _ in range(50)], rng.integers(0, 500, 50))
    a = sample_negatives(es, 500, 100, seed=7, stream="valid")
    assert np.array_equal(a, sample_negatives(es, 500, 100, seed=7, stream="valid"))
    b = sample_negatives(es, 500, 100, seed=7, stream="test")
    assert (a != b).any(axis=1).all()  # every user gets a different draw
    c = sample_negatives(es, 500, 100, seed=8, stream="valid")
    assert (a != c).any()


def _toy_split() -> tuple:
    rng = np.random.default_rng(2)
    users, items, ts = [], [], []
    for u in range(30):
        seq = rng.choice(400, size=rng.integers(3, 12), replace=False)
        users += [u] * len(seq)
        items += seq.tolist()
        ts += list(range(len(seq)))
    data = Interactions(np.array(users), np.array(items), 30, 400, timestamps=np.array(ts))
    return data, leave_one_out(data)


def test_user_items_for_covers_the_whole_sequence():
    data, split = _toy_split()
    seqs = data.sequences()
    got = user_items_for(split, split.valid)
    for u, items in zip(split.valid.users, got):
        assert set(items.tolist()) == set(seqs[u].tolist())


def test_evaluate_split_validation_and_test_use_different_negatives(monkeypatch):
    data, split = _toy_split()
    seen: dict[str, np.ndarray] = {}
    import recsec.evaluation as ev

    real = ev.sample_negatives

    def spy(evalset, n_items, n_negatives=100, seed=0, stream="test", exclude=None):
        out = real(evalset, n_items, n_negatives, seed, stream, exclude)
        seen[stream] = out
        # validation negatives never contain the user's test item
        for row, ex in zip(out, exclude):
            assert not set(row.tolist()) & set(ex.tolist())
        return out

    monkeypatch.setattr(ev, "sample_negatives", spy)
    rec = FixedScores(np.random.default_rng(0).random((30, 400)))
    res = evaluate_split(rec, split, "sampled", ks=(10,), seed=5)
    assert set(res) == {"valid", "test"} and set(seen) == {"valid", "test"}
    assert (seen["valid"] != seen["test"]).any(axis=1).all()


def test_one_sampler_serves_negatives_and_perturbations():
    """Enumerated rows (few allowed items) and rejection-sampled rows both avoid the forbidden keys."""
    from recsec.sampling import draw_outside_keys

    rng = np.random.default_rng(0)
    n_items, m = 40, 6
    forbidden = [np.arange(36), np.array([1, 2, 3]), np.arange(40)]  # enumerated, rejection, nothing left
    seen = np.unique(np.concatenate([r * n_items + f for r, f in enumerate(forbidden)]))
    out = draw_outside_keys(seen, 3, n_items, m, rng, enumerate_factor=2)
    assert sorted(out[0, :4]) == [36, 37, 38, 39] and (out[0, 4:] == -1).all()
    assert len(set(out[1])) == m and not set(out[1]) & {1, 2, 3} and (out[1] >= 0).all()
    assert (out[2] == -1).all()
