"""Leaderboard rows: one per setup (every identity field but the seed), aggregated over its seeds.

Rows that differ only in their defense form a group (one attack against one
recommender); each defended row carries its protection and utility cost against
the group's undefended row, paired by seed (:mod:`recsec.reports.protection`).
Defenses are then ranked across the attacks of a threat, each on its strongest
known attacker (:mod:`recsec.reports.standings`). Directions and chance levels come
from :mod:`recsec.judges.names`. Cells of different setups are never merged: rows
that share their names carry a ``variant`` saying what sets them apart.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from recsec.judges import names
from recsec.results import KINDS, CellRecord, ComponentRecord

from .columns import utility_metric
from .privacy import Guarantee, guarantee
from .protection import Effect, protection, score, utility_cost
from .stats import Agg, aggregate

if TYPE_CHECKING:  # pragma: no cover
    from .standings import DefenseStanding

__all__ = ["LeaderRow", "RankedGroup", "build_rows"]

#: Bookkeeping metrics (``tune.best_trial``) shown on cell pages, never aggregated.
_HIDDEN_PREFIXES = ("tune.",)


@dataclass
class LeaderRow:
    """The seeds of one setup on a dataset page."""

    cells: list[CellRecord]
    metrics: dict[str, Agg] = field(default_factory=dict)
    index: int = 0
    group: int = 0
    variant: str = ""
    #: Set on the row its defense is ranked by (the strongest known attacker against it).
    pareto_rank: int | None = None
    #: The group's attacker metric and the page's utility metric (``defended.*``).
    x_metric: str | None = None
    y_metric: str | None = None
    #: The attacker's success on ``x_metric`` as ranked (distance from chance where it has one).
    score: Agg | None = None
    #: The group's undefended row, and this row's protection and utility cost against it.
    baseline: "LeaderRow | None" = None
    protection: Effect | None = None
    cost: Effect | None = None
    #: The defense's standing in its threat ranking (every attack against it).
    standing: "DefenseStanding | None" = None
    _scores: dict[str, Agg | None] = field(default_factory=dict, repr=False)

    @property
    def first(self) -> CellRecord:
        return self.cells[0]

    @property
    def recommender(self) -> ComponentRecord:
        return self.first.recommender

    @property
    def attack(self) -> ComponentRecord:
        return self.first.attack

    @property
    def defense(self) -> ComponentRecord:
        return self.first.defense

    @property
    def done(self) -> list[CellRecord]:
        return [c for c in self.cells if c.status == "done"]

    @property
    def n(self) -> int:
        return len(self.done)

    @property
    def seeds(self) -> list[int]:
        return [c.seed for c in self.done]

    @property
    def counts(self) -> Counter[str]:
        return Counter(c.status for c in self.cells)

    @property
    def on_front(self) -> bool:
        return self.pareto_rank == 1

    @property
    def undefended(self) -> bool:
        return self.defense.name == "none"

    @property
    def applies(self) -> bool:
        """False when every cell was skipped by design (the combination does not apply)."""
        return any(c.status != "skipped" for c in self.cells)

    def scored(self, metric: str) -> Agg | None:
        """``metric`` over the done seeds as ranked (:func:`recsec.reports.protection.score`)."""
        if metric not in self._scores:
            self._scores[metric] = aggregate(score(metric, c) for c in self.done)
        return self._scores[metric]

    @property
    def privacy(self) -> Guarantee | None:
        """The victim's differential-privacy guarantee over the done seeds, if its cells store one."""
        return guarantee(self.cells)

    @property
    def trial_counts(self) -> list[int]:
        return [c.trial_count for c in self.done if c.tuned]

    @property
    def trials_text(self) -> str:
        counts = self.trial_counts
        if not counts:
            return ""
        lo, hi = min(counts), max(counts)
        return f"{lo} trials" if lo == hi else f"{lo}–{hi} trials"

    @property
    def skip_reasons(self) -> list[str]:
        return sorted({c.skip_reason or "" for c in self.cells if c.status == "skipped"})

    @property
    def threats(self) -> set[str]:
        return {t for c in self.done for t in c.threats}

    def value(self, metric: str | None) -> Agg | None:
        return self.metrics.get(metric) if metric else None


@dataclass
class RankedGroup:
    """Rows differing only in their defense (one attack), its attacker metric and the page's utility."""

    rows: list[LeaderRow]
    x_metric: str | None
    y_metric: str | None


def _aggregate(row: LeaderRow) -> None:
    values: dict[str, list[Any]] = {}
    for c in row.done:
        for name, value in c.metrics.items():
            if not name.startswith(_HIDDEN_PREFIXES):
                values.setdefault(name, []).append(value)
        for name, value in c.diagnostics.items():
            values.setdefault(f"diag.{name.removeprefix('diag.')}", []).append(value)
    row.metrics = {k: a for k, v in values.items() if (a := aggregate(v)) is not None}


def _facets(cell: CellRecord) -> dict[str, str]:
    """What can tell two setups with equal names apart, as short texts."""
    out = {"k": f"k={cell.k}", "tuning": cell.tuning_text, "data": f"data {(cell.data_fingerprint or '?')[:8]}"}
    for comp in cell.components:
        out[f"{comp.kind} version"] = f"{comp.kind} v{comp.version}"
        out[f"{comp.kind} params"] = f"{comp.kind} " + json.dumps(dict(comp.params), sort_keys=True, default=str)
    return out


def _label_variants(rows: list[LeaderRow]) -> None:
    """Give rows that share all four names the facets in which their setups differ."""
    by_names: dict[tuple[str, ...], list[LeaderRow]] = {}
    for r in rows:
        by_names.setdefault(tuple(r.first.component(k).instance for k in KINDS), []).append(r)
    for same in by_names.values():
        if len(same) < 2:
            continue
        facets = [_facets(r.first) for r in same]
        differing = [k for k in facets[0] if len({f[k] for f in facets}) > 1]
        for r, f in zip(same, facets):
            r.variant = ", ".join(f[k] for k in differing) or f"setup {r.first.setup_hash[:8]}"


def _x_metric(rows: list[LeaderRow]) -> str | None:
    """The attacker-success axis: the attack's declared primary or its threat's, if the catalogue
    gives it a direction; None otherwise (nothing is ranked on a metric without one)."""
    declared = Counter(c.primary_metric for r in rows for c in r.done if c.primary_metric)
    candidates = [m for m, _ in declared.most_common()] + list(names.PRIMARY.values())
    for metric in candidates:
        if names.higher_is_better(metric) is not None and any(metric in r.metrics for r in rows):
            return metric
    return None


def _compare(group: RankedGroup) -> None:
    """Each row's score, and each defended row's protection and cost against the undefended row."""
    x, y = group.x_metric, group.y_metric
    bare = next((r for r in group.rows if r.undefended and r.n), None)
    for r in group.rows:
        r.x_metric, r.y_metric = x, y
        r.score = r.scored(x) if x else None
        if bare is None or r is bare or r.undefended:
            continue
        r.baseline = bare
        r.protection = protection(x, r, bare) if x and names.higher_is_better(x) is not None else None
        r.cost = utility_cost(y, r, bare) if y else None


def build_rows(cells: Iterable[CellRecord]) -> list[RankedGroup]:
    """The groups (one per attack) of rows (one per setup), each row compared with its undefended
    row; :func:`recsec.reports.standings.build_board` ranks and orders them."""
    by_setup: dict[str, list[CellRecord]] = {}
    for c in cells:
        by_setup.setdefault(c.setup_hash, []).append(c)
    rows = []
    for members in by_setup.values():
        row = LeaderRow(cells=sorted(members, key=lambda c: (c.seed, c.id)))
        _aggregate(row)
        rows.append(row)
    _label_variants(rows)
    # One utility metric for the whole page: the cost, the chart and every headline name it.
    y = utility_metric(m for r in rows for m in r.metrics)
    by_group: dict[str, list[LeaderRow]] = {}
    for r in rows:
        by_group.setdefault(r.first.key_without("seed", "defense"), []).append(r)
    groups = [RankedGroup(rows=members, x_metric=_x_metric(members), y_metric=y) for members in by_group.values()]
    for group in groups:
        _compare(group)
    return groups
