"""Surrogate construction, training on labelled prefixes, held-out selection and scoring.

Yue et al., RecSys 2021 (DFME) with the pitfalls of methods.md section 7 removed:
- the surrogate's weights come from ``ctx.seed_for("surrogate")``, never the
  victim's seed (a same-architecture surrogate would otherwise start from the
  victim's initial weights); ``surrogate_init = "reference"`` reproduces that
  fault on purpose, to measure what it does;
- negatives are drawn strictly outside the list, the padding and (by
  default) the prefix's own items, resampled every step;
- the epoch is selected by agreement with the black box on HELD-OUT generated
  sequences (their labels were paid for with queries), not in-sample;
- every random source (dropout, batch order, negatives) is seeded.

AdamW (no decay on biases / LayerNorm, as the victims), global gradient-norm clipping.

Shapes: E prefixes in a batch, K list length, N items, D vector size.
"""

from __future__ import annotations

import copy
import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from recsec.metrics import served_agreement
from recsec.params import Param
from recsec.plugins.sequential.losses import mask_history, ranking_loss, repair_loss, sample_negatives
from recsec.plugins.sequential.net import SeqNet
from recsec.plugins.sequential.resume import read_state, rng_states, set_rng_states, write_state
from recsec.plugins.sequential.trainer import clip_gradients, param_groups

from ._extraction_batches import examples, list_tokens, prefix_batches, prefix_tokens, sequence_batches, sequence_tokens
from ._extraction_data import LabelledSet
from ._extraction_params import EXTRACTION_PARAMS, SURROGATE_INITS

_SHAPING = Param(0)  # a parameter not declared here (few-shot's own) shapes the run

if TYPE_CHECKING:  # pragma: no cover
    from recsec.context import AttackContext
    from recsec.component import Values
    from recsec.plugins.sequential.base import SequentialRecommender


def surrogate_seed(ctx: "AttackContext", init: str = "independent") -> int:
    """The seed of the surrogate's weights.

    ``independent``: ``ctx.seed_for("surrogate")``, unrelated to any seed of
    the victim's run. ``reference``: the seed the victim's run drew its first
    network under (granted by ``ThreatModel(init_seed=True)``), which is what the
    DFME and GRO reference code does by seeding everything with one
    ``model_init_seed`` (methods.md section 7): a same-architecture surrogate then
    starts from the victim's initial weights (or, against GRO from scratch, the student's).
    """
    if init == "independent":
        return ctx.seed_for("surrogate")
    if init == "reference":
        return int(ctx.knowledge.victim_init_seed())
    raise ValueError(f"unknown surrogate_init {init!r}; expected one of {SURROGATE_INITS}")


def build_surrogate(arch: str, ctx: "AttackContext", n_items: int, init: str = "independent") -> "SequentialRecommender":
    """An untrained surrogate: the victim's class and parameters (``same``) or a registered sequential
    recommender named as the ``surrogate`` parameter is (``sasrec``, ``sasrec[hidden=32]``).

    Weights are drawn under ``surrogate_seed(ctx, init)`` inside a forked RNG,
    so the global generator is left alone.
    """
    from recsec.plugins.sequential.architectures import create_sequential
    from recsec.plugins.sequential.base import SequentialRecommender

    if arch == "same":
        rec = ctx.knowledge.new_victim()
    else:
        rec = create_sequential(arch, "surrogate")
    if not isinstance(rec, SequentialRecommender):
        raise ValueError(f"the surrogate must be a sequential recommender, not {type(rec).__name__}")
    device = ctx.device if ctx.device is not None else torch.device("cpu")
    with torch.random.fork_rng(devices=[]):
        net = rec.draw_net(n_items, surrogate_seed(ctx, init))
    rec.n_items, rec.device, rec.net = n_items, device, net.to(device)
    net.eval()
    return rec


def resolve_mode(net: SeqNet, mode: str) -> str:
    """``auto``: shared pass where it is exact (recurrent nets), else one input per prefix."""
    if mode == "auto":
        return "shared" if net.shared_exact else "separate"
    if mode == "shared" and not net.can_share:
        raise ValueError(f"prefix_mode='shared' is not possible for {type(net).__name__} (bidirectional or unknown)")
    return mode


def _batch_loss(net: SeqNet, data: LabelledSet, batch: np.ndarray, mode: str, cfg: "Values",
                gen: torch.Generator, device: torch.device, ex: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
    """Loss of one batch: example indices (separate) or sequence indices (shared)."""
    if mode == "separate":
        s, t = ex[0][batch], ex[1][batch]
        tok = torch.as_tensor(prefix_tokens(data, s, t, net.input_len), device=device)
        z, hist = net.last_vectors(tok), tok
    else:
        tok_np, rows, t, col = sequence_tokens(data, batch)
        tok = torch.as_tensor(tok_np, device=device)
        rows_t, col_t = torch.as_tensor(rows, device=device), torch.as_tensor(col, device=device)
        z = net.shared_vectors(tok)[rows_t, col_t]
        W = tok.size(1)
        hist = torch.where(torch.arange(W, device=device)[None, :] <= col_t[:, None], tok[rows_t], 0)
        s = batch[rows]
    lt = torch.as_tensor(list_tokens(data, s, t), device=device)  # (E, K)
    K = lt.size(1)
    neg, neg_ok = sample_negatives(lt, K, net.n_items, gen, hist if cfg.negatives_exclude_history else None)
    scores = net.item_scores(z, torch.cat([(lt - 1).clamp(min=0), neg - 1], dim=1))
    loss = ranking_loss(scores[:, :K], lt > 0, scores[:, K:], neg_ok, cfg.margin_topk, cfg.margin_neg)
    if cfg.repair_weight > 0:
        full = mask_history(net.full_scores(z), hist)
        loss = loss + cfg.repair_weight * repair_loss(full, lt, cfg.repair_margin)
    return loss


@torch.no_grad()
def holdout_agreement(net: SeqNet, data: LabelledSet, s: np.ndarray, t: np.ndarray, device: torch.device,
                      k: int = 10, batch: int = 256) -> dict[str, float]:
    """Agr@1 / Agr@k of the surrogate's top-k (history masked) with the black box's answers on prefixes (s, t)."""
    if len(s) == 0:
        return {"agr@1": float("nan"), f"agr@{k}": float("nan")}
    was = net.training
    net.eval()
    mine = []
    for a in range(0, len(s), batch):
        tok = torch.as_tensor(prefix_tokens(data, s[a : a + batch], t[a : a + batch], net.input_len), device=device)
        full = mask_history(net.full_scores(net.last_vectors(tok)).float(), tok)
        mine.append(full.topk(k, dim=1).indices.cpu().numpy())
    net.train(was)
    # the served lists may be shorter than k (a truncating defense, a small spec k): -1 pads them
    ours, theirs = np.concatenate(mine), data.lists[s, t]
    return {"agr@1": served_agreement(ours, theirs, 1), f"agr@{k}": served_agreement(ours, theirs, k)}


def surrogate_state_path(ctx: "AttackContext", cfg: "Values", data: LabelledSet, net: SeqNet) -> Path | None:
    """Where the surrogate's per-epoch training state lives (``ctx.work_dir``, the attack's own
    folder), keyed by the parameters that shape training (not the stopping ones: a rerun with a
    larger epoch limit, patience or time limit continues the stored run), the surrogate's class
    and the labelled data."""
    if ctx.work_dir is None:
        return None
    h = hashlib.sha256(repr((type(net).__name__, ctx.seed, sorted((k, v) for k, v in cfg.items() if not EXTRACTION_PARAMS.get(k, _SHAPING).stopping),
                             data.seqs.shape, data.lists.shape)).encode())
    for arr in (data.seqs, data.lists, data.lengths):
        h.update(np.ascontiguousarray(arr).tobytes())
    return Path(ctx.work_dir) / f"surrogate-{h.hexdigest()[:16]}.pt"


def train_surrogate(rec: "SequentialRecommender", data: LabelledSet, train_idx: np.ndarray, hold_idx: np.ndarray,
                    cfg: "Values", ctx: "AttackContext") -> tuple[dict[str, float], tuple[np.ndarray, np.ndarray],
                                                            list[dict[str, float]]]:
    """Train ``rec.net`` on the prefixes of ``train_idx``; keep the epoch with the best held-out Agr@10.

    ``cfg``: the attack's parameters. Returns training statistics, the held-out prefixes the
    epoch was selected on (sequence and position indices) and one row per epoch. With
    ``ctx.work_dir`` the whole training state is written there after every epoch, and a rerun
    on the same labelled data continues where it stopped, with the same result (the time limit
    counts the seconds of every run).
    """
    net, device = rec.net, rec.device
    mode = resolve_mode(net, cfg.prefix_mode)
    rng = ctx.rng("surrogate", "batches")
    gen = torch.Generator(device=device)
    gen.manual_seed(ctx.seed_for("surrogate", "negatives"))
    torch.manual_seed(ctx.seed_for("surrogate", "dropout") % (2**63))
    opt = torch.optim.AdamW(param_groups(net, cfg.weight_decay, True), lr=cfg.lr)
    params = [q for g in opt.param_groups for q in g["params"]]

    ex = examples(data, train_idx)
    hs, ht = examples(data, hold_idx)
    if len(hs) > cfg.holdout_max:
        pick = np.sort(ctx.rng("surrogate", "holdout").choice(len(hs), cfg.holdout_max, replace=False))
        hs, ht = hs[pick], ht[pick]
    path = surrogate_state_path(ctx, cfg, data, net)
    st = read_state(path)
    if st is None:
        best = holdout_agreement(net, data, hs, ht, device)["agr@10"]
        stats: dict[str, float] = {"holdout_agr@10_init": best, "train_prefixes": float(len(ex[0]))}
        best_epoch, best_state, bad, loss_v, spent = 0, copy.deepcopy(net.state_dict()), 0, float("nan"), 0.0
        curve: list[dict[str, float]] = []
    else:
        net.load_state_dict(st["net"])
        opt.load_state_dict(st["opt"])
        set_rng_states([gen], st["torch_rng"])
        rng.bit_generator.state = st["numpy_rng"]
        stats, curve, best_state = dict(st["stats"]), list(st["curve"]), st["best_state"]
        best, best_epoch, bad, loss_v, spent = st["best"], st["best_epoch"], st["bad"], st["loss"], st["spent_s"]
        ctx.log(f"surrogate: resuming after epoch {len(curve)} from {path}")
    # patience counts passes over the data: with prefix_sample < 1 an epoch sees only part of it
    scale = cfg.prefix_sample if mode == "separate" and cfg.prefix_sample < 1.0 else 1.0
    patience = int(np.ceil(cfg.patience / scale)) if cfg.patience > 0 else 0
    t0 = time.perf_counter() - spent
    epoch = len(curve)
    for epoch in range(len(curve) + 1, cfg.epochs + 1):
        if (patience > 0 and bad >= patience) or (cfg.time_limit_s > 0 and time.perf_counter() - t0 > cfg.time_limit_s):
            epoch -= 1
            break
        net.train()
        if mode == "separate":
            idx = np.arange(len(ex[0]))
            if cfg.prefix_sample < 1.0:
                idx = np.sort(rng.choice(len(idx), max(1, int(round(cfg.prefix_sample * len(idx)))), replace=False))
            batches = [idx[b] for b in prefix_batches(ex[0][idx], ex[1][idx], cfg.batch_size, rng)]
        else:
            batches = sequence_batches(data, train_idx, cfg.batch_size, rng)
        total, count = torch.zeros((), device=device), 0
        for batch in batches:
            loss = _batch_loss(net, data, batch, mode, cfg, gen, device, ex)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            clip_gradients(params, cfg.clip_norm)
            opt.step()
            total += loss.detach().float()  # no per-step device sync
            count += 1
        loss_v = float(total) / max(count, 1)
        agr = holdout_agreement(net, data, hs, ht, device)["agr@10"] if len(hs) else float("nan")
        ctx.log(f"surrogate epoch {epoch}: loss {loss_v:.4f}, held-out agr@10 {agr:.4f}")
        curve.append({"epoch": float(epoch), "loss": loss_v, "holdout_agr@10": agr})
        if len(hs) == 0 or agr > best:
            best, best_epoch, bad = agr, epoch, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            bad += 1
        if path is not None:
            write_state(path, {"net": net.state_dict(), "opt": opt.state_dict(), "torch_rng": rng_states([gen]),
                               "numpy_rng": rng.bit_generator.state, "stats": stats, "curve": curve,
                               "best_state": best_state, "best": best, "best_epoch": best_epoch, "bad": bad,
                               "loss": loss_v, "spent_s": time.perf_counter() - t0})
    net.load_state_dict(best_state)
    net.eval()
    # converged: patience ran out (DFME's "trained to convergence"), not the epoch or time cap
    stats.update({"epochs": float(epoch), "best_epoch": float(best_epoch), "final_loss": loss_v,
                  "surrogate_train_s": time.perf_counter() - t0, "prefix_mode_shared": float(mode == "shared"),
                  "converged": float(patience > 0 and bad >= patience)})
    return stats, (hs, ht), curve
