"""Profile pollution with an extracted surrogate (Yue et al., RecSys 2021, section on downstream attacks).

For a target item and a batch of real users, ``n_append`` items appended to
each user's history are searched on the white-box surrogate to raise the
target's rank, then the polluted histories are sent to the black box.

Search (greedy coordinate ascent, HotFlip-style first-order ranking as in the
DFME reference, which ranks candidates by the gradient w.r.t. the input
embedding): the objective is the surrogate's log-probability of the target
among the items the victim may return (history removed),
``obj = s_target - logsumexp_{i not in history} s_i``. Slots start at the
target's nearest neighbours in the surrogate's input-embedding space (cosine;
never the target itself: the black box never returns history items, so
appending the target would hide it). For each slot, with g the gradient of
obj w.r.t. that slot's input embedding, candidates c are ranked by
``(e_c - e_current) . g``; the best ``n_candidates`` are tried exactly and the
best objective is kept; ``n_rounds`` sweeps over the slots.

Shapes: B users, m appended slots, N items, D embedding size, C candidates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from recsec.queries import Queries

from ._extraction_loss import mask_history
from ._extraction_scoring import Scorer


def choose_targets(counts: np.ndarray, n_targets: int, rng: np.random.Generator) -> np.ndarray:
    """Target items spread over popularity: one seeded pick per popularity stratum (items with >= 1 interaction)."""
    ranked = np.lexsort((np.arange(len(counts)), -counts))
    ranked = ranked[counts[ranked] > 0]
    strata = np.array_split(ranked, min(n_targets, len(ranked)))
    return np.asarray([rng.choice(s) for s in strata if len(s)], dtype=np.int64)


def _tokens(histories: list[np.ndarray], appended: np.ndarray, width: int) -> torch.Tensor:
    """Left-padded tokens (B, W) of history + appended items (last ``width`` items)."""
    q = Queries([np.concatenate([h, a]) for h, a in zip(histories, appended)])
    return torch.as_tensor(q.padded(width))


class Polluter:
    """Greedy gradient-guided search of appended items on a surrogate net."""

    def __init__(self, scorer: Scorer, device: torch.device) -> None:
        self.scorer, self.device = scorer, device
        self.emb = scorer.item_embedding()
        self.n = scorer.n_items
        self.width = scorer.input_len

    def objective(self, tokens: torch.Tensor, target: int) -> torch.Tensor:
        """(B,) log-probability of ``target`` among non-history items."""
        full = mask_history(self.scorer.full_scores(self.scorer.last(tokens)).float(), tokens)
        return full[:, target] - torch.logsumexp(full, dim=1)

    @torch.no_grad()
    def ranks(self, histories: list[np.ndarray], appended: np.ndarray, target: int, batch: int = 256) -> np.ndarray:
        """0-based rank (int (B,)) of ``target`` among the surrogate's non-history items, full catalogue."""
        was = self.scorer.net.training
        self.scorer.net.eval()
        out = []
        for a in range(0, len(histories), batch):
            tok = _tokens(histories[a : a + batch], appended[a : a + batch], self.width).to(self.device)
            full = mask_history(self.scorer.full_scores(self.scorer.last(tok)).float(), tok)
            out.append((full > full[:, target : target + 1]).sum(1).cpu().numpy())
        self.scorer.net.train(was)
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def _gradients(self, tokens: torch.Tensor, target: int, slot_from_end: int) -> torch.Tensor:
        """(B, D) gradient of the objective w.r.t. the input embedding of the slot ``slot_from_end`` (1 = last item)."""
        store: dict[str, torch.Tensor] = {}

        def hook(module: Any, inputs: tuple, output: torch.Tensor) -> None:
            if "out" not in store:
                store["inp"], store["out"] = inputs[0], output

        handle = self.emb.register_forward_hook(hook)
        try:
            obj = self.objective(tokens, target)
        finally:
            handle.remove()
        (grad,) = torch.autograd.grad(obj.sum(), store["out"])
        inp = store["inp"]
        real = (inp >= 1) & (inp <= self.n)
        from_end = real.flip(1).cumsum(1).flip(1)
        pos = ((from_end == slot_from_end) & real).float().argmax(1)
        return grad[torch.arange(len(inp), device=inp.device), pos]

    def search(self, histories: list[np.ndarray], target: int, m: int, n_candidates: int, n_rounds: int) -> np.ndarray:
        """int64 (B, m) items to append for each history."""
        net = self.scorer.net
        was = net.training
        net.eval()
        E = self.emb.weight[1 : self.n + 1].detach()
        with torch.no_grad():
            sim = F.normalize(E, dim=1) @ F.normalize(E[target], dim=0)
            sim[target] = -torch.inf
            init = sim.topk(m).indices.cpu().numpy()
        app = np.tile(init, (len(histories), 1))
        for _ in range(n_rounds):
            for j in range(m):
                tok = _tokens(histories, app, self.width).to(self.device)
                g = self._gradients(tok, target, m - j)  # (B, D)
                with torch.no_grad():
                    cur = torch.as_tensor(app[:, j], device=self.device)
                    gain = g @ E.T - (E[cur] * g).sum(1, keepdim=True)  # (B, N)
                    gain[:, target] = -torch.inf
                    cand = gain.topk(n_candidates, dim=1).indices.cpu().numpy()
                    best = self.objective(tok, target).cpu().numpy()
                    for c in range(n_candidates):
                        trial = app.copy()
                        trial[:, j] = cand[:, c]
                        val = self.objective(_tokens(histories, trial, self.width).to(self.device), target).cpu().numpy()
                        better = val > best
                        app[better, j] = cand[better, c]
                        best = np.maximum(best, val)
        net.train(was)
        return app


def target_ranks(lists: np.ndarray, target: int) -> np.ndarray:
    """Rank of ``target`` in each returned list (int (B,)), ``K`` when absent."""
    hit = lists == target
    return np.where(hit.any(1), hit.argmax(1), lists.shape[1])


def rank_metrics(ranks: np.ndarray, k: int = 10) -> tuple[float, float]:
    """(NDCG@k, HR@k) of one relevant item from 0-based ranks."""
    hit = ranks < k
    return float(np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0).mean()), float(hit.mean())


def run_pollution(api: Any, ctx: Any, p: dict[str, Any], mode: str) -> dict[str, float]:
    """Extract a surrogate (``mode``), pollute real test users' histories for each target, query before/after."""
    import time

    from ._extraction_run import run_extraction
    from ._extraction_scoring import scorer_for

    rec, metrics = run_extraction(mode, api, ctx, p)
    metrics = {("surrogate_" + k if k in ("ndcg@10", "hr@10") else k): v for k, v in metrics.items()}
    metrics["extraction_queries"] = float(api.queries_used)
    test = ctx.split.test
    users = np.sort(ctx.rng("pollution", "users").choice(len(test), min(p["n_users"], len(test)), replace=False))
    hists = [np.asarray(test.histories[i], dtype=np.int64) for i in users]
    targets = choose_targets(ctx.split.train.item_counts(), p["n_targets"], ctx.rng("pollution", "targets"))
    polluter = Polluter(scorer_for(rec.net), rec.device)
    rng = ctx.rng("pollution", "random-baseline")
    t0 = time.perf_counter()
    before = api.query(Queries(hists))
    keys = ("before", "after", "random", "surrogate_before", "surrogate_after")
    rows: dict[str, list[float]] = {k: [] for k in keys + ("surrogate_rank_before", "surrogate_rank_after")}
    for target in targets:
        ok = np.flatnonzero([target not in h for h in hists])  # users who already had it can never get it
        hs = [hists[i] for i in ok]
        app = np.concatenate([polluter.search(hs[a : a + p["pollution_batch"]], int(target), p["n_append"],
                                              p["n_candidates"], p["n_rounds"])
                              for a in range(0, len(hs), p["pollution_batch"])])
        polluted = [np.concatenate([h, a]) for h, a in zip(hs, app)]
        after = api.query(Queries(polluted))
        res = {"before": before[ok], "after": after,
               "surrogate_before": rec.topk(Queries(hs), api.k), "surrogate_after": rec.topk(Queries(polluted), api.k)}
        no_app = np.zeros((len(hs), 0), dtype=np.int64)
        rows["surrogate_rank_before"].append(float(np.mean(polluter.ranks(hs, no_app, int(target)))))
        rows["surrogate_rank_after"].append(float(np.mean(polluter.ranks(hs, app, int(target)))))
        if p["random_baseline"]:
            rnd = rng.integers(0, api.n_items - 1, size=app.shape)
            rnd = rnd + (rnd >= target)  # uniform over the items other than the target
            res["random"] = api.query(Queries([np.concatenate([h, a]) for h, a in zip(hs, rnd)]))
        for key, lists in res.items():
            r = target_ranks(lists, int(target))
            ndcg, hr = rank_metrics(r)
            rows[key].append(ndcg)
            rows.setdefault(key + "_hr", []).append(hr)
            rows.setdefault(key + "_hrk", []).append(float((r < lists.shape[1]).mean()))
        ctx.log(f"pollution target {target} (popularity stratum {len(rows['after'])}): victim ndcg@10 "
                f"{rows['before'][-1]:.4f} -> {rows['after'][-1]:.4f}, in top-{api.k} {rows['before_hrk'][-1]:.3f} -> "
                f"{rows['after_hrk'][-1]:.3f}; surrogate rank {rows['surrogate_rank_before'][-1]:.0f} -> "
                f"{rows['surrogate_rank_after'][-1]:.0f}")
    for key in keys:
        if rows[key]:
            pre = "surrogate_target" if key.startswith("surrogate") else "target"
            when = key.split("_")[-1]
            metrics[f"{pre}_ndcg@10_{when}"] = float(np.mean(rows[key]))
            metrics[f"{pre}_hr@10_{when}"] = float(np.mean(rows[key + "_hr"]))
            metrics[f"{pre}_hr@{api.k}_{when}"] = float(np.mean(rows[key + "_hrk"]))
    for when in ("before", "after"):
        metrics[f"surrogate_target_rank_{when}"] = float(np.mean(rows[f"surrogate_rank_{when}"])) if targets.size else float("nan")
    metrics.update({"pollution_s": time.perf_counter() - t0, "targets": float(len(targets)),
                    "pollution_users": float(len(users)), "queries": float(api.queries_used)})
    return metrics
