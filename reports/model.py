"""The site's content as plain objects: benchmarks with headlines, dataset leaderboards, cells.

Nothing here is HTML: the templates render these objects with autoescaping on.
File names come from cell ids and hashes only (:func:`dataset_slug`,
:func:`cell_href`), never from plugin-provided names.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

from recsec.results import CellRecord, Results, RunRecord

from .chart import Chart, ChartInput, build_chart
from .columns import Column, order_columns
from .headline import ThreatHeadline, build_headlines
from .leaderboard import LeaderRow, RankedGroup, build_rows
from .lines import LineChart, curve_charts, trial_chart
from .provenance import SpecFile, reproduce_command, spec_file
from .published import HEADLINES
from .reproductions import Reproduction, build_reproductions

__all__ = ["DatasetPage", "BenchmarkSummary", "CellPage", "Site", "build_site", "dataset_slug", "benchmark_anchor", "cell_href"]


def dataset_slug(benchmark: str, dataset: str) -> str:
    """File stem of a (benchmark, dataset) page: a hash, safe whatever the names hold."""
    return hashlib.sha256(json.dumps([benchmark, dataset]).encode("utf-8")).hexdigest()[:16]


def benchmark_anchor(benchmark: str) -> str:
    """Fragment id of a benchmark's section in ``index.html`` (a hash of its name)."""
    return "bench-" + hashlib.sha256(benchmark.encode("utf-8")).hexdigest()[:12]


def cell_href(cell: CellRecord) -> str:
    """Path of a cell's detail page relative to the site root (from its integer id)."""
    return f"cells/{int(cell.id)}.html"


def _utc_naive(value: datetime) -> datetime:
    """Comparable form of a timestamp: naive ones (SQLite) are taken as UTC already."""
    return value if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def _latest(values: Iterable[datetime | None]) -> datetime | None:
    present = [v for v in values if isinstance(v, datetime)]
    return max(present, key=_utc_naive) if present else None


def _specs(cells: Iterable[CellRecord]) -> list[SpecFile]:
    found = {s.href: s for c in cells if (s := spec_file(c.run)) is not None}
    return [found[k] for k in sorted(found)]


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
    cells: list[CellRecord]
    rows: list[LeaderRow]
    groups: list[RankedGroup]
    columns: list[Column]
    charts: list[Chart]
    counts: Counter[str]
    last_update: datetime | None

    @property
    def slug(self) -> str:
        return dataset_slug(self.benchmark, self.dataset)

    @property
    def href(self) -> str:
        return f"datasets/{self.slug}.html"

    @property
    def data_href(self) -> str:
        """Stem of the page's downloads: ``.csv`` / ``.json`` (its rows), ``-cells.csv`` (its cells)."""
        return f"data/{self.slug}"

    @property
    def bench_anchor(self) -> str:
        return benchmark_anchor(self.benchmark)

    @property
    def shown_columns(self) -> int:
        return sum(c.shown for c in self.columns)

    @property
    def ks(self) -> list[int]:
        return sorted({c.k for c in self.cells if c.k is not None})

    @property
    def specs(self) -> list[SpecFile]:
        return _specs(self.cells)

    @property
    def command(self) -> str:
        return reproduce_command(self.cells, ("dataset",))

    def distinct(self, kind: str) -> int:
        return len({r.first.component(kind).instance for r in self.rows})


@dataclass
class BenchmarkSummary(_StatusCounts):
    name: str
    datasets: list[DatasetPage]
    runs: list[RunRecord]
    headlines: list[ThreatHeadline] = field(default_factory=list)

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
class CellPage:
    """A cell and what its page shows beyond the record: charts, command, downloads."""

    cell: CellRecord
    page: DatasetPage | None
    curves: list[LineChart]
    trials: LineChart | None

    @property
    def href(self) -> str:
        return cell_href(self.cell)

    @property
    def data_href(self) -> str:
        return f"data/cell-{int(self.cell.id)}"

    @property
    def command(self) -> str:
        return reproduce_command([self.cell])

    @property
    def spec(self) -> SpecFile | None:
        return spec_file(self.cell.run)


@dataclass
class Site:
    benchmarks: list[BenchmarkSummary]
    pages: list[DatasetPage]
    cells: list[CellPage]
    specs: list[SpecFile]
    #: Every published headline (:data:`recsec.reports.published.HEADLINES`) beside recsec's numbers.
    reproductions: list[Reproduction] = field(default_factory=list)


def _charts(groups: list[RankedGroup]) -> list[Chart]:
    """The utility-versus-protection chart of each group ranking at least two defenses."""
    charts = []
    for group in groups:
        ranked = group.ranked
        if len({r.defense.instance for r in ranked}) < 2 or group.x_metric is None or group.y_metric is None:
            continue
        x, y = group.x_metric, group.y_metric
        points = [ChartInput(r.defense.instance, r.metrics[x], r.metrics[y], r.pareto_rank or 0, f"row-{r.index}") for r in ranked]
        charts.append(build_chart(group.title, x, y, points))
    return charts


def build_dataset(benchmark: str, dataset: str, cells: list[CellRecord]) -> DatasetPage:
    """A dataset's leaderboard: rows per setup, ranked groups, columns and charts."""
    rows, groups = build_rows(cells)
    primaries = [g.x_metric for g in groups if g.x_metric]
    columns = order_columns({m for r in rows for m in r.metrics}, primaries)
    return DatasetPage(
        benchmark=benchmark,
        dataset=dataset,
        cells=cells,
        rows=rows,
        groups=groups,
        columns=columns,
        charts=_charts(groups),
        counts=Counter(c.status for c in cells),
        last_update=_latest(c.updated_at or c.created_at for c in cells),
    )


def build_site(results: Results) -> Site:
    """Everything the templates need, from the read model."""
    by_dataset: dict[tuple[str, str], list[CellRecord]] = {}
    for c in results.cells:
        by_dataset.setdefault((c.benchmark, c.dataset.instance), []).append(c)
    pages = [build_dataset(b, d, cells) for (b, d), cells in sorted(by_dataset.items())]
    page_of = {c.id: p for p in pages for c in p.cells}
    benchmarks = []
    for name in sorted({p.benchmark for p in pages} | {r.benchmark for r in results.runs.values()}):
        runs = sorted((r for r in results.runs.values() if r.benchmark == name), key=lambda r: r.id, reverse=True)
        datasets = [p for p in pages if p.benchmark == name]
        benchmarks.append(BenchmarkSummary(name=name, datasets=datasets, runs=runs, headlines=build_headlines(datasets)))
    cells = [
        CellPage(cell=c, page=page_of.get(c.id), curves=curve_charts(c.curves), trials=trial_chart(c))
        for c in sorted(results.cells, key=lambda c: c.id)
    ]
    specs = {s.href: s for r in results.runs.values() if (s := spec_file(r)) is not None}
    return Site(benchmarks=benchmarks, pages=pages, cells=cells, specs=[specs[k] for k in sorted(specs)],
                reproductions=build_reproductions(results.cells, HEADLINES))
