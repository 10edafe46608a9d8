"""Recurrent networks: NARM and GRU4Rec, trained with cross-entropy on every prefix.

- NARM: Li et al., "Neural Attentive Session-based Recommendation", CIKM 2017.
- GRU4Rec: Hidasi et al., "Session-based Recommendations with Recurrent Neural
  Networks", ICLR 2016.

Inputs arrive left-padded; they are right-aligned first so that the GRU reads
items from the first column on and padding never enters its state. One pass
over a window yields the state after every prefix, so "every prefix is a
training example" costs one GRU pass per window, and the loss is computed
only at the P positions that have a next item. With ``examples="prefixes"``
the trainer instead hands over one window per prefix (the DFME reference's
RNN loader: each history is its own example, with its own dropout mask, and
an epoch takes about nine times as many optimizer steps on Beauty), and the
loss is computed at each window's last position only.

Prefix scoring (``net.ItemTableNet``): the state after a prefix does not
depend on later items and the inputs are right-aligned, so one pass over a
sequence gives the exact score vector of every prefix (``shared_exact``).

Shapes: B batch, L length, D embedding size, H GRU size, N items, P prefixes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .net import ItemTableNet, TrainTools, init_weights
from .windows import right_align, trim_left


def _prefix_targets(tokens: torch.Tensor, last_only: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Windows (B, W) left-padded -> (inputs (B, L) right-aligned, rows (P,), cols (P,), targets (P,)).

    Every position with a next item, or with ``last_only`` only the one whose next item is the window's last.
    """
    aligned, n = right_align(tokens)
    L = max(int(n.max().item()) - 1, 1)
    inp, tgt = aligned[:, :L], aligned[:, 1 : L + 1]
    pos = torch.arange(L, device=tokens.device)[None, :]
    has_next = ((pos == (n - 2)[:, None]) if last_only else (pos < (n - 1)[:, None])) & (tgt > 0)
    rows, cols = has_next.nonzero(as_tuple=True)
    return inp, rows, cols, tgt[rows, cols]


def _last_positions(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Histories (B, L) left-padded -> (right-aligned inputs (B, L'), index of the last item (B,))."""
    aligned, n = right_align(tokens)
    L = max(int(n.max().item()), 1)
    return aligned[:, :L], (n - 1).clamp(min=0)


def _prefix_mode(examples: str) -> bool:
    """The ``examples`` parameter -> ``SeqNet.prefix_examples``."""
    if examples not in ("windows", "prefixes"):
        raise ValueError(f"examples must be 'windows' or 'prefixes', not {examples!r}")
    return examples == "prefixes"


def _from_aligned(z: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """Right-aligned per-row outputs (B, L, D) with n (B,) items per row -> the columns of the left-padded input."""
    L = z.size(1)
    idx = (torch.arange(L, device=z.device)[None, :] - (L - n)[:, None]) % L
    return z.gather(1, idx[..., None].expand(-1, -1, z.size(2)))


class RecurrentNet(ItemTableNet):
    """A GRU net trained with cross-entropy on prefixes (``_logits``), whose score vectors for prefix
    scoring come from one pass over right-aligned inputs (``aligned_vectors``)."""

    can_share = True
    shared_exact = True
    item_emb: nn.Embedding

    def _logits(self, inp: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Right-aligned inputs (B, L); the prefixes (rows[p], ending at cols[p]) -> logits (P, N)."""
        raise NotImplementedError

    def training_loss(self, tokens: torch.Tensor, users: torch.Tensor, tools: TrainTools) -> tuple[torch.Tensor, int] | None:
        inp, rows, cols, tgt = _prefix_targets(tokens, self.prefix_examples)
        if len(rows) == 0:
            return None
        return F.cross_entropy(self._logits(inp, rows, cols).float(), tgt - 1, reduction="sum"), len(rows)

    def score_last(self, tokens: torch.Tensor) -> torch.Tensor:
        inp, last = _last_positions(tokens)
        return self._logits(inp, torch.arange(len(inp), device=inp.device), last)

    def aligned_vectors(self, aligned: torch.Tensor) -> torch.Tensor:
        """Right-aligned tokens (B, L) -> z (B, L, D): column t = the prefix ending at item t."""
        raise NotImplementedError

    def shared_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        aligned, n = right_align(tokens)
        return _from_aligned(self.aligned_vectors(aligned), n)

    def last_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        aligned, n = right_align(trim_left(tokens))
        z = self.aligned_vectors(aligned)
        return z[torch.arange(len(z), device=z.device), (n - 1).clamp(min=0)]

    def item_embedding(self) -> nn.Embedding:
        return self.item_emb


class NARMNet(RecurrentNet):
    """NARM: GRU encoder with a global (last state) and a local (attention) representation.

    For the prefix ending at t, with GRU states h_1..h_t:
    c_g = h_t; alpha_tj = v . sigmoid(A1 h_t + A2 h_j); c_l = sum_{j<=t} alpha_tj h_j
    (the paper's unnormalised weights); score_i = e_i^T B [c_g; c_l] with the
    item embeddings e_i (bilinear decoder, B: 2H -> D). Dropout on the
    embeddings (``dropout``) and on [c_g; c_l] (``ct_dropout``).
    ``attention="softmax"``: alpha_t. = softmax_j(v . hardsigmoid(A1 h_t + A2 h_j))
    over j <= t instead, as the DFME reference implementation computes it;
    ``init="reference"`` draws every parameter (the GRU's too) from a normal
    with std 0.02 cut at two std, as that code does.
    """

    def __init__(self, n_items: int, hidden: int, rnn_hidden: int, max_len: int, dropout: float, ct_dropout: float,
                 attention: str = "paper", init: str = "default", examples: str = "windows") -> None:
        super().__init__()
        self.prefix_examples = _prefix_mode(examples)
        if attention not in ("paper", "softmax"):
            raise ValueError(f"attention must be 'paper' or 'softmax', not {attention!r}")
        if init not in ("default", "reference"):
            raise ValueError(f"init must be 'default' or 'reference', not {init!r}")
        self.attention = attention
        self.n_items, self.window, self.input_len = n_items, max_len + 1, max_len
        self.item_emb = nn.Embedding(n_items + 1, hidden, padding_idx=0)
        self.emb_drop = nn.Dropout(dropout)
        self.gru = nn.GRU(hidden, rnn_hidden, batch_first=True)
        self.a_global = nn.Linear(rnn_hidden, rnn_hidden, bias=False)
        self.a_local = nn.Linear(rnn_hidden, rnn_hidden, bias=False)
        self.v = nn.Linear(rnn_hidden, 1, bias=False)
        self.ct_drop = nn.Dropout(ct_dropout)
        self.decoder = nn.Linear(2 * rnn_hidden, hidden, bias=False)  # B^T: [c_g; c_l] -> item space
        init_weights(self)
        if init == "reference":  # the DFME code: every parameter, GRU included, N(0, 0.02) cut at 2 std
            with torch.no_grad():
                for p in self.parameters():
                    nn.init.trunc_normal_(p, std=0.02, a=-0.04, b=0.04)

    def _logits(self, inp: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Right-aligned inputs (B, L); the prefixes (rows[p], ending at cols[p]) -> logits (P, N)."""
        states, _ = self.gru(self.emb_drop(self.item_emb(inp)))  # (B, L, H)
        c_g = states[rows, cols]  # (P, H)
        keys = states[rows]  # (P, L, H)
        pre = self.a_global(c_g)[:, None, :] + self.a_local(states)[rows]  # (P, L, H)
        upto = torch.arange(inp.size(1), device=inp.device)[None, :] <= cols[:, None]  # (P, L)
        c_l = (self.attention_weights(pre, upto)[..., None] * keys).sum(1)  # (P, H)
        c = self.ct_drop(torch.cat([c_g, c_l], dim=-1))
        return self.decoder(c) @ self.item_emb.weight[1:].T

    def attention_weights(self, pre: torch.Tensor, upto: torch.Tensor) -> torch.Tensor:
        """Local attention weights alpha (..., L) from pre = A1 h_t + A2 h_j (..., L, H); ``upto``
        bool (..., L) marks the positions j <= t. One definition for training, serving and prefix
        scoring."""
        if self.attention == "softmax":
            return self.v(F.hardsigmoid(pre)).squeeze(-1).masked_fill(~upto, float("-inf")).softmax(-1)
        return self.v(torch.sigmoid(pre)).squeeze(-1) * upto

    def item_table(self) -> torch.Tensor:
        return self.item_emb.weight[1:]

    def aligned_vectors(self, aligned: torch.Tensor) -> torch.Tensor:
        """z_t = B [c_g; c_l] for every prefix end t, from one GRU pass (attention over j <= t)."""
        states, _ = self.gru(self.emb_drop(self.item_emb(aligned)))  # (B, L, H)
        q = self.a_global(states)  # (B, L, H) query of the prefix ending at t
        k = self.a_local(states)  # (B, L, H)
        L = aligned.size(1)
        upto = torch.ones(L, L, dtype=torch.bool, device=aligned.device).tril()
        e = self.attention_weights(q[:, :, None, :] + k[:, None, :, :], upto)  # (B, L_t, L_j)
        c_l = e @ states  # (B, L, H)
        return self.decoder(self.ct_drop(torch.cat([states, c_l], dim=-1)))


class GRU4RecNet(RecurrentNet):
    """GRU4Rec: item embedding -> one GRU layer -> output layer over the catalogue.

    Differences from the ICLR 2016 paper, on purpose: the input is an item
    embedding (the paper's one-hot input is equivalent to a linear layer), and
    training uses padded per-user sequences with softmax cross-entropy over
    the whole catalogue at every prefix instead of session-parallel
    mini-batches with BPR/TOP1 on in-batch negatives (cross-entropy is the
    loss Hidasi & Karatzoglou, CIKM 2018, found best). Dropout on the
    embeddings and on the GRU output.
    """

    def __init__(self, n_items: int, hidden: int, rnn_hidden: int, max_len: int, dropout: float,
                 examples: str = "windows") -> None:
        super().__init__()
        self.prefix_examples = _prefix_mode(examples)
        self.n_items, self.window, self.input_len = n_items, max_len + 1, max_len
        self.item_emb = nn.Embedding(n_items + 1, hidden, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        self.gru = nn.GRU(hidden, rnn_hidden, batch_first=True)
        self.out = nn.Linear(rnn_hidden, n_items)
        init_weights(self)

    def _logits(self, inp: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(self.drop(self.item_emb(inp)))  # (B, L, H)
        return self.out(self.drop(states[rows, cols]))  # (P, N)

    def item_table(self) -> torch.Tensor:
        return self.out.weight

    def item_bias(self) -> torch.Tensor:
        return self.out.bias

    def aligned_vectors(self, aligned: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(self.drop(self.item_emb(aligned)))
        return self.drop(states)
