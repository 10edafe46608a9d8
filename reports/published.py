"""The registry of published headlines the report sets beside recsec's numbers (``reproductions.html``).

Each entry names the paper, the claim, the protocol as matchers on a cell
(:class:`recsec.reports.reproductions.Protocol`), the metric from
:mod:`recsec.judges.names`, the published value and the spec under ``benchmarks/``
that runs it. Sources:

- Yue, Z., He, Z., Zeng, H., McAuley, J.: "Black-Box Attacks on Sequential
  Recommenders via Data-Free Model Extraction", RecSys 2021 (DFME), Table 2:
  autoregressive Agr@10 on ML-1M and Beauty (larger Beauty catalogue than S3-Rec's).
- Zhang, Z., Liu, Q.: "Few-shot Model Extraction Attacks against Sequential
  Recommender Systems", arXiv 2411.11677: few-shot beats data-free at an equal budget.
- Zhang, S., Yin, H., Chen, H., Long, C.: "Defense Against Model Extraction Attacks on
  Recommender Systems", WSDM 2024 (GRO): full-ranking metrics, history included.
- Zhang, M. et al.: "Membership Inference Attacks Against Recommender Systems", CCS
  2021, 0.857 on ml-latest-small as reproduced by Hu (arXiv 2301.03596).
- Xie, Y. et al.: "SAME: Sample Reconstruction against Model Extraction Attacks",
  AAAI 2024: image classifiers only.
"""

from __future__ import annotations

from .reproductions import Headline, Match, Protocol, StandIn, match

__all__ = ["HEADLINES", "DFME", "FEWSHOT", "GRO", "MIA", "SAME"]

DFME = 'Yue et al., "Black-Box Attacks on Sequential Recommenders via Data-Free Model Extraction", RecSys 2021'
FEWSHOT = 'Zhang & Liu, "Few-shot Model Extraction Attacks against Sequential Recommender Systems", arXiv 2411.11677'
GRO = 'Zhang et al., "Defense Against Model Extraction Attacks on Recommender Systems", WSDM 2024'
MIA = 'Zhang et al., "Membership Inference Attacks Against Recommender Systems", CCS 2021'
SAME = 'Xie et al., "SAME: Sample Reconstruction against Model Extraction Attacks", AAAI 2024'

#: Complete ML-1M: the official ratings or the chronological sequences (auto reads one of them), never ``partial``.
_ML1M = match("ml-1m", variant=("sequences", "ratings", "auto"))
_BEAUTY_S3REC = match("amazon-beauty", variant="sequence-file")
_VICTIMS = {"narm": "NARM", "sasrec": "SASRec", "bert4rec": "BERT4Rec"}
_S3REC_LABEL = "the S3-Rec 5-core Beauty file (12,101 items), not the paper's larger catalogue"


def _dfme(dataset: str, victim: str, published: float) -> Headline:
    """DFME autoregressive Agr@10 at the paper's budget (5,000 sequences of T = max_len items)."""
    ml1m = dataset == "ML-1M"
    max_len = 200 if ml1m else 50
    protocol = Protocol(
        dataset=_ML1M if ml1m else match("amazon-beauty-bert4rec"),
        recommender=match(victim, max_len=max_len),
        attack=match("dfme-autoregressive", n_sequences=5000, seq_len=max_len),
    )
    stand_ins = () if ml1m else (StandIn(
        _S3REC_LABEL,
        Protocol(_BEAUTY_S3REC, match(victim), match("dfme-autoregressive", n_sequences=5000)),
        "benchmarks/dfme-paper-beauty-narm-cpu.toml" if victim == "narm" else "benchmarks/reproduce/dfme-paper-beauty.toml",
    ),)
    file = "" if ml1m else " (BERT4Rec's Beauty file, 54,542 items)"
    return Headline(
        id=f"dfme-{'ml1m' if ml1m else 'beauty'}-{victim}",
        paper=DFME,
        claim=f"DFME autoregressive Agr@10 against {_VICTIMS[victim]} on {dataset}{file}: "
              "5,000 generated sequences, surrogate trained to convergence",
        protocol=protocol,
        metric="attack.agr@10",
        published=published,
        specs=("benchmarks/reproduce/dfme-paper.toml" if ml1m else "benchmarks/reproduce/dfme-paper-beauty.toml",),
        also=("attack.agr@10_unmasked", "utility.sampled_ndcg@10"),
        stand_ins=stand_ins,
    )


_LAMBDA0 = (("the λ = 0 regime control", match("gro", lam=0.0)),)
_GRO_ATTACK = match("dfme-autoregressive", n_sequences=3000)


def _gro_stand_in(lam: Match) -> StandIn:
    return StandIn(
        "MovieLens 100K, SASRec warm start on CPU (a smaller dataset and another victim)",
        Protocol(match("ml-100k"), Match(), _GRO_ATTACK, lam),
        "benchmarks/reproduce/gro-ml100k-reference-cpu.toml",
    )


def _gro(dataset: str, side: str, metric: str, published: float, claim: str) -> Headline:
    """GRO against the undefended victim, paired by seed, with the λ = 0 control beside."""
    ml1m = dataset == "ml1m"
    lam = match("gro", exclude={"lam": 0.0}) if ml1m else match("gro", lam=0.001)
    protocol = Protocol(
        dataset=_ML1M if ml1m else _BEAUTY_S3REC,
        recommender=match("bert4rec", max_len=200) if ml1m else match("bert4rec"),
        attack=_GRO_ATTACK,
        defense=lam,
    )
    return Headline(
        id=f"gro-{dataset}-{side}",
        paper=GRO,
        claim=claim,
        protocol=protocol,
        metric=metric,
        published=published,
        specs=(f"benchmarks/reproduce/gro-{'ml1m' if ml1m else 'beauty'}-reference.toml",),
        kind="paired",
        vary="defense",
        baseline=match("none"),
        controls=_LAMBDA0,
        also=("attack.agr@10",) if side == "surrogate" else ("utility.ndcg@10_unmasked",),
        stand_ins=(_gro_stand_in(lam),),
    )


def _same(attack: str) -> Headline:
    return Headline(
        id=f"same-{attack}",
        paper=SAME,
        claim=f"SAME query detection AUROC against {attack} queries (published for image classifiers only)",
        protocol=Protocol(attack=match(attack), defense=match("same-detector")),
        metric="defense.auroc_query",
        published=None,
        specs=("benchmarks/detection-beauty-cpu.toml",),
        also=("defense.auroc_account",),
    )


HEADLINES: tuple[Headline, ...] = (
    _dfme("ML-1M", "narm", 0.747),
    _dfme("ML-1M", "sasrec", 0.662),
    _dfme("ML-1M", "bert4rec", 0.593),
    _dfme("Beauty", "narm", 0.425),
    _dfme("Beauty", "sasrec", 0.357),
    _dfme("Beauty", "bert4rec", 0.291),
    Headline(
        id="fewshot-beats-datafree",
        paper=FEWSHOT,
        claim="Few-shot extraction holding 10 % of the real training sequences clones the victim better than data-free "
              "DFME autoregressive at an equal query budget (few-shot scored on the users it does not hold, "
              "attack.agr@10_unseen, minus DFME's attack.agr@10)",
        protocol=Protocol(attack=match("fewshot-extraction", real_fraction=0.1)),
        metric="attack.agr@10_unseen",
        baseline_metric="attack.agr@10",
        published=None,
        sign=1,
        specs=("benchmarks/reproduce/fewshot-vs-datafree-ml100k-cpu.toml", "benchmarks/reproduce/dfme-paper.toml",
               "benchmarks/reproduce/dfme-paper-beauty.toml"),
        kind="paired",
        vary="attack",
        baseline=match("dfme-autoregressive"),
        also=("attack.agr@10", "attack.queries"),
    ),
    _gro("ml1m", "surrogate", "attack.ndcg@10_unmasked", -0.0232,
         "GRO on ML-1M, BERT4Rec: the surrogate's NDCG@10 (full ranking, history included) falls 7.51 → 5.19 %"),
    _gro("ml1m", "target", "utility.hr@10_unmasked", -0.0210,
         "GRO on ML-1M, BERT4Rec: the target's HR@10 (full ranking, history included) 20.18 → 18.08 % "
         "(17.08 as first posted)"),
    _gro("beauty", "surrogate", "attack.hr@10_unmasked", -0.0052,
         "GRO on Beauty (λ = 0.001), BERT4Rec: the surrogate's HR@10 (full ranking, history included) falls 2.78 → 2.26 %"),
    _gro("beauty", "target", "utility.hr@10_unmasked", -0.0005,
         "GRO on Beauty (λ = 0.001), BERT4Rec: the target's HR@10 (full ranking, history included) 2.90 → 2.85 %"),
    Headline(
        id="mia-lfm-ml-latest-small",
        paper=MIA,
        claim="Membership inference against LFM on MovieLens latest-small, non-members served the popular list: "
              "0.857 (most likely a balanced accuracy; the released code's attack-model recipe)",
        protocol=Protocol(match("ml-latest-small"), match("lfm"),
                          match("mia-zhang", recipe="reference", nonmember_lists="popular")),
        metric="attack.balanced_accuracy",
        published=0.857,
        specs=("benchmarks/mia-reference-cpu.toml",),
        also=("attack.auc",),
        stand_ins=(StandIn(
            "recsec's attack-model recipe (Adam, mini-batches, standardised features), not the released code's",
            Protocol(match("ml-latest-small"), match("lfm"), match("mia-zhang", recipe="recsec", nonmember_lists="popular")),
            "benchmarks/mia-reference-cpu.toml",
        ),),
    ),
    _same("dfme-random"),
    _same("dfme-autoregressive"),
    _same("fewshot-extraction"),
)
