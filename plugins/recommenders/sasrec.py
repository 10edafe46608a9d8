"""SASRec (Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018)."""

from __future__ import annotations

from typing import Any

from recsec.params import Param
from recsec.plugins.sequential.base import SequentialRecommender
from recsec.plugins.sequential.params import COMMON_PARAMS, TRANSFORMER_PARAMS


class SASRec(SequentialRecommender):
    """SASRec: causal self-attention over the history, BCE with one sampled negative per position.

    Pre-LayerNorm Transformer blocks (ReLU feed-forward, inner size 4 * hidden),
    learned positions, item embeddings tied between input and output; each
    position's negative is drawn uniformly (seeded) outside the user's
    training items. Reference configuration and per-dataset values: see
    ``recsec.plugins.sequential.params`` (Beauty defaults: max_len 50,
    dropout 0.5, attn_dropout 0.2).
    """

    name = "sasrec"
    version = "1"
    params: dict[str, Param] = {**COMMON_PARAMS, **TRANSFORMER_PARAMS}

    def _build_net(self, n_items: int, config: dict[str, Any]):
        from recsec.plugins.sequential.transformer import SASRecNet

        return SASRecNet(n_items, config["hidden"], config["max_len"], config["n_blocks"], config["n_heads"],
                         config["dropout"], config["attn_dropout"])
