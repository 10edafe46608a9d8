"""Mini-batches of labelled prefixes for surrogate training (numpy; tensors made by the trainer).

A training example is a prefix ``(s, t)`` of a labelled sequence: input
``seqs[s, :t+1]``, label ``lists[s, t]``. Two batch layouts:

- ``prefix_batches``: examples as separate left-padded inputs (``last``
  scoring). Examples are bucketed by length inside shuffled chunks so that a
  batch is trimmed to its longest prefix, not to T.
- ``sequence_batches``: whole sequences (``shared`` scoring: one pass per
  sequence yields every prefix), ``batch_size`` counting prefixes.

Shapes: S sequences, T columns, K list length, E examples, W width.
"""

from __future__ import annotations

import numpy as np

from ._extraction_data import LabelledSet

#: Chunk size (in batches) inside which examples are sorted by length.
BUCKET_CHUNK = 50


def examples(data: LabelledSet, seq_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every labelled prefix of the sequences ``seq_idx``: (s (E,), t (E,))."""
    lens = data.lengths[seq_idx]
    s = np.repeat(seq_idx, lens)
    t = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    return s.astype(np.int64), t.astype(np.int64)


def prefix_tokens(data: LabelledSet, s: np.ndarray, t: np.ndarray, max_width: int) -> np.ndarray:
    """Left-padded tokens (E, W) of the prefixes ``seqs[s, :t+1]`` (last ``max_width`` items), W = longest."""
    W = int(min(max_width, (t.max() + 1) if len(t) else 1))
    idx = t[:, None] + 1 - W + np.arange(W)[None, :]
    tok = data.seqs[s[:, None], np.clip(idx, 0, None)] + 1
    return np.where(idx >= 0, tok, 0).astype(np.int64)


def list_tokens(data: LabelledSet, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The victim's answers as tokens (E, K), 0 = missing."""
    return data.lists[s, t].astype(np.int64) + 1


def prefix_batches(s: np.ndarray, t: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Index batches over examples, bucketed by prefix length within shuffled chunks, in random order."""
    order = rng.permutation(len(s))
    chunk = batch_size * BUCKET_CHUNK
    batches = []
    for a in range(0, len(order), chunk):
        part = order[a : a + chunk]
        part = part[np.argsort(t[part], kind="stable")]
        batches += [part[b : b + batch_size] for b in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def sequence_batches(data: LabelledSet, seq_idx: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of whole sequences holding about ``batch_size`` prefixes each (at least one sequence)."""
    mean_len = max(float(data.lengths[seq_idx].mean()) if len(seq_idx) else 1.0, 1.0)
    per = max(1, int(round(batch_size / mean_len)))
    order = seq_idx[rng.permutation(len(seq_idx))]
    chunk = per * BUCKET_CHUNK
    batches = []
    for a in range(0, len(order), chunk):
        part = order[a : a + chunk]
        part = part[np.argsort(data.lengths[part], kind="stable")]
        batches += [part[b : b + per] for b in range(0, len(part), per)]
    return [batches[i] for i in rng.permutation(len(batches))]


def sequence_tokens(data: LabelledSet, seq_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Whole sequences, left-padded: (tokens (B, W), rows (E,), t (E,), col (E,)).

    Every labelled prefix ``t`` of batch row ``rows[e]`` (length n) is the
    output column ``col[e] = W - n + t`` of a shared pass.
    """
    lens = data.lengths[seq_idx]
    W = int(lens.max())
    idx = np.arange(W)[None, :] - (W - lens)[:, None]
    tok = np.where(idx >= 0, data.seqs[seq_idx[:, None], np.clip(idx, 0, None)] + 1, 0).astype(np.int64)
    rows = np.repeat(np.arange(len(seq_idx)), lens)
    t = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    return tok, rows, t.astype(np.int64), (W - lens[rows] + t).astype(np.int64)
