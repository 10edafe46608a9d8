"""The checks behind ``recsec.testing``: small, CPU-only, seconds each.

Each check runs the component through the same arena, black box and judges as a real
cell, so what fails a run fails here first, with the message the runner would store;
contract violations surface as ``AssertionError`` naming the component, the method and
the fault.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..arena import Arena, Verdict
from ..attack import Attack
from ..blackbox import AccountKind
from ..component import Component
from ..context import RunContext
from ..data import Interactions, leave_one_out
from ..dataset import DataContext, Dataset
from ..defense import Defense
from ..errors import PluginOutputError, RecsecError
from ..outputs import OUTPUT_TYPES, AttackOutput
from ..params import instance_name, parse_instance_name
from ..queries import Queries
from ..recommender import Recommender, TrainReport
from ..threat import Serving
from ..validation import check_lists


def tiny_interactions(n_users: int = 80, n_items: int = 50, per_user: int = 15, seed: int = 0) -> Interactions:
    """Structured toy data: two taste clusters and a strong next-item pattern (item i -> i+1).

    Small enough for a check to train on in a second, structured enough that a
    working model beats random.
    """
    if per_user > n_items // 2:
        raise ValueError(f"tiny_interactions: per_user ({per_user}) must be at most n_items // 2 ({n_items // 2}): "
                         "each user draws distinct items from one half of the catalogue")
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


@contextmanager
def _contract() -> Iterator[None]:
    """Contract violations (and any recsec error) as AssertionError with the same one-line message."""
    try:
        yield
    except (PluginOutputError, RecsecError) as exc:
        raise AssertionError(str(exc)) from exc


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
    data = data or tiny_interactions()
    split = leave_one_out(data)
    ctx = tiny_context()
    rec = cls(**params)
    rec.to(ctx.device)
    with _contract():
        TrainReport.of(rec.fit(split, ctx), f"recommender {cls.name!r}: fit()")
    assert rec.n_items == data.n_items, "fit() must set n_items"
    q = Queries(split.test.histories[:7], split.test.users[:7])
    with _contract():
        rec._checked_scores(q)
        check_lists(rec.topk(q, 10), q, data.n_items, f"recommender {cls.name!r}: topk()", k=10, exact=True,
                    exclude_history=True)
        rec._checked_scores(Queries(q.histories))  # unknown users must be served too (fold-in or history model)
        # an empty history (a new user who has done nothing yet) is served too, with finite scores
        rec._checked_scores(Queries([np.zeros(0, dtype=np.int64)]))
    _check_blind_to_test_targets(cls, params, split, rec)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "ckpt.pt"
        rec.save(path)
        other = cls(**params)
        other.load(path)
        other.to(ctx.device)
        assert np.allclose(rec.score(q).cpu().numpy(), other.score(q).cpu().numpy(), atol=1e-5), "checkpoint round-trip changed the scores"
    return rec


def _check_blind_to_test_targets(cls: type[Recommender], params: dict[str, Any], split: Any, rec: Recommender) -> None:
    """Training must never read the test targets: refit on the same split with every test target
    replaced by another item the user never saw, and score the ORIGINAL targets with both models.
    A model that learned the targets ranks them far better than its twin that never saw them
    (the runner cannot see this: it only ever shows a model one split)."""
    import dataclasses

    from ..evaluation import evaluate

    rng = np.random.default_rng(12345)
    seen = {int(u): set(np.asarray(h).tolist()) for u, h in zip(split.test.users, split.test.histories)}
    decoy = np.array([rng.choice([i for i in range(split.train.n_items) if i not in seen[int(u)] | {int(t)}])
                      for u, t in zip(split.test.users, split.test.targets)], dtype=np.int64)
    other_split = dataclasses.replace(split, test=dataclasses.replace(split.test, targets=decoy))
    twin = cls(**params)
    ctx = tiny_context()
    twin.to(ctx.device)
    with _contract():
        TrainReport.of(twin.fit(other_split, ctx), f"recommender {cls.name!r}: fit()")
        mine = evaluate(rec, split.test, mode="full", ks=(10,))["hr@10"]
        blind = evaluate(twin, split.test, mode="full", ks=(10,))["hr@10"]
    assert mine <= blind + 0.2, (
        f"recommender {cls.name!r}: fit() reads the test targets: HR@10 {mine:.3f} on the targets it was given, "
        f"{blind:.3f} for the same recommender trained with other targets in their place")


def _check_blind_to_callers(arena: Arena, q: Queries) -> None:
    """Answers must not depend on who asks: two fresh copies of the prepared defense, one batch, two
    accounts never seen before, the same random stream: the same lists and flags (a defense that
    recognised the judge's account would serve it differently)."""
    import copy

    from ..blackbox import BlackBoxAPI

    answers = []
    for kind in (AccountKind.EVALUATOR, AccountKind.ATTACKER):
        api = BlackBoxAPI(arena.victim, Serving(k=10), kind=kind, defense=copy.deepcopy(arena.defense),
                          popular=arena.split.train.popularity_ranking(), rng=np.random.default_rng(7))
        answers.append((api.query(q, account=f"fresh-{kind.value}"), [r.flagged for r in api.log.records]))
    (a, fa), (b, fb) = answers
    assert a.shape == b.shape and np.array_equal(a, b) and fa == fb, (
        f"defense {arena.defense.name!r}: answer() serves one batch differently to two new accounts with the same "
        "random stream: its answers depend on who asks")


def check_defense(cls: type[Defense], recommender: Recommender | None = None, **params: Any) -> dict[str, float]:
    """``answer`` returns valid lists and flags for every kind of account; a detector's scores are judged."""
    from ..detection import QueryDetector

    check_component_class(cls)
    data = tiny_interactions()
    with _contract():
        arena = Arena.for_testing(recommender=recommender or _Popularity(), data=data, defense=cls(**params), k=10)
        test = arena.split.test
        q = Queries(test.histories[:9], test.users[:9])
        _check_blind_to_callers(arena, q)
        for kind in (AccountKind.ATTACKER, AccountKind.EVALUATOR):
            arena.serve(kind, Serving(k=10), defense=arena.defense).query(q)
        metrics = arena.utility(Serving(k=10))
        if isinstance(arena.defense, QueryDetector):
            from ..judges.detection import judge_detection

            api = arena.serve(AccountKind.ATTACKER, Serving(k=10), defense=arena.defense)
            for seq in test.histories[:6]:  # a few prefix chains, as an extraction attacker sends
                for t in range(1, len(seq) + 1):
                    api.query(Queries([seq[:t]]))
            metrics.update(judge_detection(arena, arena.defense, api.log))
    return metrics


def check_attack(cls: type[Attack], recommender: Recommender | None = None, budget: int | None = None,
                 defense: Defense | None = None, **params: Any) -> Verdict:
    """``run`` works against a black box, stays within the budget and returns an output the judge scores."""
    check_component_class(cls)
    assert isinstance(cls.output, type) and issubclass(cls.output, OUTPUT_TYPES), (
        f"{cls.__name__}.output must be one of recsec.outputs' types ({', '.join(t.__name__ for t in OUTPUT_TYPES)}), "
        f"got {getattr(cls.output, '__name__', cls.output)}")
    attack = cls(**params)
    data = tiny_interactions(n_users=160, per_user=24)  # >= 20 events: the membership protocol's default threshold
    with _contract():
        # isolated, as the runner runs it: an attack that only works in the arena's process (a class
        # defined in a function, an output that does not pickle, a peek at the victim) fails here
        arena = Arena.for_testing(recommender=recommender or _Popularity(), data=data, attack=attack, defense=defense, k=10,
                                  isolate=True)
        verdict = arena.attack(attack, budget=budget)
    primary = attack.primary_metric
    assert primary in verdict.metrics, f"the judge produced no {primary!r}: {sorted(verdict.metrics)}"
    if budget is not None:
        assert verdict.metrics["attack.queries"] <= budget, "the attack went over its budget"
    return verdict


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
