"""Ranking losses on a victim's lists: DFME's two-margin ranking loss, the bidirectional repair loss,
and the negatives they compare against (model extraction's surrogate training, GRO's student).

- Ranking loss: Yue et al., RecSys 2021 (methods.md section 4). For one
  labelled prefix with surrogate scores s, the victim's list L (best first,
  length K) and K negatives n drawn uniformly outside L:
  ``mean_i max(0, s[L_{i+1}] - s[L_i] + m_topk) + mean_i max(0, s[n_i] - s[L_i] + m_neg)``.
  Means run over every valid pair of the batch (as ``nn.MarginRankingLoss``
  in the reference code), so a batch of equal-length lists gives the mean of
  the per-prefix losses.
- Repair loss: Zhang & Liu, "Few-shot Model Extraction Attacks against
  Sequential Recommender Systems", arXiv 2411.11677 (bidirectional repair;
  the exact form is not public, this follows methods.md section 4): with tau
  the surrogate's K-th best score (detached, history masked), lift the items
  of L missing from the surrogate's top-K above tau, and push the items of the
  surrogate's top-K that the victim did not return below it:
  ``[sum_{i in L \\ S} max(0, tau - s_i + m) + sum_{j in S \\ L} max(0, s_j - tau + m)] / K``
  averaged over prefixes.

Token convention (as inside the sequential nets): item i is token i + 1,
0 is padding; a missing list entry is token 0.

Shapes: P prefixes, K list length, N catalogue size, H history width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Added to history items' scores so they never enter a top-K (finite: keeps gradients NaN-free).
MASKED = -1e9


def _member(sorted_rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Bool (P, M): values[p, m] occurs in sorted_rows[p] (rows sorted ascending)."""
    pos = torch.searchsorted(sorted_rows, values).clamp(max=sorted_rows.size(1) - 1)
    return sorted_rows.gather(1, pos) == values


def sample_negatives(
    list_tokens: torch.Tensor,
    n: int,
    n_items: int,
    generator: torch.Generator,
    exclude: torch.Tensor | None = None,
    rounds: int = 30,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniform negative tokens outside the list, the padding and ``exclude``.

    Args:
        list_tokens: long (P, K) the victim's list as tokens (0 = missing).
        n: negatives per prefix.
        exclude: long (P, H) further tokens to avoid (the prefix's history), 0 = none.

    Returns:
        (negatives long (P, n) in 1..N, valid bool (P, n)). Rejection sampling;
        after ``rounds`` redraws a draw still colliding (only when the list and
        history cover nearly the whole catalogue) is marked invalid, so a
        used negative is never inside the list, the history or the padding.
    """
    forbidden = list_tokens if exclude is None else torch.cat([list_tokens, exclude], dim=1)
    forbidden = forbidden.sort(dim=1).values
    dev = list_tokens.device
    neg = torch.randint(1, n_items + 1, (list_tokens.size(0), n), generator=generator, device=dev)
    hit = _member(forbidden, neg)
    for _ in range(rounds):
        if not bool(hit.any()):
            break
        neg = torch.where(hit, torch.randint(1, n_items + 1, neg.shape, generator=generator, device=dev), neg)
        hit = _member(forbidden, neg)
    return neg, ~hit


def ranking_loss(
    list_scores: torch.Tensor,
    list_valid: torch.Tensor,
    neg_scores: torch.Tensor,
    neg_valid: torch.Tensor,
    margin_topk: float = 0.5,
    margin_neg: float = 0.5,
) -> torch.Tensor:
    """DFME's two-margin ranking loss (see the module docstring).

    Args:
        list_scores: (P, K) surrogate scores of the victim's list, best first.
        list_valid: bool (P, K) which list entries exist.
        neg_scores: (P, K) scores of the negatives, paired with the list by position.
        neg_valid: bool (P, K).
    """
    pair = list_valid[:, :-1] & list_valid[:, 1:]
    t1 = F.relu(list_scores[:, 1:] - list_scores[:, :-1] + margin_topk)
    loss = (t1 * pair).sum() / pair.sum().clamp(min=1)
    k = min(list_scores.size(1), neg_scores.size(1))
    valid = list_valid[:, :k] & neg_valid[:, :k]
    t2 = F.relu(neg_scores[:, :k] - list_scores[:, :k] + margin_neg)
    return loss + (t2 * valid).sum() / valid.sum().clamp(min=1)


def mask_history(full: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
    """full (P, N) scores of items 0..N-1; history long (P, H) tokens (0 = none) -> scores with history at MASKED."""
    mask = torch.zeros_like(full, dtype=torch.bool)
    rows = torch.arange(full.size(0), device=full.device)[:, None].expand_as(history)
    real = history > 0
    mask[rows[real], history[real] - 1] = True
    return full.masked_fill(mask, MASKED)


def repair_loss(full: torch.Tensor, list_tokens: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """Bidirectional repair loss (see the module docstring).

    Args:
        full: (P, N) surrogate scores of every item, history already masked
            (``mask_history``): the victim never returns history items.
        list_tokens: long (P, K) the victim's list as tokens (0 = missing).
    """
    K = list_tokens.size(1)
    top_val, top_idx = full.topk(K, dim=1)  # surrogate top-K, (P, K)
    tau = top_val[:, -1:].detach()
    # a row whose K-th score is masked has fewer than K rankable items: no threshold to repair around
    ranked = tau > MASKED / 2
    victim_sorted = list_tokens.sort(dim=1).values
    extra = ~_member(victim_sorted, top_idx + 1) & (top_val > MASKED / 2) & ranked  # surrogate top-K not returned
    down = (F.relu(top_val - tau + margin) * extra).sum(1)
    s_list = full.gather(1, (list_tokens - 1).clamp(min=0))
    # listed history items (a service that does not exclude history returns them) are masked here, so the
    # surrogate can never rank them: they are not "missing" and add nothing (their masked score would add ~1e9)
    listed = (list_tokens > 0) & (s_list > MASKED / 2)
    missing = listed & ~_member((top_idx + 1).sort(dim=1).values, list_tokens) & ranked
    up = (F.relu(tau - s_list + margin) * missing).sum(1)
    return ((up + down) / K).mean()
