"""Ownership verification: the judge of a watermark's retention in a stolen model.

Zhang, Long, Yuan, Chen, Yin, "Watermarking Recommender Systems", CIKM 2024 (AOW, arXiv
2407.21034): the owner trains a secret watermark sequence into its model and later checks a
suspect model by asking it for the next item of each truncated watermark sequence. A
watermark defense (``Watermarked``) hands the judge its secret key; the judge, never the
defense, scores the surrogate an extraction attack returns (and the victim itself):

- ``defense.wm_hr@10``: share of the watermark's prefixes s[:t] (t = 1..L-1) whose next item
  s[t] is in the surrogate's top 10 (history excluded, full catalogue): the retention;
- ``defense.wm_hr@10_control``: the same for a control sequence drawn like the watermark but
  never trained into the victim (what an unrelated model scores on such items);
- ``defense.wm_rank``, ``defense.wm_rank_control``: the surrogate's mean rank of the next item
  as a fraction of the candidates (0 = top, about 0.5 = chance);
- ``defense.wm_pvalue``: the chance that a model ranking each prefix's candidates at random puts
  at least as many next items in its top 10 (exact Poisson-binomial tail): the owner's
  evidence, small = confident;
- ``defense.wm_hr@10_victim``, ``defense.wm_hr@10_victim_control``: the victim's own, which says
  whether the watermark was embedded at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from ..errors import PluginOutputError
from ..queries import Queries

if TYPE_CHECKING:  # pragma: no cover
    from ..recommender import Recommender

#: List length of the verification metrics.
K = 10


@dataclass(frozen=True)
class WatermarkKey:
    """A watermark's secret: the trained sequence and a control drawn the same way, never trained
    (int64 arrays of distinct item ids, length L >= 2)."""

    sequence: np.ndarray
    control: np.ndarray


@runtime_checkable
class Watermarked(Protocol):
    """A defense that embeds a watermark: ``watermark()`` returns its key once prepared, else None."""

    def watermark(self) -> "WatermarkKey | None": ...


def next_item_ranks(model: "Recommender", seq: np.ndarray, n_items: int, who: str) -> np.ndarray:
    """0-based rank of ``seq[t]`` in ``model``'s ranking of the catalogue for the prefix ``seq[:t]``,
    t = 1..L-1 (the prefix's items excluded), int64 (L-1,)."""
    seq = np.asarray(seq, dtype=np.int64)
    q = Queries([seq[:t] for t in range(1, len(seq))])
    full = np.asarray(model.topk(q, n_items))
    if full.shape != (len(q), n_items):
        raise PluginOutputError(f"{who}: topk() over the whole catalogue returned shape {full.shape}")
    hit = full == seq[1:, None]
    if not hit.any(axis=1).all():
        raise PluginOutputError(f"{who}: a watermark item is missing from the model's full ranking")
    return hit.argmax(axis=1).astype(np.int64)


def chance_tail(hits: int, probs: np.ndarray) -> float:
    """P(at least ``hits`` successes) for independent trials of success probabilities ``probs``."""
    dist = np.zeros(len(probs) + 1)
    dist[0] = 1.0
    for p in probs:
        dist[1:] = dist[1:] * (1 - p) + dist[:-1] * p
        dist[0] *= 1 - p
    return float(min(1.0, dist[hits:].sum()))


def _verify(model: "Recommender", key: WatermarkKey, n_items: int, who: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ranks on the watermark, ranks on the control, candidates per watermark prefix)."""
    ranks = next_item_ranks(model, key.sequence, n_items, who)
    control = next_item_ranks(model, key.control, n_items, who)
    cands = n_items - np.arange(1, len(key.sequence))  # prefix items are excluded
    return ranks, control, cands


def judge_watermark(key: WatermarkKey, surrogate: "Recommender", victim: "Recommender", n_items: int,
                    who: str) -> dict[str, float]:
    """The verification metrics of the module docstring."""
    ranks, control, cands = _verify(surrogate, key, n_items, f"{who} (surrogate)")
    v_ranks, v_control, _ = _verify(victim, key, n_items, "the victim")
    c_cands = n_items - np.arange(1, len(key.control))
    hits = int((ranks < K).sum())
    return {
        "defense.wm_hr@10": float((ranks < K).mean()),
        "defense.wm_hr@10_control": float((control < K).mean()),
        "defense.wm_rank": float((ranks / (cands - 1)).mean()),
        "defense.wm_rank_control": float((control / (c_cands - 1)).mean()),
        "defense.wm_pvalue": chance_tail(hits, np.minimum(K / cands, 1.0)),
        "defense.wm_hr@10_victim": float((v_ranks < K).mean()),
        "defense.wm_hr@10_victim_control": float((v_control < K).mean()),
    }
