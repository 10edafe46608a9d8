"""The site's content as plain objects: benchmarks, per-dataset leaderboards, cells.

Nothing here is HTML: the templates render these objects with autoescaping on.
File names come from cell ids and hashes only (see :func:`dataset_slug`,
:func:`cell_href`), never from plugin-provided names.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from .chart import Chart, ChartInput, build_chart
from .data import CellRow, ReportData, RunRow
from .stats import Agg, aggregate, pareto_ranks

__all__ = [
    "Column",
    "ColumnGroup",
    "LeaderRow",
    "DatasetPage",
    "BenchmarkSummary",
    "Site",
    "build_site",
    "dataset_slug",
    "benchmark_anchor",
    "cell_href",
]

#: Metric prefixes in table order, with the heading of their column group.
GROUPS: tuple[tuple[str, str], ...] = (
    ("attack", "Attack success"),
    ("utility", "Victim utility (undefended)"),
    ("defended", "Victim utility (through the defense)"),
    ("defense", "Defense metrics"),
    ("", "Other metrics"),
)
#: Bookkeeping metrics (e.g. ``tune.best_trial``) shown on detail pages but not aggregated.
HIDDEN_PREFIXES: tuple[str, ...] = ("tune.",)
#: Preferred utility metrics, listed first within their group.
PREFERRED_SUFFIXES: tuple[str, ...] = ("ndcg@10", "hr@10")


def dataset_slug(benchmark: str, dataset: str) -> str:
    """File stem of a (benchmark, dataset) page: a hash, safe whatever the names hold."""
    return hashlib.sha256(json.dumps([benchmark, dataset]).encode("utf-8")).hexdigest()[:16]


def benchmark_anchor(benchmark: str) -> str:
    """Fragment id of a benchmark's section in ``index.html`` (a hash of its name)."""
    return "bench-" + hashlib.sha256(benchmark.encode("utf-8")).hexdigest()[:12]


def cell_href(cell: CellRow) -> str:
    """Path of a cell's detail page relative to the site root (from its integer id)."""
    return f"cells/{int(cell.id)}.html"


def _prefix(name: str) -> str:
    head, dot, _ = name.partition(".")
    return head if dot and head in {g for g, _ in GROUPS} else ""


def _suffix(name: str) -> str:
    return name.partition(".")[2] if _prefix(name) else name


@dataclass(frozen=True)
class Column:
    """A metric column of a leaderboard."""

    name: str
    label: str
    group: str
    primary: bool = False


@dataclass(frozen=True)
class ColumnGroup:
    key: str
    title: str
    columns: tuple[Column, ...]


def order_metrics(names: Iterable[str], primary: Iterable[str] = ()) -> list[Column]:
    """Order metric names into table columns: grouped by prefix, primary and preferred first."""
    primary_set = set(primary)
    names = set(names)
    columns: list[Column] = []
    for group, _title in GROUPS:
        members = [n for n in names if _prefix(n) == group]

        def key(n: str) -> tuple[int, int, str]:
            suffix = _suffix(n)
            pref = PREFERRED_SUFFIXES.index(suffix) if suffix in PREFERRED_SUFFIXES else len(PREFERRED_SUFFIXES)
            return (0 if n in primary_set else 1, pref, n)

        for n in sorted(members, key=key):
            columns.append(Column(name=n, label=_suffix(n), group=group, primary=n in primary_set))
    return columns


def column_groups(columns: list[Column]) -> list[ColumnGroup]:
    titles = dict(GROUPS)
    out: list[ColumnGroup] = []
    for group, _ in GROUPS:
        members = tuple(c for c in columns if c.group == group)
        if members:
            out.append(ColumnGroup(key=group or "other", title=titles[group], columns=members))
    return out


@dataclass
class LeaderRow:
    """One (recommender, attack, defense) of a dataset, aggregated over its seeds."""

    index: int
    group: int
    recommender: str
    attack: str
    defense: str
    #: The newest cell of each seed (these are aggregated).
    cells: list[CellRow]
    #: Older cells of the same seeds (another configuration, e.g. a component version bump).
    superseded: list[CellRow] = field(default_factory=list)
    metrics: dict[str, Agg] = field(default_factory=dict)
    primary_metric: str = ""
    pareto_rank: int | None = None
    trial_counts: list[int] = field(default_factory=list)

    @property
    def done(self) -> list[CellRow]:
        return [c for c in self.cells if c.status == "done"]

    @property
    def n(self) -> int:
        return len(self.done)

    @property
    def counts(self) -> Counter[str]:
        return Counter(c.status for c in self.cells)

    @property
    def on_front(self) -> bool:
        return self.pareto_rank == 1

    @property
    def tuned(self) -> bool:
        return bool(self.trial_counts)

    @property
    def trials_text(self) -> str:
        if not self.trial_counts:
            return ""
        lo, hi = min(self.trial_counts), max(self.trial_counts)
        return f"{lo} trials" if lo == hi else f"{lo}–{hi} trials"

    @property
    def skip_reasons(self) -> list[str]:
        return sorted({c.skip_reason or "" for c in self.cells if c.status == "skipped"})


class _StatusCounts:
    """Cell totals of a page; ``counts`` (status -> number of cells) comes from the class."""

    counts: Counter[str]

    @property
    def n_cells(self) -> int:
        return sum(self.counts.values())

    @property
    def other_count(self) -> int:
        """Cells neither done, failed nor skipped: pending or running."""
        return sum(v for k, v in self.counts.items() if k not in ("done", "failed", "skipped"))


@dataclass
class DatasetPage(_StatusCounts):
    benchmark: str
    dataset: str
    slug: str
    rows: list[LeaderRow]
    columns: list[Column]
    groups: list[ColumnGroup]
    charts: list[Chart]
    counts: Counter[str]
    last_update: datetime | None

    @property
    def href(self) -> str:
        return f"datasets/{self.slug}.html"

    @property
    def bench_anchor(self) -> str:
        return benchmark_anchor(self.benchmark)

    def distinct(self, attr: str) -> int:
        return len({getattr(r, attr) for r in self.rows})


@dataclass
class BenchmarkSummary(_StatusCounts):
    name: str
    datasets: list[DatasetPage]
    runs: list[RunRow]

    @property
    def anchor(self) -> str:
        return benchmark_anchor(self.name)

    @property
    def counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for d in self.datasets:
            total.update(d.counts)
        return total

    @property
    def last_update(self) -> datetime | None:
        return _latest(d.last_update for d in self.datasets)


@dataclass
class Site:
    benchmarks: list[BenchmarkSummary]
    pages: list[DatasetPage]
    cells: list[CellRow]
    page_of_cell: dict[int, DatasetPage]


def _utc_naive(value: datetime) -> datetime:
    """Comparable form of a timestamp: naive ones (SQLite) are taken as UTC already."""
    return value if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def _latest(values: Iterable[datetime | None]) -> datetime | None:
    present = [v for v in values if isinstance(v, datetime)]
    return max(present, key=_utc_naive) if present else None


def _attacker_higher_is_better(cells: list[CellRow], metric: str) -> bool:
    """The attack's direction for ``metric`` from the cells' config (default: higher is better)."""
    for c in cells:
        directions = c.config.get("metric_directions")
        if isinstance(directions, Mapping):
            for key in (metric, _suffix(metric)):
                if isinstance(directions.get(key), bool):
                    return bool(directions[key])
    return True


def _x_metric(rows: list[LeaderRow]) -> str | None:
    """The attacker-success axis: the attack's primary metric, else its first ``attack.*`` metric."""
    primaries = Counter(r.primary_metric for r in rows if r.primary_metric)
    for name, _ in primaries.most_common():
        if any(name in r.metrics for r in rows):
            return name
    names = sorted({m for r in rows for m in r.metrics if _prefix(m) == "attack"})
    return names[0] if names else None


def _y_suffix(rows: list[LeaderRow]) -> str | None:
    """The utility metric (without prefix): ndcg@10 when present, else the first one measured."""
    suffixes = {_suffix(m) for r in rows for m in r.metrics if _prefix(m) in ("defended", "utility")}
    for pref in PREFERRED_SUFFIXES:
        if pref in suffixes:
            return pref
    return sorted(suffixes)[0] if suffixes else None


def _y_value(row: LeaderRow, suffix: str) -> tuple[str, Agg] | None:
    for name in (f"defended.{suffix}", f"utility.{suffix}"):
        if name in row.metrics:
            return name, row.metrics[name]
    return None


@dataclass
class _Ranking:
    """A group's Pareto ranking: which rows have both axes, and the axis names."""

    x_name: str
    y_names: list[str]
    higher: bool
    points: list[tuple[LeaderRow, Agg, Agg]]


def _rank_group(rows: list[LeaderRow]) -> _Ranking | None:
    """Pareto-rank one (recommender, attack) group's defenses (sets ``pareto_rank``)."""
    x_name = _x_metric(rows)
    y_suffix = _y_suffix(rows)
    if x_name is None or y_suffix is None:
        return None
    higher = _attacker_higher_is_better([c for r in rows for c in r.cells], x_name)
    points: list[tuple[LeaderRow, Agg, Agg]] = []
    y_names: set[str] = set()
    for r in rows:
        y = _y_value(r, y_suffix)
        if x_name in r.metrics and y is not None:
            points.append((r, r.metrics[x_name], y[1]))
            y_names.add(y[0])
    if not points:
        return None
    # Cost = attacker success (minimised), gain = victim utility (maximised).
    ranks = pareto_ranks([((x.mean if higher else -x.mean), y.mean) for _, x, y in points])
    for (r, _, _), rank in zip(points, ranks):
        r.pareto_rank = rank
    return _Ranking(x_name=x_name, y_names=sorted(y_names), higher=higher, points=points)


def _chart(ranking: _Ranking, title: str) -> Chart | None:
    """The utility-versus-protection chart of a ranked group; None under two defenses."""
    if len({r.defense for r, _, _ in ranking.points}) < 2:
        return None
    inputs = [
        ChartInput(label=r.defense, x=x, y=y, rank=r.pareto_rank or 0, anchor=f"row-{r.index}")
        for r, x, y in ranking.points
    ]
    return build_chart(
        title=title,
        x_label=ranking.x_name,
        y_label=" / ".join(ranking.y_names),
        points=inputs,
        attacker_higher_is_better=ranking.higher,
    )


def _aggregate_row(row: LeaderRow) -> None:
    done = row.done
    per_metric: dict[str, list[float]] = {}
    for c in done:
        for name, value in c.effective_metrics().items():
            if not str(name).startswith(HIDDEN_PREFIXES):
                per_metric.setdefault(str(name), []).append(value)
    row.metrics = {k: a for k, v in per_metric.items() if (a := aggregate(v)) is not None}
    primaries = Counter(c.primary_metric for c in row.cells if c.primary_metric)
    row.primary_metric = primaries.most_common(1)[0][0] if primaries else ""
    row.trial_counts = [c.trial_count for c in done if c.tuned]


def _sort_key(row: LeaderRow, y_suffix: str | None) -> tuple[Any, ...]:
    y = _y_value(row, y_suffix) if y_suffix else None
    return (
        row.pareto_rank is None,
        row.pareto_rank or 0,
        row.n == 0,
        -(y[1].mean if y else float("-inf")),
        row.defense,
    )


def _latest_per_seed(cells: list[CellRow]) -> tuple[list[CellRow], list[CellRow]]:
    """Split cells into the newest per seed (highest id: the latest configuration) and the rest."""
    newest: dict[int, CellRow] = {}
    for c in cells:
        if c.seed not in newest or c.id > newest[c.seed].id:
            newest[c.seed] = c
    keep = {id(c) for c in newest.values()}
    current = sorted(newest.values(), key=lambda c: c.seed)
    return current, [c for c in cells if id(c) not in keep]


def build_dataset(benchmark: str, dataset: str, cells: list[CellRow]) -> DatasetPage:
    """Group a dataset's cells into leaderboard rows, rank defenses, build charts."""
    by_row: dict[tuple[str, str, str], list[CellRow]] = {}
    for c in sorted(cells, key=lambda c: (c.seed, c.id)):
        by_row.setdefault((c.recommender, c.attack, c.defense), []).append(c)
    by_group: dict[tuple[str, str], list[LeaderRow]] = {}
    for (rec, att, dfn), members in sorted(by_row.items()):
        current, superseded = _latest_per_seed(members)
        row = LeaderRow(index=0, group=0, recommender=rec, attack=att, defense=dfn, cells=current, superseded=superseded)
        _aggregate_row(row)
        by_group.setdefault((rec, att), []).append(row)

    rows: list[LeaderRow] = []
    charts: list[Chart] = []
    for gi, ((rec, att), members) in enumerate(sorted(by_group.items())):
        ranking = _rank_group(members)
        y_suffix = _y_suffix(members)
        members.sort(key=lambda r: _sort_key(r, y_suffix))
        for r in members:
            r.group = gi
            r.index = len(rows)
            rows.append(r)
        chart = _chart(ranking, f"{att} against {rec}") if ranking is not None else None
        if chart is not None:
            charts.append(chart)

    columns = order_metrics({m for r in rows for m in r.metrics}, {r.primary_metric for r in rows if r.primary_metric})
    return DatasetPage(
        benchmark=benchmark,
        dataset=dataset,
        slug=dataset_slug(benchmark, dataset),
        rows=rows,
        columns=columns,
        groups=column_groups(columns),
        charts=charts,
        counts=Counter(c.status for c in cells),
        last_update=_latest(c.updated_at or c.created_at for c in cells),
    )


def build_site(data: ReportData) -> Site:
    """Everything the templates need, from the loaded report data."""
    by_dataset: dict[tuple[str, str], list[CellRow]] = {}
    for c in data.cells:
        by_dataset.setdefault((c.benchmark, c.dataset), []).append(c)
    pages = [build_dataset(b, d, cells) for (b, d), cells in sorted(by_dataset.items())]
    page_of_cell = {c.id: p for p in pages for r in p.rows for c in (*r.cells, *r.superseded)}

    benchmarks: list[BenchmarkSummary] = []
    for name in sorted({p.benchmark for p in pages} | {r.benchmark for r in data.runs.values()}):
        runs = sorted((r for r in data.runs.values() if r.benchmark == name), key=lambda r: r.id, reverse=True)
        benchmarks.append(BenchmarkSummary(name=name, datasets=[p for p in pages if p.benchmark == name], runs=runs))
    return Site(benchmarks=benchmarks, pages=pages, cells=sorted(data.cells, key=lambda c: c.id), page_of_cell=page_of_cell)
