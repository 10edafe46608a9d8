"""What an attack returns: an output that a core judge scores (``recsec.judges``).

Each output type belongs to one threat (``threat``) and so to one judge. An attack never
reports its own success; it may add ``diagnostics`` (finite numbers about itself: timings,
sequences generated, its own loss), stored apart from the judged metrics as ``diag.*``.

Shapes: U users, m appended items, K list length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .queries import Queries
    from .recommender import Recommender


@dataclass(kw_only=True)
class AttackOutput:
    """Base of every output."""

    threat: ClassVar[str] = ""
    #: Numbers the attack reports about itself (not judged, never ranked).
    diagnostics: dict[str, float] = field(default_factory=dict)
    #: Training curves of the attack's own models: name -> per-epoch rows.
    curves: dict[str, list[dict[str, float]]] = field(default_factory=dict)


@dataclass(kw_only=True)
class Surrogate(AttackOutput):
    """A stolen model (model extraction; Yue et al., RecSys 2021).

    The judge compares its top-K with the undefended victim's on real test users (Agr@K)
    and ranks the test targets with it (NDCG / HR).

    Attributes:
        model: the trained surrogate, a recommender over the same catalogue.
        untrained: the same architecture before training (its agreement is the chance level).
        holdout: queries the attacker sent and kept out of training, to select its epoch;
        holdout_lists: int (H, K) the answers it received for them. The judge checks them
            against the black box's log and scores the observable ``attack.holdout_agr@10``.
    """

    threat: ClassVar[str] = "extraction"
    model: "Recommender"
    untrained: "Recommender | None" = None
    holdout: "Queries | None" = None
    holdout_lists: np.ndarray | None = None


@dataclass(kw_only=True)
class MembershipScores(AttackOutput):
    """Per-user membership scores (Zhang et al., CCS 2021): higher = more likely a member.

    Attributes:
        users: int (U,) granted target users the attack scored (distinct).
        scores: float (U,) their scores.
        threshold: the attack's decision rule, member when score >= threshold (balanced accuracy).
        shadow_users, shadow_scores: scores of the attacker's own shadow users, whose
            membership it knows: the judge reports the observable ``attack.shadow_auc``.
    """

    threat: ClassVar[str] = "membership"
    users: np.ndarray
    scores: np.ndarray
    threshold: float = 0.5
    shadow_users: np.ndarray | None = None
    shadow_scores: np.ndarray | None = None


@dataclass(kw_only=True)
class PollutedProfiles(AttackOutput):
    """Items to append to each assigned history (profile pollution, Yue et al., RecSys 2021).

    Attributes:
        appended: one int array (E_t, m) per target of ``Knowledge.pollution().targets``, row i
            for the i-th of ``PollutionTasks.eligible(target)``.
        surrogate: the extracted model the items were searched on, when there is one (the
            judge scores it as an extraction too).
    """

    threat: ClassVar[str] = "pollution"
    appended: list[np.ndarray]
    surrogate: Surrogate | None = None


OUTPUT_TYPES: tuple[type[AttackOutput], ...] = (Surrogate, MembershipScores, PollutedProfiles)
