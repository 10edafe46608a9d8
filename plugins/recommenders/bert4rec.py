"""BERT4Rec (Sun et al., "BERT4Rec: Sequential Recommendation with Bidirectional Encoder
Representations from Transformer", CIKM 2019)."""

from __future__ import annotations

from typing import Any

from recsec.params import Param
from recsec.plugins.sequential.base import SequentialRecommender
from recsec.plugins.sequential.params import COMMON_PARAMS, TRANSFORMER_PARAMS


class BERT4Rec(SequentialRecommender):
    """BERT4Rec: bidirectional self-attention trained with the cloze (masked item) task.

    Vocabulary N + 2 (padding, mask), tied output embedding plus a bias,
    cross-entropy at the masked positions only; at inference the mask token is
    appended to the history. Published per-dataset mask_prob / max_predictions:
    ML-1M 0.2 / 40, ML-20M 0.2 / 20, Steam 0.4 / 20, Beauty 0.6 / 30 (defaults);
    the rest as in ``recsec.plugins.sequential.params``.
    """

    name = "bert4rec"
    version = "1"
    params: dict[str, Param] = {
        **COMMON_PARAMS,
        **TRANSFORMER_PARAMS,
        "mask_prob": Param(0.6, "cloze masking probability (ML 0.2, Steam 0.4, Beauty 0.6)", low=0.05, high=0.8, valid="(0, 1]"),
        "max_predictions": Param(30, "most masked items per window (ML-1M 40, ML-20M/Steam 20, Beauty 30)", low=1, high=200, valid="[1, inf)"),
    }

    def _build_net(self, n_items: int, config: dict[str, Any]):
        from recsec.plugins.sequential.transformer import BERT4RecNet

        return BERT4RecNet(n_items, config["hidden"], config["max_len"], config["n_blocks"], config["n_heads"],
                           config["dropout"], config["attn_dropout"], config["mask_prob"], config["max_predictions"])
