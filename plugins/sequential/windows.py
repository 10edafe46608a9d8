"""Training windows and the token layouts of the sequential networks.

Token ids inside the networks: 0 = padding, ``item + 1`` for items 0..N-1,
and for BERT4Rec ``N + 1`` = mask. Token matrices are left-padded (the last
item is in the last column), as ``Queries.padded`` builds them; the
recurrent networks right-align them first (``right_align``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch


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
