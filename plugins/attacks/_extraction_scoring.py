"""Differentiable prefix scoring of recsec's sequential nets, scoring only the items a loss needs.

Built on the public pieces of ``recsec.plugins.recommenders`` (the nets'
submodules); it reproduces ``SeqNet.score_last`` exactly (tests check it) but
splits it into a prefix vector z and an item table W (plus bias b):
``score(prefix, item i) = z . W[i] + b[i]``. A loss over the victim's list and
K negatives then costs 2K dot products per prefix instead of N.

Two ways to get z for the prefixes of a sequence:
- ``last``: each prefix is its own left-padded input (the inference
  condition of ``score_last``); any net.
- ``shared``: one pass over the whole sequence yields z for every prefix.
  Exact for the recurrent nets (NARM, GRU4Rec: a prefix's state does not
  depend on later items, and their inputs are right-aligned); for SASRec it
  is SASRec's own training view (causal, but a prefix sits at other
  positions than at inference); impossible for BERT4Rec (bidirectional).

Unknown nets fall back to ``score_last`` (z is then the (N,) score row and
W the identity), so any ``SeqNet`` works, only slower.

Shapes: B sequences, L columns (left-padded tokens, item i = token i + 1),
E prefixes, D vector size, N items, M items scored per prefix.
"""

from __future__ import annotations

import torch
from torch import nn

from recsec.plugins.recommenders._seq_core import right_align, trim_left


def _from_aligned(z: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """Right-aligned per-row outputs (B, L, D) -> the columns of the left-padded input."""
    L = z.size(1)
    idx = (torch.arange(L, device=z.device)[None, :] - (L - n)[:, None]) % L
    return z.gather(1, idx[..., None].expand(-1, -1, z.size(2)))


class Scorer:
    """Generic: z = ``score_last`` rows, W = identity (no shared pass)."""

    shared_exact = False
    can_share = False

    def __init__(self, net: nn.Module) -> None:
        self.net = net
        self.n_items = int(net.n_items)
        self.input_len = int(net.input_len)

    def last(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens long (E, L) left-padded histories -> z (E, D)."""
        return self.net.score_last(tokens)

    def shared(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens long (B, L) left-padded sequences -> z (B, L, D): column c = the prefix ending at c."""
        raise NotImplementedError(f"{type(self.net).__name__} has no shared prefix pass")

    def item_scores(self, z: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """z (E, D), items long (E, M) ids 0..N-1 -> scores (E, M)."""
        return z.gather(1, items)

    def full_scores(self, z: torch.Tensor) -> torch.Tensor:
        """z (E, D) -> scores (E, N)."""
        return z

    def item_embedding(self) -> nn.Embedding:
        """The input item embedding (tokens 0..N[+1]); for gradient-based attacks."""
        for m in self.net.modules():
            if isinstance(m, nn.Embedding) and m.num_embeddings in (self.n_items + 1, self.n_items + 2):
                return m
        raise ValueError(f"{type(self.net).__name__}: no item embedding found")


class _TableScorer(Scorer):
    """z . W[i] + b[i] with an explicit item table."""

    def table(self) -> torch.Tensor:  # (N, D)
        raise NotImplementedError

    def bias(self) -> torch.Tensor | None:  # (N,)
        return None

    def item_scores(self, z: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        w = self.table()[items]  # (E, M, D)
        s = torch.einsum("ed,emd->em", z, w)
        b = self.bias()
        return s if b is None else s + b[items]

    def full_scores(self, z: torch.Tensor) -> torch.Tensor:
        s = z @ self.table().T
        b = self.bias()
        return s if b is None else s + b


class SASRecScorer(_TableScorer):
    can_share = True

    def table(self) -> torch.Tensor:
        return self.net.encoder.item_emb.weight[1:]

    def last(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.net.encoder(trim_left(tokens))[:, -1]

    def shared(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.net.encoder(tokens)


class BERT4RecScorer(_TableScorer):
    def table(self) -> torch.Tensor:
        return self.net.encoder.item_emb.weight[1 : self.n_items + 1]

    def bias(self) -> torch.Tensor:
        return self.net.out_bias

    def last(self, tokens: torch.Tensor) -> torch.Tensor:
        mask_col = torch.full_like(tokens[:, :1], self.net.mask_token)
        inp = trim_left(torch.cat([tokens[:, 1:], mask_col], dim=1))
        return self.net.head(self.net.encoder(inp)[:, -1])


class _RecurrentScorer(_TableScorer):
    can_share = True
    shared_exact = True

    def _aligned_vectors(self, aligned: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def shared(self, tokens: torch.Tensor) -> torch.Tensor:
        aligned, n = right_align(tokens)
        return _from_aligned(self._aligned_vectors(aligned), n)

    def last(self, tokens: torch.Tensor) -> torch.Tensor:
        aligned, n = right_align(trim_left(tokens))
        z = self._aligned_vectors(aligned)
        return z[torch.arange(len(z), device=z.device), (n - 1).clamp(min=0)]


class NARMScorer(_RecurrentScorer):
    """NARM: z_t = B [c_g; c_l] for every prefix end t, from one GRU pass (see NARMNet)."""

    def table(self) -> torch.Tensor:
        return self.net.item_emb.weight[1:]

    def _aligned_vectors(self, aligned: torch.Tensor) -> torch.Tensor:
        net = self.net
        states, _ = net.gru(net.emb_drop(net.item_emb(aligned)))  # (B, L, H)
        q = net.a_global(states)  # (B, L, H) query of the prefix ending at t
        k = net.a_local(states)  # (B, L, H)
        L = aligned.size(1)
        upto = torch.ones(L, L, dtype=torch.bool, device=aligned.device).tril()
        e = net.attention_weights(q[:, :, None, :] + k[:, None, :, :], upto)  # (B, L_t, L_j)
        c_l = e @ states  # (B, L, H)
        return net.decoder(net.ct_drop(torch.cat([states, c_l], dim=-1)))


class GRU4RecScorer(_RecurrentScorer):
    def table(self) -> torch.Tensor:
        return self.net.out.weight

    def bias(self) -> torch.Tensor:
        return self.net.out.bias

    def _aligned_vectors(self, aligned: torch.Tensor) -> torch.Tensor:
        states, _ = self.net.gru(self.net.drop(self.net.item_emb(aligned)))
        return self.net.drop(states)


def scorer_for(net: nn.Module) -> Scorer:
    """The most efficient scorer for ``net`` (generic fallback for unknown networks)."""
    from recsec.plugins.recommenders._seq_rnn import GRU4RecNet, NARMNet
    from recsec.plugins.recommenders._seq_transformer import BERT4RecNet, SASRecNet

    for cls, scorer in ((SASRecNet, SASRecScorer), (BERT4RecNet, BERT4RecScorer), (NARMNet, NARMScorer), (GRU4RecNet, GRU4RecScorer)):
        if type(net) is cls:
            return scorer(net)
    return Scorer(net)
