"""Defenses against model extraction: GRO, output perturbations, SAME / PRADA detectors (tiny, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import shapiro

from recsec.arena import Arena, JudgeSettings
from recsec.blackbox import Account, AccountKind, QueryLog, QueryRecord
from recsec.data import leave_one_out
from recsec.detection import QueryDetector, StreamScores
from recsec.judges.detection import judge_detection, pack, prefix_session, query_sequences
from recsec.metrics import average_precision, fpr_at_tpr, roc_auc
from recsec.plugins.defenses._detect_prada import PradaState, stream_scores, w_statistic
from recsec.plugins.defenses._gro import closed_form_swap, draw_negatives, student_loss, swap_loss
from recsec.plugins.defenses._gro_config import STUDENT_SEED
from recsec.plugins.defenses._gro_train import build_gro_net
from recsec.plugins.defenses.detection import PradaDetector, SameDetector
from recsec.plugins.defenses.gro import GRO
from recsec.plugins.defenses.perturbation import RandomPermutation, RandomReplacement, Reverse, Truncate, draw_outside
from recsec.plugins.recommenders.bert4rec import BERT4Rec
from recsec.plugins.recommenders.lfm import LFM
from recsec.plugins.recommenders.sasrec import SASRec
from recsec.plugins.sequential.net import TrainTools
from recsec.plugins.sequential.sampling import NegativeSampler, user_item_keys
from recsec.queries import Queries
from recsec.testing import check_defense, tiny_interactions
from recsec.testing.checks import _Popularity, tiny_context
from recsec.threat import Serving

TINY = dict(hidden=16, max_len=10, n_blocks=1, max_epochs=2, patience=0, batch_size=64)
EVALUATOR = Account(AccountKind.EVALUATOR, "evaluator")
ATTACKER = Account(AccountKind.ATTACKER, "attacker")


@pytest.fixture(scope="module")
def split():
    return leave_one_out(tiny_interactions())


@pytest.fixture(scope="module")
def victim(split):
    rec = BERT4Rec(**TINY)
    rec.fit(split, tiny_context())
    return rec


# -- GRO: the closed form ----------------------------------------------------------------------------


def _case(P: int = 4, k: int = 5, N: int = 12, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(P, N, generator=g)
    s = torch.randn(P, N, generator=g)
    c = t.topk(k, dim=1).indices
    neg, ok = draw_negatives(c, N, g)
    return t, s, c, neg, ok


def test_closed_form_argmax_equals_the_explicit_swap_matrix_gradient():
    for seed in range(5):
        t, s, c, neg, ok = _case(seed=seed)
        P, k, N = c.size(0), c.size(1), s.size(1)
        A = torch.zeros(P, k, N)
        A[torch.arange(P)[:, None], torch.arange(k)[None, :], c] = 1.0
        A.requires_grad_(True)
        x = torch.einsum("pkn,pn->pk", A, s)  # A s
        dA = torch.autograd.grad(student_loss(x, s.gather(1, neg), ok), A)[0]  # (P, k, N)
        x2 = s.gather(1, c).clone().requires_grad_(True)
        g = torch.autograd.grad(student_loss(x2, s.gather(1, neg), ok), x2)[0]  # (P, k)
        torch.testing.assert_close(dA, g[:, :, None] * s[:, None, :])  # dL/dA[b,i,j] = g_bi s_bj
        j_star, valid = closed_form_swap(g, s)
        assert valid.any()
        assert torch.equal(j_star[valid], dA.argmax(-1)[valid])


def test_swap_loss_is_zero_when_a_prime_equals_a():
    t, _, c, _, _ = _case()
    assert float(swap_loss(t.gather(1, c), t.gather(1, c), torch.ones_like(c, dtype=torch.bool))) == 0.0
    lowest = t.argmin(1, keepdim=True).expand_as(c)  # swapping in the target's worst item costs something
    assert float(swap_loss(t.gather(1, c), t.gather(1, lowest), torch.ones_like(c, dtype=torch.bool))) > 0


def test_rows_with_zero_gradient_are_masked():
    t, s, c, _, _ = _case()
    g = torch.randn(c.shape)
    g[0] = 0.0
    g[2, 1] = 0.0
    j_star, valid = closed_form_swap(g, s)
    assert torch.equal(valid, g != 0)
    lowest = t.argmin(1, keepdim=True).expand_as(c)
    only = torch.zeros_like(valid)
    only[0] = True  # the masked rows alone: no loss
    assert float(swap_loss(t.gather(1, c), t.gather(1, lowest), only & valid)) == 0.0
    diff = torch.relu(t.gather(1, c) - t.gather(1, lowest))
    # averaged over every row, a masked row counting 0 (the reference code's and the paper's scale of lambda)
    torch.testing.assert_close(swap_loss(t.gather(1, c), t.gather(1, lowest), valid), diff[valid].sum() / diff.numel())
    # a student already outside every margin has g = 0 everywhere: nothing to swap
    x = torch.arange(5, 0, -1, dtype=torch.float32).repeat(3, 1).mul(10).requires_grad_(True)
    loss = student_loss(x, torch.full((3, 5), -100.0), torch.ones(3, 5, dtype=torch.bool))
    assert float(loss.detach()) == 0.0 and not torch.autograd.grad(loss, x)[0].any()


def test_first_item_zero_rows_follow_the_reference_codes_argmax():
    # the reference code takes grad.max(-1) of the explicit swap-matrix gradient on every row:
    # an all-zero row gives column 0; zero_rows="first_item" must pick the same column everywhere
    t, s, c, neg, ok = _case(P=6, k=8, N=20, seed=3)
    P, k, N = c.size(0), c.size(1), s.size(1)
    A = torch.zeros(P, k, N)
    A[torch.arange(P)[:, None], torch.arange(k)[None, :], c] = 1.0
    A.requires_grad_(True)
    x = torch.einsum("pkn,pn->pk", A, s)
    dA = torch.autograd.grad(student_loss(x, s.gather(1, neg), ok), A)[0]
    x2 = s.gather(1, c).clone().requires_grad_(True)
    g = torch.autograd.grad(student_loss(x2, s.gather(1, neg), ok), x2)[0]  # (P, k) dL/d(A s)
    g[1] = 0.0  # force whole zero rows as well as the natural ones
    dA[1] = 0.0
    j_star, valid = closed_form_swap(g, s, "first_item")
    assert bool(valid.all())
    assert torch.equal(j_star, dA.argmax(-1))
    assert bool((j_star[1] == 0).all())
    with pytest.raises(ValueError, match="zero_rows"):
        closed_form_swap(g, s, "drop")


# -- GRO: training ------------------------------------------------------------------------------------


def _tools(split, n_items: int, seed: int) -> TrainTools:
    gen = torch.Generator().manual_seed(seed)
    keys = torch.as_tensor(user_item_keys(split.train.users, split.train.items, n_items))
    return TrainTools(gen, NegativeSampler(keys, n_items, gen))


@pytest.mark.parametrize("cls", [BERT4Rec, SASRec])
def test_gro_target_loss_is_the_models_own_loss(cls, split):
    from recsec.plugins.sequential.windows import build_windows

    rec = cls(**TINY)
    rec.n_items = split.train.n_items
    wrapper = build_gro_net(rec, tiny_context(), GRO(k=10).p)
    wrapper.eval()  # no dropout: the two computations must agree exactly
    tw = build_windows(split.train.sequences(), wrapper.window, 5)
    tokens, users = torch.as_tensor(tw.tokens[:32]), torch.as_tensor(tw.users[:32])
    ref_sum, ref_n = wrapper.target.training_loss(tokens, users, _tools(split, rec.n_items, 3))
    mine_sum, mine_n = wrapper._target_part(tokens, users, _tools(split, rec.n_items, 3))[:2]
    torch.testing.assert_close(mine_sum, ref_sum)
    assert mine_n == ref_n


@pytest.mark.parametrize("cls", [BERT4Rec, SASRec])
def test_a_gro_step_changes_the_target_and_the_student(cls, split):
    from recsec.plugins.sequential.windows import build_windows

    rec = cls(**TINY)
    rec.n_items = split.train.n_items
    wrapper = build_gro_net(rec, tiny_context(), GRO(k=10, lam=1.0).p)
    assert not any(p is q for p in wrapper.parameters() for q in wrapper.student.parameters())
    tw = build_windows(split.train.sequences(), wrapper.window, 5)
    tokens, users = torch.as_tensor(tw.tokens[:32]), torch.as_tensor(tw.users[:32])
    before_t = {k: v.clone() for k, v in wrapper.target.state_dict().items()}
    before_s = {k: v.clone() for k, v in wrapper.student.state_dict().items()}
    opt = torch.optim.AdamW(wrapper.parameters(), lr=1e-2)
    loss_sum, n_terms = wrapper.training_loss(tokens, users, _tools(split, rec.n_items, 1))
    (loss_sum / n_terms).backward()
    opt.step()
    assert any(not torch.equal(before_t[k], v) for k, v in wrapper.target.state_dict().items())
    assert any(not torch.equal(before_s[k], v) for k, v in wrapper.student.state_dict().items())
    assert wrapper.stats()["gro_overhead_s"] > 0 and wrapper.sums["steps"] == 1


def test_the_swap_loss_reaches_the_targets_gradient(split):
    from recsec.plugins.sequential.windows import build_windows

    grads = []
    for lam in (0.0, 1.0):
        rec = SASRec(**TINY)
        rec.n_items = split.train.n_items
        wrapper = build_gro_net(rec, tiny_context(), GRO(k=10, lam=lam).p)
        wrapper.eval()
        tw = build_windows(split.train.sequences(), wrapper.window, 5)
        loss_sum, _ = wrapper.training_loss(torch.as_tensor(tw.tokens[:16]), torch.as_tensor(tw.users[:16]), _tools(split, rec.n_items, 2))
        loss_sum.backward()
        grads.append(wrapper.target.encoder.item_emb.weight.grad.clone())
    assert not torch.allclose(grads[0], grads[1])


@pytest.mark.parametrize("cls", [BERT4Rec, SASRec])
def test_gro_at_lam_zero_trains_the_target_as_the_full_swap_step_would(cls, split, monkeypatch):
    """lam = 0 (the GRO-regime control) skips the student: without dropout (the student's would draw
    from torch's global stream) the target ends bit-identical to a run that trains the student."""
    import recsec.plugins.defenses._gro_train as gro_train

    states, stats = [], []
    for skip in (True, False):
        monkeypatch.setattr(gro_train.GROTrainingNet, "skip_student_at_zero", skip)
        rec = cls(**{**TINY, "dropout": 0.0, "attn_dropout": 0.0})
        stats.append(GRO(k=10, lam=0.0).train_victim(rec, split, tiny_context()).stats)
        states.append(rec.net.state_dict())
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert stats[0]["gro_overhead_s"] == 0 and "gro_swap_loss" not in stats[0]
    assert stats[1]["gro_overhead_s"] > 0 and stats[1]["gro_swap_loss"] > 0
    assert stats[0]["gro_target_loss"] == stats[1]["gro_target_loss"]


def test_first_item_rows_add_to_the_swap_loss_and_are_still_counted_as_zero_gradient(split):
    from recsec.plugins.sequential.windows import build_windows

    out = {}
    for mode in ("mask", "first_item"):
        rec = SASRec(**TINY)
        rec.n_items = split.train.n_items
        # margin_neg = 0: about half the negative pairs are inactive, so zero-gradient rows occur
        wrapper = build_gro_net(rec, tiny_context(), GRO(k=10, lam=1.0, margin_neg=0.0, zero_rows=mode).p)
        wrapper.eval()
        tw = build_windows(split.train.sequences(), wrapper.window, 5)
        wrapper.training_loss(torch.as_tensor(tw.tokens[:16]), torch.as_tensor(tw.users[:16]), _tools(split, rec.n_items, 2))
        out[mode] = dict(wrapper.sums)
    assert out["mask"]["masked_rows"] == out["first_item"]["masked_rows"] > 0
    # the same rows as under "mask", plus the zero-gradient rows pushing item 0 up
    assert out["first_item"]["swap_loss"] > out["mask"]["swap_loss"]


def test_gro_trains_a_victim_that_checkpoints_as_the_plain_model(split, tmp_path):
    rec = BERT4Rec(**TINY)
    d = GRO(k=10, lam=0.1)
    report = d.train_victim(rec, split, tiny_context())
    stats = report.stats
    assert type(rec.net).__name__ == "BERT4RecNet"
    assert stats["gro_overhead_s"] > 0 and 0.0 <= stats["gro_masked_rows"] <= 1.0
    # from scratch: the student's seed (the reference code draws it first), and the target's curve
    assert report.init_seed == tiny_context().seed_for(*STUDENT_SEED) != rec.init_seed(tiny_context())
    assert report.curve == rec.train_history and len(report.curve) == TINY["max_epochs"]
    rec.save(tmp_path / "v.pt")
    again = BERT4Rec(**TINY)
    again.load(tmp_path / "v.pt")
    q = Queries(split.test.histories[:5])
    assert np.array_equal(rec.topk(q, 10), again.topk(q, 10))
    assert d.skip(recommender=LFM()) and not d.skip(recommender=rec)


# -- output perturbations -----------------------------------------------------------------------------


def _lists(B: int = 20, K: int = 10, N: int = 50, seed: int = 0):
    rng = np.random.default_rng(seed)
    perm = np.stack([rng.permutation(N) for _ in range(B)])
    return Queries.of([p[K : K + 3] for p in perm]), perm[:, :K].copy(), N


def _valid(out: np.ndarray, q: Queries, N: int) -> None:
    assert out.min() >= 0 and out.max() < N
    for row, h in zip(out, q.histories):
        assert len(np.unique(row)) == len(row) and not np.isin(row, h).any()


@pytest.mark.parametrize("cls,params", [(RandomPermutation, {}), (Reverse, {}), (RandomReplacement, {}),
                                        (RandomReplacement, {"fraction": 0.5}), (Truncate, {"k": 3})])
def test_perturbations_keep_lists_valid(cls, params, victim, split):
    q, lists, N = _lists()
    d = cls(**params)
    d.prepare(victim if N == victim.n_items else _Stub(N), split, tiny_context())
    out, flags = d.answer(q, lists, np.ones(len(q), bool), EVALUATOR, np.random.default_rng(1))
    assert not flags.any()
    _valid(out, q, N)
    if cls is Truncate:
        assert out.shape == (len(q), 3) and np.array_equal(out, lists[:, :3])
        return
    assert out.shape == lists.shape
    if cls is RandomReplacement:
        m = round(params.get("fraction", 0.1) * lists.shape[1])
        changed = out != lists
        assert (changed.sum(1) == m).all()
        assert not any(np.isin(o[c], l).any() for o, c, l in zip(out, changed, lists))
    else:
        assert all(set(o) == set(l) for o, l in zip(out, lists))
    if cls is Reverse:
        assert np.array_equal(out, lists[:, ::-1])
    if cls is RandomPermutation:  # one permutation for every list, and every call
        perm = d.permutation(lists.shape[1])
        assert np.array_equal(out, lists[:, perm]) and not np.array_equal(perm, np.arange(len(perm)))
        again, _ = d.answer(q, lists, np.ones(len(q), bool), ATTACKER, np.random.default_rng(7))
        assert np.array_equal(again, out)
    check_defense(cls, **params)


class _Stub:
    def __init__(self, n: int) -> None:
        self.n_items = n


def test_draw_outside_when_the_catalogue_is_almost_covered():
    rng = np.random.default_rng(0)
    out = draw_outside([np.arange(8), np.arange(3)], 4, 10, rng)
    assert sorted(out[0][out[0] >= 0]) == [8, 9] and (out[0] == -1).sum() == 2
    assert len(set(out[1])) == 4 and not np.isin(out[1], np.arange(3)).any()


# -- detection: metrics and PRADA's statistic ------------------------------------------------------------


class _Scripted(QueryDetector):
    """Scores the queries it is shown from a script, in the order the judge asks; records the streams."""

    name = "scripted-detector"

    def __init__(self, queries=(), accounts=()) -> None:
        super().__init__()
        self.queries, self.accounts, self.streams = list(queries), list(accounts), []

    def score_stream(self, histories):
        self.streams.append([np.asarray(h).tolist() for h in histories])
        q = np.array([self.queries.pop(0) if self.queries else 0.0 for _ in histories])
        return StreamScores(q, q > 0.5, self.accounts.pop(0) if self.accounts else 0.0)


def _record(kind: AccountKind, name: str, history, flagged: bool = False) -> QueryRecord:
    return QueryRecord(Account(kind, name), np.asarray(history, np.int64), np.arange(3), 0.0, flagged)


def _judge_arena(**judge) -> Arena:
    return Arena.for_testing(recommender=_Popularity(), data=tiny_interactions(), k=10, judge=JudgeSettings(**judge))


def test_detection_metrics_on_a_toy_score_set():
    """Attacker queries 0.9 0.8 0.3 (one account, 0.7); two benign users of two queries each,
    0.1 0.2 and 0.85 0.4 (accounts 0.1, 0.9): the judge's numbers by hand."""
    arena = _judge_arena(benign_users=2, benign_queries=2, account_size=0)
    log = QueryLog([_record(AccountKind.ATTACKER, "attacker", h, f) for h, f in (([1], True), ([1, 2], False), ([7], False))]
                   + [_record(AccountKind.EVALUATOR, "evaluator", [3, 4])])
    d = _Scripted([0.9, 0.8, 0.3, 0.1, 0.2, 0.85, 0.4], [0.7, 0.1, 0.9])
    m = judge_detection(arena, d, log)
    att, ben = np.array([0.9, 0.8, 0.3]), np.array([0.1, 0.2, 0.85, 0.4])
    assert m["defense.auroc_query"] == pytest.approx(9 / 12)
    assert m["defense.fpr95_query"] == pytest.approx(0.5)
    assert m["defense.aupr_query"] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert m["defense.aupr_query_chance"] == pytest.approx(3 / 7)
    labels = np.r_[np.ones(3, bool), np.zeros(4, bool)]
    scores = np.r_[att, ben]
    assert m["defense.auroc_query"] == roc_auc(labels, scores) and m["defense.aupr_query"] == average_precision(labels, scores)
    assert m["defense.fpr95_query"] == fpr_at_tpr(labels, scores, 0.95)
    assert m["defense.auroc_account"] == 0.5 and m["defense.aupr_account_chance"] == pytest.approx(1 / 3)
    # replayed flags (score > 0.5): benign 0 0 | 1 0; the attacker's 1 1 0; online, one query of three was flagged
    assert m["defense.benign_flagged"] == 0.25 and m["defense.benign_refused"] == 0.5
    assert m["defense.attacker_refused"] == 1.0 and m["defense.attacker_flagged"] == pytest.approx(1 / 3)
    # the evaluator's traffic is neither side; benign sessions are prefixes of held-out users' histories
    test = arena.split.test
    assert d.streams == [[[1], [1, 2], [7]]] + [[p.tolist() for p in prefix_session(test.histories[r], 2)]
                                                for r in arena.benign_users()]


def test_the_judge_cuts_the_attackers_log_into_sequences_and_accounts():
    hist = [[1], [7], [1, 2], [7, 8], [1, 2, 3], [4, 5], [1, 2, 9]]
    seqs = query_sequences([np.array(h) for h in hist])
    assert seqs == [[0, 2, 4], [1, 3], [5], [6]]  # [1, 2, 9] extends no open sequence ([1, 2] was extended)
    assert pack(seqs, 2) == [[0, 2, 4], [1, 3], [5, 6]]
    # two sequences that share their first items (sent in one batch) each keep their own queries
    shared = [[5], [5], [6], [5, 1], [5, 2], [6, 3], [5, 1, 4], [5, 2, 4]]
    assert query_sequences([np.array(h) for h in shared]) == [[0, 3, 6], [1, 4, 7], [2, 5]]
    assert pack(seqs, 0) == seqs and pack(seqs, 100) == [[0, 2, 4, 1, 3, 5, 6]]
    assert [len(p) for p in prefix_session(np.arange(6), 3)] == [4, 5, 6]
    assert [p.tolist() for p in prefix_session(np.arange(3), 0)] == [[0], [0, 1], [0, 1, 2]]

    # account_size 6: whole sequences (and whole benign sessions) packed in order into accounts of 6+;
    # 0: one account per account name and one per benign user; the evaluator's queries never count
    log = QueryLog([_record(AccountKind.ATTACKER, "a" if i % 2 else "b", h) for i, h in enumerate(hist)]
                   + [_record(AccountKind.EVALUATOR, "evaluator", [3, 4])] * 2)
    for size, want, n_accounts in ((6, [[[1], [1, 2], [1, 2, 3], [7], [7, 8], [4, 5]], [[1, 2, 9]]], 2),
                                   (0, [[[1], [1, 2], [1, 2, 3], [1, 2, 9]], [[7], [7, 8], [4, 5]]], 3)):
        arena = _judge_arena(benign_users=3, benign_queries=4, account_size=size)
        d = _Scripted()
        judge_detection(arena, d, log)
        assert d.streams[: len(want)] == want, size
        benign = d.streams[len(want):]
        sessions = [[p.tolist() for p in prefix_session(arena.split.test.histories[r], 4)] for r in arena.benign_users()]
        assert [q for acc in benign for q in acc] == [q for s in sessions for q in s] and len(sessions) == 3
        assert [len(acc) for acc in benign] == ([8, 4] if size else [4, 4, 4]) and len(benign) == n_accounts


def test_prada_statistic_on_hand_made_distance_series():
    rng = np.random.default_rng(0)
    normal = 0.5 + 0.1 * rng.standard_normal(200)
    two_modes = np.r_[0.02 + 0.005 * rng.random(100), 0.9 + 0.005 * rng.random(100)]
    assert w_statistic(normal) == pytest.approx(shapiro(normal).statistic)
    assert w_statistic(normal) > 0.97 and w_statistic(two_modes) < 0.7
    assert w_statistic(np.array([0.1, 0.2])) == 1.0 and w_statistic(np.full(10, 0.3)) == 1.0
    # the growing set by hand: {0,1}; {0,1,2} at Jaccard 1/3; {5,6} at 1
    st = PradaState(10)
    d = st.process([np.array([0, 1]), np.array([0, 1, 2])])
    d2 = st.process([np.array([5, 6])])
    assert np.isnan(d[0]) and d[1] == pytest.approx(1 / 3) and d2[0] == 1.0
    assert st.dists == pytest.approx([1 / 3, 1.0]) and len(st.members) == 3
    assert st.threshold == pytest.approx(1 / 3)
    # a series of queries whose distances split in two clusters raises the alarm once enough are seen
    queries = [np.array([i, i + 1]) for i in range(0, 120, 2)] + [np.r_[np.arange(0, 4), [200 + i]] for i in range(60)]
    score, flagged = stream_scores(queries, 400, "jaccard", 5000, 5000, 0.9, 20)
    assert flagged[-1] and not flagged[:20].any() and score[-1] > 0.1


# -- detection end to end -------------------------------------------------------------------------------


def _attack_traffic(api, n_items: int, n: int = 40) -> None:
    rng = np.random.default_rng(0)
    for _ in range(2):
        api.query(Queries.of([rng.integers(0, n_items, rng.integers(2, 8)) for _ in range(n // 2)]), account="attacker")


DETECTION_JUDGE = JudgeSettings(benign_users=20, benign_queries=5, account_size=10)


@pytest.mark.parametrize("cls,params", [
    (SameDetector, dict(hidden=16, epochs=1, aux_epochs=1, calib_users=20, calib_queries=5)),
    (PradaDetector, dict(min_queries=5)),
])
@pytest.mark.parametrize("action", ["flag", "reject", "perturb"])
def test_detectors_answer_flag_and_score(cls, params, action, victim):
    arena = Arena.for_testing(recommender=BERT4Rec(**TINY), data=tiny_interactions(), defense=cls(action=action, **params),
                              k=10, judge=DETECTION_JUDGE, trained=victim)
    d, test = arena.defense, arena.split.test
    evaluator = arena.serve(AccountKind.EVALUATOR, Serving(k=10), defense=d, rng=np.random.default_rng(0))
    raw = victim.topk(Queries(test.histories[:30]), 10)
    out = evaluator.query(Queries(test.histories[:30], test.users[:30]))
    attacker = arena.serve(AccountKind.ATTACKER, Serving(k=10), defense=d, rng=np.random.default_rng(0))
    _attack_traffic(attacker, victim.n_items)
    flags = np.array([r.flagged for r in evaluator.log.records])
    _valid(out, Queries(test.histories[:30]), victim.n_items)
    if action == "flag" or not flags.any():
        assert np.array_equal(out, raw)
    elif action == "perturb":
        assert all(set(o) == set(r) for o, r in zip(out, raw))
    m = judge_detection(arena, d, attacker.log)
    for key in ("auroc_query", "aupr_query", "fpr95_query", "auroc_account", "benign_refused", "attacker_flagged", "attacker_refused"):
        assert f"defense.{key}" in m
    # 40 attacker queries, none extending another, in 4 accounts of 10; benign sessions of 5 queries, 2 per account
    n_benign = sum(len(prefix_session(test.histories[r], 5)) for r in arena.benign_users())
    assert len(arena.benign_users()) == 20 and n_benign == 100
    assert m["defense.aupr_query_chance"] == pytest.approx(40 / (40 + n_benign))
    assert m["defense.aupr_account_chance"] == pytest.approx(4 / (4 + 10))
    assert 0.0 <= m["defense.auroc_query"] <= 1.0 and 0.0 <= m["defense.benign_refused"] <= 1.0
    if cls is SameDetector:
        assert 0.0 <= m["defense.auroc_query_recon"] <= 1.0 and 0.0 <= m["defense.auroc_query_dev"] <= 1.0


def test_same_rejects_flagged_queries_with_popular_lists(victim, split):
    d = SameDetector(action="reject", hidden=16, epochs=1, aux_epochs=1, calib_users=20, fpr=0.5)
    d.prepare(victim, split, tiny_context())
    q = Queries(split.test.histories[:30])
    out, flags = d.answer(q, victim.topk(q, 10), np.ones(30, bool), ATTACKER, np.random.default_rng(0))
    assert flags.any()
    ranking = split.train.popularity_ranking()
    for row, h in zip(out[flags], [q.histories[i] for i in np.flatnonzero(flags)]):
        assert np.array_equal(row, ranking[~np.isin(ranking, h)][:10])
    assert d.skip(recommender=LFM())
    assert 0.0 <= check_defense(PradaDetector, min_queries=5)["defense.auroc_query"] <= 1.0


def test_gro_warm_start_continues_from_the_trained_weights(split, victim):
    import copy

    rec = copy.deepcopy(victim)
    wrapper = build_gro_net(rec, tiny_context(), GRO(k=10).p)
    assert wrapper.target is rec.net  # the reference code's --use_pretrained: no new initialisation
    d = GRO(k=10, warm_epochs=1)
    fresh = BERT4Rec(**TINY)
    report = d.train_victim(fresh, split, tiny_context())
    assert report.stats["warm_epochs"] == 1.0 and report.stats["epochs"] == TINY["max_epochs"]
    assert report.init_seed == fresh.init_seed(tiny_context())  # the warm-up run's: the plain init


def test_gro_continues_from_a_victim_checkpoint(split, victim, tmp_path, monkeypatch):
    """The reference's Beauty recipe: GRO starts from the trained victim's saved weights."""
    path = tmp_path / "victim.pt"
    victim.save(path)
    rec = BERT4Rec(**{**TINY, "checkpoint": str(path)})
    before = {k: v.clone() for k, v in victim.net.state_dict().items()}
    seen: list[dict[str, torch.Tensor]] = []
    import recsec.plugins.defenses._gro_train as gro_train

    real = gro_train.build_gro_net

    def spy(r, ctx, cfg):
        wrapper = real(r, ctx, cfg)
        seen.append({k: v.clone() for k, v in wrapper.target.state_dict().items()})
        return wrapper

    monkeypatch.setattr(gro_train, "build_gro_net", spy)
    report = GRO(k=10).train_victim(rec, split, tiny_context())
    assert report.stats["warm_from_checkpoint"] == 1.0 and report.stats["epochs"] == TINY["max_epochs"]
    (start,) = seen
    assert all(torch.equal(start[k], before[k]) for k in before)  # GRO began at the victim's weights
    assert any(not torch.equal(rec.net.state_dict()[k], before[k]) for k in before)  # and trained on
    with pytest.raises(ValueError, match="both give a warm start"):
        GRO(k=10, warm_epochs=1).train_victim(BERT4Rec(**{**TINY, "checkpoint": str(path)}), split, tiny_context())


def test_a_killed_gro_training_resumes_to_the_same_target_and_student(split, tmp_path):
    """The student and its optimizer live outside the wrapper's state_dict (training_state)."""
    from recsec.context import RunContext

    class Killed(Exception):
        pass

    def die_at_epoch_3(msg: str) -> None:
        if "epoch 3:" in msg:
            raise Killed

    params = {**TINY, "max_epochs": 4}
    plain = BERT4Rec(**params)
    plain_stats = GRO(k=10).train_victim(plain, split, tiny_context()).stats
    with pytest.raises(Killed):
        GRO(k=10).train_victim(BERT4Rec(**params), split,
                               RunContext(seed=0, device=torch.device("cpu"), work_dir=tmp_path, log=die_at_epoch_3))
    logs: list[str] = []
    resumed = BERT4Rec(**params)
    stats = GRO(k=10).train_victim(resumed, split,
                                   RunContext(seed=0, device=torch.device("cpu"), work_dir=tmp_path, log=logs.append)).stats
    assert any("resuming after epoch 2" in m for m in logs)
    assert [r["loss"] for r in resumed.train_history] == [r["loss"] for r in plain.train_history]
    q = Queries(split.test.histories[:10])
    assert torch.equal(plain.score(q), resumed.score(q))
    for key in ("gro_swap_loss", "gro_student_loss", "gro_masked_rows"):
        assert stats[key] == plain_stats[key], key

    # a state written before the student was saved with it cannot resume GRO exactly: start over
    (state,) = tmp_path.glob("bert4rec-training-*.pt")
    old = torch.load(state, weights_only=False)
    del old["net_extra"]
    torch.save(old, state)
    logs.clear()
    again = BERT4Rec(**params)
    GRO(k=10).train_victim(again, split, RunContext(seed=0, device=torch.device("cpu"), work_dir=tmp_path, log=logs.append))
    assert any("lacks GROTrainingNet's own state; training from scratch" in m for m in logs)
    assert torch.equal(plain.score(q), again.score(q))


# -- through the runner -----------------------------------------------------------------------------------

RUNNER_SPEC = """
datasets = ["synthetic[n_users=120,n_items=60,mean_events=12.0]"]
recommenders = ["bert4rec[hidden=16,max_len=10,n_blocks=1,max_epochs=1,patience=0]", "lfm[epochs=2,dim=8]"]
defenses = ["none", "gro[k=10]", "reverse", "prada-detector[min_queries=5]"]

[benchmark]
name = "extraction-defenses"
seeds = [0]

[judge]
eval_users = 20
benign_users = 20

[[attacks]]
name = "dfme-random"
params = { n_sequences = 12, seq_len = 5, gen_batch = 6, epochs = 1 }
"""


def test_defenses_run_through_the_runner(storage, tmp_path):
    from recsec.registry import default_registry
    from recsec.runner import RunOptions, Runner
    from recsec.spec import parse_spec
    from recsec.storage import repository as repo

    spec = parse_spec(RUNNER_SPEC, default_registry(), "x.toml")
    opts = RunOptions(device="cpu", artifacts_dir=tmp_path / "artifacts", log=lambda m: None)
    summary = Runner(spec, storage, opts).run()
    assert summary.counts["failed"] == 0, summary.failures
    with storage.transaction() as s:
        cells = {(c.recommender.split("[")[0], c.defense.split("[")[0]): c for c in repo.list_cells(s)}
    assert cells[("lfm", "gro")].status == "skipped"  # GRO trains BERT4Rec / SASRec only (and dfme skips lfm)
    gro = cells[("bert4rec", "gro")].metrics
    assert gro["victim.gro_overhead_s"] > 0  # GRO's training cost, from its training report
    none = cells[("bert4rec", "none")].metrics
    assert none["utility.hr@10"] == cells[("bert4rec", "reverse")].metrics["utility.hr@10"]
    prada = cells[("bert4rec", "prada-detector")].metrics
    assert 0.0 <= prada["defense.auroc_query"] <= 1.0 and prada["attack.queries"] == 60
    assert prada["defense.aupr_query_chance"] > 0  # the judge scored the attacker's 60 queries against benign ones
    assert prada["defended.hr@10"] == none["defended.hr@10"]  # one query per evaluated user: never alarmed


def test_a_reference_attacker_is_told_the_seed_the_victims_run_started_from():
    """surrogate_init='reference' (the DFME/GRO reference code's shared seed), through the arena: the
    attack gets ``knowledge.victim_init_seed()``: a plain fit's init seed, GRO from scratch the
    student's (the reference code draws it first), a warm-started GRO the warm-up run's plain init.
    With a learning rate of 1e-7 the victim keeps its initial weights, so an untrained surrogate
    that shares them agrees with it (Agr@10 = 1 before training); GRO's target does not share the
    student's, and an independent surrogate shares neither."""
    from recsec.context import AttackContext
    from recsec.plugins.attacks._extraction_train import build_surrogate
    from recsec.plugins.attacks.extraction import DFMERandom

    data = tiny_interactions()
    rec = BERT4Rec(**{**TINY, "max_epochs": 1, "lr": 1e-7})
    fast = dict(n_sequences=6, seq_len=5, gen_batch=6, epochs=1)
    w = "encoder.item_emb.weight"

    def weights(seed):
        with torch.random.fork_rng(devices=[]):
            return rec.draw_net(data.n_items, seed).state_dict()[w]

    for defense in (None, GRO(k=10), GRO(k=10, warm_epochs=1)):
        arena = Arena.for_testing(recommender=rec, data=data, defense=defense, k=10)
        vctx = arena.context()
        plain = rec.init_seed(vctx)
        shared = vctx.seed_for(*STUDENT_SEED) if defense is not None and not defense.p.warm_epochs else plain
        reference, independent = DFMERandom(**fast, surrogate_init="reference"), DFMERandom(**fast)
        knowledge = arena.grant(reference, arena.serving(reference))
        assert arena.report.init_seed == knowledge.victim_init_seed() == shared, defense
        actx = AttackContext(seed=arena.streams.seed_of("attack"), device=torch.device("cpu"), knowledge=knowledge)
        assert torch.equal(build_surrogate("same", actx, data.n_items, "reference").net.state_dict()[w], weights(shared))
        if defense is not None and not defense.p.warm_epochs:  # the seed is the student's, as GRO draws it
            target = BERT4Rec(**rec.given_params)
            target.n_items = data.n_items
            gro_net = build_gro_net(target, vctx, defense.p)
            assert torch.equal(gro_net.target.state_dict()[w], weights(plain))  # the target is drawn as fit draws it
            assert torch.equal(gro_net.student.state_dict()[w], weights(shared))
            assert not torch.allclose(weights(shared), weights(plain))
        init = {name: arena.attack(a).metrics["attack.agr@10_init"]
                for name, a in (("reference", reference), ("independent", independent))}
        if shared == plain:
            assert init["reference"] > 0.95, (defense, init)
        else:
            assert init["reference"] < 0.6, (defense, init)
        assert init["independent"] < 0.6, (defense, init)
