"""The network interface of the sequential recommenders: training loss, serving, prefix scoring.

``SeqNet`` is what the shared trainer (``trainer``), ``SequentialRecommender``
and every attack or defense that works on a sequential net's internals
(model extraction, profile pollution, GRO, SAME) need from a network.
Token conventions: see ``windows``.

Prefix scoring splits a score into a vector z for the prefix and an item
table W (plus a bias b): ``score(prefix, item i) = z . W[i] + b[i]``, so a
loss over a few items per prefix costs a few dot products instead of N.
The generic implementation in ``SeqNet`` works for any net from
``score_last`` alone (z = the score row, W = the identity), only slower;
``ItemTableNet`` is the factorised form the built-in nets implement.

Shapes: B sequences, L columns, E prefixes, D vector size, N items, M items scored per prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from .sampling import NegativeSampler


@dataclass
class TrainTools:
    """Random sources a network's loss may use (all seeded from the RunContext)."""

    generator: torch.Generator
    negatives: NegativeSampler


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
    """What the shared trainer, ``SequentialRecommender`` and the attacks and defenses need from a network.

    A new net implements ``training_loss`` and ``score_last``; the prefix
    scoring methods then work through the generic fallback below, and a net
    overrides them to be faster (see ``ItemTableNet``).

    Attributes:
        n_items: N, the catalogue size.
        window: width of a training window (``max_len + 1`` for next-item
            models: ``max_len`` inputs and their shifted targets).
        input_len: columns of the token matrix ``score_last`` takes (``max_len``).
        prefix_examples: False: the trainer hands over sliding windows of each
            sequence (``build_windows``) and the net computes a loss at every
            position it wants. True: one window per prefix (``every_prefix``),
            and the net computes its loss at the window's last item only.
        can_share: ``shared_vectors`` exists: one pass over a sequence gives
            z for every prefix.
        shared_exact: that pass gives, for every prefix, exactly what
            ``last_vectors`` gives for the prefix on its own (true for the
            recurrent nets; SASRec's shared pass is its training view, where a
            prefix sits at other positions than at inference).
    """

    n_items: int
    window: int
    input_len: int
    prefix_examples: bool = False
    can_share: ClassVar[bool] = False
    shared_exact: ClassVar[bool] = False

    def training_loss(
        self, tokens: torch.Tensor, users: torch.Tensor, tools: TrainTools
    ) -> tuple[torch.Tensor, int] | None:
        """(summed loss, number of loss terms) of a batch of windows; None when there is nothing to learn.

        tokens: long (B, window); users: long (B,). The trainer divides the
        sum by the terms per batch (see ``trainer``).
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

    # -- prefix scoring: z . W[i] (+ b[i]); generic form, z = the score row, W = the identity ----------
    def last_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens long (E, L) left-padded histories -> z (E, D) of each history's last position."""
        return self.score_last(tokens)

    def shared_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens long (B, L) left-padded sequences -> z (B, L, D): column c = the prefix ending at c.

        Only where ``can_share``."""
        raise NotImplementedError(f"{type(self).__name__} has no shared prefix pass")

    def item_scores(self, z: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """z (E, D), items long (E, M) ids 0..N-1 -> scores (E, M)."""
        return z.gather(1, items)

    def full_scores(self, z: torch.Tensor) -> torch.Tensor:
        """z (E, D) -> scores (E, N) of items 0..N-1."""
        return z

    def item_embedding(self) -> nn.Embedding:
        """The input item embedding (tokens 0..N, or N + 1 with a mask token), for gradient-based attacks.

        Generic: the first embedding with N + 1 or N + 2 rows."""
        for m in self.modules():
            if isinstance(m, nn.Embedding) and m.num_embeddings in (self.n_items + 1, self.n_items + 2):
                return m
        raise ValueError(f"{type(self).__name__}: no item embedding found")


class ItemTableNet(SeqNet):
    """A net whose scores factor as z . W[i] + b[i] with an explicit item table W (N, D) and bias b (N,)."""

    def item_table(self) -> torch.Tensor:
        """W float (N, D): row i scores item i."""
        raise NotImplementedError

    def item_bias(self) -> torch.Tensor | None:
        """b float (N,), or None when the scores have no bias."""
        return None

    def item_scores(self, z: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        w = self.item_table()[items]  # (E, M, D)
        s = torch.einsum("ed,emd->em", z, w)
        b = self.item_bias()
        return s if b is None else s + b[items]

    def full_scores(self, z: torch.Tensor) -> torch.Tensor:
        s = z @ self.item_table().T
        b = self.item_bias()
        return s if b is None else s + b
