"""Model extraction attacks on sequential recommenders: DFME (random, autoregressive) and few-shot.

- Yue, He, Zeng, McAuley, "Black-Box Attacks on Sequential Recommenders via
  Data-Free Model Extraction", RecSys 2021 (DFME).
- Zhang & Liu, "Few-shot Model Extraction Attacks against Sequential
  Recommender Systems", arXiv 2411.11677.

The attacker sees the victim only through the black-box API (top-k ids,
k = 100 in the papers), spends at most ``max_queries`` queries (the API
enforces the budget exactly) and trains a surrogate with the ranking loss of
methods.md section 4. Implementation (torch) lives in ``_extraction_*``;
this module imports no torch.

Threat models: the DFME attacks take nothing from ``ctx.split`` (only the
catalogue size, public) and use its test users for scoring alone;
``fewshot-extraction`` also holds ``real_fraction`` of the training sequences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from recsec.attack import Attack
from recsec.params import Param

if TYPE_CHECKING:  # pragma: no cover
    from recsec.blackbox import BlackBoxAPI
    from recsec.context import AttackContext

#: How the surrogate's weights are seeded (``_extraction_train.surrogate_seed``).
SURROGATE_INITS = ("independent", "reference")

#: Parameters of every extraction attack (and of profile-pollution's extraction step).
EXTRACTION_PARAMS: dict[str, Param] = {
    "n_sequences": Param(5000, "generated sequences (the DFME paper's main budget: 5,000)", low=100, high=20000, log=True),
    "max_queries": Param(0, "hard query budget, enforced exactly by the API (0: no cap, n_sequences decides)"),
    "seq_len": Param(50, "generated sequence length T (= max_len in DFME); capped at the surrogate's max_len", low=5, high=200),
    "gen_batch": Param(256, "sequences grown in parallel (one API call per step for the whole batch)"),
    "surrogate": Param("same", "surrogate architecture: the victim's class and parameters, or a named one",
                       choices=("same", "sasrec", "bert4rec", "narm", "gru4rec")),
    "surrogate_init": Param("independent", "surrogate weights from the attack's own seed (independent), or, "
                            "as the DFME/GRO reference code does, from the seed the victim's run drew its "
                            "first network under (reference: methods.md section 7)",
                            choices=SURROGATE_INITS, search=False),
    "epochs": Param(30, "surrogate training epochs (upper bound)", low=2, high=200, log=True),
    "patience": Param(5, "stop after this many passes over the data (epochs / prefix_sample) without a better "
                      "held-out Agr@10 (0 = never)"),
    "lr": Param(1e-3, "AdamW learning rate", low=1e-4, high=1e-2, log=True),
    "weight_decay": Param(0.01, "AdamW weight decay (not on biases / LayerNorm)", low=0.0, high=0.1),
    "batch_size": Param(128, "labelled prefixes per step", choices=(32, 64, 128, 256, 512)),
    "clip_norm": Param(5.0, "clip the global gradient norm (0 = off)"),
    "margin_topk": Param(0.5, "margin between consecutive items of the victim's list", low=0.01, high=2.0, log=True),
    "margin_neg": Param(0.5, "margin between a listed item and a negative", low=0.01, high=2.0, log=True),
    "repair_weight": Param(0.0, "weight of the bidirectional repair loss (Zhang & Liu); 0 = DFME's loss alone",
                           low=0.0, high=5.0),
    "repair_margin": Param(0.1, "margin of the repair loss around the surrogate's k-th score", low=0.0, high=1.0),
    "negatives_exclude_history": Param(True, "also keep the prefix's own items out of the negatives (the victim never returns them)"),
    "prefix_mode": Param("auto", "score each prefix as its own input (separate), or every prefix of a sequence "
                         "in one pass (shared: exact for NARM/GRU4Rec, SASRec's training view; never BERT4Rec); "
                         "auto = shared where exact", choices=("auto", "separate", "shared")),
    "prefix_sample": Param(1.0, "fraction of the prefixes an epoch uses in separate mode (redrawn each epoch)",
                           low=0.05, high=1.0),
    "holdout_fraction": Param(0.05, "labelled sequences held out to select the epoch by agreement", low=0.01, high=0.3),
    "holdout_max": Param(2000, "most held-out prefixes scored per epoch"),
    "eval_users": Param(0, "test users scored for agreement and NDCG (0 = all; else a seeded subset)"),
    "time_limit_s": Param(0.0, "stop surrogate training after this many seconds (0 = no limit)"),
}

#: The few-shot attack's own parameters (see ``_extraction_fewshot``).
FEWSHOT_PARAMS: dict[str, Param] = {
    "real_fraction": Param(0.1, "fraction of training users whose sequences the attacker holds", low=0.01, high=0.5, log=True),
    "real_query_share": Param(0.5, "most of the query budget spent labelling real sequences (budget split)",
                              low=0.05, high=0.95),
    "sampler": Param("sasrec", "probabilistic interaction sampler (self-attention or GRU)", choices=("sasrec", "gru4rec")),
    "sampler_epochs": Param(20, "sampler training epochs", low=2, high=200, log=True),
    "temperature": Param(1.0, "sampler softmax temperature", low=0.2, high=5.0, log=True),
    "gate": Param("learned", "synthesis determinant signal: learned sigmoid gate or a fixed probability",
                  choices=("learned", "fixed")),
    "gate_value": Param(0.5, "probability of taking the next item from the victim's list (gate='fixed')",
                        low=0.0, high=1.0),
    "list_pick": Param("sampler", "draw inside the victim's list by the sampler's probabilities or uniformly",
                       choices=("sampler", "uniform")),
    "gen_length": Param(0, "generated sequence length (0: drawn from the real lengths)"),
}

DIRECTIONS: dict[str, bool] = {
    "agr@1": True, "agr@10": True, "ndcg@10": True, "hr@10": True, "holdout_agr@10": True,
    "queries": False, "sequences": False, "generation_s": False, "surrogate_train_s": False,
}


class _Extraction(Attack):
    """Shared machinery of the extraction attacks (no ``name``: not registered)."""

    primary_metric: ClassVar[str] = "agr@10"
    families: ClassVar[tuple[str, ...]] = ("sequential",)
    metric_directions: ClassVar[dict[str, bool]] = DIRECTIONS
    mode: ClassVar[str] = ""

    def budget(self) -> int | None:
        """The extraction's query budget (None = unlimited)."""
        return int(self.p["max_queries"]) or None

    def serving(self) -> dict[str, Any]:
        b = self.budget()
        return {} if b is None else {"budget": int(b)}

    def run(self, api: "BlackBoxAPI", ctx: "AttackContext") -> dict[str, float]:
        from ._extraction_run import run_extraction

        _, metrics = run_extraction(self.mode, api, ctx, dict(self.p))
        return metrics


class DFMERandom(_Extraction):
    """DFME with random sequences (Yue et al., RecSys 2021): every item uniform, every prefix labelled.

    Synthetic sequences of ``seq_len`` items, each position uniform over the
    catalogue; each prefix is a query whose top-k answer labels it. The
    surrogate (``surrogate``: the victim's architecture by default, seeded
    independently unless ``surrogate_init = "reference"``) learns with the two-margin ranking loss; the epoch is
    selected by Agr@10 on held-out generated sequences. Takes nothing from the
    victim's data. Metrics: Agr@1/Agr@10 on real test users, the surrogate's
    NDCG@10/HR@10, queries, sequences, timings.
    """

    name = "dfme-random"
    version = "1"
    mode = "random"
    params = dict(EXTRACTION_PARAMS)


class DFMEAutoregressive(_Extraction):
    """DFME with autoregressive sequences (Yue et al., RecSys 2021): the next item drawn from the returned list.

    First item uniform; for t = 1..T-1 the prefix is queried and the next item
    drawn uniformly from its top-k list; a final query labels the full
    sequence (T queries per sequence). Same surrogate training and metrics as
    ``dfme-random``. Takes nothing from the victim's data.
    """

    name = "dfme-autoregressive"
    version = "1"
    mode = "autoregressive"
    params = dict(EXTRACTION_PARAMS)


class FewShotExtraction(_Extraction):
    """Few-shot extraction (Zhang & Liu, arXiv 2411.11677): real sequences, a sampler and a gate guide generation.

    The attacker holds ``real_fraction`` of the real training sequences
    (seeded users of ``ctx.split.train``). A next-item sampler trained on
    them and a sigmoid gate (the "synthesis determinant signal", fitted to
    predict whether a real user follows the black box's list) decide whether
    each generated item comes from the victim's list or from the sampler.
    Real and generated sequences, labelled by the black box, train the
    surrogate with the ranking loss plus the bidirectional repair loss
    (``repair_weight``). Choices where the paper is not specific: see
    ``recsec.plugins.attacks._extraction_fewshot``.
    """

    name = "fewshot-extraction"
    version = "1"
    mode = "fewshot"
    params = {
        **EXTRACTION_PARAMS,
        "repair_weight": Param(1.0, "weight of the bidirectional repair loss", low=0.0, high=5.0),
        **FEWSHOT_PARAMS,
    }
