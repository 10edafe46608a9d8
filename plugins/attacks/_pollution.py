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

from recsec.outputs import PollutedProfiles
from recsec.plugins.sequential.losses import mask_history
from recsec.plugins.sequential.net import SeqNet
from recsec.queries import Queries



def _tokens(histories: list[np.ndarray], appended: np.ndarray, width: int) -> torch.Tensor:
    """Left-padded tokens (B, W) of history + appended items (last ``width`` items)."""
    q = Queries([np.concatenate([h, a]) for h, a in zip(histories, appended)])
    return torch.as_tensor(q.padded(width))


class Polluter:
    """Greedy gradient-guided search of appended items on a surrogate net."""

    def __init__(self, net: SeqNet, device: torch.device) -> None:
        self.net, self.device = net, device
        self.emb = net.item_embedding()
        self.n = net.n_items
        self.width = net.input_len

    def objective(self, tokens: torch.Tensor, target: int) -> torch.Tensor:
        """(B,) log-probability of ``target`` among non-history items."""
        full = mask_history(self.net.full_scores(self.net.last_vectors(tokens)).float(), tokens)
        return full[:, target] - torch.logsumexp(full, dim=1)

    @torch.no_grad()
    def ranks(self, histories: list[np.ndarray], appended: np.ndarray, target: int, batch: int = 256) -> np.ndarray:
        """0-based rank (int (B,)) of ``target`` among the surrogate's non-history items, full catalogue."""
        was = self.net.training
        self.net.eval()
        out = []
        for a in range(0, len(histories), batch):
            tok = _tokens(histories[a : a + batch], appended[a : a + batch], self.width).to(self.device)
            full = mask_history(self.net.full_scores(self.net.last_vectors(tok)).float(), tok)
            out.append((full > full[:, target : target + 1]).sum(1).cpu().numpy())
        self.net.train(was)
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
        net = self.net
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


def run_pollution(api: Any, ctx: Any, p: Any, mode: str) -> PollutedProfiles:
    """Extract a surrogate (``mode``), then search items to append for each assigned target and history."""
    import time

    from ._extraction_run import run_extraction

    surrogate = run_extraction(mode, api, ctx, p)
    rec = surrogate.model
    tasks = ctx.knowledge.pollution()
    polluter = Polluter(rec.net, rec.device)
    t0 = time.perf_counter()
    appended, ranks_before, ranks_after = [], [], []
    for target in tasks.targets:
        hs = [tasks.histories[i] for i in tasks.eligible(int(target))]  # users who had it can never be shown it
        batches = [polluter.search(hs[a : a + p.pollution_batch], int(target), tasks.n_append, p.n_candidates, p.n_rounds)
                   for a in range(0, len(hs), p.pollution_batch)]
        app = np.concatenate(batches) if batches else np.zeros((0, tasks.n_append), np.int64)
        appended.append(app)
        if len(hs):
            ranks_before.append(float(np.mean(polluter.ranks(hs, np.zeros((len(hs), 0), np.int64), int(target)))))
            ranks_after.append(float(np.mean(polluter.ranks(hs, app, int(target)))))
            ctx.log(f"pollution target {target}: surrogate rank {ranks_before[-1]:.0f} -> {ranks_after[-1]:.0f}")
    diagnostics = dict(surrogate.diagnostics)
    diagnostics.update({"pollution_s": time.perf_counter() - t0, "targets": float(len(tasks.targets)),
                        "pollution_users": float(len(tasks.histories))})
    if ranks_before:  # the surrogate's own view of what the search achieved
        diagnostics["surrogate_target_rank_before"] = float(np.mean(ranks_before))
        diagnostics["surrogate_target_rank_after"] = float(np.mean(ranks_after))
    return PollutedProfiles(appended=appended, surrogate=surrogate, diagnostics=diagnostics, curves=surrogate.curves)
