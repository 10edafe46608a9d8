"""SAME's models for item sequences: a cloze reconstructor and an auxiliary recommender.

Xie, Yan, Lou, Zhang et al., "SAME: Sample Reconstruction against Model
Extraction Attacks", AAAI 2024, adapted to recommender queries (methods.md
section 5; the adaptation is ours, the paper works on images):

- the masked autoencoder is a cloze model: a BERT4Rec (the existing class,
  ``hidden`` / ``epochs`` of the detector) trained on benign sequences
  (``split.train`` of the users the detector may learn from). To reconstruct
  a query, a seeded ``mask_prob`` share of its last ``max_len`` items (at
  least one) is replaced by the mask token; the reconstruction loss is the
  mean cross-entropy of the true items at the masked positions (the image
  MSE becomes the item-prediction loss) and the reconstruction x^ puts the
  cloze model's best item there;
- the auxiliary model is a copy of the victim's architecture and parameters
  (``max_epochs`` = ``aux_epochs``), trained with its own loss on the
  reconstructed training sequences of the same users;
- deviation = 1 - |top-k(victim, x) ∩ top-k(aux, x^)| / k (history of x
  masked on both sides), k = ``dev_k``.

Shapes: B queries, L = max_len columns, P masked positions, N items, K list length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from recsec.context import RunContext
from recsec.data import EvalSet, Interactions, Split
from recsec.plugins.recommenders.bert4rec import BERT4Rec
from recsec.plugins.sequential.windows import trim_left
from recsec.queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    from recsec.recommender import Recommender

CHUNK = 512


@dataclass
class SameModels:
    """What the detector scores with (shared, read-only, by every copy of the defense)."""

    cloze: BERT4Rec
    aux: Any  # a SequentialRecommender of the victim's class
    victim: "Recommender"
    generator: torch.Generator

    def __deepcopy__(self, memo: dict) -> "SameModels":
        return self  # read-only models: every deep copy of the defense shares them


def _sub_context(ctx: RunContext, label: str) -> RunContext:
    """A context with its own seed, so no detector model starts from the victim's initial weights."""
    return RunContext(seed=ctx.seed_for("same-detector", label), device=ctx.device, progress=ctx.progress,
                      work_dir=ctx.work_dir, log=ctx.log)


def user_subset(data: Interactions, users: np.ndarray) -> Interactions:
    return data.subset(np.isin(data.users, users))


def valid_subset(es: EvalSet, users: np.ndarray, cap: int, rng: np.random.Generator) -> EvalSet:
    rows = np.flatnonzero(np.isin(es.users, users))
    if cap > 0 and len(rows) > cap:
        rows = np.sort(rng.choice(rows, cap, replace=False))
    return EvalSet(es.users[rows], [es.histories[r] for r in rows], es.targets[rows])


def _empty_evalset() -> EvalSet:
    return EvalSet(np.zeros(0, np.int64), [], np.zeros(0, np.int64))


@torch.no_grad()
def reconstruct(cloze: BERT4Rec, histories: list[np.ndarray], mask_prob: float,
                gen: torch.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """(reconstruction loss float (B,), reconstructed histories) of each query's last L items."""
    net = cloze.net
    net.eval()
    dev = cloze.device
    B = len(histories)
    loss = np.zeros(B)
    recon: list[np.ndarray] = []
    for a in range(0, B, CHUNK):
        hs = histories[a : a + CHUNK]
        tok = trim_left(torch.as_tensor(Queries(hs).padded(net.input_len), device=dev))  # (b, L)
        real = tok > 0
        u = torch.rand(tok.shape, generator=gen, device=dev).masked_fill(~real, 2.0)
        chosen = real & (u < mask_prob)
        first = u.argmin(1)  # every non-empty query gets at least one masked item
        rows = torch.arange(len(hs), device=dev)
        chosen[rows, first] |= real[rows, first]
        inp = torch.where(chosen, torch.full_like(tok, net.mask_token), tok)
        logits = net.full_scores(net.position_vectors(inp, chosen)).float()  # (P, N)
        ce = F.cross_entropy(logits, tok[chosen] - 1, reduction="none")
        r = chosen.nonzero(as_tuple=True)[0]
        tot = torch.zeros(len(hs), device=dev).index_add_(0, r, ce)
        cnt = chosen.sum(1).clamp(min=1)
        loss[a : a + len(hs)] = (tot / cnt).cpu().numpy()
        out = tok.clone()
        out[chosen] = logits.argmax(1) + 1
        for row, h in zip(out.cpu().numpy(), hs):
            tail = row[row > 0] - 1
            h = np.asarray(h, dtype=np.int64)
            recon.append(np.concatenate([h[: len(h) - len(tail)], tail]))
    return loss, recon


@torch.no_grad()
def deviation(aux: Any, recon: list[np.ndarray], histories: list[np.ndarray], victim_lists: np.ndarray,
              k: int) -> np.ndarray:
    """1 - overlap of the victim's top-k on x and the auxiliary model's top-k on x^ (float (B,))."""
    B = len(histories)
    out = np.zeros(B)
    for a in range(0, B, CHUNK):
        q = Queries(recon[a : a + CHUNK])
        scores = aux.score(q).float()
        rows, cols = Queries(histories[a : a + CHUNK]).history_mask_indices()
        if len(rows):
            scores[torch.as_tensor(rows, device=scores.device), torch.as_tensor(cols, device=scores.device)] = -torch.inf
        mine = scores.topk(min(k, scores.size(1)), dim=1).indices.cpu().numpy()
        theirs = victim_lists[a : a + CHUNK, :k]
        out[a : a + len(q)] = [1.0 - len(np.intersect1d(x, y)) / k for x, y in zip(mine, theirs)]
    return out


def fit_models(victim: "Recommender", split: Split, train_users: np.ndarray, ctx: RunContext,
               p: dict[str, Any]) -> SameModels:
    """Train the cloze reconstructor and the auxiliary model on ``train_users``' training sequences."""
    max_len = int(victim.param_values.get("max_len", 50))
    vrng = ctx.rng("same-detector", "valid")
    train = user_subset(split.train, train_users)
    valid = valid_subset(split.valid, train_users, int(p["valid_users"]), vrng)
    cloze = BERT4Rec(hidden=int(p["hidden"]), max_len=max_len, max_epochs=int(p["epochs"]),
                     patience=int(p["patience"]))
    ctx.log(f"same-detector: cloze model on {len(np.unique(train.users))} users")
    cloze.fit(Split(train, valid, _empty_evalset(), key="same"), _sub_context(ctx, "cloze"))
    gen = torch.Generator(device=cloze.device)
    gen.manual_seed(ctx.seed_for("same-detector", "masks"))
    # the auxiliary model: the victim's architecture on reconstructed training sequences
    seqs = train.sequences()
    users = np.flatnonzero([len(s) > 0 for s in seqs])
    _, recon = reconstruct(cloze, [seqs[u] for u in users], float(p["mask_prob"]), gen)
    lens = np.asarray([len(r) for r in recon])
    rdata = Interactions(users=np.repeat(users, lens), items=np.concatenate(recon), n_users=split.train.n_users,
                         n_items=split.train.n_items,
                         timestamps=np.concatenate([np.arange(n) for n in lens]).astype(np.int64))
    aux = type(victim)(**{**victim.given_params, "max_epochs": int(p["aux_epochs"]), "patience": int(p["patience"])})
    ctx.log("same-detector: auxiliary model on the reconstructed sequences")
    aux.fit(Split(rdata, valid, _empty_evalset(), key="same-aux"), _sub_context(ctx, "aux"))
    return SameModels(cloze, aux, victim, gen)


def raw_scores(models: SameModels, histories: list[np.ndarray], victim_lists: np.ndarray | None,
               p: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(reconstruction loss (B,), deviation (B,)); victim lists are computed when not given."""
    k = int(p["dev_k"])
    if victim_lists is None:
        victim_lists = models.victim.topk(Queries(histories), k)
    loss, recon = reconstruct(models.cloze, histories, float(p["mask_prob"]), models.generator)
    return loss, deviation(models.aux, recon, histories, np.asarray(victim_lists), k)
