"""The query-detector contract: a defense that scores queries, judged against benign traffic.

A detector flags queries online (``Defense.answer``: answer and flag, refuse or perturb)
and scores any stream of one account's queries offline (``score_stream``). The core's
detection judge (``recsec.judges.detection``) replays the attacker's traffic and benign
users' sessions through ``score_stream`` and computes AUROC, AUPR and FPR at 95% TPR per
query and per account; a detector never reports its own detection rate. The benign users
are held out of the split the detector is prepared on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .defense import Defense


@dataclass
class StreamScores:
    """One account's queries scored in order.

    Attributes:
        queries: float (n,) per-query scores, higher = more suspicious.
        flags: bool (n,) what the online rule flags when this stream is replayed alone.
        account: the account's score (higher = more suspicious).
        parts: optional named terms of the query score, float (n,) each: the judge reports
            each term's AUROC alone (``defense.auroc_query_<name>``; an ablation).
    """

    queries: np.ndarray
    flags: np.ndarray
    account: float
    parts: dict[str, np.ndarray] = field(default_factory=dict)


class QueryDetector(Defense):
    """Base class of query detectors; ``score_stream`` is the judged part."""

    #: a refused query may get an empty list (-1 entries)
    shortens_lists: ClassVar[bool] = True

    def score_stream(self, histories: list[np.ndarray]) -> StreamScores:
        """Score one account's queries (item histories, in the order sent), from a fresh
        per-account state: the judge's replay, independent of what was answered online."""
        raise NotImplementedError
