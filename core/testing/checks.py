"""The checks behind ``recsec.testing``: small, CPU-only, seconds each."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..attack import Attack
from ..blackbox import BlackBoxAPI
from ..component import Component
from ..context import AttackContext, RunContext
from ..data import Interactions, leave_one_out
from ..dataset import DataContext, Dataset
from ..defense import Defense
from ..params import instance_name, parse_instance_name
from ..queries import Queries
from ..recommender import Recommender


def tiny_interactions(n_users: int = 80, n_items: int = 50, per_user: int = 15, seed: int = 0) -> Interactions:
    """Structured toy data: two taste clusters and a strong next-item pattern (item i -> i+1).

    Small enough for a check to train on in a second, structured enough that a
    working model beats random.
    """
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    half = n_items // 2
    for u in range(n_users):
        lo = 0 if u % 2 == 0 else half
        cur = lo + rng.integers(half)
        seen: set[int] = set()
        t = 0
        while len(seen) < per_user:
            if cur not in seen:
                seen.add(int(cur))
                users.append(u)
                items.append(int(cur))
                times.append(t)
                t += 1
            cur = lo + (cur - lo + 1) % half if rng.random() < 0.8 else lo + rng.integers(half)
    return Interactions(
        users=np.asarray(users, dtype=np.int64),
        items=np.asarray(items, dtype=np.int64),
        n_users=n_users,
        n_items=n_items,
        timestamps=np.asarray(times, dtype=np.int64),
        source={"name": "recsec.testing.tiny_interactions"},
    )


def tiny_context(seed: int = 0) -> RunContext:
    import torch

    return RunContext(seed=seed, device=torch.device("cpu"), progress=False)


def check_component_class(cls: type[Component]) -> None:
    """Name, version, declared parameters and their search spaces are well formed."""
    assert isinstance(cls.name, str) and cls.name, f"{cls.__name__}: set a non-empty class attribute 'name'"
    assert not any(c in cls.name for c in "[],= "), f"{cls.__name__}: name {cls.name!r} must not contain '[],= '"
    assert isinstance(cls.version, str) and cls.version, f"{cls.__name__}: set a 'version' string"
    assert (cls.__doc__ or "").strip(), f"{cls.__name__}: write a docstring (it is shown by `recsec plugins`)"
    for pname, p in cls.params.items():
        p.coerce(p.default, f"{cls.__name__}.{pname} default")
        if p.has_space:
            import optuna

            trial = optuna.trial.FixedTrial({pname: p.default if p.choices is not None else _in_range(p)})
            p.suggest(trial, pname)
    inst = cls()
    assert inst.instance_name == cls.name
    name, values = parse_instance_name(instance_name(cls.name, inst.param_values))
    assert name == cls.name and cls(**values).param_values == inst.param_values, "name[k=v] does not round-trip"


def _in_range(p: Any) -> Any:
    v = p.default if p.default is not None else p.low
    v = min(max(v, p.low), p.high)
    return int(v) if p.value_type is int else float(v)


def check_dataset(cls: type[Dataset], ctx: DataContext | None = None, **params: Any) -> Interactions:
    """``load`` returns valid Interactions, deterministically."""
    check_component_class(cls)
    ctx = ctx or DataContext(None, Path(tempfile.mkdtemp(prefix="recsec-check-")), allow_download=False)
    a = cls(**params).load(ctx)
    b = cls(**params).load(ctx)
    assert isinstance(a, Interactions), "load() must return recsec.data.Interactions"
    assert len(a) > 0, "load() returned no interactions"
    assert a.users.min() >= 0 and a.users.max() < a.n_users, "user ids must be dense 0..n_users-1"
    assert a.items.min() >= 0 and a.items.max() < a.n_items, "item ids must be dense 0..n_items-1"
    assert np.array_equal(a.users, b.users) and np.array_equal(a.items, b.items), "load() is not deterministic"
    return a


def check_recommender(cls: type[Recommender], data: Interactions | None = None, **params: Any) -> Recommender:
    """fit/score/topk/state behave as the contract says."""
    check_component_class(cls)
    unknown = set(cls.stopping_params) - set(cls.params)
    assert not unknown, f"stopping_params names undeclared parameters: {sorted(unknown)}"
    data = data or tiny_interactions()
    split = leave_one_out(data)
    ctx = tiny_context()
    rec = cls(**params)
    rec.to(ctx.device)
    stats = rec.fit(split, ctx)
    assert isinstance(stats, dict), "fit() must return a dict of training statistics"
    assert rec.n_items == data.n_items, "fit() must set n_items"
    _check_seed_labels(rec.init_seed_labels(), "init_seed_labels()")
    q = Queries(split.test.histories[:7], split.test.users[:7])
    scores = rec.score(q)
    assert tuple(scores.shape) == (7, data.n_items), f"score() must return (B, n_items), got {tuple(scores.shape)}"
    lists = rec.topk(q, 10)
    assert lists.shape == (7, 10) and lists.min() >= 0 and lists.max() < data.n_items, "topk ids out of range"
    for h, row in zip(q.histories, lists):
        assert not set(h.tolist()) & set(row.tolist()), "topk returned an item from the history"
        assert len(set(row.tolist())) == len(row), "topk returned a duplicate item"
    anon = Queries(q.histories)  # unknown users must be served too (fold-in or history model)
    assert tuple(rec.score(anon).shape) == (7, data.n_items)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "ckpt.pt"
        rec.save(path)
        other = cls(**params)
        other.load(path)
        other.to(ctx.device)
        assert np.allclose(rec.score(q).cpu().numpy(), other.score(q).cpu().numpy(), atol=1e-5), "checkpoint round-trip changed the scores"
    return rec


def check_defense(cls: type[Defense], recommender: Recommender | None = None, **params: Any) -> None:
    """``answer`` returns valid lists of at most K items and a flag per query."""
    check_component_class(cls)
    data = tiny_interactions()
    split = leave_one_out(data)
    ctx = tiny_context()
    victim = recommender or _popular_victim(split)
    d = cls(**params)
    d.prepare(victim, split, ctx)
    api = BlackBoxAPI(victim, k=10, defense=d, popular=split.train.popularity_ranking(), rng=np.random.default_rng(0))
    lists = api.query(Queries(split.test.histories[:9], split.test.users[:9]))
    assert lists.ndim == 2 and lists.shape[0] == 9 and lists.shape[1] <= 10, "answer() must keep one row per query, at most K items"
    assert lists.min() >= 0 and lists.max() < data.n_items, "answer() returned invalid item ids"
    m = d.metrics(api.log, ctx)
    assert isinstance(m, dict)
    _check_seed_labels(d.init_seed_labels(victim), "init_seed_labels(recommender)")


def _check_seed_labels(labels: Any, where: str) -> None:
    assert labels is None or (isinstance(labels, tuple) and labels and all(isinstance(x, str) for x in labels)), (
        f"{where} must return None or a non-empty tuple of strings (labels for ctx.seed_for), got {labels!r}")


def check_attack(cls: type[Attack], recommender: Recommender | None = None, budget: int | None = None, **params: Any) -> dict[str, float]:
    """``run`` works against a black box, respects the budget and returns finite metrics."""
    check_component_class(cls)
    data = tiny_interactions(n_users=160)
    attack = cls(**params)
    split = attack.split(data, np.random.default_rng(0))
    ctx = tiny_context()
    victim = recommender or _popular_victim(split)
    if recommender is not None:
        victim.fit(split, ctx)
    api = BlackBoxAPI(victim, budget=budget, popular=split.train.popularity_ranking(), rng=np.random.default_rng(0), **{"k": 10, **attack.serving()})
    actx = AttackContext(seed=1, device=ctx.device, split=split, n_items=data.n_items, victim_factory=lambda: type(victim)(**victim.given_params), reference_topk=lambda q, k: victim.topk(q, k))
    metrics = attack.run(api, actx)
    assert isinstance(metrics, dict) and metrics, "run() must return a non-empty dict of metrics"
    for k, v in metrics.items():
        assert isinstance(v, (int, float)) and math.isfinite(float(v)), f"metric {k} is not a finite number: {v!r}"
    if cls.primary_metric:
        assert cls.primary_metric in metrics, f"primary_metric {cls.primary_metric!r} missing from run()'s metrics"
    if budget is not None:
        assert api.queries_used <= budget, "the attack went over its budget"
    return metrics


class _Popularity(Recommender):
    """Most-popular scores; the checks' default victim (no plugin needed)."""

    name = "check-popular"
    family = "general"

    def fit(self, split, ctx):  # type: ignore[override]
        self.n_items = split.train.n_items
        self.counts = split.train.item_counts().astype(np.float32)
        self.members = np.unique(split.train.users)
        return {}

    def score(self, queries):  # type: ignore[override]
        import torch

        return torch.as_tensor(np.tile(self.counts, (len(queries), 1)))

    def knows(self, users):  # type: ignore[override]
        return np.isin(users, self.members)

    def state(self):  # type: ignore[override]
        return {"n_items": self.n_items, "counts": self.counts, "members": self.members}

    def load_state(self, state):  # type: ignore[override]
        self.n_items, self.counts, self.members = state["n_items"], state["counts"], state["members"]


def _popular_victim(split) -> Recommender:
    v = _Popularity()
    v.fit(split, tiny_context())
    return v
