"""Model extraction (DFME random / autoregressive, few-shot) and profile pollution: tiny data, CPU, seconds."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from recsec.blackbox import BlackBoxAPI  # noqa: E402
from recsec.context import AttackContext  # noqa: E402
from recsec.data import leave_one_out  # noqa: E402
from recsec.errors import BudgetExhausted  # noqa: E402
from recsec.metrics import agreement_at_k  # noqa: E402
from recsec.queries import Queries  # noqa: E402
from recsec.testing import check_attack, tiny_context, tiny_interactions  # noqa: E402

FAST = dict(n_sequences=120, seq_len=12, epochs=6, patience=0, gen_batch=64)


@pytest.fixture(scope="module")
def world():
    """A tiny SASRec victim on structured toy data (k = 10 lists)."""
    from recsec.plugins.recommenders.sasrec import SASRec

    torch.set_num_threads(1)
    data = tiny_interactions(n_users=160)
    split = leave_one_out(data)
    ctx = tiny_context()
    victim = SASRec(max_epochs=12, patience=0, dropout=0.1, max_len=20)
    victim.to(ctx.device)
    victim.fit(split, ctx)
    return data, split, victim


def _actx(split, victim, seed=1):
    return AttackContext(seed=seed, device=torch.device("cpu"), split=split, n_items=victim.n_items,
                         victim_factory=lambda: type(victim)(**victim.given_params),
                         reference_topk=lambda q, k: victim.topk(q, k))


# -- losses ------------------------------------------------------------------------------------


def test_ranking_loss_exact_value():
    from recsec.plugins.attacks._extraction_loss import ranking_loss

    s = torch.tensor([[3.0, 1.0, 2.0]])  # victim's list, best first
    n = torch.tensor([[0.0, 2.5, 1.0]])  # negatives paired by position
    ok = torch.ones(1, 3, dtype=torch.bool)
    # top-k pairs: max(0, 1-3+.5)=0, max(0, 2-1+.5)=1.5 -> 0.75; negatives: 0, max(0, 2.5-1+.5)=2, 0 -> 2/3
    val = ranking_loss(s, ok, n, ok, 0.5, 0.5)
    assert val.item() == pytest.approx(0.75 + 2 / 3)
    # a missing list entry drops its pairs and its negative: pair (3, 1) -> 0; negatives 0, 2 -> 1
    ok2 = torch.tensor([[True, True, False]])
    assert ranking_loss(s, ok2, n, ok, 0.5, 0.5).item() == pytest.approx(0.0 + 1.0)
    # an invalid negative drops its term only: negatives 0, 0 -> 0
    assert ranking_loss(s, ok, n, torch.tensor([[True, False, True]]), 0.5, 0.5).item() == pytest.approx(0.75)


def test_repair_loss_exact_value():
    from recsec.plugins.attacks._extraction_loss import repair_loss

    full = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0]])  # surrogate top-2 = items 0, 1; tau = 4
    victim = torch.tensor([[1 + 1, 3 + 1]])  # victim returned items 1 and 3 (tokens)
    # up: item 3 missing from the surrogate's top-2: max(0, 4 - 2 + 0.5) = 2.5
    # down: item 0 not returned by the victim: max(0, 5 - 4 + 0.5) = 1.5 -> (2.5 + 1.5) / K = 2
    assert repair_loss(full, victim, 0.5).item() == pytest.approx(2.0)
    agree = torch.tensor([[1, 2]])  # items 0, 1: nothing to repair
    assert repair_loss(full, agree, 0.5).item() == pytest.approx(0.0)


def test_negatives_never_in_list_history_or_padding():
    from recsec.plugins.attacks._extraction_loss import sample_negatives

    g = torch.Generator().manual_seed(0)
    n_items, K = 30, 12
    lists = torch.stack([torch.randperm(n_items, generator=g)[:K] + 1 for _ in range(200)])
    lists[:, -2:] = 0  # missing entries
    hist = torch.randint(0, n_items + 1, (200, 8), generator=g)
    neg, ok = sample_negatives(lists, K, n_items, g, hist)
    assert ok.float().mean() > 0.99
    for r in range(200):
        used = set(neg[r][ok[r]].tolist())
        assert 0 not in used and not used & set(lists[r].tolist()) and not used & set(hist[r].tolist())
        assert all(1 <= x <= n_items for x in used)
    # list + history covering the whole catalogue: nothing valid, nothing forbidden used
    full = torch.arange(1, n_items + 1)[None].repeat(3, 1)
    neg, ok = sample_negatives(full, 5, n_items, g)
    assert not ok.any()


def test_agreement_at_k_toy_lists():
    a = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    b = np.array([[1, 9, 3, 4], [8, 7, 0, 1]])
    assert agreement_at_k(a, b, 1) == pytest.approx(0.5)  # row 0 agrees at top-1, row 1 not
    assert agreement_at_k(a, b, 2) == pytest.approx((1 / 2 + 0) / 2)
    assert agreement_at_k(a, b, 4) == pytest.approx((3 / 4 + 2 / 4) / 2)


# -- scoring adapters ----------------------------------------------------------------------------


@pytest.mark.parametrize("arch,extra", [("sasrec", {}), ("bert4rec", {}), ("narm", {}), ("narm", {"attention": "paper"}),
                                        ("gru4rec", {})])
def test_scorer_matches_score_last(arch, extra):
    import importlib

    from recsec.plugins.attacks._extraction_scoring import scorer_for

    mod = importlib.import_module(f"recsec.plugins.recommenders.{arch}")
    cls = next(c for c in vars(mod).values() if isinstance(c, type) and getattr(c, "name", None) == arch)
    torch.manual_seed(0)
    net = cls(max_len=8, **extra)._build_net(25, cls(max_len=8, **extra).param_values).eval()
    sc = scorer_for(net)
    g = torch.Generator().manual_seed(1)
    tok = torch.randint(1, 26, (6, 8), generator=g)
    tok[0, :5] = 0
    tok[1, :7] = 0
    items = torch.randint(0, 25, (6, 4), generator=g)
    with torch.no_grad():
        ref = net.score_last(tok)
        z = sc.last(tok)
        assert torch.allclose(sc.full_scores(z), ref, atol=1e-5)
        assert torch.allclose(sc.item_scores(z, items), ref.gather(1, items), atol=1e-5)
        if sc.shared_exact:  # one pass == every prefix scored on its own
            zz = sc.shared(tok)
            for c in range(3, 8):
                pref = torch.where(torch.arange(8)[None] <= c, tok, 0)
                pref = torch.cat([torch.zeros(6, 7 - c, dtype=torch.long), pref[:, : c + 1]], 1)
                real = tok[:, c] > 0
                assert torch.allclose(sc.full_scores(zz[:, c])[real], net.score_last(pref)[real], atol=1e-5)


# -- generation and budget -----------------------------------------------------------------------


def test_autoregressive_items_come_from_the_returned_lists(world):
    from recsec.plugins.attacks._extraction_data import autoregressive_rule, generate

    _, _, victim = world
    api = BlackBoxAPI(victim, k=10)
    first, nxt = autoregressive_rule(victim.n_items, np.random.default_rng(0))
    data, _ = generate(api, 20, lambda b: np.full(b, 6), first, nxt, batch=8)
    assert len(data) == 20 and api.queries_used == 20 * 6
    for s in range(20):
        for t in range(5):
            assert data.seqs[s, t + 1] in data.lists[s, t]
        # each label is the victim's own answer to the prefix
    again = victim.topk(Queries.of([data.seqs[3, :4]]), 10)[0]
    assert np.array_equal(again, data.lists[3, 3])


@pytest.mark.parametrize("name", ["dfme-random", "dfme-autoregressive", "fewshot-extraction"])
def test_attack_stops_exactly_at_the_budget(world, name):
    from recsec.registry import default_registry

    _, split, victim = world
    attack = default_registry().create("attack", name, **{**FAST, "epochs": 1, "max_queries": 437})
    assert attack.serving() == {"budget": 437}
    api = BlackBoxAPI(victim, k=10, **attack.serving())
    m = attack.run(api, _actx(split, victim))
    assert api.queries_used == 437 and m["queries"] == 437
    with pytest.raises(BudgetExhausted):
        api.query(Queries.of([[1, 2]]))
    assert api.queries_used == 437


def test_capped_phase_budget(world):
    from recsec.plugins.attacks._extraction_data import CappedAPI, autoregressive_rule, generate

    _, _, victim = world
    api = BlackBoxAPI(victim, k=10, budget=100)
    view = CappedAPI(api, 33)
    first, nxt = autoregressive_rule(victim.n_items, np.random.default_rng(0))
    data, _ = generate(view, 50, lambda b: np.full(b, 5), first, nxt, batch=4)
    assert api.queries_used == 33 and data.n_prefixes == 33 and api.remaining == 67


# -- surrogate -----------------------------------------------------------------------------------


def test_surrogate_init_differs_from_victim_init(world):
    from recsec.context import RunContext
    from recsec.plugins.attacks._extraction_train import build_surrogate
    from recsec.plugins.recommenders.sasrec import SASRec

    _, split, victim = world
    rec = SASRec(max_len=20)
    vctx = RunContext(seed=1, device=torch.device("cpu"))
    v_net = rec.draw_net(victim.n_items, vctx.seed_for(*rec.init_labels()))  # as SequentialRecommender.fit draws it
    actx = _actx(split, victim, seed=1)  # even with the same cell seed number
    a = build_surrogate("same", actx, victim.n_items)
    b = build_surrogate("same", actx, victim.n_items)
    w = "encoder.item_emb.weight"
    assert not torch.allclose(a.net.state_dict()[w], v_net.state_dict()[w])
    assert torch.equal(a.net.state_dict()[w], b.net.state_dict()[w])  # seeded: reproducible
    assert not torch.allclose(a.net.state_dict()[w], victim.net.state_dict()[w].cpu())


def test_reference_surrogate_init_starts_where_the_victims_run_started(world):
    """surrogate_init='reference' (the DFME/GRO reference code's shared seed): plain fit, GRO from
    scratch (the student, drawn first there) and a warm-started GRO (the plain init)."""
    import dataclasses

    from recsec.context import RunContext
    from recsec.plugins.attacks._extraction_train import build_surrogate
    from recsec.plugins.defenses._gro_train import GROConfig, build_gro_net
    from recsec.plugins.defenses.gro import GRO
    from recsec.plugins.recommenders.sasrec import SASRec

    _, split, victim = world
    rec = SASRec(max_len=20)
    rec.n_items = victim.n_items
    vctx = RunContext(seed=5, device=torch.device("cpu"))
    w = "encoder.item_emb.weight"
    plain = rec.draw_net(victim.n_items, vctx.seed_for(*rec.init_labels())).state_dict()[w]
    gro_net = build_gro_net(rec, vctx, GROConfig(k=10))
    assert torch.equal(gro_net.target.state_dict()[w], plain)  # GRO's target is drawn as fit draws it
    student = gro_net.student.state_dict()[w]

    base = _actx(split, victim, seed=5)
    for defense, want in [(None, plain), (GRO(), student), (GRO(warm_epochs=3), plain)]:
        labels = rec.init_seed_labels() if defense is None else defense.init_seed_labels(rec)
        actx = dataclasses.replace(base, victim_init_seed=vctx.seed_for(*labels))
        ref = build_surrogate("same", actx, victim.n_items, "reference").net.state_dict()[w]
        ind = build_surrogate("same", actx, victim.n_items, "independent").net.state_dict()[w]
        assert torch.equal(ref, want), defense
        assert not torch.allclose(ind, want), defense
    assert not torch.allclose(student, plain)
    assert SASRec(checkpoint="x.pt").init_seed_labels() is None  # loaded weights: no init seed
    with pytest.raises(ValueError, match="no init seed"):
        build_surrogate("same", base, victim.n_items, "reference")


def test_dfme_beats_untrained_surrogate_and_is_reproducible(world):
    from recsec.plugins.attacks.extraction import DFMEAutoregressive

    _, split, victim = world
    runs = []
    for _ in range(2):
        attack = DFMEAutoregressive(**FAST)
        api = BlackBoxAPI(victim, k=10, **attack.serving())
        runs.append(attack.run(api, _actx(split, victim)))
    m = runs[0]
    assert m["agr@10"] > m["agr@10_init"] + 0.2, m
    assert m["agr@10"] > 0.6 and m["sequences"] == 120 and m["queries"] == 120 * 12
    assert 0 <= m["ndcg@10"] <= 1 and np.isfinite(m["surrogate_train_s"])
    assert runs[0]["agr@10"] == runs[1]["agr@10"]


def test_fewshot_uses_a_fraction_of_training_users(world):
    from recsec.plugins.attacks._extraction_fewshot import fewshot_sequences

    _, split, victim = world
    real = fewshot_sequences(_actx(split, victim), 0.1, 20)
    train_seqs = [s for s in split.train.sequences() if len(s) >= 2]
    known = {tuple(s) for s in train_seqs}
    assert len(real) == round(0.1 * len(train_seqs)) and all(tuple(s) in known for s in real)
    tests = {tuple(h) + (t,) for h, t in zip(split.test.histories, split.test.targets)}
    assert not any(tuple(s) in tests for s in real)  # never the held-out items


def test_conformance_check_attack():
    from recsec.plugins.attacks.extraction import DFMERandom, FewShotExtraction
    from recsec.plugins.recommenders.gru4rec import GRU4Rec

    for cls in (DFMERandom, FewShotExtraction):
        m = check_attack(cls, recommender=GRU4Rec(max_epochs=3, patience=0, max_len=10), budget=300,
                         **{**FAST, "epochs": 2, "sampler_epochs": 2} if cls is FewShotExtraction else {**FAST, "epochs": 2})
        assert m["queries"] <= 300


def test_profile_pollution_runs_within_budget(world):
    from recsec.plugins.attacks.pollution import ProfilePollution

    _, split, victim = world
    attack = ProfilePollution(**{**FAST, "max_queries": 600}, n_targets=2, n_users=20, n_append=2, n_candidates=3)
    api = BlackBoxAPI(victim, k=10, **attack.serving())
    m = attack.run(api, _actx(split, victim))
    assert api.budget == 600 + 20 * (1 + 2 * 2)
    assert m["extraction_queries"] == 600 and api.queries_used <= api.budget
    for k in ("target_ndcg@10_before", "target_ndcg@10_after", "target_hr@10_random", "surrogate_target_hr@10_after"):
        assert 0.0 <= m[k] <= 1.0
    assert m["surrogate_target_ndcg@10_after"] >= m["surrogate_target_ndcg@10_before"]


def test_shared_pass_loss_equals_per_prefix_loss_for_recurrent_nets():
    """One pass per sequence (shared) gives exactly the per-prefix loss for GRU4Rec, history exclusion included."""
    from recsec.plugins.attacks._extraction_batches import examples
    from recsec.plugins.attacks._extraction_data import LabelledSet
    from recsec.plugins.attacks._extraction_scoring import scorer_for
    from recsec.plugins.attacks._extraction_train import TrainConfig, _batch_loss
    from recsec.plugins.recommenders.gru4rec import GRU4Rec

    rng = np.random.default_rng(0)
    S, T, K, N = 5, 7, 6, 40
    lens = np.array([7, 3, 5, 1, 6])
    seqs = rng.integers(0, N, (S, T))
    lists = rng.integers(0, N, (S, T, K)).astype(np.int32)
    cols = np.arange(T)[None, :] >= lens[:, None]
    seqs[cols], lists[cols] = -1, -1
    data = LabelledSet(seqs, lists, lens, np.zeros(S, bool))
    torch.manual_seed(0)
    rec = GRU4Rec(max_len=10, dropout=0.0)
    net = rec._build_net(N, rec.param_values).eval()
    sc = scorer_for(net)
    cfg = TrainConfig(repair_weight=0.7)
    batch = np.arange(S)
    ex = examples(data, batch)  # the same (row, prefix) order as the shared pass
    losses = []
    for mode, b in (("shared", batch), ("separate", np.arange(len(ex[0])))):
        g = torch.Generator().manual_seed(3)
        losses.append(_batch_loss(sc, data, b, mode, cfg, g, torch.device("cpu"), ex))
    assert losses[0].item() == pytest.approx(losses[1].item(), rel=1e-5)
