"""Every stored metric's name, prefix, direction and meaning: the one place they are defined.

A cell stores numbers under these prefixes:

- ``attack.*``: the attack's success, computed by recsec's judges (``recsec.judges``)
  from the attack's output and the held-back truth; never by the attack itself.
- ``defense.*``: a defense judged by recsec (a detector's AUROC against benign traffic).
- ``utility.*``: the undefended victim on the held-out test interactions (full ranking,
  history masked; ``sampled_*`` with 100 sampled negatives).
- ``defended.*``: the same users served through the defense (what benign users get).
- ``victim.*``: statistics of the victim's training (epochs, time, peak memory).
- ``tune.*``: bookkeeping of a tuned cell (the best trial's number).

Components may report numbers about themselves; those are *diagnostics*, stored apart
from the metrics (the cell's ``diagnostics``, shown as ``diag.*``) and never ranked.

``observable`` marks a metric the attacker could measure itself from what it sees
(answers to queries it paid for, labels of its own shadow data). Tuning optimises an
observable metric unless the spec explicitly allows a test metric
(``[tune] allow_test_metric = true``), and reports then mark the cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

#: Prefix -> what it holds (table headings and exports use these words).
PREFIXES: dict[str, str] = {
    "attack": "Attack success (judged)",
    "defense": "Defense (judged)",
    "utility": "Victim utility (undefended)",
    "defended": "Victim utility (through the defense)",
    "victim": "Victim training",
    "tune": "Tuning",
    "diag": "Diagnostics (self-reported)",
}
DIAGNOSTIC_PREFIX = "diag"


@dataclass(frozen=True)
class MetricInfo:
    """One metric: ``higher_is_better`` None for counts and timings that rank nothing."""

    name: str
    higher_is_better: bool | None
    description: str
    observable: bool = False
    threat: str = ""  # extraction | membership | pollution | detection | "" (any)
    #: What a random guess scores (0.5 for a ROC AUC), or None: such a metric measures
    #: separation, and a value below chance separates as well as its mirror image above
    #: (flip the scores), so reports rank it by its distance from chance.
    chance: float | None = None
    #: The stored metric holding the chance level of each cell, where it depends on the
    #: data (an AUPR's chance is the positives' share): used instead of ``chance``.
    chance_metric: str | None = None

    @property
    def prefix(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def direction(self) -> str | None:
        """``maximize`` / ``minimize`` for Optuna, None when the metric ranks nothing."""
        if self.higher_is_better is None:
            return None
        return "maximize" if self.higher_is_better else "minimize"


def _m(name: str, up: bool | None, description: str, observable: bool = False, threat: str = "",
       chance: float | None = None, chance_metric: str | None = None) -> MetricInfo:
    return MetricInfo(name, up, description, observable, threat, chance, chance_metric)


_CATALOG: tuple[MetricInfo, ...] = (
    # -- model extraction (judged from the surrogate the attack returns) --------------------------
    _m("attack.agr@1", True, "Agr@1: share of real test users whose top item the surrogate and the victim agree on", threat="extraction"),
    _m("attack.agr@10", True, "Agr@10: mean overlap of the surrogate's and the undefended victim's top 10 on real test users (Yue et al.)", threat="extraction"),
    _m("attack.agr@10_unseen", True, "Agr@10 on the test users outside the first 10 % of the seeded real-user order (no 10 % few-shot attacker holds them); every extraction attack", threat="extraction"),
    _m("attack.agr@10_init", None, "Agr@10 of the untrained surrogate: this architecture's chance level", threat="extraction"),
    _m("attack.agr@10_unmasked", True, "Agr@10 when neither side drops the query's history (the DFME reference's metric)", threat="extraction"),
    _m("attack.holdout_agr@10", True, "Agr@10 with the black box's answers on the attacker's held-out queries (observable)", observable=True, threat="extraction"),
    _m("attack.ndcg@10", True, "the surrogate's NDCG@10 on real test users (full ranking, history masked)", threat="extraction"),
    _m("attack.hr@10", True, "the surrogate's HR@10 on real test users (full ranking, history masked)", threat="extraction"),
    _m("attack.ndcg@10_unmasked", True, "the surrogate's NDCG@10 ranking every item, history included (the GRO table's quantity)", threat="extraction"),
    _m("attack.hr@10_unmasked", True, "the surrogate's HR@10 ranking every item, history included (the GRO table's quantity)", threat="extraction"),
    # -- membership inference (judged from per-user membership scores) ----------------------------
    _m("attack.auc", True, "ROC AUC of the membership scores on the target users (Mann-Whitney, ties 1/2)", threat="membership", chance=0.5),
    _m("attack.tpr@1%fpr", True, "true-positive rate at 1% false-positive rate", threat="membership"),
    _m("attack.tpr@0.1%fpr", True, "true-positive rate at 0.1% false-positive rate (below 1,000 non-members: at none)",
       threat="membership"),
    _m("attack.balanced_accuracy", True, "(TPR + TNR) / 2 at the attack's threshold: what the reference code calls AUC", threat="membership", chance=0.5),
    _m("attack.shadow_auc", True, "ROC AUC on the attacker's own shadow users (observable)", observable=True, threat="membership", chance=0.5),
    _m("attack.n_target", None, "target users scored", threat="membership"),
    # -- profile pollution (judged by querying the victim with the polluted profiles) --------------
    _m("attack.target_ndcg@10_before", None, "the target items' NDCG@10 in the victim's lists before pollution", threat="pollution"),
    _m("attack.target_ndcg@10_after", True, "the target items' NDCG@10 in the victim's lists after pollution", observable=True, threat="pollution"),
    _m("attack.target_ndcg@10_random", None, "the same with as many random items appended (baseline)", threat="pollution"),
    _m("attack.target_hr@10_before", None, "share of polluted users with the target in the victim's top 10, before", threat="pollution"),
    _m("attack.target_hr@10_after", True, "share of polluted users with the target in the victim's top 10, after", observable=True, threat="pollution"),
    _m("attack.target_hr@10_random", None, "the same with random items appended (baseline)", threat="pollution"),
    _m("attack.target_rank_before", None, "mean rank of the target in the victim's list before (list length when absent)", threat="pollution"),
    _m("attack.target_rank_after", False, "mean rank of the target in the victim's list after (list length when absent)", observable=True, threat="pollution"),
    # -- any attack ----------------------------------------------------------------------------------
    _m("attack.queries", False, "black-box queries the attack spent (counted by the API)", observable=True),
    # -- query detection (judged from the detector's scores of attacker and benign traffic) --------
    _m("defense.auroc_query", True, "AUROC of the detector's per-query scores, attacker vs benign queries", threat="detection", chance=0.5),
    _m("defense.auroc_query_recon", True, "AUROC of SAME's reconstruction term alone (the paper's SAME-X ablation)", threat="detection", chance=0.5),
    _m("defense.auroc_query_dev", True, "AUROC of SAME's deviation term alone (the paper's SAME-Y ablation)", threat="detection", chance=0.5),
    _m("defense.aupr_query", True, "average precision of the per-query scores (positive = attacker)", threat="detection",
       chance_metric="defense.aupr_query_chance"),
    _m("defense.aupr_query_chance", None, "AUPR of a random detector: the attacker's share of the queries", threat="detection"),
    _m("defense.fpr95_query", False, "benign false-positive rate at 95% attacker recall, per query", threat="detection"),
    _m("defense.auroc_account", True, "AUROC of the per-account scores, attacker accounts vs benign users", threat="detection", chance=0.5),
    _m("defense.aupr_account", True, "average precision of the per-account scores", threat="detection", chance_metric="defense.aupr_account_chance"),
    _m("defense.aupr_account_chance", None, "AUPR of a random detector: the attacker's share of the accounts", threat="detection"),
    _m("defense.fpr95_account", False, "benign false-positive rate at 95% attacker recall, per account", threat="detection"),
    _m("defense.attacker_flagged", True, "share of the attacker's queries the online rule flagged", threat="detection"),
    _m("defense.attacker_refused", True, "share of attacker accounts with at least one flagged query", threat="detection"),
    _m("defense.benign_flagged", False, "share of benign queries the online rule flags", threat="detection"),
    _m("defense.benign_refused", False, "share of benign users with at least one flagged query", threat="detection"),
    # -- ownership verification (judged from a watermark defense's secret and the surrogate) --------
    _m("defense.wm_hr@10", True, "share of the watermark's prefixes whose next item is in the surrogate's top 10 (AOW retention)",
       threat="extraction"),
    _m("defense.wm_hr@10_control", None, "the same on a control sequence drawn like the watermark, never trained: the null",
       threat="extraction"),
    _m("defense.wm_rank", False, "the surrogate's mean rank of the watermark's next items (fraction of the candidates; 0 = top)",
       threat="extraction"),
    _m("defense.wm_rank_control", None, "the same on the control sequence (about 0.5: chance)", threat="extraction"),
    _m("defense.wm_pvalue", False, "chance that a model ranking at random puts as many of the watermark's next items in its top 10 "
       "(exact tail): the owner's evidence, small = confident",
       threat="extraction"),
    _m("defense.wm_hr@10_victim", True, "the victim's own watermark HR@10: whether the watermark was embedded",
       threat="extraction"),
    _m("defense.wm_hr@10_victim_control", None, "the victim's HR@10 on the control sequence", threat="extraction"),
    # -- the victim -----------------------------------------------------------------------------------
    _m("utility.ndcg@10", True, "the undefended victim's NDCG@10 on held-out test items (full ranking, history masked)"),
    _m("utility.hr@10", True, "the undefended victim's HR@10 on held-out test items (full ranking, history masked)"),
    _m("utility.ndcg@10_unmasked", True, "the victim's NDCG@10 ranking every item, history included (the GRO table's quantity)"),
    _m("utility.hr@10_unmasked", True, "the victim's HR@10 ranking every item, history included (the GRO table's quantity)"),
    _m("utility.sampled_ndcg@10", True, "NDCG@10 against 100 sampled negatives (the DFME / BERT4Rec protocol)"),
    _m("utility.sampled_hr@10", True, "HR@10 against 100 sampled negatives"),
    _m("utility.distinct_top1", None, "distinct items at the top of the victim's lists across test users"),
    _m("utility.distinct_top10", None, "distinct items in the victim's top 10 across test users"),
    _m("victim.dp_epsilon", False, "ε of the victim's (ε, δ) user-level differential privacy (DP-SGD's accountant; "
       "absent: no guarantee)"),
    _m("victim.dp_delta", None, "δ of the victim's (ε, δ) differential privacy"),
    _m("victim.dp_noise_multiplier", None, "DP-SGD's noise multiplier σ (0: clipping only, no guarantee)"),
    _m("victim.dp_max_grad_norm", None, "DP-SGD's per-sample gradient clipping norm"),
    _m("victim.dp_sample_rate", None, "DP-SGD's Poisson sampling rate (one sample per user)"),
    _m("victim.dp_steps", None, "DP-SGD's optimizer steps the accountant counted"),
    _m("defended.ndcg@10", True, "NDCG@10 of the lists the test users are served through the defense"),
    _m("defended.hr@10", True, "HR@10 of the lists the test users are served through the defense"),
    _m("defended.hr@10_cost", False, "relative loss of HR@10 within the cell: 1 - defended / the victim's own served lists (0 for a training-time defense, whose cell "
       "serves the model it trained; leaderboards compare with the undefended cell instead)"),
    _m("tune.best_trial", None, "number of the Optuna trial whose metrics the cell reports"),
)
CATALOG: dict[str, MetricInfo] = {m.name: m for m in _CATALOG}

#: Judged metric -> the primary metric of each threat (leaderboards rank by it).
PRIMARY: dict[str, str] = {
    "extraction": "attack.agr@10",
    "membership": "attack.auc",
    "pollution": "attack.target_ndcg@10_after",
    "detection": "defense.auroc_query",
}
#: The observable metric tuning optimises by default, per threat.
OBSERVABLE_DEFAULT: dict[str, str] = {
    "extraction": "attack.holdout_agr@10",
    "membership": "attack.shadow_auc",
    "pollution": "attack.target_ndcg@10_after",
}

def info(name: str) -> MetricInfo | None:
    """The catalogue entry of a stored metric name, or None for names outside it
    (``victim.*`` training statistics and ``diag.*`` diagnostics vary by component)."""
    return CATALOG.get(name)


def higher_is_better(name: str) -> bool | None:
    """Which way a metric is better: True, False, or None when it ranks nothing."""
    m = CATALOG.get(name)
    if m is not None:
        return m.higher_is_better
    return None


def chance_level(name: str, stored: Mapping[str, object] | None = None) -> float | None:
    """The chance level of metric ``name`` for a cell whose metrics are ``stored``: its catalogue
    ``chance_metric`` read from them (None when absent or not a finite number), else ``chance``."""
    m = CATALOG.get(name)
    if m is None:
        return None
    if m.chance_metric is not None:
        value = (stored or {}).get(m.chance_metric)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return float(value) if ok else None  # type: ignore[arg-type]
    return m.chance


def has_chance(name: str) -> bool:
    """Whether ``name`` has a chance level (fixed or stored per cell): ranked by distance from it."""
    m = CATALOG.get(name)
    return m is not None and (m.chance is not None or m.chance_metric is not None)


def is_diagnostic(name: str) -> bool:
    return name.startswith(DIAGNOSTIC_PREFIX + ".")


def judged(names: "list[str] | set[str]") -> list[str]:
    """The names among ``names`` that a judge computes (``attack.*`` / ``defense.*`` in the catalogue)."""
    return [n for n in names if n in CATALOG and CATALOG[n].prefix in ("attack", "defense")]
