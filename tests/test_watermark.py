"""AOW watermarking and the core's ownership-verification judge."""

from __future__ import annotations

import numpy as np
import pytest

from recsec.arena import Arena
from recsec.data import Interactions, Split, leave_one_out
from recsec.judges.watermark import WatermarkKey, chance_tail, judge_watermark, next_item_ranks
from recsec.plugins.defenses.watermark import AOW, CooccurrenceOracle, autoregressive_sequence, with_sequence
from recsec.queries import Queries
from recsec.recommender import Recommender
from recsec.testing import tiny_context, tiny_interactions

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Follower(Recommender):
    """Scores item seq[t] highest after the prefix seq[:t] (a model that learned ``seq``); else by id."""

    name = "follower"
    family = "sequential"

    def __init__(self, seq: np.ndarray, n_items: int) -> None:
        super().__init__()
        self.seq, self.n_items = np.asarray(seq), n_items

    def score(self, queries: Queries):  # type: ignore[override]
        import torch

        out = torch.arange(self.n_items, dtype=torch.float32).flip(0).repeat(len(queries), 1)
        for r, h in enumerate(queries.histories):
            if len(h) < len(self.seq) and np.array_equal(h, self.seq[: len(h)]):
                out[r, int(self.seq[len(h)])] = 1e6
        return out


def test_generation_walks_the_bottom_of_the_oracle():
    data = tiny_interactions(n_items=50)
    seqs = leave_one_out(data).train.sequences()
    oracle = CooccurrenceOracle(seqs, 50)
    allowed = np.arange(50)
    seq = autoregressive_sequence(oracle, allowed, 12, 0.1, np.random.default_rng(0))
    assert len(seq) == 12 and len(np.unique(seq)) == 12
    for t in range(1, 12):
        cands = allowed[~np.isin(allowed, seq[:t])]
        s = oracle.scores(seq[:t])
        cutoff = np.sort(s[cands])[int(np.ceil(0.1 * len(cands))) - 1]
        assert s[seq[t]] <= cutoff + 1e-12, t  # the next item lies in the bottom 10 % for its prefix
    again = autoregressive_sequence(oracle, allowed, 12, 0.1, np.random.default_rng(0))
    assert np.array_equal(seq, again)


def test_the_sequence_enters_training_in_order_even_without_timestamps():
    split = leave_one_out(tiny_interactions())
    seq = np.array([7, 3, 9, 1])
    out = with_sequence(split, seq, 3)
    assert out.train.n_users == split.train.n_users + 3
    assert all(np.array_equal(s, seq) for s in out.train.sequences()[-3:])
    assert np.array_equal(out.train.sequences()[0], split.train.sequences()[0])
    bare = Interactions(users=np.array([0, 0]), items=np.array([5, 2]), n_users=1, n_items=10)
    stamped = with_sequence(Split(bare, split.valid, split.test), seq, 1)
    assert np.array_equal(stamped.train.sequences()[1], seq)
    assert with_sequence(split, seq, 0) is split


def test_the_secret_is_rederived_from_the_victims_stream():
    split = leave_one_out(tiny_interactions())
    a, b = AOW(length=8).secret(split, tiny_context(0)), AOW(length=8).secret(split, tiny_context(0))
    assert np.array_equal(a.sequence, b.sequence) and np.array_equal(a.control, b.control)
    assert not np.array_equal(a.sequence, a.control)
    assert not np.array_equal(a.sequence, AOW(length=8).secret(split, tiny_context(1)).sequence)
    d = AOW(length=8)
    assert d.watermark() is None
    d.prepare(None, split, tiny_context(0))  # type: ignore[arg-type]
    assert np.array_equal(d.watermark().sequence, a.sequence)


def test_judge_scores_a_model_that_learned_the_watermark_and_one_that_did_not():
    key = WatermarkKey(sequence=np.array([40, 3, 17, 25, 8, 33]), control=np.array([11, 29, 2, 44, 5, 38]))
    thief, clean = Follower(key.sequence, 50), Follower(np.array([0, 1]), 50)
    assert next_item_ranks(thief, key.sequence, 50, "t").tolist() == [0] * 5
    m = judge_watermark(key, thief, clean, 50, "attack 'x'")
    assert m["defense.wm_hr@10"] == 1.0 and m["defense.wm_rank"] == 0.0
    # five hits out of five, each with chance 10 / (50 - t) for a random ranking
    assert m["defense.wm_pvalue"] == pytest.approx(np.prod(10 / (50 - np.arange(1, 6))))
    assert m["defense.wm_hr@10_victim"] < 1.0
    n = judge_watermark(key, clean, clean, 50, "attack 'x'")
    assert n["defense.wm_pvalue"] > 0.05 and n["defense.wm_rank"] > 0.1


def test_chance_tail_is_the_binomial_tail():
    from scipy.stats import binom

    assert chance_tail(3, np.full(9, 0.2)) == pytest.approx(binom.sf(2, 9, 0.2))
    assert chance_tail(0, np.full(4, 0.3)) == pytest.approx(1.0)


def test_aow_end_to_end_embeds_and_the_judge_reports_it():
    from recsec.plugins.attacks.extraction import DFMEAutoregressive
    from recsec.plugins.recommenders.sasrec import SASRec

    data = tiny_interactions(n_users=160)
    attack = DFMEAutoregressive(n_sequences=60, seq_len=10, epochs=2, patience=0, gen_batch=64)
    rec = SASRec(hidden=16, max_len=12, n_blocks=1, max_epochs=15, patience=0, dropout=0.1)
    metrics = {}
    for copies in (100, 0):
        arena = Arena.for_testing(recommender=rec, data=data, attack=attack, defense=AOW(length=8, copies=copies), k=10)
        metrics[copies] = arena.attack(attack).metrics
    assert metrics[100]["defense.wm_hr@10_victim"] >= 0.8, metrics[100]
    assert metrics[0]["defense.wm_hr@10_victim"] <= 0.5, metrics[0]
    for m in metrics.values():
        assert {"defense.wm_hr@10", "defense.wm_rank_control", "defense.wm_pvalue", "attack.agr@10"} <= set(m)
    assert AOW().skip(recommender=type("R", (), {"family": "general", "name": "lfm"})())


def test_aow_conformance():
    from recsec.plugins.recommenders.sasrec import SASRec
    from recsec.testing import check_defense

    metrics = check_defense(AOW, recommender=SASRec(hidden=16, max_len=10, n_blocks=1, max_epochs=2, patience=0),
                            length=6, copies=5)
    assert metrics["defended.hr@10"] == metrics["utility.hr@10"]  # answers are not changed
