"""Leaderboard rows: one per setup (every identity field but the seed), aggregated over its seeds.

Rows that differ only in their defense form a ranking group; its defenses are
Pareto-ranked on attacker success (the group's primary metric) against the
victim's utility as served (``defended.*``), both directions taken from
:mod:`recsec.judges.names`. Cells of different setups are never merged: rows
that share their names carry a ``variant`` saying what sets them apart.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from recsec.judges import names
from recsec.results import KINDS, CellRecord, ComponentRecord

from .columns import utility_metric
from .stats import Agg, aggregate, pareto_ranks

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
    pareto_rank: int | None = None

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
    """Rows differing only in their defense, and the two axes that ranked them."""

    rows: list[LeaderRow]
    x_metric: str | None
    y_metric: str | None

    @property
    def ranked(self) -> list[LeaderRow]:
        return [r for r in self.rows if r.pareto_rank is not None]

    @property
    def title(self) -> str:
        r = self.rows[0]
        variants = {row.variant for row in self.rows}
        shared = variants.pop() if len(variants) == 1 else ""
        return f"{r.attack.instance} against {r.recommender.instance}" + (f" ({shared})" if shared else "")


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


def _rank(rows: list[LeaderRow]) -> RankedGroup:
    x = _x_metric(rows)
    y = utility_metric(m for r in rows for m in r.metrics)
    group = RankedGroup(rows=rows, x_metric=x, y_metric=y)
    points = [r for r in rows if x in r.metrics and y in r.metrics] if x and y else []
    if points:
        x_up, y_up = names.higher_is_better(x), names.higher_is_better(y)  # type: ignore[arg-type]
        # Cost = attacker success (minimised), gain = utility served (maximised), in the catalogue's directions.
        ranks = pareto_ranks(
            [((r.metrics[x].mean if x_up else -r.metrics[x].mean), (r.metrics[y].mean if y_up else -r.metrics[y].mean)) for r in points]  # type: ignore[index]
        )
        for r, rank in zip(points, ranks):
            r.pareto_rank = rank
    return group


def _sort_key(row: LeaderRow, y: str | None) -> tuple[Any, ...]:
    agg = row.value(y)
    up = names.higher_is_better(y) if y else None
    utility = (-agg.mean if up else agg.mean) if agg is not None else float("inf")
    return (row.pareto_rank is None, row.pareto_rank or 0, row.n == 0, utility, row.defense.instance)


def build_rows(cells: Iterable[CellRecord]) -> tuple[list[LeaderRow], list[RankedGroup]]:
    """Rows (one per setup) in display order, and their ranking groups."""
    by_setup: dict[str, list[CellRecord]] = {}
    for c in cells:
        by_setup.setdefault(c.setup_hash, []).append(c)
    rows = []
    for members in by_setup.values():
        row = LeaderRow(cells=sorted(members, key=lambda c: (c.seed, c.id)))
        _aggregate(row)
        rows.append(row)
    _label_variants(rows)
    by_group: dict[str, list[LeaderRow]] = {}
    for r in rows:
        by_group.setdefault(r.first.key_without("seed", "defense"), []).append(r)
    # Groups with results first; then by names.
    ordered = sorted(
        by_group.values(),
        key=lambda rs: (not any(r.n for r in rs), rs[0].recommender.instance, rs[0].attack.instance, rs[0].variant),
    )
    out: list[LeaderRow] = []
    groups = []
    for gi, members in enumerate(ordered):
        group = _rank(members)
        members.sort(key=lambda r: _sort_key(r, group.y_metric))
        for r in members:
            r.group, r.index = gi, len(out)
            out.append(r)
        groups.append(group)
    return out, groups
