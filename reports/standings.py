"""Defenses ranked per threat, each on the strongest known attacker against it.

A threat ranking holds the groups of a page (one attack each) that share everything
but the attack, its tuning and the defense, and are ranked on the same attacker
metric: e.g. DFME and few-shot extraction against one SASRec, or the plain and the
adaptive membership attacker (``mia-zhang[adaptive=true]``, which knows the defense)
against one LFM. A defense's *standing* is its rows across those attacks; the row it
is ranked by is the strongest attacker's (the highest success as ranked, see
:func:`recsec.reports.protection.score`), and so are its protection and cost.

The Pareto front (least attacker success, most utility served) is taken over the
undefended standing (the reference point) and the defenses whose protection interval
lies above 0; a defense with no measurable protection is never placed on it, whatever
its utility: a utility "gain" within seed noise buys nothing.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable

from recsec.judges import names
from recsec.results import CellRecord

from .columns import THREAT_TITLES
from .leaderboard import LeaderRow, RankedGroup, build_rows
from .protection import Effect
from .stats import Agg, pareto_ranks

__all__ = ["DefenseStanding", "ThreatRanking", "rank_threats", "build_board", "row_verdict"]

UNDEFENDED = "undefended (the reference)"
NO_BASELINE = "no undefended row to compare with"


def row_verdict(row: LeaderRow) -> str:
    """How the pages word a row's protection: the reference, nothing to compare with, or its interval's verdict."""
    if row.undefended:
        return UNDEFENDED
    if row.protection is None:
        return NO_BASELINE
    return row.protection.verdict


@dataclass
class DefenseStanding:
    """One defense against every attack of a threat ranking, ranked on the strongest."""

    rows: list[LeaderRow]
    ranked: LeaderRow | None
    pareto_rank: int | None = None

    @property
    def defense(self):  # type: ignore[no-untyped-def]
        return self.rows[0].defense

    @property
    def undefended(self) -> bool:
        return self.rows[0].undefended

    @property
    def protection(self) -> Effect | None:
        return self.ranked.protection if self.ranked else None

    @property
    def cost(self) -> Effect | None:
        return self.ranked.cost if self.ranked else None

    @property
    def eligible(self) -> bool:
        """May stand on the front: the reference, or a measurable protection."""
        return self.undefended or (self.protection is not None and self.protection.measurable)

    @property
    def on_front(self) -> bool:
        return self.pareto_rank == 1

    @property
    def verdict(self) -> str:
        """The verdict on the row the defense is ranked by (:func:`row_verdict`)."""
        if self.undefended:
            return UNDEFENDED
        return row_verdict(self.ranked) if self.ranked is not None else NO_BASELINE

    @property
    def several_attacks(self) -> bool:
        return sum(1 for r in self.rows if r.n) > 1


@dataclass
class ThreatRanking:
    """The defenses of a page against one threat (one recommender setup, one attacker metric)."""

    groups: list[RankedGroup]
    x_metric: str
    y_metric: str | None
    standings: list[DefenseStanding] = field(default_factory=list)

    @property
    def title(self) -> str:
        first = self.groups[0].rows[0]
        threat = THREAT_TITLES.get((names.info(self.x_metric) or names.MetricInfo("", None, "")).threat, self.x_metric)
        variants = {r.variant for g in self.groups for r in g.rows}
        shared = variants.pop() if len(variants) == 1 else ""
        return f"{threat} against {first.recommender.instance}" + (f" ({shared})" if shared else "")

    @property
    def attacks(self) -> list[str]:
        return [g.rows[0].attack.instance for g in self.groups]

    @property
    def shown(self) -> list[DefenseStanding]:
        """Standings with a point to draw: the ranked row has the attacker metric and the utility."""
        y = self.y_metric
        return [s for s in self.standings if s.ranked is not None and self.x_metric in s.ranked.metrics
                and y is not None and y in s.ranked.metrics]

    @property
    def chance(self) -> float | None:
        """The attacker metric's chance level (the mean of the stored ones, where each cell has its own)."""
        if not names.has_chance(self.x_metric):
            return None
        levels = [v for s in self.shown for c in s.ranked.done  # type: ignore[union-attr]
                  if (v := names.chance_level(self.x_metric, c.metrics)) is not None]
        return statistics.fmean(levels) if levels else names.chance_level(self.x_metric)


def _strongest(rows: list[LeaderRow], up: bool) -> LeaderRow | None:
    scored = [r for r in rows if r.score is not None]
    if not scored:
        return None
    return max(scored, key=lambda r: ((r.score.mean if up else -r.score.mean), r.n))  # type: ignore[union-attr]


def _defense_key(row: LeaderRow) -> str:
    """The defense's identity within a ranking: everything but attack and seed, and a defense's own tuning."""
    tune = row.first.tune or {}
    own = tune if tune.get("component") == "defense" else None
    return row.first.key_without("seed", "attack", "tune") + json.dumps(own, sort_keys=True, default=str)


def _rank(ranking: ThreatRanking) -> None:
    up = names.higher_is_better(ranking.x_metric)
    y = ranking.y_metric
    by_defense: dict[str, list[LeaderRow]] = {}
    for g in ranking.groups:
        for r in g.rows:
            by_defense.setdefault(_defense_key(r), []).append(r)
    for rows in by_defense.values():
        standing = DefenseStanding(rows=rows, ranked=_strongest(rows, bool(up)))
        for r in rows:
            r.standing = standing
        ranking.standings.append(standing)
    # With the reference alone there is nothing to rank: no front of one undefended victim.
    if up is None or y is None or all(s.undefended for s in ranking.standings):
        return
    y_up = names.higher_is_better(y)
    points = [s for s in ranking.shown if s.eligible]
    # Cost = the strongest attacker's success (minimised), gain = utility served (maximised).
    values: list[tuple[Agg, Agg]] = [(s.ranked.score, s.ranked.metrics[y]) for s in points]  # type: ignore[misc, union-attr]
    ranks = pareto_ranks([((x.mean if up else -x.mean), (u.mean if y_up else -u.mean)) for x, u in values])
    for s, rank in zip(points, ranks):
        s.pareto_rank = rank
        s.ranked.pareto_rank = rank  # type: ignore[union-attr]
    ranking.standings.sort(key=lambda s: (s.pareto_rank is None, s.pareto_rank or 0, not s.undefended, s.defense.instance))


def rank_threats(groups: list[RankedGroup]) -> list[ThreatRanking]:
    """The threat rankings of a page's groups; sets each row's ``standing`` and, on the rows
    defenses are ranked by, ``pareto_rank``."""
    by_threat: dict[tuple[str, str], list[RankedGroup]] = {}
    for g in groups:
        if g.x_metric is None or not any(r.n for r in g.rows):
            continue
        key = g.rows[0].first.key_without("seed", "defense", "attack", "tune")
        by_threat.setdefault((key, g.x_metric), []).append(g)
    rankings = []
    for (_, x), members in by_threat.items():
        members.sort(key=lambda g: g.rows[0].attack.instance)
        ranking = ThreatRanking(groups=members, x_metric=x, y_metric=members[0].y_metric)
        _rank(ranking)
        rankings.append(ranking)
    rankings.sort(key=lambda t: (t.groups[0].rows[0].recommender.instance, t.x_metric))
    return rankings


def _sort_key(row: LeaderRow) -> tuple[Any, ...]:
    rank = row.standing.pareto_rank if row.standing is not None else None
    return (row.n == 0, rank is None, rank or 0, not row.undefended, row.defense.instance)


def build_board(cells: Iterable[CellRecord]) -> tuple[list[LeaderRow], list[RankedGroup], list[ThreatRanking]]:
    """A page's rows in display order (groups with results first, then by names; within a group,
    by the defense's rank), its groups and its threat rankings."""
    groups = build_rows(cells)
    rankings = rank_threats(groups)
    groups.sort(key=lambda g: (not any(r.n for r in g.rows), g.rows[0].recommender.instance, g.rows[0].attack.instance, g.rows[0].variant))
    out: list[LeaderRow] = []
    for gi, group in enumerate(groups):
        group.rows.sort(key=_sort_key)
        for r in group.rows:
            r.group, r.index = gi, len(out)
            out.append(r)
    return out, groups, rankings
