"""Parameters of the extraction attacks, shared with profile pollution.

Kept apart from ``extraction`` (the attack classes): the training code reads
``SURROGATE_INITS`` here, so it never imports the module that imports it
(no import cycle). No torch.
"""

from __future__ import annotations

from recsec.params import Param
from recsec.plugins.sequential.architectures import ArchitectureParam

#: How the surrogate's weights are seeded (``_extraction_train.surrogate_seed``).
SURROGATE_INITS = ("independent", "reference")

#: Parameters of every extraction attack (and of profile-pollution's extraction step).
EXTRACTION_PARAMS: dict[str, Param] = {
    "n_sequences": Param(5000, "generated sequences (the DFME paper's main budget: 5,000)", low=100, high=20000, log=True, valid="[1, inf)"),
    "max_queries": Param(0, "hard query budget, enforced exactly by the API (0: no cap, n_sequences decides)", valid="[0, inf)"),
    "seq_len": Param(50, "generated sequence length T (= max_len in DFME); capped at the surrogate's max_len", low=5, high=200, valid="[1, inf)"),
    "gen_batch": Param(256, "sequences grown in parallel (one API call per step for the whole batch)", valid="[1, inf)"),
    "surrogate": ArchitectureParam("same", "surrogate architecture: the victim's class and parameters (same), or "
                                   "any registered sequential recommender, by name or instance name "
                                   "(sasrec[hidden=32])", fixed=("same",)),
    "surrogate_init": Param("independent", "surrogate weights from the attack's own seed (independent), or, "
                            "as the DFME/GRO reference code does, from the seed the victim's run drew its "
                            "first network under (reference: methods.md section 7)",
                            choices=SURROGATE_INITS, search=False),
    "epochs": Param(30, "surrogate training epochs (upper bound; the DFME reference trains 1,000)", low=2, high=200, log=True,
                    valid="[1, inf)", stopping=True),
    "patience": Param(5, "stop after this many passes over the data (epochs / prefix_sample) without a better "
                      "held-out Agr@10 (0 = never)", valid="[0, inf)", stopping=True),
    "lr": Param(1e-3, "AdamW learning rate", low=1e-4, high=1e-2, log=True, valid="(0, inf)"),
    "weight_decay": Param(0.01, "AdamW weight decay (not on biases / LayerNorm)", low=0.0, high=0.1, valid="[0, inf)"),
    "batch_size": Param(128, "labelled prefixes per step", choices=(32, 64, 128, 256, 512), valid="[1, inf)"),
    "clip_norm": Param(5.0, "clip the global gradient norm (0 = off)", valid="[0, inf)"),
    "margin_topk": Param(0.5, "margin between consecutive items of the victim's list", low=0.01, high=2.0, log=True, valid="[0, inf)"),
    "margin_neg": Param(0.5, "margin between a listed item and a negative", low=0.01, high=2.0, log=True, valid="[0, inf)"),
    "repair_weight": Param(0.0, "weight of the bidirectional repair loss (Zhang & Liu); 0 = DFME's loss alone",
                           low=0.0, high=5.0, valid="[0, inf)"),
    "repair_margin": Param(0.1, "margin of the repair loss around the surrogate's k-th score", low=0.0, high=1.0, valid="[0, inf)"),
    "negatives_exclude_history": Param(True, "also keep the prefix's own items out of the negatives (the victim never returns them)"),
    "prefix_mode": Param("auto", "score each prefix as its own input (separate), or every prefix of a sequence "
                         "in one pass (shared: exact for NARM/GRU4Rec, SASRec's training view; never BERT4Rec); "
                         "auto = shared where exact", choices=("auto", "separate", "shared")),
    "prefix_sample": Param(1.0, "fraction of the prefixes an epoch uses in separate mode (redrawn each epoch)",
                           low=0.05, high=1.0, valid="(0, 1]"),
    "holdout_fraction": Param(0.05, "labelled sequences held out to select the epoch by agreement (0 = none)", low=0.01, high=0.3, valid="[0, 1)"),
    "holdout_max": Param(2000, "most held-out prefixes scored per epoch", valid="[1, inf)"),
    "exclude_history": Param(True, "the black box drops the query's own items from its answers (recsec); false "
                             "serves them as the DFME reference does (generated sequences may then repeat items)",
                             search=False),
    "time_limit_s": Param(0.0, "stop surrogate training after this many seconds of training, over every run of "
                          "an interrupted cell (0 = no limit)", valid="[0, inf)", stopping=True),
}

#: The few-shot attack's own parameters (see ``_extraction_fewshot``).
FEWSHOT_PARAMS: dict[str, Param] = {
    "real_fraction": Param(0.1, "fraction of training users whose sequences the attacker holds", low=0.01, high=0.5, log=True, valid="(0, 1]"),
    "real_query_share": Param(0.5, "most of the query budget spent labelling real sequences (budget split)",
                              low=0.05, high=0.95, valid="[0, 1]"),
    "sampler": ArchitectureParam("sasrec", "probabilistic interaction sampler: any registered sequential "
                                 "recommender (the paper: self-attention, sasrec, or GRU, gru4rec); trained for "
                                 "sampler_epochs on sequences of at most seq_len items"),
    "sampler_epochs": Param(20, "sampler training epochs", low=2, high=200, log=True, valid="[1, inf)"),
    "temperature": Param(1.0, "sampler softmax temperature", low=0.2, high=5.0, log=True, valid="(0, inf)"),
    "gate": Param("learned", "synthesis determinant signal: learned sigmoid gate or a fixed probability",
                  choices=("learned", "fixed")),
    "gate_value": Param(0.5, "probability of taking the next item from the victim's list (gate='fixed')",
                        low=0.0, high=1.0, valid="[0, 1]"),
    "list_pick": Param("sampler", "draw inside the victim's list by the sampler's probabilities or uniformly",
                       choices=("sampler", "uniform")),
    "gen_length": Param(0, "generated sequence length (0: drawn from the real lengths)", valid="[0, inf)"),
}
