"""Sequential recommenders (SASRec, BERT4Rec, NARM, GRU4Rec): tiny CPU checks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from recsec.context import RunContext
from recsec.data import Interactions, leave_one_out
from recsec.evaluation import EVAL_SEED, evaluate, user_items_for
from recsec.queries import Queries
from recsec.registry import load_registry

MODELS = ("sasrec", "bert4rec", "narm", "gru4rec")
N_ITEMS = 40
TINY = {"hidden": 16, "max_len": 8, "dropout": 0.1, "lr": 0.01, "batch_size": 16}
#: The cloze task learns more slowly than next-item prediction on this toy data.
EPOCHS = {"sasrec": 6, "bert4rec": 15, "narm": 6, "gru4rec": 6}


def _synthetic(n_users: int = 160, seed: int = 0) -> Interactions:
    """Each user walks the catalogue with a fixed stride (1 or 3) from a random start: learnable."""
    rng = np.random.default_rng(seed)
    users, items, ts = [], [], []
    for u in range(n_users):
        n, start, stride = int(rng.integers(4, 14)), int(rng.integers(N_ITEMS)), 1 + 2 * (u % 2)
        users += [u] * n
        items += [(start + stride * t) % N_ITEMS for t in range(n)]
        ts += list(range(n))
    return Interactions(np.array(users), np.array(items), n_users, N_ITEMS, timestamps=np.array(ts))


@pytest.fixture(scope="module")
def split():
    return leave_one_out(_synthetic())


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _ctx(seed: int = 0) -> RunContext:
    return RunContext(seed=seed, device=torch.device("cpu"))


def _extra(name: str) -> dict:
    return {"n_blocks": 1, "attn_dropout": 0.1} if name in ("sasrec", "bert4rec") else {}


@pytest.fixture(scope="module")
def trained(split, registry):
    """One short fit per model, shared by the tests below."""
    out = {}
    for name in MODELS:
        rec = registry.create("recommender", name, max_epochs=EPOCHS[name], patience=0, **TINY, **_extra(name))
        report = rec.fit(split, _ctx())
        out[name] = (rec, report)
    return out


def test_registered_as_sequential(registry):
    for name in MODELS:
        cls = registry.get("recommender", name)
        assert cls.family == "sequential"
        assert {"max_len", "dropout", "patience", "max_epochs", "amp", "clip_norm"} <= set(cls.params)


def test_public_modules_do_not_import_torch():
    code = (
        "import sys\n"
        "import recsec.plugins.recommenders as p\n"
        "from recsec.discovery import components_in_package\n"
        "from recsec.recommender import Recommender\n"
        "names = [c.name for c in components_in_package(p.__name__, Recommender)]\n"
        "assert {'sasrec', 'bert4rec', 'narm', 'gru4rec'} <= set(names), names\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", MODELS)
def test_loss_decreases_and_model_learns(trained, split, name):
    rec, report = trained[name]
    losses = [row["loss"] for row in rec.train_history]
    assert len(losses) == report.stats["epochs"] == EPOCHS[name]
    # the report carries the curve and the seed the weights were drawn under
    assert report.curve == rec.train_history and report.init_seed == rec.init_seed(_ctx())
    assert losses[-1] < losses[0] * 0.9, losses
    # far better than chance (HR@10 of a random ranking over 40 items is about 0.25)
    assert evaluate(rec, split.test, "full", ks=(10,))["hr@10"] > 0.5


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_round_trip_gives_identical_scores(trained, split, registry, tmp_path, name):
    rec, _ = trained[name]
    q = Queries(split.test.histories[:20])
    before = rec.score(q)
    assert before.shape == (20, N_ITEMS)
    path = tmp_path / f"{name}.pt"
    rec.save(path)
    fresh = registry.create("recommender", name)  # defaults: the checkpoint's config wins
    fresh.load(path)
    assert fresh.n_items == N_ITEMS
    assert torch.equal(before, fresh.score(q))
    again = registry.create("recommender", name)
    again.load_state(rec.state())
    assert torch.equal(before, again.score(q))


@pytest.mark.parametrize("name", MODELS)
def test_topk_returns_items_only_and_never_history(trained, name):
    rec, _ = trained[name]
    rng = np.random.default_rng(1)
    hists = [rng.choice(N_ITEMS, size=int(rng.integers(0, 30)), replace=False) for _ in range(50)]
    hists[0] = np.zeros(0, dtype=np.int64)  # an empty history still gets a list
    hists[1] = np.arange(N_ITEMS - 5)  # longer than max_len
    top = rec.topk(Queries(hists), k=5)
    assert top.shape == (50, 5)
    assert top.min() >= 0 and top.max() < N_ITEMS  # no padding (N+1 -> N) or mask id
    for h, row in zip(hists, top):
        assert not set(row.tolist()) & set(h.tolist())
        assert len(set(row.tolist())) == 5
    assert sorted(top[1].tolist()) == list(range(N_ITEMS - 5, N_ITEMS))


def test_scores_finite_and_batch_independent(trained, split):
    for name in MODELS:
        rec, _ = trained[name]
        q = Queries(split.test.histories[:30])
        full = rec.score(q)
        assert torch.isfinite(full).all()
        parts = torch.cat([rec.score(q.slice(0, 7)), rec.score(q.slice(7, 30))])
        assert torch.allclose(full, parts, atol=1e-5), name


def test_same_seed_same_model_and_different_seed_differs(split, registry):
    def fit(seed):
        rec = registry.create("recommender", "sasrec", max_epochs=2, patience=0, **TINY, n_blocks=1)
        rec.fit(split, _ctx(seed))
        return rec.score(Queries(split.test.histories[:10]))

    a, b, c = fit(3), fit(3), fit(4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_early_stopping_restores_the_best_epoch(split, registry):
    rec = registry.create("recommender", "gru4rec", max_epochs=30, patience=2, **TINY)
    stats = rec.fit(split, _ctx()).stats
    hist = rec.train_history
    best = max(r["valid_ndcg@10"] for r in hist)
    assert stats["best_valid_ndcg@10"] == pytest.approx(best)
    assert stats["epochs"] == len(hist) and stats["best_epoch"] <= stats["epochs"]
    if stats["epochs"] < 30:
        assert stats["epochs"] - stats["best_epoch"] == 2
    # the restored weights reproduce the best validation score
    excl = user_items_for(split, split.valid)
    again = evaluate(rec, split.valid, "sampled", ks=(10,), seed=EVAL_SEED, stream="valid", exclude=excl)
    assert again["ndcg@10"] == pytest.approx(best, abs=1e-9)


def test_restore_last_serves_the_last_epoch_as_the_gro_reference_does(split, registry):
    rec = registry.create("recommender", "gru4rec", max_epochs=4, patience=0, restore="last", **TINY)
    rec.fit(split, _ctx())
    excl = user_items_for(split, split.valid)
    again = evaluate(rec, split.valid, "sampled", ks=(10,), seed=EVAL_SEED, stream="valid", exclude=excl)
    assert again["ndcg@10"] == pytest.approx(rec.train_history[-1]["valid_ndcg@10"], abs=1e-9)


def test_windows_cover_long_sequences():
    from recsec.plugins.sequential.windows import build_windows

    seq = np.arange(23)
    tw = build_windows([seq, np.arange(1), np.arange(4)], width=10, step=5)
    assert tw.users.tolist() == [0, 0, 0, 0, 2]  # the 1-item sequence has no target
    covered = set()
    for row in tw.tokens[:4]:
        covered |= set((row[row > 0] - 1).tolist())
    assert covered == set(range(23))
    assert tw.tokens[0].tolist() == list(range(14, 24))  # the window ending at the last item, ids + 1
    assert tw.tokens[4].tolist() == [0] * 6 + [1, 2, 3, 4]


def test_negative_sampler_avoids_the_users_items():
    from recsec.plugins.sequential.sampling import NegativeSampler, user_item_keys

    users = np.repeat([0, 1], 15)
    items = np.r_[np.arange(15), np.arange(5, 20)]
    keys = torch.as_tensor(user_item_keys(users, items, 20))
    g = torch.Generator().manual_seed(0)
    neg = NegativeSampler(keys, 20, g)(torch.as_tensor(np.repeat([0, 1], 500)))
    assert ((neg[:500] - 1) >= 15).all()  # tokens are item + 1
    assert (((neg[500:] - 1) < 5)).all()


def test_weight_decay_groups():
    from recsec.plugins.sequential.trainer import param_groups
    from recsec.plugins.sequential.transformer import BERT4RecNet

    net = BERT4RecNet(10, 16, 8, 1, 2, 0.1, 0.1, 0.5, 4)
    decay, no_decay = param_groups(net, 0.01, decay_embeddings=False)
    emb = net.encoder.item_emb.weight
    assert all(p.dim() == 2 for p in decay["params"])
    assert any(p is emb for p in no_decay["params"]) and any(p is net.out_bias for p in no_decay["params"])
    decay, _ = param_groups(net, 0.01, decay_embeddings=True)
    assert any(p is emb for p in decay["params"])
    n_norm = sum(p.numel() for m in net.modules() if isinstance(m, torch.nn.LayerNorm) for p in m.parameters())
    assert n_norm and all(p.dim() == 2 for p in decay["params"])


def test_interrupted_training_resumes_to_the_same_model(split, registry, tmp_path):
    def make():
        return registry.create("recommender", "sasrec", max_epochs=4, patience=0, **TINY, n_blocks=1)

    plain = make()
    plain.fit(split, _ctx(5))

    class Killed(Exception):
        pass

    def die_at_epoch_3(msg: str) -> None:
        if "epoch 3:" in msg:
            raise Killed

    ctx = RunContext(seed=5, device=torch.device("cpu"), work_dir=tmp_path, log=die_at_epoch_3)
    with pytest.raises(Killed):
        make().fit(split, ctx)
    assert len(list(tmp_path.glob("sasrec-training-*.pt"))) == 1  # state after epoch 2

    logs: list[str] = []
    resumed = make()
    resumed.fit(split, RunContext(seed=5, device=torch.device("cpu"), work_dir=tmp_path, log=logs.append))
    assert any("resuming after epoch 2" in m for m in logs)
    assert [r["loss"] for r in resumed.train_history] == [r["loss"] for r in plain.train_history]
    q = Queries(split.test.histories[:10])
    assert torch.equal(plain.score(q), resumed.score(q))
    assert len(list(tmp_path.glob("sasrec-training-*.pt"))) == 1  # kept: a longer rerun continues it


def test_time_limit_stops_after_the_epoch_that_crosses_it(split, registry):
    rec = registry.create("recommender", "sasrec", max_epochs=50, patience=0, time_limit_s=1e-9, **TINY, n_blocks=1)
    stats = rec.fit(split, _ctx(0)).stats
    assert stats["epochs"] == 1 and stats["time_limited"] == 1.0  # the epoch that crossed the limit ends training
    free = registry.create("recommender", "sasrec", max_epochs=2, patience=0, **TINY, n_blocks=1)
    assert free.fit(split, _ctx(0)).stats["time_limited"] == 0.0


def test_checkpoint_parameter_loads_instead_of_training(split, registry, tmp_path):
    trained = registry.create("recommender", "gru4rec", max_epochs=2, patience=0, **TINY)
    trained.fit(split, _ctx(3))
    path = tmp_path / "gru4rec.pt"
    trained.save(path)
    logs: list[str] = []
    loaded = registry.create("recommender", "gru4rec", checkpoint=str(path), **TINY)
    report = loaded.fit(split, RunContext(seed=9, device=torch.device("cpu"), log=logs.append))
    assert report.stats == {"epochs": 0.0, "from_checkpoint": 1.0} and loaded.train_history == []
    assert report.init_seed is None  # loaded weights were not drawn from a seed
    assert any("not trained" in m for m in logs)
    q = Queries(split.test.histories[:12])
    assert torch.equal(trained.score(q), loaded.score(q))
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        registry.create("recommender", "gru4rec", checkpoint=str(tmp_path / "missing.pt")).fit(split, _ctx(0))
    wrong = leave_one_out(Interactions(np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 2, 2, 1, 0]), 2, 3,
                                       timestamps=np.arange(6)))
    with pytest.raises(ValueError, match="scores 40 items, the data has 3"):
        registry.create("recommender", "gru4rec", checkpoint=str(path)).fit(wrong, _ctx(0))


def test_resume_state_is_never_shared_between_different_nets(split, registry, tmp_path):
    """A GRO-wrapped net trains the same recommender with the same seed: its state file must differ."""
    from recsec.plugins.sequential.resume import resume_path

    rec = registry.create("recommender", "sasrec", **TINY, n_blocks=1)
    rec.n_items = split.train.n_items
    ctx = RunContext(seed=1, device=torch.device("cpu"), work_dir=tmp_path)
    rec.net = torch.nn.Linear(1, 1)
    a = resume_path(rec, split, ctx)
    rec.net = torch.nn.Bilinear(1, 1, 1)
    b = resume_path(rec, split, ctx)
    assert a is not None and b is not None and a != b and a.parent == b.parent == tmp_path


def test_narm_softmax_attention_is_the_reference_formula():
    """alpha_t. = softmax over j <= t of v . hardsigmoid(A1 h_t + A2 h_j); c_l = sum_j alpha_tj h_j."""
    from recsec.plugins.sequential.recurrent import NARMNet

    torch.manual_seed(0)
    net = NARMNet(6, 4, 5, 4, 0.0, 0.0, attention="softmax").eval()
    inp = torch.tensor([[3, 1, 4, 0]])  # right-aligned: items at positions 0..2, padding after
    t = 1
    with torch.no_grad():
        got = net._logits(inp, torch.tensor([0]), torch.tensor([t]))
        h, _ = net.gru(net.item_emb(inp))
        h = h[0]
        w = torch.stack([net.v(torch.clamp((net.a_global(h[t]) + net.a_local(h[j])) / 6 + 0.5, 0, 1))[0]
                         for j in range(t + 1)]).softmax(0)
        c_l = (w[:, None] * h[: t + 1]).sum(0)
        want = net.decoder(torch.cat([h[t], c_l])) @ net.item_emb.weight[1:].T
    torch.testing.assert_close(got[0], want)


def test_narm_reference_attention_learns(split, registry):
    rec = registry.create("recommender", "narm", attention="softmax", max_epochs=6, patience=0, **TINY)
    rec.fit(split, _ctx(2))
    losses = [r["loss"] for r in rec.train_history]
    assert losses[-1] < 0.8 * losses[0]
    from recsec.plugins.sequential.recurrent import NARMNet

    with pytest.raises(ValueError, match="attention"):
        NARMNet(5, 8, 8, 4, 0.0, 0.0, attention="other")
    with pytest.raises(ValueError, match="init"):
        NARMNet(5, 8, 8, 4, 0.0, 0.0, init="other")
    ref = NARMNet(5, 8, 8, 4, 0.0, 0.0, init="reference")
    assert all(p.abs().max() <= 0.04 for p in ref.parameters())  # the GRU too, unlike torch's default init
    assert NARMNet(5, 8, 8, 4, 0.0, 0.0).gru.weight_hh_l0.abs().max() > 0.04


def test_a_time_limited_run_continues_when_rerun_with_a_larger_limit(split, registry, tmp_path):
    def make(**kw):
        return registry.create("recommender", "sasrec", patience=0, **TINY, n_blocks=1, **kw)

    plain = make(max_epochs=3)
    plain.fit(split, _ctx(4))
    cut = make(max_epochs=3, time_limit_s=1e-9)
    ctx = RunContext(seed=4, device=torch.device("cpu"), work_dir=tmp_path)
    assert cut.fit(split, ctx).stats["epochs"] == 1
    assert len(list(tmp_path.glob("sasrec-training-*.pt"))) == 1  # kept for a longer rerun
    again = make(max_epochs=3, time_limit_s=1e-9)  # the same limit again trains no further epoch
    assert again.fit(split, ctx).stats["epochs"] == 1
    logs: list[str] = []
    longer = make(max_epochs=3)
    longer.fit(split, RunContext(seed=4, device=torch.device("cpu"), work_dir=tmp_path, log=logs.append))
    assert any("resuming after epoch 1" in m for m in logs)
    assert [r["loss"] for r in longer.train_history] == [r["loss"] for r in plain.train_history]


def test_a_rerun_continues_a_finished_training_only_when_its_stopping_rules_reach_as_far(split, registry, tmp_path):
    def make(**kw):
        return registry.create("recommender", "sasrec", patience=0, **TINY, n_blocks=1, **kw)

    def fit(rec):
        logs: list[str] = []
        rec.fit(split, RunContext(seed=6, device=torch.device("cpu"), work_dir=tmp_path, log=logs.append))
        return logs

    fresh = {n: make(max_epochs=n) for n in (1, 3)}
    for n, rec in fresh.items():
        rec.fit(split, _ctx(6))
    q = Queries(split.test.histories[:10])
    assert not any("resuming" in m for m in fit(make(max_epochs=2)))
    longer = make(max_epochs=3)
    assert any("resuming after epoch 2" in m for m in fit(longer))  # finished, yet continued
    assert [r["loss"] for r in longer.train_history] == [r["loss"] for r in fresh[3].train_history]
    assert torch.equal(longer.score(q), fresh[3].score(q))
    shorter = make(max_epochs=1)  # the stored 3 epochs overshoot: no shortcut through them
    assert any("training from scratch" in m for m in fit(shorter))
    assert torch.equal(shorter.score(q), fresh[1].score(q))


def test_trajectory_length_replays_the_stopping_checks():
    from types import SimpleNamespace

    from recsec.plugins.sequential.resume import trajectory_length

    scores = [0.1, 0.3, 0.2, 0.25, 0.28, 0.4]
    history = [{"epoch_s": 10.0, "valid_s": 1.0, "valid_ndcg@10": v} for v in scores]

    def rules(max_epochs=100, patience=0, time_limit_s=0.0):
        return SimpleNamespace(max_epochs=max_epochs, patience=patience, time_limit_s=time_limit_s)

    assert trajectory_length(history, rules()) == 6
    assert trajectory_length(history, rules(max_epochs=4)) == 4
    assert trajectory_length(history, rules(patience=3)) == 5  # epochs 3-5 fail to beat 0.3
    assert trajectory_length(history, rules(patience=4)) == 6
    assert trajectory_length(history, rules(time_limit_s=25.0)) == 3  # epoch 3 crosses the limit (33 s)
    assert trajectory_length(history, rules(time_limit_s=66.0)) == 6


def test_every_prefix_windows_are_the_reference_examples():
    from recsec.plugins.sequential.windows import build_windows

    tw = build_windows([np.arange(5), np.arange(1), np.arange(3)], width=3, step=99, every_prefix=True)
    # one window per (history, next item): prefixes of 2..n items, at most `width` of them, ids + 1
    assert tw.users.tolist() == [0, 0, 0, 0, 2, 2]
    assert tw.tokens.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [0, 1, 2], [1, 2, 3]]


@pytest.mark.parametrize("net_name", ["narm", "gru4rec"])
def test_prefix_examples_give_the_per_position_losses_of_a_window(net_name):
    """examples="prefixes": the loss of the window ending at item t is the windows-mode loss at position t."""
    import torch.nn.functional as F

    from recsec.plugins.sequential.windows import build_windows
    from recsec.plugins.sequential.recurrent import GRU4RecNet, NARMNet, _prefix_targets

    def make(examples):
        torch.manual_seed(3)
        if net_name == "narm":
            return NARMNet(9, 8, 6, 5, 0.0, 0.0, attention="softmax", examples=examples).eval()
        return GRU4RecNet(9, 8, 6, 5, 0.0, examples=examples).eval()

    whole, per_prefix = make("windows"), make("prefixes")
    assert per_prefix.prefix_examples and not whole.prefix_examples
    seq = np.array([4, 1, 7, 7, 2, 0])
    win = torch.as_tensor(build_windows([seq], whole.window, 3).tokens)
    pre = torch.as_tensor(build_windows([seq], per_prefix.window, 3, every_prefix=True).tokens)
    with torch.no_grad():
        inp, rows, cols, tgt = _prefix_targets(win)
        want = F.cross_entropy(whole._logits(inp, rows, cols), tgt - 1, reduction="none")
        inp, rows, cols, tgt = _prefix_targets(pre, last_only=True)
        assert rows.tolist() == list(range(len(pre)))  # one loss term per prefix window
        got = F.cross_entropy(per_prefix._logits(inp, rows, cols), tgt - 1, reduction="none")
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="examples"):
        NARMNet(5, 8, 8, 4, 0.0, 0.0, examples="other")


def test_narm_prefix_examples_learn(split, registry):
    rec = registry.create("recommender", "narm", examples="prefixes", max_epochs=3, patience=0, **TINY)
    stats = rec.fit(split, _ctx(5)).stats
    lengths = [len(s) for s in split.train.sequences()]
    assert stats["windows"] == sum(n - 1 for n in lengths if n >= 2)  # the trainer built one window per prefix
    losses = [r["loss"] for r in rec.train_history]
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("name", ["sasrec", "bert4rec", "narm", "gru4rec"])
def test_sequential_recommenders_pass_the_conformance_kit(registry, name):
    from recsec.testing import check_recommender

    cls = type(registry.create("recommender", name))
    # restore picks the served epoch and checkpoint_sha256 checks an input, neither the trajectory:
    # runs differing in them share one training state
    assert {n for n, p in cls.params.items() if p.stopping} == {"max_epochs", "patience", "time_limit_s", "restore",
                                                                "checkpoint_sha256"}
    check_recommender(cls, max_epochs=2, patience=0, **TINY)
