"""The landing page's headlines: per benchmark and threat model, what the results say.

For an attack-side threat (extraction, membership, pollution): the strongest
attack on each dataset (undefended where there are undefended rows), the
defenses on the utility-versus-protection front, each on its strongest known
attacker with the protection it gains and the utility it costs (paired by seed,
95 % intervals: :mod:`recsec.reports.protection`), and the defenses with no
measurable protection. For detection: the best detector on each dataset. Every
entry carries its seeds and links to its leaderboard row. "Strongest" and "best"
use the threat's primary metric, its direction and its chance level (a ROC AUC
ranks by its distance from 0.5) from :mod:`recsec.judges.names`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from recsec.judges import names

from .columns import THREAT_TITLES
from .leaderboard import LeaderRow
from .protection import Effect
from .standings import DefenseStanding, ThreatRanking
from .stats import Agg

if TYPE_CHECKING:  # pragma: no cover
    from .model import DatasetPage

__all__ = ["Entry", "ThreatHeadline", "build_headlines"]

#: Front entries (and entries without measurable protection) listed per threat; the dataset pages hold the rest.
MAX_FRONT = 8


@dataclass(frozen=True)
class Entry:
    """One leaderboard row quoted on the landing page."""

    page: "DatasetPage"
    row: LeaderRow
    value: Agg
    score: Agg | None = None  # the value as ranked (distance from chance where the metric has one)
    utility: Agg | None = None
    utility_metric: str | None = None
    protection: Effect | None = None  # against the undefended attack, paired by seed
    cost: Effect | None = None  # relative utility lost against it (negative: a gain)
    verdict: str = ""

    @property
    def href(self) -> str:
        return f"{self.page.href}#row-{self.row.index}"

    @property
    def baseline(self) -> LeaderRow | None:
        return self.row.baseline

    @property
    def baseline_value(self) -> Agg | None:
        return self.baseline.metrics.get(self.row.x_metric or "") if self.baseline else None

    @property
    def baseline_utility(self) -> Agg | None:
        return self.baseline.value(self.utility_metric) if self.baseline else None


@dataclass(frozen=True)
class ThreatHeadline:
    threat: str
    metric: str
    higher_is_better: bool
    strongest: tuple[Entry, ...]
    front: tuple[Entry, ...]
    more_front: int
    unproven: tuple[Entry, ...] = ()
    more_unproven: int = 0
    #: Defenses ranked on this threat (front, dominated and unproven): 0 where only undefended rows ran.
    n_defenses: int = 0

    @property
    def title(self) -> str:
        return THREAT_TITLES.get(self.threat, self.threat)

    @property
    def detection(self) -> bool:
        return self.threat == "detection"

    @property
    def metric_label(self) -> str:
        return self.metric.split(".", 1)[1]

    @property
    def chance(self) -> float | None:
        """The metric's fixed chance level (None where it has none, or a stored one per cell)."""
        return names.chance_level(self.metric) if names.has_chance(self.metric) else None

    @property
    def ranked_by(self) -> str:
        """How the threat is ranked, in words: ``|auc − 0.5|, the distance from chance``."""
        if not names.has_chance(self.metric):
            return ""
        level = "chance" if self.chance is None else f"{self.chance:g}"
        return f"|{self.metric_label} − {level}|, the distance from chance"

    @property
    def utility_metrics(self) -> list[str]:
        return sorted({e.utility_metric for e in self.front + self.unproven if e.utility_metric})

    @property
    def description(self) -> str:
        info = names.info(self.metric)
        return info.description if info else ""


def _best(rows: Iterable[LeaderRow], metric: str, higher: bool) -> LeaderRow | None:
    scored = [(r, agg) for r in rows if metric in r.metrics and (agg := r.scored(metric)) is not None]
    if not scored:
        return None
    return max(scored, key=lambda ra: (ra[1].mean if higher else -ra[1].mean, ra[0].n))[0]


def _undefended(rows: list[LeaderRow]) -> list[LeaderRow]:
    bare = [r for r in rows if r.undefended]
    return bare or rows


def _entry(page: "DatasetPage", ranking: ThreatRanking, s: DefenseStanding) -> Entry:
    r = s.ranked
    assert r is not None
    y = ranking.y_metric
    return Entry(page, r, r.metrics[ranking.x_metric], r.score, r.value(y), y, s.protection, s.cost, s.verdict)


def _standings(page: "DatasetPage", metric: str) -> Iterable[tuple[ThreatRanking, DefenseStanding]]:
    for ranking in page.rankings:
        if ranking.x_metric == metric:
            for s in ranking.standings:
                if not s.undefended and s.ranked is not None and metric in s.ranked.metrics:
                    yield ranking, s


def _headline(threat: str, pages: list["DatasetPage"]) -> ThreatHeadline | None:
    metric = names.PRIMARY[threat]
    higher = names.higher_is_better(metric)
    if higher is None:
        return None
    strongest = []
    front: list[Entry] = []
    unproven: list[Entry] = []
    n_defenses = 0
    for page in pages:
        rows = [r for r in page.rows if threat in r.threats]
        best = _best(rows if threat == "detection" else _undefended(rows), metric, higher)
        if best is not None:
            strongest.append(Entry(page, best, best.metrics[metric], best.scored(metric)))
        for ranking, s in _standings(page, metric):
            n_defenses += 1
            if s.on_front:
                front.append(_entry(page, ranking, s))
            elif not s.eligible:
                unproven.append(_entry(page, ranking, s))
    if not strongest:
        return None
    # Best protection first: the strongest attacker's worst result on the front.
    front.sort(key=lambda e: (e.score.mean if higher else -e.score.mean) if e.score else 0.0)
    return ThreatHeadline(threat, metric, higher, tuple(strongest), tuple(front[:MAX_FRONT]), max(0, len(front) - MAX_FRONT),
                          tuple(unproven[:MAX_FRONT]), max(0, len(unproven) - MAX_FRONT), n_defenses)


def build_headlines(pages: list["DatasetPage"]) -> list[ThreatHeadline]:
    """One headline per threat model measured on ``pages`` (one benchmark's), in catalogue order."""
    return [h for threat in names.PRIMARY if (h := _headline(threat, pages)) is not None]
