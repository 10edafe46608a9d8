"""Torch parts of the ``fism`` recommender: the network, the per-user batches and the training loop.

Kabbur, Ning, Karypis, "FISM: Factored Item Similarity Models for Top-N Recommender
Systems", KDD 2013 (FISMrmse). Shapes: B users in a batch, L history items (padded), C
candidate items (positives then negatives, padded), N items, d factors. Index N is padding.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from ._mf import padded_histories

#: ``private(module, optimizer, loader) -> (module, optimizer, loader)``: wraps training (DP-SGD).
Privatizer = Callable[[nn.Module, torch.optim.Optimizer, torch.utils.data.DataLoader],
                      tuple[nn.Module, torch.optim.Optimizer, torch.utils.data.DataLoader]]


class FISMNet(nn.Module):
    """score(h, j) = b_j + |h \\ {j}|^-alpha * sum_{i in h, i != j} w_i . q_j: no user parameters,
    every user (member or not) is scored from its history by the same item tables."""

    def __init__(self, n_items: int, dim: int, alpha: float, init_std: float) -> None:
        super().__init__()
        self.n_items, self.alpha = n_items, alpha
        self.W = nn.Embedding(n_items + 1, dim)  # history-side item factors (row N: padding)
        self.Q = nn.Embedding(n_items + 1, dim)  # candidate-side item factors
        self.b = nn.Embedding(n_items + 1, 1)  # item bias
        for emb in (self.W, self.Q):
            nn.init.normal_(emb.weight, std=init_std)
        nn.init.zeros_(self.b.weight)

    def forward(self, hist: torch.Tensor, hmask: torch.Tensor, cand: torch.Tensor, in_hist: torch.Tensor) -> torch.Tensor:
        """Scores (B, C) of the candidates; a candidate in the history is scored without itself (FISM)."""
        S = (self.W(hist) * hmask.unsqueeze(2)).sum(dim=1)  # (B, d)
        n = hmask.sum(dim=1, keepdim=True)  # (B, 1)
        own = self.W(cand) * in_hist.unsqueeze(2)  # (B, C, d): subtract w_j where j is in h
        size = (n - in_hist).clamp_min(1.0)  # (B, C)
        user = (S.unsqueeze(1) - own) / size.pow(self.alpha).unsqueeze(2)
        return (user * self.Q(cand)).sum(dim=2) + self.b(cand).squeeze(2)


def user_batch(users: np.ndarray, seqs: list[np.ndarray], n_items: int, neg_ratio: int, max_items: int,
               rng: np.random.Generator, device: torch.device) -> tuple[torch.Tensor, ...]:
    """(hist, hmask, cand, in_hist, labels, cmask) for one batch of training users.

    A user's positives are its items (at most ``max_items``, a fresh random subset each time);
    its negatives ``neg_ratio`` per positive, uniform over the catalogue (data-independent, as
    DP-SGD needs), draws that hit the history masked out.
    """
    hists, cands, labels = [], [], []
    for u in users:
        h = seqs[int(u)]
        if len(h) > max_items:
            h = rng.choice(h, max_items, replace=False)
        neg = rng.integers(0, n_items, size=neg_ratio * len(h))
        neg = neg[~np.isin(neg, seqs[int(u)])]
        hists.append(h)
        cands.append(np.concatenate([h, neg]))
        labels.append(np.r_[np.ones(len(h)), np.zeros(len(neg))])
    hist, hmask = padded_histories(hists)
    cand, cmask = padded_histories(cands)
    hist[~hmask], cand[~cmask] = n_items, n_items
    lab = np.zeros(cand.shape, dtype=np.float32)
    in_hist = np.zeros(cand.shape, dtype=np.float32)
    for r, y in enumerate(labels):
        lab[r, : len(y)] = y
        in_hist[r, : len(y)] = y  # positives are the history items
    t = lambda a, dt: torch.as_tensor(a, dtype=dt, device=device)  # noqa: E731
    return (t(hist, torch.int64), t(hmask, torch.float32), t(cand, torch.int64), t(in_hist, torch.float32),
            t(lab, torch.float32), t(cmask, torch.float32))


def train_fism(net: FISMNet, seqs: list[np.ndarray], users: np.ndarray, *, optimizer: str, lr: float, weight_decay: float,
               epochs: int, batch_size: int, neg_ratio: int, max_items: int, seed: int, device: torch.device,
               private: Privatizer | None = None) -> list[float]:
    """FISMrmse by Adam (or SGD with momentum 0.9) on the squared error of positives (1) and sampled negatives (0), one
    sample = one user (its loss: the sum over its candidates), so a DP-SGD ``private`` wrapper
    clips and noises per user: user-level privacy. Returns the mean squared error per entry and epoch."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.as_tensor(users)), batch_size=batch_size,
                                         shuffle=True, generator=gen)
    opt: torch.optim.Optimizer = (torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay) if optimizer == "adam"
                                  else torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay))
    module: nn.Module = net
    if private is not None:
        module, opt, loader = private(net, opt, loader)
    rng = np.random.default_rng(seed)
    losses = []
    module.train()
    for _ in range(epochs):
        total, count = 0.0, 0
        for (batch,) in loader:
            hist, hmask, cand, in_hist, lab, cmask = user_batch(batch.numpy(), seqs, net.n_items, neg_ratio, max_items,
                                                                rng, device)
            opt.zero_grad()
            err = (module(hist, hmask, cand, in_hist) - lab) ** 2 * cmask
            # FISMrmse sums the squared errors of a user's entries: that sum is one sample's loss,
            # so its gradient (not a per-entry average) is what DP-SGD clips per user.
            per_user = err.sum(dim=1)
            # An empty Poisson batch still takes its (pure-noise) step: skipping it would depend on the data.
            loss = per_user.mean() if len(per_user) else per_user.sum()
            loss.backward()
            opt.step()
            total, count = total + float(err.detach().sum()), count + float(cmask.sum())
        losses.append(total / max(count, 1))
    module.eval()
    return losses


def fism_scores(net: FISMNet, histories: list[np.ndarray]) -> torch.Tensor:
    """(B, N) scores of every item for each history (the candidate side of ``FISMNet.forward``)."""
    dev = net.W.weight.device
    items, mask = padded_histories(histories)
    items[~mask] = net.n_items
    h = torch.as_tensor(items, device=dev)
    m = torch.as_tensor(mask, dtype=torch.float32, device=dev)
    S = (net.W(h) * m.unsqueeze(2)).sum(dim=1)
    user = S / m.sum(dim=1, keepdim=True).clamp_min(1.0).pow(net.alpha)
    return user @ net.Q.weight[: net.n_items].T + net.b.weight[: net.n_items, 0]
