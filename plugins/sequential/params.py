"""The parameters every sequential recommender shares, and the reference configuration they follow.

Reference configuration (methods.md section 2, DFME, Yue et al., RecSys 2021):
hidden 64, 2 blocks, 2 heads, AdamW (lr 1e-3, weight decay 0.01, not on biases
or LayerNorm), batch 128, gradient norm clipped to 5 (here: the global norm,
the reference clips each tensor separately: ``clip_mode="per_tensor"``), model selection by validation
NDCG@10. Published per-dataset values (dropout / attention dropout / mask prob
/ max predictions / max_len):

=========  =======  ============  =========  ===============  =======
dataset    dropout  attn_dropout  mask_prob  max_predictions  max_len
=========  =======  ============  =========  ===============  =======
ML-1M      0.1      0.1           0.2        40               200
ML-20M     0.1      0.1           0.2        20               200
Steam      0.2      0.2           0.4        20               50
Beauty     0.5      0.2           0.6        30               50
=========  =======  ============  =========  ===============  =======

The defaults are the Beauty values. Weight decay is applied to the embedding
tables too (``decay_embeddings=True``), as in the reference code, whose
no-decay list names only biases and LayerNorm parameters.
"""

from __future__ import annotations

from recsec.params import Param

#: Parameters every sequential model shares (the trainer reads them).
COMMON_PARAMS: dict[str, Param] = {
    "hidden": Param(64, "item embedding / hidden size", low=16, high=512, log=True, valid="[1, inf)"),
    "max_len": Param(50, "longest history used: 200 for ML-1M/ML-20M, 50 for Steam/Beauty", low=10, high=400, valid="[1, inf)"),
    "dropout": Param(0.5, "dropout (ML 0.1, Steam 0.2, Beauty 0.5)", low=0.0, high=0.9, valid="[0, 1)"),
    "lr": Param(1e-3, "AdamW learning rate", low=1e-4, high=1e-2, log=True, valid="(0, inf)"),
    "weight_decay": Param(0.01, "AdamW weight decay (never on biases / LayerNorm)", low=0.0, high=0.1, valid="[0, inf)"),
    "decay_embeddings": Param(True, "apply weight decay to embedding tables (the DFME reference does)"),
    "batch_size": Param(128, "training sequences per step", low=16, high=1024, log=True, valid="[1, inf)"),
    "clip_norm": Param(5.0, "clip the gradient norm to this (0 = off)", valid="[0, inf)"),
    "clip_mode": Param("global", "clip_norm bounds the norm of all gradients together (global, recsec) or of each "
                       "parameter tensor on its own (per_tensor, the DFME/GRO reference code)",
                       choices=("global", "per_tensor"), search=False),
    "max_epochs": Param(200, "upper bound on training epochs", stopping=True, valid="[0, inf)"),
    "patience": Param(20, "stop after this many epochs without a better validation NDCG@10 (0 = never)", stopping=True, valid="[0, inf)"),
    "time_limit_s": Param(0.0, "stop after the epoch that passes this many seconds of training + validation "
                          "(0 = no limit); the best weights so far are kept", stopping=True, valid="[0, inf)"),
    "window_step": Param(0.5, "sliding-window step for long training sequences, as a fraction of max_len", low=0.1, high=1.0, valid="(0, 1]"),
    "bucket_by_length": Param(True, "batch training windows of similar length together (shuffled buckets): much less padding"),
    "valid_mode": Param("sampled", "validation ranking for early stopping", choices=("sampled", "full")),
    "restore": Param("best", "weights served after training: the best validation epoch's (recsec), or the last "
                     "epoch's (the GRO reference code serves its last epoch)", choices=("best", "last"), search=False,
                     stopping=True),
    "checkpoint": Param("", "start from these weights (a file written by save(), e.g. seq_check.py --save) "
                        "instead of training: a victim trained once, elsewhere, serves a spec; relative to the "
                        "working directory; read as data only (never code). The path, not the file's content, "
                        "is part of the cache key: pin the content with checkpoint_sha256"),
    "checkpoint_sha256": Param("", "the sha256 the checkpoint file must have (a mismatch is an error); empty: the "
                               "file's digest is logged, not checked", stopping=True),
    "amp": Param(False, "mixed precision on CUDA (bf16 where supported, else fp16 with loss scaling); no effect on CPU"),
}

#: Extra parameters of the two recurrent models (NARM, GRU4Rec).
RNN_PARAMS: dict[str, Param] = {
    "rnn_hidden": Param(128, "GRU state size (twice the embedding, as in the DFME reference)", low=16, high=1024, log=True, valid="[1, inf)"),
    "examples": Param("windows", "training examples: 'windows' (one per sliding window, a loss at every prefix "
                      "in one GRU pass) or 'prefixes' (every prefix its own example, the loss at its last item, "
                      "as the DFME reference's RNN loader; about 9x the optimizer steps per epoch on Beauty)",
                      choices=("windows", "prefixes")),
}

#: Extra parameters of the two Transformer models.
TRANSFORMER_PARAMS: dict[str, Param] = {
    "n_blocks": Param(2, "Transformer blocks", choices=(1, 2, 3, 4), valid="[1, inf)"),
    "n_heads": Param(2, "attention heads", choices=(1, 2, 4), valid="[1, inf)"),
    "attn_dropout": Param(0.2, "attention dropout (ML 0.1, Steam 0.2, Beauty 0.2)", low=0.0, high=0.9, valid="[0, 1)"),
}
