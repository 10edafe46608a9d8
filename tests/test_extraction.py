"""Model extraction (DFME random / autoregressive, few-shot) and profile pollution: tiny data, CPU, seconds."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from recsec.arena import Arena  # noqa: E402
from recsec.blackbox import AccountKind  # noqa: E402
from recsec.context import AttackContext  # noqa: E402
from recsec.errors import BudgetExhausted  # noqa: E402
from recsec.metrics import agreement_at_k  # noqa: E402
from recsec.queries import Queries  # noqa: E402
from recsec.testing import check_attack, tiny_interactions  # noqa: E402
from recsec.threat import NotGranted, Serving  # noqa: E402

FAST = dict(n_sequences=120, seq_len=12, epochs=6, patience=0, gen_batch=64)
W = "encoder.item_emb.weight"


@pytest.fixture(scope="module")
def arena():
    """A tiny SASRec victim on structured toy data (k = 10 lists), in its arena."""
    from recsec.plugins.recommenders.sasrec import SASRec

    torch.set_num_threads(1)
    return Arena.for_testing(recommender=SASRec(max_epochs=12, patience=0, dropout=0.1, max_len=20),
                             data=tiny_interactions(n_users=160), k=10)


def _actx(arena, attack=None, seed=None):
    """The context ``attack`` gets in ``arena`` (knowledge as its threat model grants), for unit checks;
    ``seed``: another context seed than the arena's attack stream."""
    from recsec.plugins.attacks.extraction import DFMERandom

    attack = attack or DFMERandom()
    knowledge = arena.grant(attack, arena.serving(attack))
    return AttackContext(seed=arena.streams.seed_of("attack") if seed is None else seed, device=torch.device("cpu"),
                         knowledge=knowledge)


def _judged(arena, attack, **kw):
    """``arena.attack(attack)`` and the attacker's black box it served (to look at after the run)."""
    served = []
    serve = arena.serve

    def spy(kind, *a, **k):
        api = serve(kind, *a, **k)
        if kind is AccountKind.ATTACKER:
            served.append(api)
        return api

    arena.serve = spy
    try:
        verdict = arena.attack(attack, **kw)
    finally:
        del arena.serve
    (api,) = served
    return verdict, api


def _init_weights(rec, n_items, seed):
    """The item table ``rec`` draws under ``seed`` (the global torch stream left alone)."""
    with torch.random.fork_rng(devices=[]):
        return rec.draw_net(n_items, seed).state_dict()[W]


# -- losses ------------------------------------------------------------------------------------


def test_ranking_loss_exact_value():
    from recsec.plugins.sequential.losses import ranking_loss

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
    from recsec.plugins.sequential.losses import repair_loss

    full = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0]])  # surrogate top-2 = items 0, 1; tau = 4
    victim = torch.tensor([[1 + 1, 3 + 1]])  # victim returned items 1 and 3 (tokens)
    # up: item 3 missing from the surrogate's top-2: max(0, 4 - 2 + 0.5) = 2.5
    # down: item 0 not returned by the victim: max(0, 5 - 4 + 0.5) = 1.5 -> (2.5 + 1.5) / K = 2
    assert repair_loss(full, victim, 0.5).item() == pytest.approx(2.0)
    agree = torch.tensor([[1, 2]])  # items 0, 1: nothing to repair
    assert repair_loss(full, agree, 0.5).item() == pytest.approx(0.0)
    # a history item the service returned (no history exclusion) is masked for the surrogate: it cannot
    # be ranked, so it is not "missing" (it used to add max(0, 4 + 1e9 + 0.5) / K)
    from recsec.plugins.sequential.losses import mask_history

    masked = mask_history(full, torch.tensor([[3 + 1]]))  # item 3 is in the prefix's history
    assert repair_loss(masked, victim, 0.5).item() == pytest.approx(1.5 / 2)


def test_negatives_never_in_list_history_or_padding():
    from recsec.plugins.sequential.losses import sample_negatives

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


# -- prefix scoring ----------------------------------------------------------------------------


@pytest.mark.parametrize("arch,extra", [("sasrec", {}), ("bert4rec", {}), ("narm", {}), ("narm", {"attention": "paper"}),
                                        ("gru4rec", {})])
def test_prefix_scoring_matches_score_last(arch, extra):
    import importlib

    mod = importlib.import_module(f"recsec.plugins.recommenders.{arch}")
    cls = next(c for c in vars(mod).values() if isinstance(c, type) and getattr(c, "name", None) == arch)
    torch.manual_seed(0)
    net = cls(max_len=8, **extra)._build_net(25, cls(max_len=8, **extra).param_values).eval()
    g = torch.Generator().manual_seed(1)
    tok = torch.randint(1, 26, (6, 8), generator=g)
    tok[0, :5] = 0
    tok[1, :7] = 0
    items = torch.randint(0, 25, (6, 4), generator=g)
    with torch.no_grad():
        ref = net.score_last(tok)
        z = net.last_vectors(tok)
        assert torch.allclose(net.full_scores(z), ref, atol=1e-5)
        assert torch.allclose(net.item_scores(z, items), ref.gather(1, items), atol=1e-5)
        if net.shared_exact:  # one pass == every prefix scored on its own
            zz = net.shared_vectors(tok)
            for c in range(3, 8):
                pref = torch.where(torch.arange(8)[None] <= c, tok, 0)
                pref = torch.cat([torch.zeros(6, 7 - c, dtype=torch.long), pref[:, : c + 1]], 1)
                real = tok[:, c] > 0
                assert torch.allclose(net.full_scores(zz[:, c])[real], net.score_last(pref)[real], atol=1e-5)


def _score_only_net(n_items: int, width: int):
    """Stands in for a third party's net: an embedding and a score row per history, nothing factorised."""
    from recsec.plugins.sequential.net import SeqNet

    class ScoreOnly(SeqNet):
        def __init__(self) -> None:
            super().__init__()
            self.n_items, self.window, self.input_len = n_items, width + 1, width
            self.emb = torch.nn.Embedding(n_items + 1, 4, padding_idx=0)

        def score_last(self, tokens):
            return self.emb(tokens).sum(1) @ self.emb.weight[1:].T

    return ScoreOnly()


def test_a_net_with_only_score_last_gets_the_generic_prefix_scoring():
    from recsec.plugins.attacks._extraction_train import resolve_mode

    torch.manual_seed(0)
    net = _score_only_net(12, 5)
    tok = torch.randint(0, 13, (4, 5))
    items = torch.randint(0, 12, (4, 3))
    z = net.last_vectors(tok)
    assert torch.equal(z, net.score_last(tok)) and torch.equal(net.full_scores(z), z)
    assert torch.equal(net.item_scores(z, items), z.gather(1, items))
    assert net.item_embedding() is net.emb
    assert resolve_mode(net, "auto") == "separate" and not net.can_share
    with pytest.raises(ValueError, match="not possible"):
        resolve_mode(net, "shared")
    with pytest.raises(NotImplementedError):
        net.shared_vectors(tok)


# -- generation and budget -----------------------------------------------------------------------


def test_autoregressive_items_come_from_the_returned_lists(arena):
    from recsec.plugins.attacks._extraction_data import autoregressive_rule, generate

    victim = arena.victim
    api = arena.serve(AccountKind.ATTACKER, Serving(k=10))
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
def test_attack_stops_exactly_at_the_budget(arena, name):
    from recsec.registry import default_registry

    attack = default_registry().create("attack", name, **{**FAST, "epochs": 1, "max_queries": 437})
    assert attack.serving() == Serving(budget=437)
    verdict, api = _judged(arena, attack)
    assert api.budget == 437
    assert api.queries_used == 437 and verdict.metrics["attack.queries"] == 437
    with pytest.raises(BudgetExhausted):
        api.query(Queries.of([[1, 2]]))
    assert api.queries_used == 437


def test_capped_phase_budget(arena):
    from recsec.plugins.attacks._extraction_data import CappedAPI, autoregressive_rule, generate

    victim = arena.victim
    api = arena.serve(AccountKind.ATTACKER, Serving(k=10, budget=100))
    view = CappedAPI(api, 33)
    first, nxt = autoregressive_rule(victim.n_items, np.random.default_rng(0))
    data, _ = generate(view, 50, lambda b: np.full(b, 5), first, nxt, batch=4)
    assert api.queries_used == 33 and data.n_prefixes == 33 and api.remaining == 67


# -- surrogate -----------------------------------------------------------------------------------


def test_surrogate_init_differs_from_victim_init(arena):
    from recsec.plugins.attacks._extraction_train import build_surrogate

    victim, n = arena.victim, arena.n_items
    vctx = arena.context()  # the victim's training context
    v_init = _init_weights(arena.recommender, n, arena.recommender.init_seed(vctx))  # as fit drew it
    assert arena.report.init_seed == arena.recommender.init_seed(vctx)
    actx = _actx(arena, seed=vctx.seed)  # even with the victim's context seed
    a = build_surrogate("same", actx, n)
    b = build_surrogate("same", actx, n)
    assert not torch.allclose(a.net.state_dict()[W], v_init)
    assert torch.equal(a.net.state_dict()[W], b.net.state_dict()[W])  # seeded: reproducible
    assert not torch.allclose(a.net.state_dict()[W], victim.net.state_dict()[W].cpu())
    with pytest.raises(NotGranted, match=r"init_seed=True"):  # an independent attacker is never told the seed
        actx.knowledge.victim_init_seed()


def test_reference_surrogate_init_starts_where_the_victims_run_started(arena, tmp_path):
    """surrogate_init='reference' (the DFME/GRO reference code's shared seed): the arena grants the
    seed the victim's run drew its weights under (GRO's cases: test_extraction_defenses)."""
    from recsec.plugins.attacks._extraction_train import build_surrogate
    from recsec.plugins.attacks.extraction import DFMERandom
    from recsec.plugins.recommenders.sasrec import SASRec

    n = arena.n_items
    seed = arena.recommender.init_seed(arena.context())
    plain = _init_weights(arena.recommender, n, seed)
    actx = _actx(arena, DFMERandom(surrogate_init="reference"))
    assert actx.knowledge.victim_init_seed() == seed == arena.report.init_seed
    ref = build_surrogate("same", actx, n, "reference").net.state_dict()[W]
    ind = build_surrogate("same", actx, n, "independent").net.state_dict()[W]
    assert torch.equal(ref, plain)
    assert not torch.allclose(ind, plain)

    # loaded weights were drawn from no seed: a reference attacker has none to be told
    arena.victim.save(tmp_path / "v.pt")
    loaded = Arena.for_testing(recommender=SASRec(max_len=20, checkpoint=str(tmp_path / "v.pt")),
                               data=tiny_interactions(n_users=160), k=10)
    assert loaded.report.init_seed is None
    with pytest.raises(NotGranted, match="no init seed"):
        build_surrogate("same", _actx(loaded, DFMERandom(surrogate_init="reference")), n, "reference")


def _toy_sequential_recommender():
    """A third party's sequential recommender: its own net, which implements only training_loss and score_last."""
    from recsec.plugins.sequential.base import SequentialRecommender
    from recsec.plugins.sequential.net import SeqNet
    from recsec.plugins.sequential.params import COMMON_PARAMS

    class BagNet(SeqNet):
        def __init__(self, n_items: int, max_len: int) -> None:
            super().__init__()
            self.n_items, self.window, self.input_len = n_items, max_len + 1, max_len
            self.emb = torch.nn.Embedding(n_items + 1, 8, padding_idx=0)

        def score_last(self, tokens):
            return self.emb(tokens).sum(1) @ self.emb.weight[1:].T

        def training_loss(self, tokens, users, tools):
            logits = self.score_last(tokens[:, :-1])
            return torch.nn.functional.cross_entropy(logits, tokens[:, -1] - 1, reduction="sum"), len(tokens)

    class BagOfItems(SequentialRecommender):
        """Scores the next item by its affinity with the history's summed embeddings."""

        name = "toy-bag"
        params = dict(COMMON_PARAMS)

        def _build_net(self, n_items, config):
            return BagNet(n_items, config["max_len"])

    return BagOfItems


def test_surrogate_and_sampler_are_any_registered_sequential_recommender(arena, monkeypatch):
    from recsec.errors import ParameterError
    from recsec.plugins.attacks._extraction_train import build_surrogate
    from recsec.plugins.attacks.extraction import DFMERandom, FewShotExtraction
    from recsec.plugins.recommenders.gru4rec import GRU4Rec
    from recsec.registry import default_registry

    actx = _actx(arena, DFMERandom(surrogate="gru4rec[hidden=8]"))  # the victim's algorithm not granted
    rec = build_surrogate("gru4rec[hidden=8]", actx, arena.n_items)  # an instance name
    assert isinstance(rec, GRU4Rec) and rec.p.hidden == 8 and rec.net.item_emb.embedding_dim == 8
    with pytest.raises(ParameterError, match=r"^attack 'dfme-random': parameter 'surrogate': 'lfm' is a 'general' "):
        DFMERandom(surrogate="lfm")
    with pytest.raises(ParameterError, match=r"^attack 'fewshot-extraction': parameter 'sampler': unknown recommender"):
        FewShotExtraction(sampler="same")  # "same" is a surrogate's choice, not a sampler's
    assert list(DFMERandom.params["surrogate"].choices)[:1] == ["same"]
    assert {"sasrec", "narm"} <= set(DFMERandom.params["surrogate"].choices)
    assert "lfm" not in FewShotExtraction.params["sampler"].choices

    toy = _toy_sequential_recommender()
    monkeypatch.setitem(default_registry().components["recommender"], toy.name, toy)
    assert "toy-bag" in FewShotExtraction.params["sampler"].choices  # the search space follows the registry
    attack = DFMERandom(**{**FAST, "epochs": 2}, surrogate="toy-bag")
    verdict = arena.attack(attack)  # served by SeqNet's generic prefix scoring
    assert np.isfinite(verdict.metrics["attack.agr@10"]) and verdict.diagnostics["diag.prefix_mode_shared"] == 0.0


def test_dfme_beats_untrained_surrogate_and_is_reproducible(arena):
    from recsec.plugins.attacks.extraction import DFMEAutoregressive

    runs = [arena.attack(DFMEAutoregressive(**FAST)) for _ in range(2)]
    m, d = runs[0].metrics, runs[0].diagnostics
    assert m["attack.agr@10"] > m["attack.agr@10_init"] + 0.2, m
    assert m["attack.agr@10"] > 0.6 and d["diag.sequences"] == 120 and m["attack.queries"] == 120 * 12
    assert 0 <= m["attack.ndcg@10"] <= 1 and np.isfinite(d["diag.surrogate_train_s"])
    assert 0 <= m["attack.holdout_agr@10"] <= 1  # judged from the answers the black box really gave
    assert runs[0].metrics == runs[1].metrics


def test_the_surrogate_records_whether_patience_or_a_cap_stopped_it(arena):
    """diag.converged: 1 only when held-out agreement stopped improving for ``patience`` passes."""
    from recsec.plugins.attacks.extraction import DFMERandom

    patient = arena.attack(DFMERandom(**{**FAST, "epochs": 200, "patience": 1})).diagnostics
    assert patient["diag.converged"] == 1.0 and patient["diag.epochs"] - patient["diag.best_epoch"] == 1
    assert patient["diag.epochs"] < 200
    capped = arena.attack(DFMERandom(**{**FAST, "epochs": 2, "patience": 50})).diagnostics
    assert capped["diag.converged"] == 0.0 and capped["diag.epochs"] == 2
    never = arena.attack(DFMERandom(**{**FAST, "epochs": 3, "patience": 0})).diagnostics
    assert never["diag.converged"] == 0.0


def test_fewshot_uses_a_fraction_of_training_users(arena):
    from recsec.plugins.attacks.extraction import DFMERandom, FewShotExtraction

    split = arena.split
    knowledge = _actx(arena, FewShotExtraction(real_fraction=0.1)).knowledge
    real = knowledge.real_sequences()
    seqs = split.train.sequences()
    train_users = [u for u, s in enumerate(seqs) if len(s) >= 2]
    assert len(real) == round(0.1 * len(train_users)) == len(knowledge.real_users)
    assert set(knowledge.real_users) <= set(train_users)
    for u, s in zip(knowledge.real_users, real):  # each user's whole training sequence, in time order
        assert np.array_equal(s, seqs[u])
    held_out = {int(u): int(t) for u, t in zip(split.test.users, split.test.targets)}
    held_out_valid = {int(u): int(t) for u, t in zip(split.valid.users, split.valid.targets)}
    for u, s in zip(knowledge.real_users, real):  # never the held-out items
        assert held_out.get(int(u), -1) not in s and held_out_valid.get(int(u), -1) not in s
    assert knowledge.real_users.tolist() == _actx(arena, FewShotExtraction(real_fraction=0.1)).knowledge.real_users.tolist()
    with pytest.raises(NotGranted, match="real user sequences"):  # a data-free attacker holds none
        _actx(arena, DFMERandom()).knowledge.real_sequences()
    # fractions are nested (the first users of one seeded order), so "outside the first 10 %" is one set
    few = _actx(arena, FewShotExtraction(real_fraction=0.05)).knowledge.real_users
    assert set(few) < set(knowledge.real_users)
    unseen = arena.unseen_users()
    assert not set(unseen) & set(knowledge.real_users) and set(unseen) | set(knowledge.real_users) >= set(train_users)
    assert set(arena.unseen_users(0.2)) < set(unseen)  # a larger attacker: fewer users it does not hold


def test_every_extraction_is_scored_on_the_same_unseen_users(arena):
    from recsec.plugins.attacks.extraction import DFMEAutoregressive

    verdict, _ = _judged(arena, DFMEAutoregressive(**FAST))
    m = verdict.metrics
    es = arena.eval_set()
    keep = np.isin(es.users, arena.unseen_users())
    assert 0 < keep.sum() < len(keep)
    # a data-free attack holds no user, yet is scored on the same fixed users as a 10 % few-shot one
    assert 0.0 <= m["attack.agr@10_unseen"] <= 1.0


def test_conformance_check_attack():
    from recsec.plugins.attacks.extraction import DFMERandom, FewShotExtraction
    from recsec.plugins.recommenders.gru4rec import GRU4Rec

    for cls in (DFMERandom, FewShotExtraction):
        verdict = check_attack(cls, recommender=GRU4Rec(max_epochs=3, patience=0, max_len=10), budget=300,
                               **{**FAST, "epochs": 2, "sampler_epochs": 2} if cls is FewShotExtraction else {**FAST, "epochs": 2})
        assert verdict.metrics["attack.queries"] <= 300


def test_profile_pollution_runs_within_budget(arena):
    from recsec.plugins.attacks.pollution import ProfilePollution

    attack = ProfilePollution(**{**FAST, "max_queries": 600}, n_targets=2, n_users=20, n_append=2, n_candidates=3)
    verdict, api = _judged(arena, attack)
    m, d = verdict.metrics, verdict.diagnostics
    # the judge's measurement queries (before / after / random) go through the evaluator, outside the budget
    assert api.budget == 600 and api.queries_used == 600 and m["attack.queries"] == 600
    for k in ("target_ndcg@10_before", "target_ndcg@10_after", "target_hr@10_random", "target_hr@10_after"):
        assert 0.0 <= m[f"attack.{k}"] <= 1.0
    assert 0.0 <= m["attack.agr@10"] <= 1.0  # the surrogate is judged as an extraction too
    assert d["diag.targets"] == 2 and d["diag.pollution_users"] == 20
    assert d["diag.surrogate_target_rank_after"] <= d["diag.surrogate_target_rank_before"]  # the search worked on the surrogate


def test_shared_pass_loss_equals_per_prefix_loss_for_recurrent_nets():
    """One pass per sequence (shared) gives exactly the per-prefix loss for GRU4Rec, history exclusion included."""
    from recsec.plugins.attacks._extraction_batches import examples
    from recsec.plugins.attacks._extraction_data import LabelledSet
    from recsec.plugins.attacks._extraction_train import _batch_loss
    from recsec.plugins.attacks.extraction import FewShotExtraction
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
    cfg = FewShotExtraction(repair_weight=0.7).p  # the attack's parameter values
    batch = np.arange(S)
    ex = examples(data, batch)  # the same (row, prefix) order as the shared pass
    losses = []
    for mode, b in (("shared", batch), ("separate", np.arange(len(ex[0])))):
        g = torch.Generator().manual_seed(3)
        losses.append(_batch_loss(net, data, b, mode, cfg, g, torch.device("cpu"), ex))
    assert losses[0].item() == pytest.approx(losses[1].item(), rel=1e-5)


@pytest.mark.parametrize("defense_k, spec_k", [(5, 10), (1, 10), (10, 5)])
def test_extraction_through_shortened_lists(defense_k, spec_k):
    """A defense that truncates the lists (the built-in truncate) or a spec k below 10: every built-in
    extraction attack runs and is judged; the observable hold-out agreement is read over the served items."""
    from recsec.plugins.attacks.extraction import DFMEAutoregressive, DFMERandom, FewShotExtraction
    from recsec.plugins.defenses.perturbation import Truncate
    from recsec.plugins.recommenders.sasrec import SASRec

    arena = Arena.for_testing(recommender=SASRec(max_epochs=2, patience=0, max_len=12),
                              data=tiny_interactions(n_users=60), k=spec_k, defense=Truncate(k=defense_k))
    for cls in (DFMEAutoregressive, DFMERandom, FewShotExtraction):
        extra = {"sampler_epochs": 1} if cls is FewShotExtraction else {}
        m = arena.attack(cls(n_sequences=30, seq_len=6, epochs=2, patience=0, gen_batch=16, **extra)).metrics
        assert 0.0 <= m["attack.holdout_agr@10"] <= 1.0 and 0.0 <= m["attack.agr@10"] <= 1.0, cls.name


def test_served_agreement_reads_only_the_served_items():
    from recsec.metrics import served_agreement

    ours = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert served_agreement(ours, np.array([[2, 9, -1, -1], [-1, -1, -1, -1]]), 10) == 0.5  # row 2: nothing served
    assert served_agreement(ours[:, :3], np.array([[3, 2, 1], [5, 6, 0]]), 3) == pytest.approx((1 + 2 / 3) / 2)
    assert served_agreement(ours, ours, 4) == agreement_at_k(ours, ours, 4) == 1.0
