"""Few-shot extraction data: real sequences, a next-item sampler, a gate, gated autoregressive generation.

Zhang & Liu, "Few-shot Model Extraction Attacks against Sequential
Recommender Systems", arXiv 2411.11677. The attacker holds a small fraction
of real user sequences. Choices made here where the paper's description is
not specific (each is a parameter of ``fewshot-extraction``):

- Real data: the training sequences of a seeded ``real_fraction`` of the
  users with >= 2 training items, granted by the arena
  (``ctx.knowledge.real_sequences()``: training events only, never valid/test
  items), each cut to its last ``max_len`` items. Every prefix of a real
  sequence is labelled by the black box (capped at ``real_query_share`` of the
  query budget; sequences are taken in seeded order, the last one cut).
- Probabilistic interaction sampler: a small next-item model (``sampler``:
  SASRec, self-attention as in the paper, GRU4Rec, or any other registered
  sequential recommender), trained on the real
  sequences for ``sampler_epochs`` with recsec's own trainer (no validation).
  Its next-item distribution is softmax(scores / ``temperature``) with the
  prefix's items removed (the victim never returns them either).
- Synthesis determinant signal: a sigmoid gate
  ``pi = sigmoid(w . [1, log p(L), H(p) / log N, log(1 + t)])`` with
  p(L) the sampler's mass on the victim's list L for the prefix, H(p) its
  entropy and t the prefix length. w is fitted (logistic regression, L2) on
  the labelled real prefixes to predict whether the real next item lies in
  L, i.e. whether a real user follows the black box's recommendation here.
  ``gate="fixed"`` uses the constant ``gate_value`` instead.
  (Limitation: the features are computed in-sample, the sampler was trained
  on the same real sequences.)
- Generation: first item drawn from the real item frequencies; at each step,
  with probability pi the next item comes from L (weighted by the sampler's
  probabilities, ``list_pick="sampler"``, or uniformly as DFME,
  ``"uniform"``), else from the sampler. Lengths follow the real length
  distribution (``gen_length=0``) or are fixed.

Shapes: b rows, N items, K list length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from recsec.context import AttackContext, RunContext
from recsec.data import EvalSet, Interactions, Split
from recsec.plugins.sequential.architectures import create_sequential
from recsec.queries import Queries

from ._extraction_data import FirstFn, LabelledSet, NextFn, label_sequences

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import BlackBoxAPI
    from recsec.plugins.sequential.base import SequentialRecommender


def train_sampler(real: list[np.ndarray], n_items: int, arch: str, epochs: int, max_len: int,
                  ctx: AttackContext) -> "SequentialRecommender":
    """Fit the probabilistic interaction sampler ``arch`` (a registered sequential recommender, named as the
    ``sampler`` parameter is) on the real sequences (seeded by ``seed_for("sampler")``)."""
    rec = create_sequential(arch, "sampler", max_epochs=epochs, patience=0, max_len=max_len)
    lens = np.asarray([len(s) for s in real])
    users = np.repeat(np.arange(len(real)), lens)
    pos = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    data = Interactions(users=users.astype(np.int64), items=np.concatenate(real).astype(np.int64),
                        n_users=len(real), n_items=n_items, timestamps=pos.astype(np.int64))
    empty = EvalSet(np.zeros(0, np.int64), [], np.zeros(0, np.int64))
    rctx = RunContext(seed=ctx.seed_for("sampler"), device=ctx.device, log=ctx.log)
    rec.to(ctx.device)
    rec.fit(Split(train=data, valid=empty, test=empty, key="fewshot"), rctx)
    return rec


def sampler_probs(sampler: "SequentialRecommender", prefixes: list[np.ndarray], temperature: float) -> np.ndarray:
    """float64 (b, N): softmax(scores / temperature) without the prefix's own items."""
    q = Queries.of(prefixes)
    with torch.no_grad():
        s = sampler.score(q).float() / temperature
        rows, cols = q.history_mask_indices()
        if len(rows):
            s[torch.as_tensor(rows, device=s.device), torch.as_tensor(cols, device=s.device)] = -torch.inf
        return torch.softmax(s, dim=1).double().cpu().numpy()


def gate_features(p: np.ndarray, lists: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(b, 4): [1, log mass on the list, normalised entropy, log(1 + prefix length)]."""
    valid = lists >= 0
    mass = np.where(valid, np.take_along_axis(p, np.clip(lists, 0, None), axis=1), 0.0).sum(1)
    ent = -(p * np.log(np.clip(p, 1e-300, None))).sum(1) / np.log(p.shape[1])
    return np.stack([np.ones(len(p)), np.log(np.clip(mass, 1e-12, None)), ent, np.log1p(t + 1.0)], axis=1)


def fit_gate(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 50) -> np.ndarray:
    """Logistic regression weights (4,) by Newton's method; constant gate at the base rate if y is one-class."""
    rate = float(np.clip(y.mean() if len(y) else 0.5, 1e-3, 1 - 1e-3))
    w = np.zeros(x.shape[1])
    w[0] = np.log(rate / (1 - rate))
    if len(y) == 0 or y.all() or (~y.astype(bool)).all():
        return w
    for _ in range(iters):
        pr = 1 / (1 + np.exp(-x @ w))
        grad = x.T @ (pr - y) / len(y) + l2 * np.r_[0.0, w[1:]]
        hess = (x * (pr * (1 - pr))[:, None]).T @ x / len(y) + l2 * np.diag(np.r_[0.0, np.ones(len(w) - 1)])
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(w)), grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def gate_training_data(sampler: "SequentialRecommender", real: LabelledSet, temperature: float,
                       batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (next real item in the victim's list) of every labelled real prefix with a next item."""
    xs, ys = [], []
    s_all = np.repeat(np.arange(len(real)), np.maximum(real.lengths - 1, 0))
    t_all = np.concatenate([np.arange(max(n - 1, 0)) for n in real.lengths]) if len(real) else np.zeros(0, np.int64)
    for a in range(0, len(s_all), batch):
        s, t = s_all[a : a + batch], t_all[a : a + batch]
        p = sampler_probs(sampler, [real.seqs[i, : j + 1] for i, j in zip(s, t)], temperature)
        lists = real.lists[s, t].astype(np.int64)
        xs.append(gate_features(p, lists, t))
        ys.append((lists == real.seqs[s, t + 1][:, None]).any(1).astype(np.float64))
    if not xs:
        return np.zeros((0, 4)), np.zeros(0)
    return np.concatenate(xs), np.concatenate(ys)


def _draw(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of the non-negative weights p (b, M) -> column indices (b,)."""
    cdf = np.cumsum(p, axis=1)
    r = rng.random(len(p)) * cdf[:, -1]
    return np.minimum((cdf <= r[:, None]).sum(1), p.shape[1] - 1)


def gated_rule(sampler: "SequentialRecommender", w: np.ndarray | None, p: dict[str, Any], first_weights: np.ndarray,
               rng: np.random.Generator, counts: dict[str, int]) -> tuple[FirstFn, NextFn]:
    """The few-shot generation rule; ``w`` None = fixed gate ``p["gate_value"]``. Updates ``counts``."""

    def first(rows: np.ndarray) -> np.ndarray:
        return rng.choice(len(first_weights), size=len(rows), p=first_weights)

    def nxt(rows: np.ndarray, prefixes: np.ndarray, answers: np.ndarray, t: int) -> np.ndarray:
        probs = sampler_probs(sampler, list(prefixes), p["temperature"])
        if w is None:
            pi = np.full(len(rows), p["gate_value"])
        else:
            x = gate_features(probs, answers, np.full(len(rows), t))
            pi = 1 / (1 + np.exp(-x @ w))
        use_list = rng.random(len(rows)) < pi
        out = _draw(probs, rng)
        if use_list.any():
            ans = answers[use_list]
            if p["list_pick"] == "sampler":
                wts = np.take_along_axis(probs[use_list], np.clip(ans, 0, None), axis=1) * (ans >= 0) + 1e-12 * (ans >= 0)
            else:
                wts = (ans >= 0).astype(np.float64)
            out[use_list] = ans[np.arange(len(ans)), _draw(wts, rng)]
        counts["from_list"] += int(use_list.sum())
        counts["steps"] += len(rows)
        return out

    return first, nxt


def collect_real(api: "BlackBoxAPI", real: list[np.ndarray], share: float, rng: np.random.Generator,
                 batch: int) -> LabelledSet:
    """Label every prefix of the real sequences, within ``share`` of the remaining budget (seeded order)."""
    order = [real[i] for i in rng.permutation(len(real))]
    if api.remaining is not None:
        cap = int(np.floor(share * api.remaining))
        cum = np.cumsum([len(s) for s in order])
        n = int(np.searchsorted(cum, cap, side="right"))
        left = cap - (int(cum[n - 1]) if n else 0)
        order = order[:n] + ([order[n][:left]] if n < len(order) and left >= 1 else [])
    return label_sequences(api, order, batch)
