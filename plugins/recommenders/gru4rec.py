"""GRU4Rec (Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks", ICLR 2016)."""

from __future__ import annotations

from typing import Any

from recsec.params import Param
from recsec.plugins.sequential.base import SequentialRecommender
from recsec.plugins.sequential.params import COMMON_PARAMS, RNN_PARAMS


class GRU4Rec(SequentialRecommender):
    """GRU4Rec: a GRU next-item model with an output layer over the catalogue.

    Trained with softmax cross-entropy at every prefix of padded per-user
    sequences (not the paper's session-parallel mini-batches with BPR/TOP1;
    cross-entropy is the loss Hidasi & Karatzoglou, CIKM 2018, recommend).
    """

    name = "gru4rec"
    version = "1"
    params: dict[str, Param] = {
        **COMMON_PARAMS,
        **RNN_PARAMS,
    }

    def _build_net(self, n_items: int, config: dict[str, Any]):
        from recsec.plugins.sequential.recurrent import GRU4RecNet

        return GRU4RecNet(n_items, config["hidden"], config["rnn_hidden"], config["max_len"], config["dropout"],
                          config.get("examples", "windows"))
