"""Training windows, negative sampling and the network interface of the sequential models.

Token ids inside the networks: 0 = padding, ``item + 1`` for items 0..N-1,
and for BERT4Rec ``N + 1`` = mask. Token matrices are left-padded (the last
item is in the last column), as ``Queries.padded`` builds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class TrainWindows:
    """Training sequences cut to a fixed width.

    Attributes:
        tokens: int64 (n_windows, width), left-padded with 0, ids shifted by +1.
        users: int64 (n_windows,) the dense user id each window comes from.
    """

    tokens: np.ndarray
    users: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


def build_windows(sequences: Sequence[np.ndarray], width: int, step: int, min_len: int = 2,
                  every_prefix: bool = False) -> TrainWindows:
    """Cut each user's sequence into windows of at most ``width`` items.

    A sequence no longer than ``width`` is one window. A longer one gives the
    windows ending at its last item, then ``step`` items earlier, and so on,
    plus the window at its start, so every item is covered (the reference's
    sliding window of ``0.5 * max_len`` can drop the oldest items).
    Sequences shorter than ``min_len`` carry no target and are skipped.

    ``every_prefix``: instead, one window per prefix of at least ``min_len``
    items, ending at that prefix's last item (its target) and holding at most
    ``width`` items: the training examples of the DFME reference's RNN loader,
    where each (history, next item) pair is its own example (``step`` unused).
    """
    if width < 2 or step < 1:
        raise ValueError("width must be >= 2 and step >= 1")
    rows: list[np.ndarray] = []
    users: list[int] = []
    for u, seq in enumerate(sequences):
        n = len(seq)
        if n < min_len:
            continue
        if every_prefix:
            for end in range(min_len, n + 1):
                rows.append(np.asarray(seq[max(0, end - width) : end]))
                users.append(u)
            continue
        if n <= width:
            starts = [0]
        else:
            starts = list(range(n - width, 0, -step)) + [0]
        for s in starts:
            rows.append(np.asarray(seq[s : s + width]))
            users.append(u)
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, width - len(r) :] = r + 1
    return TrainWindows(out, np.asarray(users, dtype=np.int64))


def user_item_keys(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """Sorted unique keys ``user * (N + 1) + item + 1`` (the token id), for membership tests."""
    return np.unique(np.asarray(users, np.int64) * (n_items + 1) + np.asarray(items, np.int64) + 1)


class NegativeSampler:
    """Uniform item tokens 1..N outside the user's training items (seeded, on the device).

    Rejection sampling against the sorted keys of ``user_item_keys``; after
    ``rounds`` redraws a few collisions may remain (only when a user has
    nearly every item).
    """

    def __init__(self, keys: torch.Tensor, n_items: int, generator: torch.Generator, rounds: int = 20) -> None:
        self.keys = keys
        self.n_items = n_items
        self.generator = generator
        self.rounds = rounds

    def _draw(self, shape: torch.Size, device: torch.device) -> torch.Tensor:
        return torch.randint(1, self.n_items + 1, shape, generator=self.generator, device=device)

    def __call__(self, users: torch.Tensor) -> torch.Tensor:
        """users: long (P,) -> long (P,) negative tokens."""
        neg = self._draw(users.shape, users.device)
        if len(self.keys) == 0:
            return neg
        for _ in range(self.rounds):
            key = users * (self.n_items + 1) + neg
            pos = torch.searchsorted(self.keys, key).clamp(max=len(self.keys) - 1)
            hit = self.keys[pos] == key
            if not bool(hit.any()):
                break
            neg = torch.where(hit, self._draw(users.shape, users.device), neg)
        return neg


@dataclass
class TrainTools:
    """Random sources a network's loss may use (all seeded from the RunContext)."""

    generator: torch.Generator
    negatives: NegativeSampler


def trim_left(tokens: torch.Tensor) -> torch.Tensor:
    """Drop the leading columns that are padding in every row (left-padded input), keep >= 1."""
    n = int((tokens > 0).sum(1).max().item()) if tokens.numel() else 0
    return tokens[:, tokens.size(1) - max(n, 1) :]


def right_align(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded (B, L) -> (right-padded (B, L), lengths (B,)); for recurrent models."""
    L = tokens.size(1)
    n = (tokens > 0).sum(1)
    idx = (torch.arange(L, device=tokens.device)[None, :] + (L - n)[:, None]) % L
    return tokens.gather(1, idx), n


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """Truncated normal (std 0.02, cut at 2 std) for linear and embedding weights, zero biases (BERT)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class SeqNet(nn.Module):
    """What the shared trainer and ``SequentialRecommender`` need from a network.

    Attributes:
        n_items: N, the catalogue size.
        window: width of a training window (``max_len + 1`` for next-item
            models: ``max_len`` inputs and their shifted targets).
        input_len: columns of the token matrix ``score_last`` takes (``max_len``).
        prefix_examples: False: the trainer hands over sliding windows of each
            sequence (``build_windows``) and the net computes a loss at every
            position it wants. True: one window per prefix (``every_prefix``),
            and the net computes its loss at the window's last item only.
    """

    n_items: int
    window: int
    input_len: int
    prefix_examples: bool = False

    def training_loss(
        self, tokens: torch.Tensor, users: torch.Tensor, tools: TrainTools
    ) -> tuple[torch.Tensor, int] | None:
        """(summed loss, number of loss terms) of a batch of windows; None when there is nothing to learn.

        tokens: long (B, window); users: long (B,). The trainer divides the
        sum by the terms per batch (see ``_seq_train``).
        """
        raise NotImplementedError

    def score_last(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens long (B, input_len) left-padded histories -> scores (B, N) of items 0..N-1."""
        raise NotImplementedError

    def training_state(self) -> dict[str, Any]:
        """What a resumed training needs beyond ``state_dict()`` and the trainer's own state
        (GRO's student and its optimizer); saved with the training state after every epoch."""
        return {}

    def load_training_state(self, state: dict[str, Any]) -> None:
        """Restore what ``training_state`` returned, when a killed or stopped training resumes."""
