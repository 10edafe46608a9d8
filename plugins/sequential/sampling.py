"""Seeded negative items for training: uniform tokens outside each user's training items.

Tokens as inside the networks (``windows``): item i is token i + 1.
"""

from __future__ import annotations

import numpy as np
import torch


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
