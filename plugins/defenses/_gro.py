"""GRO's swap-matrix step in closed form (Zhang, Yin, Chen, Long, "Defense Against Model
Extraction Attacks on Recommender Systems", WSDM 2024, arXiv 2310.16335).

For one row r = (b, i) of the batch (a scored position b and a list slot i):

- c_bi = the target's i-th best item (top-k of the target scores t, detached);
- the swap matrix A holds one-hot rows A[b, i, :] = e_{c_bi}, so (A s)_bi = s[b, c_bi]
  are the student's scores of the target's list;
- the student's loss L_S (DFME's two-margin ranking loss, the one the
  extraction attacks train with: ``recsec.plugins.sequential.losses.ranking_loss``)
  is a function of A s and of the negatives' scores;
- A' = one-hot(argmax_j dL_S/dA[b, i, j]). Because A s is linear in A,
  dL_S/dA[b, i, j] = g_bi * s_bj with g = dL_S/d(A s), so
  j*_bi = argmax_j s_bj when g_bi > 0 and argmin_j s_bj when g_bi < 0; rows
  with g_bi = 0 (a pair already outside every margin) carry no signal and are
  masked. No B x k x N tensor is ever built.
- L_swap = mean over all P x k rows of max(0, t[b, c_bi] - t[b, j*_bi]), a
  masked row counting 0: the target is pushed to score the item A' puts in
  slot i at least as high as the item it ranks there now (the reference
  code's ``max(0, (A - A') t)``, averaged over every row as there, so lambda
  has the paper's scale; averaging over the unmasked rows only, as recsec's
  GRO version 1 did, multiplied the weight by 1 / (unmasked fraction), about
  3.4 on Beauty; at lambda = 1 a BERT4Rec on MovieLens 100K stayed at
  validation NDCG@10 0.10 after 43 epochs, against 0.37 without GRO).

Shapes: P scored positions (masked cloze positions for BERT4Rec, real input
positions for SASRec), k list length, N items.
"""

from __future__ import annotations

import torch

from recsec.plugins.sequential.losses import ranking_loss, sample_negatives

from ._gro_config import ZERO_ROWS


def closed_form_swap(g: torch.Tensor, s: torch.Tensor, zero_rows: str = "mask") -> tuple[torch.Tensor, torch.Tensor]:
    """A' from the gradient g = dL_S/d(A s) and the student scores s.

    Args:
        g: (P, k) gradient of the student's loss w.r.t. its scores of the list.
        s: (P, N) the student's scores of every item (the ones L_S was computed with).
        zero_rows: one of ``ZERO_ROWS``.
    Returns:
        (j_star long (P, k): the column of A' in each row; valid bool (P, k): the rows that enter
        L_swap, g != 0 under ``mask``, every row under ``first_item``).
    """
    if zero_rows not in ZERO_ROWS:
        raise ValueError(f"zero_rows must be one of {ZERO_ROWS}, not {zero_rows!r}")
    top = s.argmax(dim=1, keepdim=True)  # (P, 1)
    bottom = s.argmin(dim=1, keepdim=True)  # (P, 1)
    j_star = torch.where(g > 0, top, bottom)  # (P, k)
    if zero_rows == "mask":
        return j_star, g != 0
    j_star = torch.where(g == 0, torch.zeros_like(j_star), j_star)
    return j_star, torch.ones_like(g, dtype=torch.bool)


def swap_loss(t_list: torch.Tensor, t_swap: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """mean over all rows of max(0, t[c] - t[j*]), rows that are not valid counting 0.

    Args:
        t_list: (P, k) the target's scores of its own list c (with gradient).
        t_swap: (P, k) the target's scores of the items j* that A' selects (with gradient).
        valid: bool (P, k) rows that carry a gradient signal.
    """
    diff = torch.relu(t_list - t_swap) * valid
    return diff.sum() / max(diff.numel(), 1)


def student_loss(
    list_scores: torch.Tensor,
    neg_scores: torch.Tensor,
    neg_valid: torch.Tensor,
    margin_topk: float = 0.5,
    margin_neg: float = 0.5,
) -> torch.Tensor:
    """L_S: DFME's two-margin ranking loss on the student's scores of the target's (full) list.

    Args:
        list_scores: (P, k) = A s, the student's scores of c, best first.
        neg_scores: (P, k) the student's scores of k negatives drawn outside c.
        neg_valid: bool (P, k).
    """
    ones = torch.ones_like(list_scores, dtype=torch.bool)
    return ranking_loss(list_scores, ones, neg_scores, neg_valid, margin_topk, margin_neg)


def draw_negatives(c: torch.Tensor, n_items: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """k negatives per row, uniform outside the list c: (item ids long (P, k) in 0..N-1, valid bool (P, k))."""
    neg_tok, ok = sample_negatives(c + 1, c.size(1), n_items, generator)
    return neg_tok - 1, ok
