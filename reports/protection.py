"""What a defense buys and costs: paired by seed against the undefended attack.

A leaderboard row (one setup over its seeds) with a defense is compared with the row
that differs from it only in having no defense (``defense=none``): same dataset,
recommender, attack and seed (:func:`recsec.reports.summary.pair_key`, the pairing
``recsec results --paired`` uses). Per seed:

- the *protection gained* is how much the attacker's success drops, on the ranking
  scale of :func:`score` (the value itself, or its distance from chance for metrics
  that have a chance level, such as a ROC AUC: 0.35 is 0.15 from chance, as leaky as
  0.65, since the attacker can flip its scores);
- the *utility cost* is the share of the undefended victim's utility the users lose
  when served through the defense, ``1 - served / undefended``
  (:func:`recsec.reports.summary.relative_cost`), on one named ``defended.*`` metric.

Each is aggregated over the paired seeds with its 95 % Student-t interval
(:meth:`recsec.reports.stats.Agg.ci95`): a defense whose protection interval holds 0
has no measurable protection (it may still be noise), and one seed gives no interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from recsec.judges import names
from recsec.metrics import is_number
from recsec.results import CellRecord

from .stats import Agg, aggregate
from .summary import difference, metric_value, pair_key, relative_cost

if TYPE_CHECKING:  # pragma: no cover
    from .leaderboard import LeaderRow

__all__ = ["Effect", "score", "protection", "utility_cost", "paired_cells", "seed_protection", "seed_cost"]

#: Verdicts on a protection interval, as the pages word them.
MEASURED = "measurable protection"
NONE = "no measurable protection"
HARM = "the attack gets stronger"
ONE_SEED = "no measurable protection (one paired seed: no interval)"


def score(metric: str, cell: CellRecord) -> float | None:
    """What ranks ``cell`` on ``metric``: the stored value, or ``|value - chance|`` where the
    catalogue gives the metric a chance level (a stored one read from the same cell)."""
    value = metric_value(cell, metric)
    if not is_number(value) or not math.isfinite(float(value)):
        return None
    if not names.has_chance(metric):
        return float(value)
    chance = names.chance_level(metric, cell.metrics)
    return None if chance is None else abs(float(value) - chance)


@dataclass(frozen=True)
class Effect:
    """A per-seed paired quantity over the seeds both rows finished: mean ± std and its interval."""

    agg: Agg | None
    seeds: tuple[int, ...]

    @property
    def ci(self) -> tuple[float, float] | None:
        return self.agg.ci95() if self.agg is not None else None

    @property
    def measurable(self) -> bool:
        """The interval lies wholly above 0 (for a protection: the attacker measurably weaker)."""
        ci = self.ci
        return ci is not None and ci[0] > 0

    @property
    def verdict(self) -> str:
        """How the pages word a protection interval."""
        ci = self.ci
        if ci is None:
            return ONE_SEED if self.agg is not None else NONE
        if ci[0] > 0:
            return MEASURED
        return HARM if ci[1] < 0 else NONE

    @staticmethod
    def show(value: float, percent: bool = False, digits: int = 4) -> str:
        """``+0.1240`` (``percent``: ``+8.0%``): signed, since a protection or a cost may be negative."""
        return f"{value * 100:+.1f}%" if percent else f"{value:+.{digits}f}"

    def mean_text(self, percent: bool = False) -> str:
        return "" if self.agg is None else self.show(self.agg.mean, percent)

    def ci_text(self, percent: bool = False) -> str:
        """``[+0.050, +0.200]`` (one digit fewer than the mean: the interval is wide), or empty without one."""
        ci = self.ci
        return "" if ci is None else f"[{self.show(ci[0], percent, 3)}, {self.show(ci[1], percent, 3)}]"

    def text(self, percent: bool = False) -> str:
        """The mean and its interval: ``+0.1240 [+0.050, +0.200]``; empty without pairs."""
        return " ".join(t for t in (self.mean_text(percent), self.ci_text(percent)) if t)


def paired_cells(row: "LeaderRow", baseline: "LeaderRow") -> list[tuple[CellRecord, CellRecord]]:
    """(defended, undefended) done cells of the same seed, by the pairing of ``recsec results --paired``."""
    base = {pair_key(c, "defense"): c for c in baseline.done}
    return [(c, b) for c in row.done if (b := base.get(pair_key(c, "defense"))) is not None]


def _effect(pairs: Iterable[tuple[CellRecord, CellRecord, float | None]]) -> Effect:
    kept = [(c.seed, v) for c, _, v in pairs if v is not None and math.isfinite(v)]
    return Effect(aggregate(v for _, v in kept), tuple(sorted(s for s, _ in kept)))


def seed_protection(metric: str, cell: CellRecord, base: CellRecord) -> float | None:
    """One seed's protection: the drop in the attacker's :func:`score` (a rise, for a lower-is-better metric)."""
    drop = difference(score(metric, base), score(metric, cell))
    up = names.higher_is_better(metric)
    return None if drop is None or up is None else (drop if up else -drop)


def seed_cost(utility: str, cell: CellRecord, base: CellRecord) -> float | None:
    """One seed's utility cost: ``1 - served / undefended`` on ``utility``."""
    return relative_cost(metric_value(cell, utility), metric_value(base, utility))


def protection(metric: str, row: "LeaderRow", baseline: "LeaderRow") -> Effect:
    """``row``'s protection against ``baseline`` (its undefended row) on the attacker metric ``metric``."""
    return _effect((c, b, seed_protection(metric, c, b)) for c, b in paired_cells(row, baseline))


def utility_cost(utility: str, row: "LeaderRow", baseline: "LeaderRow") -> Effect:
    """``row``'s utility cost against ``baseline`` on the ``defended.*`` metric ``utility``."""
    return _effect((c, b, seed_cost(utility, c, b)) for c, b in paired_cells(row, baseline))
