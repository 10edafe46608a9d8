"""Transformer networks: SASRec (causal, BCE) and BERT4Rec (bidirectional, cloze).

- SASRec: Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018.
- BERT4Rec: Sun et al., "BERT4Rec: Sequential Recommendation with Bidirectional
  Encoder Representations from Transformer", CIKM 2019.

Both score an item as z . W[i] (+ b[i]) with the tied item embeddings W
(``net.ItemTableNet``), so an attack scores only the items it needs.

Shapes: B batch, L sequence length (<= max_len), D hidden, N items, P the
positions that carry a loss term (or that an attack or defense scores).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .net import ItemTableNet, TrainTools, init_weights
from .windows import trim_left


def attention_mask(real: torch.Tensor, causal: bool) -> torch.Tensor:
    """Bool (B, 1, L, L), True = may attend: real keys (earlier or equal ones if causal).

    Every position may attend to itself, so padding rows never see an empty
    row (no NaN); their outputs are never used.
    """
    L = real.size(1)
    allowed = real[:, None, :].expand(-1, L, -1)
    eye = torch.eye(L, dtype=torch.bool, device=real.device)
    if causal:
        allowed = allowed & torch.ones(L, L, dtype=torch.bool, device=real.device).tril()
    return (allowed | eye)[:, None]


class SelfAttention(nn.Module):
    """Multi-head self-attention over (B, L, D) with a boolean mask (B, 1, L, L)."""

    def __init__(self, d: int, heads: int, attn_dropout: float) -> None:
        super().__init__()
        if d % heads:
            raise ValueError(f"hidden size {d} is not divisible by {heads} heads")
        self.heads = heads
        self.attn_dropout = attn_dropout
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        p = self.attn_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # (B, H, L, D/H)
        return self.out(y.transpose(1, 2).reshape(B, L, D))


class Block(nn.Module):
    """Attention + position-wise feed-forward (inner 4D), residuals, LayerNorm before (pre) or after (post)."""

    def __init__(self, d: int, heads: int, dropout: float, attn_dropout: float, pre_norm: bool, activation: str) -> None:
        super().__init__()
        self.pre_norm = pre_norm
        self.attn = SelfAttention(d, heads, attn_dropout)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU() if activation == "gelu" else nn.ReLU(),
                                nn.Dropout(dropout), nn.Linear(4 * d, d))
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.drop(self.attn(self.norm1(x), mask))
            return x + self.drop(self.ff(self.norm2(x)))
        x = self.norm1(x + self.drop(self.attn(x, mask)))
        return self.norm2(x + self.drop(self.ff(x)))


class Encoder(nn.Module):
    """Item + learned position embeddings and a stack of blocks: tokens (B, L) -> (B, L, D).

    Positions count from the right end of the ``max_len`` window (the last
    column is position ``max_len - 1``), so trimming all-padding columns does
    not change the result.
    """

    def __init__(self, vocab: int, d: int, max_len: int, n_blocks: int, heads: int, dropout: float,
                 attn_dropout: float, causal: bool, pre_norm: bool, activation: str) -> None:
        super().__init__()
        self.max_len = max_len
        self.causal = causal
        self.pre_norm = pre_norm
        self.item_emb = nn.Embedding(vocab, d, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, d)
        self.emb_norm = nn.Identity() if pre_norm else nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d, heads, dropout, attn_dropout, pre_norm, activation) for _ in range(n_blocks))
        self.final_norm = nn.LayerNorm(d) if pre_norm else nn.Identity()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        L = tokens.size(1)
        pos = torch.arange(self.max_len - L, self.max_len, device=tokens.device)
        x = self.drop(self.emb_norm(self.item_emb(tokens) + self.pos_emb(pos)[None]))
        mask = attention_mask(tokens > 0, self.causal)
        for blk in self.blocks:
            x = blk(x, mask)
        return self.final_norm(x)


class TransformerNet(ItemTableNet):
    """An ``Encoder`` whose output h at a position gives that position's score vector z = ``vectors(h)``."""

    encoder: Encoder

    def vectors(self, h: torch.Tensor) -> torch.Tensor:
        """Encoder outputs h (..., D) -> score vectors z (..., D)."""
        return h

    def position_vectors(self, inp: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """z (P, D) at the positions ``where`` (bool (B, L)) of the input tokens (B, L), read in one pass
        (GRO's training positions, SAME's masked positions)."""
        return self.vectors(self.encoder(inp)[where])

    def item_embedding(self) -> nn.Embedding:
        return self.encoder.item_emb

    def score_last(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.full_scores(self.last_vectors(tokens))


class SASRecNet(TransformerNet):
    """SASRec: causal pre-LN Transformer, tied item embeddings, BCE with one negative per position.

    Vocabulary N + 1 (0 = padding). Training: for every position t whose input
    is an item, score h_t against the next item (positive) and one item drawn
    uniformly outside the user's training items (negative):
    loss = mean_t [-log sigmoid(h_t.e_pos) - log(1 - sigmoid(h_t.e_neg))].
    Only these 2P dot products are computed, never the whole catalogue.
    Prefix scoring: z = h at the last position, W = the item embeddings; the
    shared pass is the training view (``can_share``, not ``shared_exact``).
    """

    can_share = True

    def __init__(self, n_items: int, hidden: int, max_len: int, n_blocks: int, n_heads: int,
                 dropout: float, attn_dropout: float) -> None:
        super().__init__()
        self.n_items, self.window, self.input_len = n_items, max_len + 1, max_len
        self.encoder = Encoder(n_items + 1, hidden, max_len, n_blocks, n_heads, dropout, attn_dropout,
                               causal=True, pre_norm=True, activation="relu")
        init_weights(self)

    def training_loss(self, tokens: torch.Tensor, users: torch.Tensor, tools: TrainTools) -> tuple[torch.Tensor, int] | None:
        tokens = trim_left(tokens)
        inp, tgt = tokens[:, :-1], tokens[:, 1:]
        real = inp > 0  # left padding: a real input always has a real next item
        if not bool(real.any()):
            return None
        h = self.encoder(inp)[real]  # (P, D)
        pos = tgt[real]
        neg = tools.negatives(users[:, None].expand_as(inp)[real])
        emb = self.encoder.item_emb
        pos_logit = (h * emb(pos)).sum(-1)
        neg_logit = (h * emb(neg)).sum(-1)
        return (F.softplus(-pos_logit) + F.softplus(neg_logit)).float().sum(), len(pos)

    def item_table(self) -> torch.Tensor:
        return self.encoder.item_emb.weight[1:]

    def last_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.encoder(trim_left(tokens))[:, -1]  # (E, D)

    def shared_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.encoder(tokens)


class BERT4RecNet(TransformerNet):
    """BERT4Rec: bidirectional post-LN Transformer trained with the cloze task.

    Vocabulary N + 2 (0 = padding, N + 1 = mask). Each item of a window is
    chosen for prediction with probability ``mask_prob`` (the last item with
    ``mask_prob + 0.1 * (1 - mask_prob)``, as in the DFME reference code), at
    most ``max_predictions`` per window (the most recent ones are kept); a
    chosen item is replaced by the mask token (80%), a random item (10%) or
    kept (10%). Output: GELU(W h) . e_i + b_i with the tied item embeddings,
    softmax cross-entropy over the N items, computed only at the chosen
    positions. Inference appends the mask token to the history and reads its
    output. Prefix scoring: z = GELU(W h), W = the item embeddings, b the
    output bias; no shared pass (bidirectional: every output sees the whole input).
    """

    def __init__(self, n_items: int, hidden: int, max_len: int, n_blocks: int, n_heads: int, dropout: float,
                 attn_dropout: float, mask_prob: float, max_predictions: int) -> None:
        super().__init__()
        self.n_items, self.window, self.input_len = n_items, max_len, max_len
        self.mask_token = n_items + 1
        self.mask_prob, self.max_predictions = mask_prob, max_predictions
        self.encoder = Encoder(n_items + 2, hidden, max_len, n_blocks, n_heads, dropout, attn_dropout,
                               causal=False, pre_norm=False, activation="gelu")
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU())
        self.out_bias = nn.Parameter(torch.zeros(n_items))
        init_weights(self)

    def cloze_positions(self, tokens: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Trimmed windows long (B, L) -> (chosen bool (B, L), r float (B, L) uniform in [0, 1) where chosen).

        One draw from ``g``; ``cloze_input`` then corrupts the chosen items with r (and a second draw).
        """
        real = tokens > 0
        u = torch.rand(tokens.shape, generator=g, device=tokens.device)
        p = torch.full_like(u, self.mask_prob)
        p[:, -1] += 0.1 * (1 - self.mask_prob)
        chosen = real & (u < p)
        from_right = chosen.flip(1).cumsum(1).flip(1)
        chosen &= from_right <= self.max_predictions
        return chosen, u / p  # u / p: uniform in [0, 1) given chosen

    def cloze_input(self, tokens: torch.Tensor, chosen: torch.Tensor, r: torch.Tensor,
                    g: torch.Generator) -> torch.Tensor:
        """The corrupted input long (B, L): a chosen item becomes the mask (r < 0.8), a random item (0.8 <= r < 0.9)
        or stays."""
        rand_items = torch.randint(1, self.n_items + 1, tokens.shape, generator=g, device=tokens.device)
        inp = torch.where(chosen & (r < 0.8), torch.full_like(tokens, self.mask_token), tokens)
        return torch.where(chosen & (r >= 0.8) & (r < 0.9), rand_items, inp)

    def training_loss(self, tokens: torch.Tensor, users: torch.Tensor, tools: TrainTools) -> tuple[torch.Tensor, int] | None:
        tokens = trim_left(tokens)
        chosen, r = self.cloze_positions(tokens, tools.generator)
        if not bool(chosen.any()):
            return None
        inp = self.cloze_input(tokens, chosen, r, tools.generator)
        z = self.position_vectors(inp, chosen)  # (P, D)
        return F.cross_entropy(self.full_scores(z).float(), tokens[chosen] - 1, reduction="sum"), len(z)

    def vectors(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(h)

    def item_table(self) -> torch.Tensor:
        return self.encoder.item_emb.weight[1 : self.n_items + 1]  # padding and mask excluded

    def item_bias(self) -> torch.Tensor:
        return self.out_bias

    def last_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        mask_col = torch.full_like(tokens[:, :1], self.mask_token)
        inp = trim_left(torch.cat([tokens[:, 1:], mask_col], dim=1))
        return self.vectors(self.encoder(inp)[:, -1])
