"""Torch kernels of the latent factor model (``lfm``): mini-batch SGD and batched fold-in.

Kept in a ``_``-prefixed module so that ``import recsec.plugins.recommenders``
does not import torch. Shapes: U = users, N = items, d = latent dimension,
B = batch of examples or queries.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def sgd_epoch(
    P: torch.Tensor,
    Q: torch.Tensor,
    users: torch.Tensor,
    items: torch.Tensor,
    labels: torch.Tensor,
    *,
    lr: float,
    reg: float,
    batch_size: int,
) -> float:
    """One pass of mini-batch SGD on the squared loss, updating ``P`` and ``Q`` in place.

    Per example (u, i, y) the loss is ``0.5 * (y - p_u . q_i)^2 + 0.5 * reg * (|p_u|^2 + |q_i|^2)``,
    the classic LFM update ``p_u += lr * (e q_i - reg p_u)`` (and symmetrically for q_i).
    Within a mini-batch the per-example gradients are summed into the rows with
    ``index_add_`` (one step per batch, as if the examples had been processed at
    once), so the per-example step size stays ``lr`` whatever the batch size.

    Args:
        P: (U, d) user factors; Q: (N, d) item factors (same device).
        users, items: int64 (E,) example indices, already shuffled.
        labels: float (E,) targets (1 for an interaction, 0 for a sampled negative).
    Returns:
        The mean squared error ``(y - p.q)^2`` over the epoch (before each batch's update).
    """
    total = torch.zeros((), dtype=P.dtype, device=P.device)
    n = int(users.shape[0])
    for start in range(0, n, batch_size):
        u = users[start : start + batch_size]
        i = items[start : start + batch_size]
        y = labels[start : start + batch_size]
        pu = P.index_select(0, u)  # (b, d)
        qi = Q.index_select(0, i)  # (b, d)
        err = y - (pu * qi).sum(dim=1)  # (b,)
        total += (err * err).sum()
        e = err.unsqueeze(1)
        P.index_add_(0, u, e * qi - reg * pu, alpha=lr)
        Q.index_add_(0, i, e * pu - reg * qi, alpha=lr)
    return float(total) / max(n, 1)


def negative_gram(Q: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """``G = sum_j probs_j q_j q_j^T``: the expected outer product of a sampled negative, (d, d)."""
    return (Q * probs.unsqueeze(1)).T @ Q


def padded_histories(histories: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded (B, L) item matrix and (B, L) bool mask, built without a per-row loop."""
    lens = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    width = int(lens.max()) if len(lens) else 0
    items = np.zeros((len(histories), max(width, 1)), dtype=np.int64)
    mask = np.zeros_like(items, dtype=bool)
    if lens.sum():
        rows = np.repeat(np.arange(len(histories)), lens)
        starts = np.cumsum(lens) - lens
        cols = np.arange(int(lens.sum())) - np.repeat(starts, lens)
        items[rows, cols] = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories])
        mask[rows, cols] = True
    return items, mask


def fold_in(
    Q: torch.Tensor,
    G: torch.Tensor,
    probs: torch.Tensor,
    histories: Sequence[np.ndarray],
    *,
    neg_ratio: float,
    reg: float,
    max_elements: int = 1 << 17,
) -> torch.Tensor:
    """Closed-form user factors for unseen users against frozen item factors.

    Solves, for each history H (n = |H| items), the regularised least squares
    problem whose gradient is the expected SGD update of a training epoch
    (``neg_ratio`` negatives drawn from ``probs`` per positive, the draws that
    hit H dropped, ``reg`` applied once per example):

        min_p  sum_{i in H} (1 - p.q_i)^2 + r n sum_{j not in H} probs_j (p.q_j)^2
               + reg n (1 + r (1 - probs(H))) |p|^2

    i.e. ``(Q_H^T Q_H + r n (G - G_H) + reg n (1 + r (1 - probs(H))) I) p = Q_H^T 1``
    with ``G = sum_j probs_j q_j q_j^T`` and ``G_H`` the same sum over H. A
    trained user's factors are (up to SGD noise) the solution of the same
    problem. Histories are processed in chunks of similar length so that the
    padded (b, L, d) tensor stays below ``max_elements * d`` entries.

    Args:
        Q: (N, d) item factors; G: (d, d) from ``negative_gram``; probs: (N,)
            the negative-sampling distribution.
        histories: B item-id arrays without duplicates. An empty history gives p = 0.
    Returns:
        (B, d) user factors on Q's device.
    """
    d = Q.shape[1]
    B = len(histories)
    out = torch.zeros((B, d), dtype=Q.dtype, device=Q.device)
    lens = np.fromiter((len(h) for h in histories), dtype=np.int64, count=B)
    order = np.argsort(lens, kind="stable")
    eye = torch.eye(d, dtype=Q.dtype, device=Q.device)
    start = 0
    while start < B:
        stop = start + 1
        while stop < B and (stop + 1 - start) * max(int(lens[order[stop]]), 1) <= max_elements:
            stop += 1
        idx = order[start:stop]
        start = stop
        if lens[idx].max() == 0:
            continue
        items, mask = padded_histories([histories[j] for j in idx])
        it = torch.as_tensor(items, device=Q.device)
        m = torch.as_tensor(mask, device=Q.device, dtype=Q.dtype).unsqueeze(2)  # (b, L, 1)
        QH = Q[it] * m  # (b, L, d)
        pH = probs[it] * m.squeeze(2)  # (b, L)
        n = torch.as_tensor(lens[idx], device=Q.device, dtype=Q.dtype).view(-1, 1, 1)
        GH = (QH * pH.unsqueeze(2)).transpose(1, 2) @ QH  # (b, d, d)
        shrink = reg * n * (1.0 + neg_ratio * (1.0 - pH.sum(dim=1).view(-1, 1, 1)))
        A = QH.transpose(1, 2) @ QH + neg_ratio * n * (G - GH) + (shrink + 1e-6) * eye
        b = QH.sum(dim=1).unsqueeze(2)  # (b, d, 1)
        out[torch.as_tensor(idx, device=Q.device)] = torch.linalg.solve(A, b).squeeze(2)
    return out
