"""One extraction run: collect labelled sequences, train the surrogate, score it on real test users.

Metrics (methods.md section 4):
- ``agr@1``, ``agr@10``: Agr@K = mean over real test users of
  |TopK_victim(x) ∩ TopK_surrogate(x)| / K, top-K over the full catalogue
  (history items excluded on both sides, as the black box serves), x = the
  user's test input; the victim's lists come from ``ctx.reference_topk``
  (scoring only, outside budget and defense).
- ``ndcg@10``, ``hr@10``: the surrogate's own full-ranking quality on
  ``ctx.split.test`` (``recsec.evaluation.evaluate``).
- ``agr@10_init``: the same agreement for the untrained surrogate (chance
  level of this architecture and seed; a leak of the victim's weights would
  show here).
- ``queries``, ``sequences`` (labelled sequences, real ones included),
  ``generation_s`` (collecting and labelling, sampler training included),
  ``surrogate_train_s``, ``holdout_agr@10`` (the selection metric).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from recsec.data import EvalSet
from recsec.evaluation import evaluate
from recsec.metrics import agreement_at_k
from recsec.queries import Queries

from ._extraction_data import CappedAPI, LabelledSet, autoregressive_rule, generate, random_rule, split_holdout
from ._extraction_train import TrainConfig, build_surrogate, train_surrogate

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import BlackBoxAPI
    from recsec.context import AttackContext
    from recsec.plugins.recommenders._seq_base import SequentialRecommender


def test_users(ctx: "AttackContext", n: int) -> EvalSet | None:
    """The real test users to score on: all, or a seeded subset of ``n``."""
    if ctx.split is None or len(ctx.split.test) == 0:
        return None
    test = ctx.split.test
    idx = np.arange(len(test))
    if 0 < n < len(test):
        idx = np.sort(ctx.rng("extraction", "eval-users").choice(len(test), n, replace=False))
    return EvalSet(test.users[idx], [test.histories[i] for i in idx], test.targets[idx])


def test_metrics(rec: "SequentialRecommender", ctx: "AttackContext", es: EvalSet | None,
                 quality: bool = True) -> dict[str, float]:
    """Agr@1/Agr@10 with the victim (``ctx.reference_topk``) and the surrogate's NDCG@10 / HR@10."""
    nan = float("nan")
    if es is None or ctx.reference_topk is None:
        return {"agr@1": nan, "agr@10": nan, "ndcg@10": nan, "hr@10": nan}
    q = Queries(es.histories, es.users)
    ours = rec.topk(q, 10)
    ref = np.asarray(ctx.reference_topk(q, 10))
    out = {"agr@1": agreement_at_k(ours, ref, 1), "agr@10": agreement_at_k(ours, ref, 10)}
    if quality:
        m = evaluate(rec, es, mode="full", ks=(10,))
        out.update({"ndcg@10": m["ndcg@10"], "hr@10": m["hr@10"]})
    return out


def collect(mode: str, api: "BlackBoxAPI", ctx: "AttackContext", p: dict[str, Any],
            max_len: int) -> tuple[LabelledSet, dict[str, float]]:
    """Labelled sequences for ``mode`` (``random``, ``autoregressive`` or ``fewshot``) within the API budget."""
    n_items = api.n_items
    if mode in ("random", "autoregressive"):
        rule = random_rule if mode == "random" else autoregressive_rule
        first, nxt = rule(n_items, ctx.rng("generation", mode))
        data, _ = generate(api, p["n_sequences"], lambda b: np.full(b, max_len), first, nxt, p["gen_batch"], ctx.log)
        return data, {}
    if mode != "fewshot":
        raise ValueError(f"unknown extraction mode {mode!r}")
    from ._extraction_fewshot import (collect_real, fewshot_sequences, fit_gate, gate_training_data, gated_rule,
                                      train_sampler)

    t0 = time.perf_counter()
    real = fewshot_sequences(ctx, p["real_fraction"], max_len)
    sampler = train_sampler(real, n_items, p["sampler"], p["sampler_epochs"], max_len, ctx)
    info: dict[str, float] = {"sampler_train_s": time.perf_counter() - t0, "real_available": float(len(real))}
    before = api.queries_used
    real_l = collect_real(api, real, p["real_query_share"], ctx.rng("fewshot", "order"), p["gen_batch"])
    info.update({"real_sequences": float(len(real_l)), "real_queries": float(api.queries_used - before)})
    w = None
    if p["gate"] == "learned":
        x, y = gate_training_data(sampler, real_l, p["temperature"])
        w = fit_gate(x, y)
        info["real_follow_rate"] = float(y.mean()) if len(y) else float("nan")
    freq = np.bincount(np.concatenate(real), minlength=n_items).astype(np.float64)
    lens = np.clip(np.asarray([len(s) for s in real]), 2, max_len)
    g_rng = ctx.rng("generation", "fewshot")
    length_fn = (lambda b: g_rng.choice(lens, size=b)) if p["gen_length"] <= 0 else (
        lambda b: np.full(b, min(p["gen_length"], max_len)))
    counts = {"from_list": 0, "steps": 0}
    first, nxt = gated_rule(sampler, w, p, freq / freq.sum(), g_rng, counts)
    gen, _ = generate(api, p["n_sequences"], length_fn, first, nxt, p["gen_batch"], ctx.log)
    info["gate_rate"] = counts["from_list"] / max(counts["steps"], 1)
    info["generated_sequences"] = float(len(gen))
    parts = [x for x in (real_l, gen) if len(x)]
    return (LabelledSet.concat(parts) if parts else LabelledSet.empty(1, api.k)), info


def run_extraction(mode: str, api: "BlackBoxAPI", ctx: "AttackContext",
                   p: dict[str, Any]) -> tuple["SequentialRecommender", dict[str, float]]:
    """The whole attack: returns the trained surrogate and the metrics."""
    import torch

    ctx.log(f"extraction ({mode}): building the surrogate")
    rec = build_surrogate(p["surrogate"], ctx, api.n_items, p["surrogate_init"])
    max_len = min(int(p["seq_len"]), int(rec.net.input_len))
    es = test_users(ctx, p["eval_users"])
    metrics: dict[str, float] = {"agr@10_init": test_metrics(rec, ctx, es, quality=False)["agr@10"]}
    t0 = time.perf_counter()
    view = CappedAPI(api, p["max_queries"]) if p["max_queries"] else api
    data, info = collect(mode, view, ctx, p, max_len)
    metrics["generation_s"] = time.perf_counter() - t0
    metrics.update(info)
    metrics["queries"] = float(api.queries_used)
    metrics["sequences"] = float(len(data))
    train_idx, hold_idx = split_holdout(len(data), p["holdout_fraction"], ctx.rng("extraction", "holdout"))
    ctx.log(f"extraction: {len(data)} sequences ({data.n_prefixes if len(data) else 0} prefixes), training")
    cfg = TrainConfig.from_params(p)
    stats = train_surrogate(rec, data, train_idx, hold_idx, cfg, ctx)
    metrics.update(stats)
    with torch.no_grad():
        metrics.update(test_metrics(rec, ctx, es))
    return rec, metrics
