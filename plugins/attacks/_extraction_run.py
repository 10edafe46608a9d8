"""One extraction run: collect labelled sequences, then train the surrogate the attack returns.

Yue et al., RecSys 2021 (DFME) and Zhang & Liu, arXiv 2411.11677 (few-shot). The
attack returns a ``Surrogate`` (recsec.outputs): the trained model, the untrained
one (its agreement is this architecture's chance level), and the held-out prefixes
the epoch was selected on with the answers the black box gave them. recsec's
extraction judge scores it (Agr@K against the undefended victim on real test users,
the surrogate's NDCG/HR, the observable held-out agreement); the attack reports
only diagnostics about itself: ``sequences`` (labelled, real ones included),
``generation_s`` (collecting and labelling, sampler training included),
``surrogate_train_s``, ``epochs``, ``best_epoch``, ``final_loss``, ``converged`` (1 when
patience ended training, 0 at the epoch or time cap),
``holdout_agr@10_init``, ``train_prefixes`` and the few-shot counts.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING

import numpy as np

from recsec.outputs import Surrogate
from recsec.queries import Queries

from ._extraction_data import CappedAPI, LabelledSet, autoregressive_rule, generate, random_rule, split_holdout
from ._extraction_train import build_surrogate, train_surrogate

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import BlackBoxAPI
    from recsec.context import AttackContext
    from recsec.component import Values


def collect(mode: str, api: "BlackBoxAPI", ctx: "AttackContext", p: "Values",
            max_len: int) -> tuple[LabelledSet, dict[str, float]]:
    """Labelled sequences for ``mode`` (``random``, ``autoregressive`` or ``fewshot``) within the API budget."""
    n_items = api.n_items
    if mode in ("random", "autoregressive"):
        rule = random_rule if mode == "random" else autoregressive_rule
        first, nxt = rule(n_items, ctx.rng("generation", mode))
        data, _ = generate(api, p.n_sequences, lambda b: np.full(b, max_len), first, nxt, p.gen_batch, ctx.log)
        return data, {}
    if mode != "fewshot":
        raise ValueError(f"unknown extraction mode {mode!r}")
    from ._extraction_fewshot import collect_real, fit_gate, gate_training_data, gated_rule, train_sampler

    t0 = time.perf_counter()
    real = [np.asarray(s[-max_len:], dtype=np.int64) for s in ctx.knowledge.real_sequences()]
    sampler = train_sampler(real, n_items, p.sampler, p.sampler_epochs, max_len, ctx)
    info: dict[str, float] = {"sampler_train_s": time.perf_counter() - t0, "real_available": float(len(real))}
    before = api.queries_used
    real_l = collect_real(api, real, p.real_query_share, ctx.rng("fewshot", "order"), p.gen_batch)
    info.update({"real_sequences": float(len(real_l)), "real_queries": float(api.queries_used - before)})
    w = None
    if p.gate == "learned":
        x, y = gate_training_data(sampler, real_l, p.temperature)
        w = fit_gate(x, y)
        if len(y):
            info["real_follow_rate"] = float(y.mean())
    freq = np.bincount(np.concatenate(real), minlength=n_items).astype(np.float64)
    lens = np.clip(np.asarray([len(s) for s in real]), 2, max_len)
    g_rng = ctx.rng("generation", "fewshot")
    length_fn = (lambda b: g_rng.choice(lens, size=b)) if p.gen_length <= 0 else (
        lambda b: np.full(b, min(p.gen_length, max_len)))
    counts = {"from_list": 0, "steps": 0}
    first, nxt = gated_rule(sampler, w, p, freq / freq.sum(), g_rng, counts)
    gen, _ = generate(api, p.n_sequences, length_fn, first, nxt, p.gen_batch, ctx.log)
    info["gate_rate"] = counts["from_list"] / max(counts["steps"], 1)
    info["generated_sequences"] = float(len(gen))
    parts = [x for x in (real_l, gen) if len(x)]
    return (LabelledSet.concat(parts) if parts else LabelledSet.empty(1, api.k)), info


def run_extraction(mode: str, api: "BlackBoxAPI", ctx: "AttackContext", p: "Values") -> Surrogate:
    """The whole attack: collect within the budget, train, return the surrogate for the judge."""
    ctx.log(f"extraction ({mode}): building the surrogate")
    rec = build_surrogate(p.surrogate, ctx, api.n_items, p.surrogate_init)
    untrained = copy.deepcopy(rec)
    max_len = min(int(p.seq_len), int(rec.net.input_len))
    t0 = time.perf_counter()
    view = CappedAPI(api, p.max_queries) if p.max_queries else api
    data, diagnostics = collect(mode, view, ctx, p, max_len)
    diagnostics["generation_s"] = time.perf_counter() - t0
    diagnostics["sequences"] = float(len(data))
    train_idx, hold_idx = split_holdout(len(data), p.holdout_fraction, ctx.rng("extraction", "holdout"))
    ctx.log(f"extraction: {len(data)} sequences ({data.n_prefixes if len(data) else 0} prefixes), training")
    stats, (hs, ht), curve = train_surrogate(rec, data, train_idx, hold_idx, p, ctx)
    diagnostics.update({k: v for k, v in stats.items() if np.isfinite(v)})
    holdout = Queries([data.seqs[s, : t + 1] for s, t in zip(hs, ht)])
    return Surrogate(model=rec, untrained=untrained, holdout=holdout, holdout_lists=data.lists[hs, ht].astype(np.int64),
                     diagnostics=diagnostics, curves={"surrogate": curve})
